"""History of ref moves: reflog."""

from __future__ import annotations

from typing import Any, TypeVar

import click

from ..display import printable
from .base import COUNT, emit_json, json_option, open_repo, short
from .pathargs import CountShorthand

COMMANDS: list[click.Command] = []
_C = TypeVar("_C", bound=click.Command)


def _command(command: _C) -> _C:
    """Register a command with the CLI (muse/cli/__init__.py adds every one in COMMANDS)."""
    COMMANDS.append(command)
    return command


def _label(ref: str) -> str:
    """`HEAD`, `main`, `v1`, `origin/main`: what `REF@{N}` is written with."""
    from ..refs import short_ref_name

    return "HEAD" if ref == "HEAD" else short_ref_name(ref) or ref


class _ReflogGroup(click.Group):
    """`muse reflog [REF]` shows, as `muse reflog show [REF]` does; `muse reflog expire`
    expires. A first word that is no subcommand is the REF to show."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@_command
@click.group(cls=_ReflogGroup)
def reflog() -> None:
    """Where refs have been: `muse reflog [show] [REF]`, `muse reflog expire`.

    Every ref move Muse makes is recorded: commit, switch, reset, merge, pull,
    fetch, branch. `REF@{N}` names the commit REF pointed at N moves ago.
    """


@reflog.command("show", cls=CountShorthand)
@click.argument("ref", required=False, default="HEAD")
@click.option("-n", "--max-count", type=COUNT, help="Show at most N entries (or -N).")
@json_option("One JSON object on stdout.")
def reflog_show(ref: str, max_count: int | None, as_json: bool) -> None:
    """Show where REF (default HEAD) has been, newest first, as REF@{N}."""
    from ..reflog import DamagedLine
    from ..revisions import reflog_ref

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


@reflog.command("expire")
@click.argument("refs", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every log (the default when no REF).")
@click.option("--expire", metavar="DATE",
              help="Drop entries older than DATE (default gc.reflogExpire, else 90.days.ago; "
              "`now`, `never`, `2.weeks.ago`, or a date).")
@click.option("--expire-unreachable", metavar="DATE",
              help="Drop entries older than DATE that the ref no longer reaches (default "
              "gc.reflogExpireUnreachable, else 30.days.ago).")
@click.option("-n", "--dry-run", is_flag=True, help="Count what would go; change nothing.")
@json_option("One JSON object on stdout.")
def reflog_expire(refs: tuple[str, ...], every: bool, expire: str | None,
                  expire_unreachable: str | None, dry_run: bool, as_json: bool) -> None:
    """Drop old reflog entries, so `muse gc` can collect what only they kept alive."""
    from ..errors import UsageError
    from ..reflog_expire import configured_cutoffs, expire_reflogs
    from ..revisions import reflog_ref

    if every and refs:
        raise UsageError("--all expires every log: name no REF with it",
                         hint="muse reflog expire --all, or muse reflog expire REF…")
    repo = open_repo()
    names = [reflog_ref(repo, "" if r == "@" else r) for r in refs] or None
    cutoffs = configured_cutoffs(repo, expire, expire_unreachable)
    report = expire_reflogs(repo, cutoffs, names, dry_run=dry_run)
    if as_json:
        emit_json({"dry_run": dry_run, "removed": report.removed, "kept": report.kept})
        return
    verb = "would expire" if dry_run else "expired"
    for name, removed in report.removed.items():
        if removed:
            click.echo(f"{_label(name)}: {verb} {removed} of "
                       f"{removed + report.kept[name]} entries")
    if not report.total_removed:
        click.echo("nothing to expire")
