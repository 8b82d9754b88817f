"""Offline transfer: `muse bundle create | verify | list-heads | unbundle`."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

from ..units import counted, human_size
from .base import (
    REQUIRE_SIGNATURES,
    emit_json,
    is_quiet,
    json_option,
    open_repo,
    quiet_option,
    receive_policy_for,
    request_auto_gc,
    say,
    short,
)

_FILE = click.Path(dir_okay=False, allow_dash=True, path_type=Path)
_JSON = json_option("Machine-readable output.")


@contextlib.contextmanager
def _progress(label: str, total: int | None, quiet: bool) -> Iterator[Any]:
    """A byte progress bar on stderr when it is a terminal; None (no bar) otherwise."""
    if quiet or is_quiet() or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextlib.contextmanager
def _open_input(path: Path) -> Iterator[BinaryIO]:
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    from ..errors import UsageError

    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot open bundle {path}: {exc.strerror}") from None
    with handle:
        yield handle


def _input_size(path: Path) -> int | None:
    if str(path) == "-":
        return None
    with contextlib.suppress(OSError):
        return os.path.getsize(path)
    return None


def _header_dict(header: Any) -> dict[str, Any]:
    return {
        "refs": dict(header.refs),
        "prerequisites": list(header.prerequisites),
        "capabilities": {"mandatory": list(header.mandatory),
                         "optional": list(header.optional)},
        "counts": {"objects": header.objects, "object_bytes": header.object_bytes,
                   "snapshots": header.snapshots, "commits": header.commits},
    }


@click.group()
def bundle() -> None:
    """Move history offline: one self-describing, verifiable file."""


@bundle.command()
@click.argument("file", type=_FILE)
@click.argument("revisions", nargs=-1)
@click.option("--all", "all_refs", is_flag=True, help="Every branch and tag.")
@quiet_option()
@_JSON
def create(file: Path, revisions: tuple[str, ...], all_refs: bool, as_json: bool) -> None:
    """Write the commits in REVISIONS (`main`, `v1..main`, `^v1 main`) to FILE (`-`: stdout)."""
    from ..bundle_ops import plan_create, select_revisions, write_bundle_file, write_bundle_stream

    repo = open_repo()
    created = plan_create(repo, select_revisions(repo, revisions, all_refs=all_refs))
    plan = created.plan
    to_stdout = str(file) == "-"
    with _progress("bundling", plan.object_bytes, as_json or to_stdout) as progress:
        if to_stdout:
            summary = write_bundle_stream(repo, plan, sys.stdout.buffer,
                                          progress=progress)
        else:
            summary = write_bundle_file(repo, plan, file, progress=progress)
    data: dict[str, Any] = {
        "file": str(file),
        "bundle_id": summary.bundle_id,
        "bytes": summary.size,
        "commits": len(summary.commits),
        "objects": summary.header.objects,
        "object_bytes": summary.header.object_bytes,
        "snapshots": summary.header.snapshots,
        "signatures": {"signed": summary.signatures_good, "unsigned": summary.unsigned},
        "refs": dict(summary.header.refs),
        "prerequisites": list(summary.header.prerequisites),
        "skipped_refs": created.skipped_refs,
    }
    # With the bundle on stdout, the report goes to stderr so the stream stays clean.
    err = to_stdout
    if as_json:
        emit_json(data, err=err)
        return
    for name in created.skipped_refs:
        click.echo(f"warning: {name} left out: its commit is on the excluded side", err=True)
    say(f"bundle {file}: {counted(data['commits'], 'commit')}, "
        f"{counted(data['objects'], 'object')} ({human_size(summary.header.object_bytes)}), "
        f"{counted(len(data['refs']), 'ref')}, "
        f"{counted(len(data['prerequisites']), 'prerequisite')}, {human_size(summary.size)}",
        err=err)
    say(f"bundle id {summary.bundle_id}", err=err)


def _store_here() -> Any:
    """The current repository's store, or None outside one (verify then checks less)."""
    from ..errors import RepositoryError

    try:
        return open_repo().store
    except RepositoryError:
        return None


