"""Working-tree commands a git user reaches for: restore, rm, mv, stash."""

from __future__ import annotations

from typing import Any

import click

from ..display import printable
from .base import emit_json, json_errors, open_repo

JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _specs(repo: Any, typed: tuple[str, ...]) -> list[Any]:
    from ..pathspec import resolve_specs

    return resolve_specs(repo.worktree.root, typed)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-s", "--source", metavar="REV", help="Restore from REV instead of HEAD.")
@click.option("-S", "--staged", is_flag=True,
              help="Undo a pending `muse rm --cached` of PATHS (files are not touched "
              "unless -W is given too).")
@click.option("-W", "--worktree", "in_tree", is_flag=True,
              help="Restore the files (the default unless --staged is given).")
@JSON
def restore(paths: tuple[str, ...], source: str | None, staged: bool, in_tree: bool,
            as_json: bool) -> None:
    """Put files back as HEAD (or --source REV) has them, discarding local changes.

    A folder restores every file in it; tracked files it holds that REV lacks are
    removed. Untracked files are never overwritten or removed.
    """
    from ..treeops import restore as run

    json_errors(as_json)
    repo = open_repo()
    done = run(repo, _specs(repo, paths), source=source, worktree=in_tree or not staged,
               staged=staged)
    if as_json:
        emit_json({"written": done.written, "removed": done.removed,
                   "unstaged": done.unstaged})
        return
    for path in done.written:
        click.echo(f"restored: {printable(path)}")
    for path in done.removed:
        click.echo(f"removed:  {printable(path)}")
    for path in done.unstaged:
        click.echo(f"tracked again: {printable(path)}")
    if not (done.written or done.removed or done.unstaged):
        click.echo("nothing to restore: the files already match")


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--cached", is_flag=True,
              help="Stop tracking at the next commit, but keep the files.")
@click.option("-r", "recursive", is_flag=True, help="Allow removing whole folders.")
@click.option("-f", "--force", is_flag=True, help="Remove files even with local changes.")
@JSON
def rm(paths: tuple[str, ...], cached: bool, recursive: bool, force: bool,
       as_json: bool) -> None:
    """Remove tracked files; the next commit records it (--cached: keep the files)."""
    from ..treeops import remove

    json_errors(as_json)
    repo = open_repo()
    done = remove(repo, _specs(repo, paths), cached=cached, recursive=recursive, force=force)
    if as_json:
        emit_json({"paths": done.paths, "cached": done.cached,
                   "not_ignored": done.not_ignored})
        return
    verb = "untracked" if cached else "removed"
    for path in done.paths:
        click.echo(f"{verb}: {printable(path)}")
    if done.not_ignored:
        shown = ", ".join(printable(p) for p in done.not_ignored[:3])
        more = f" and {len(done.not_ignored) - 3} more" if len(done.not_ignored) > 3 else ""
        click.echo(f"note: {shown}{more} not in .museignore: the commit after next will "
                   "record it again (Muse records every file it does not ignore)", err=True)


@click.command()
@click.argument("source")
@click.argument("destination")
@JSON
def mv(source: str, destination: str, as_json: bool) -> None:
    """Rename a tracked file or folder (into DESTINATION if it is a folder)."""
    from ..pathspec import resolve_spec
    from ..treeops import move

    json_errors(as_json)
    repo = open_repo()
    root = repo.worktree.root
    src, dst = resolve_spec(root, source), resolve_spec(root, destination)
    old, new = move(repo, src, dst)
    if as_json:
        emit_json({"from": old, "to": new})
        return
    click.echo(f"renamed: {printable(old)} -> {printable(new)}")


COMMANDS: list[click.Command] = [restore, rm, mv]
