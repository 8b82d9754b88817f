"""Maintenance: gc (one pack, prune what nothing reaches) and count-objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..repo import Repository
from ..units import counted
from .base import emit_json, json_option, open_repo

_PRUNE_HELP = ("Drop unreachable data older than this (now, never, 2.weeks.ago, 3.days, "
               "2026-11-01); default gc.pruneExpire, else 2.weeks.ago.")
_REMOTE = click.option("--remote", "remote", metavar="REMOTE",
                       help="Work on this remote instead: a bare filesystem remote's path, "
                       "an s3://bucket/prefix URL, or the name of a remote configured here.")


def _open_target(remote: str | None) -> Any:
    """The repository here, or a remote's maintenance (this bare remote, or --remote)."""
    from remotes.bare import is_bare_remote, open_bare_remote

    if remote is not None:
        return _open_remote(remote)
    repo = open_repo()
    if repo.is_bare and is_bare_remote(repo.muse_dir):
        return open_bare_remote(repo.muse_dir)
    return repo


def _open_remote(word: str) -> Any:
    """--remote WORD: a remote configured here by that name, else a URL, else a path.

    A URL is opened by its driver exactly as `muse push` opens it (the registry, the
    remote's settings, the standard credentials), so an S3 remote needs nothing more.
    """
    from remotes.bare import open_bare_remote
    from remotes.maintenance import open_maintenance

    from ..remote_registry import URL_SCHEME
    from ..remotes_config import is_url, remote_options

    repo = _repository_here()
    name, url = None, word
    configured = repo.config.get(f"remote.{word}.url") if repo and not is_url(word) else None
    if configured is not None:
        name, url = word, configured
    if not URL_SCHEME.match(url):
        return open_bare_remote(Path(url).expanduser())
    return open_maintenance(url, remote_options(repo, name, url=url))


def _repository_here() -> Repository | None:
    from ..errors import RepositoryError

    try:
        return Repository.find()
    except RepositoryError:
        return None  # a remote's URL or path needs no repository here


def _size(n: int) -> str:
    from ..units import human_size

    return human_size(n)


@click.command()
@click.option("--prune", "prune", metavar="DATE", help=_PRUNE_HELP)
@click.option("--auto", "auto", is_flag=True,
              help="Only when there are more packs than gc.autoPacks (or loose objects "
              "than gc.auto).")
@_REMOTE
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@json_option("Machine-readable output.")
def gc(prune: str | None, auto: bool, remote: str | None, quiet: bool,
       as_json: bool) -> None:
    """Pack everything into one pack and drop what nothing reaches (after a grace period).

    Roots: every ref and HEAD, every reflog entry, the stash and merge state.
    Reflog entries older than gc.reflogExpire (90 days), or than
    gc.reflogExpireUnreachable (30 days) when their ref no longer reaches them,
    are expired first.
    Unreachable objects younger than the grace period are kept, so a push,
    fetch or commit running meanwhile never loses data (docs/gc.md).
    """
    from .. import gc as gc_mod

    target = _open_target(remote)
    if not isinstance(target, Repository):
        from .progress import make_progress

        # A fold moves every pack it folds (down from a bucket, then up): a bar shows it.
        with make_progress(as_json=as_json or quiet) as progress:
            target.progress = progress
            report = target.gc(prune=prune, auto=auto)
        _echo_remote_report(report, quiet=quiet, as_json=as_json)
        return
    from ..reflog_expire import configured_cutoffs

    cutoff = gc_mod.configured_cutoff(target, prune)
    reflogs = configured_cutoffs(target)
    found = (gc_mod.collect_auto(target, cutoff=cutoff, reflogs=reflogs) if auto
             else gc_mod.collect(target, cutoff=cutoff, reflogs=reflogs))
    if as_json:
        emit_json({"ran": found is not None, **(found.as_dict() if found else {})})
        return
    if found is None or quiet:
        return
    click.echo(f"packs: {found.packs_before} -> {found.packs_after}; loose objects: "
               f"{found.loose_before} -> {found.loose_after}; "
               f"{found.pruned_objects} unreachable objects pruned"
               + (f"; {found.reflog_entries_expired} reflog entries expired"
                  if found.reflog_entries_expired else ""))
    click.echo(f"storage: {_size(found.bytes_before)} -> {_size(found.bytes_after)} "
               f"in {found.seconds:.2f} s")


def _echo_remote_report(report: Any, *, quiet: bool, as_json: bool) -> None:
    if as_json:
        emit_json(report.as_dict())
        return
    if quiet or not report.ran:
        return
    click.echo(f"packs: {report.packs_before} -> {report.packs_after}; "
               f"{counted(report.dropped_packs, 'pack')} no ref relies on dropped "
               f"({_size(report.dropped_bytes)})")


@click.command("count-objects")
@click.option("-v", "--verbose", is_flag=True, help="Every figure, not only the loose ones.")
@_REMOTE
@json_option("Machine-readable output (every figure).")
def count_objects(verbose: bool, remote: str | None, as_json: bool) -> None:
    """Count loose and packed objects, and what `muse gc` would reclaim."""
    from .. import gc as gc_mod

    target = _open_target(remote)
    if not isinstance(target, Repository):
        counts = target.count()
        if as_json:
            emit_json(counts.as_dict())
            return
        for line in counts.lines():
            click.echo(line)
        return
    found = gc_mod.count_objects(target, cutoff=gc_mod.configured_cutoff(target))
    if as_json:
        emit_json(found.as_dict())
        return
    click.echo(f"{counted(found.loose_objects, 'loose object')}, {_size(found.loose_bytes)}")
    if not verbose:
        return
    click.echo(f"packs: {found.packs} ({counted(found.packed_objects, 'object')}, "
               f"{_size(found.pack_bytes)})")
    click.echo(f"duplicate copies: {found.duplicate_objects} ({_size(found.duplicate_bytes)})")
    click.echo(f"unreachable: {counted(found.unreachable_objects, 'object')} "
               f"({_size(found.unreachable_bytes)}), {found.prunable_objects} past the grace "
               f"period ({_size(found.prunable_bytes)})")
    work = found.work_files
    click.echo(f"garbage: {counted(found.garbage_files, 'file')} in packs/ "
               f"({_size(found.garbage_bytes)}), "
               f"{counted(work.stale_entries, 'stale work file')} ({_size(work.stale_size)})")
    click.echo(f"reclaimable by gc: {_size(found.reclaimable_bytes)}")


COMMANDS: list[click.Command] = [gc, count_objects]