@bundle.command()
@click.argument("file", type=_FILE)
@quiet_option("Print nothing unless the bundle is bad (then the error).")
@_JSON
def verify(file: Path, as_json: bool) -> None:
    """Check every byte of FILE (`-`: stdin): hashes, signatures, connectivity, checksum.

    Inside a repository, prerequisites and objects the bundle leaves out are
    checked there too. Exit status 5 names the first problem found.
    """
    from ..bundle import BundleReader

    store = _store_here()
    with _open_input(file) as source, \
            _progress("verifying", _input_size(file), as_json) as progress:
        summary = BundleReader(source, index=store, progress=progress).verify()
    header = summary.header
    data = {
        "ok": True,
        "file": str(file),
        "bundle_id": summary.bundle_id,
        "bytes": summary.size,
        "objects": header.objects,
        "object_bytes": header.object_bytes,
        "snapshots": header.snapshots,
        "commits": header.commits,
        "signatures": {"good": summary.signatures_good, "unsigned": summary.unsigned},
        "prerequisites": list(header.prerequisites),
        "refs": dict(header.refs),
        "checked_against_repository": store is not None,
        "entries_outside": summary.entries_outside,
    }
    if as_json:
        emit_json(data)
        return
    if is_quiet():
        return  # the exit code says it is good
    click.echo(f"{file}: ok")
    click.echo(f"  {counted(header.objects, 'object')} ({human_size(header.object_bytes)}), "
               f"{counted(header.snapshots, 'snapshot')}, "
               f"{counted(header.commits, 'commit')} re-hashed")
    click.echo(f"  signatures: {summary.signatures_good} good, {summary.unsigned} unsigned")
    click.echo(f"  {counted(len(header.refs), 'ref')}, "
               f"{counted(len(header.prerequisites), 'prerequisite')}")
    if header.prerequisites:
        where = ("found in this repository" if store is not None
                 else "not checked (outside a repository)")
        click.echo(f"  prerequisites {where}; {summary.entries_outside} snapshot entries "
                   "rely on them")
    click.echo(f"  bundle id {summary.bundle_id} ({human_size(summary.size)}, checksum ok)")


@bundle.command("list-heads")
@click.argument("file", type=_FILE)
@_JSON
def list_heads(file: Path, as_json: bool) -> None:
    """Print the refs FILE carries and the commits it needs first (reads the header only)."""
    from ..bundle import BundleReader

    with _open_input(file) as source:
        header = BundleReader(source).read_header()
    if as_json:
        emit_json(_header_dict(header))
        return
    for name, oid in header.refs.items():
        click.echo(f"{oid} {name}")
    for oid in header.prerequisites:
        click.echo(f"prerequisite {oid}")


@bundle.command()
@click.argument("file", type=_FILE)
@click.option("--force", is_flag=True, help="Move refs even when it is not a fast-forward.")
@REQUIRE_SIGNATURES
@quiet_option()
@_JSON
def unbundle(file: Path, force: bool, require_signatures: bool, as_json: bool) -> None:
    """Verify FILE (`-`: stdin), store it as one pack, then move its refs here (same names).

    Existing refs move only by fast-forward unless --force. The checked-out branch
    moves only over a clean working tree, which is then updated.
    """
    from ..bundle_ops import unbundle as run

    repo = open_repo()
    policy = receive_policy_for(repo, require_signatures)
    with _open_input(file) as source, \
            _progress("unbundling", _input_size(file), as_json) as progress:
        done = run(repo, source, force=force, progress=progress, policy=policy)
    request_auto_gc(repo)
    summary = done.summary
    if as_json:
        emit_json({
            "file": str(file),
            "bundle_id": summary.bundle_id,
            "bytes": summary.size,
            "commits": len(summary.commits),
            "objects": summary.header.objects,
            "new_items": done.new_items,
            "refs": [c.as_dict() for c in done.changes],
            "worktree_updated": done.worktree_updated,
        })
        return
    say(f"received {counted(len(summary.commits), 'commit')}, "
        f"{counted(summary.header.objects, 'object')} ({human_size(summary.size)}); "
        f"{counted(done.new_items, 'new item')}")
    for change in done.changes:
        if change.old is None or change.status == "up to date":
            arrow = short(change.new)
        else:
            arrow = f"{short(change.old)}..{short(change.new)}"
        say(f"  {change.status:<13}{change.name} {arrow}")
    if done.worktree_updated:
        say("working tree updated")


COMMANDS: list[click.Command] = [bundle]
