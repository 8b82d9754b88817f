"""History of ref moves: reflog."""

from __future__ import annotations

from typing import Any

import click

from ..display import printable
from .base import emit_json, open_repo, short

COMMANDS: list[click.Command] = []


def _command(command: click.Command) -> click.Command:
    """Register a command with the CLI (muse/cli/__init__.py adds every one in COMMANDS)."""
    COMMANDS.append(command)
    return command


def _label(ref: str) -> str:
    """`HEAD`, `main`, `v1`, `origin/main`: what `REF@{N}` is written with."""
    from ..refs import short_ref_name

    return "HEAD" if ref == "HEAD" else short_ref_name(ref) or ref


@_command
@click.command()
@click.argument("ref", required=False, default="HEAD")
@click.option("-n", "--max-count", type=click.IntRange(min=0), help="Show at most N entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def reflog(ref: str, max_count: int | None, as_json: bool) -> None:
    """Show where REF (default HEAD) has been, newest first, as REF@{N}.

    Every ref move Muse makes is recorded: commit, switch, reset, merge, pull,
    fetch, branch. `REF@{N}` names the commit REF pointed at N moves ago.
    """
    from ..reflog import DamagedLine
    from ..revisions import reflog_ref
    from .base import json_errors

    json_errors(as_json)
    repo = open_repo()
    full = reflog_ref(repo, "" if ref == "@" else ref)
    label = _label(full)
    entries: list[dict[str, Any]] = []
    damaged: list[str] = []
    for entry in repo.refs.reflog(full):
        if max_count is not None and len(entries) >= max_count:
            break
        if isinstance(entry, DamagedLine):
            damaged.append(entry.text)
            continue
        entries.append({"selector": f"{label}@{{{len(entries)}}}", "old": entry.old,
                        "new": entry.new, "timestamp": entry.timestamp,
                        "identity": entry.identity, "message": entry.message})
    if as_json:
        emit_json({"ref": full, "entries": entries, "damaged": damaged})
        return
    for text in damaged:
        click.echo(f"warning: skipped a damaged line in the reflog of {label}: "
                   f"{printable(text)!r}", err=True)
    for item in entries:
        click.echo(f"{short(item['new']) if item['new'] else '(deleted)':<12} "
                   f"{item['selector']}: {printable(item['message'])}")
