"""Working-tree commands a git user reaches for: restore, rm, mv, stash, clean, ls-files."""

from __future__ import annotations

from typing import Any

import click

from ..display import printable
from ..errors import UsageError
from ..units import counted
from .base import emit_json, json_option, open_repo, quiet_option, say, short

JSON = json_option("Machine-readable output.")


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
@quiet_option()
@JSON
def restore(paths: tuple[str, ...], source: str | None, staged: bool, in_tree: bool,
            as_json: bool) -> None:
    """Put files back as HEAD (or --source REV) has them, discarding local changes.

    A folder restores every file in it; tracked files it holds that REV lacks are
    removed. Untracked files are never overwritten or removed.
    """
    from ..treeops import restore as run

    repo = open_repo()
    done = run(repo, _specs(repo, paths), source=source, worktree=in_tree or not staged,
               staged=staged)
    if as_json:
        emit_json({"written": done.written, "removed": done.removed,
                   "unstaged": done.unstaged})
        return
    for path in done.written:
        say(f"restored: {printable(path)}")
    for path in done.removed:
        say(f"removed:  {printable(path)}")
    for path in done.unstaged:
        say(f"tracked again: {printable(path)}")
    if not (done.written or done.removed or done.unstaged):
        say("nothing to restore: the files already match")


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--cached", is_flag=True,
              help="Stop tracking at the next commit, but keep the files.")
@click.option("-r", "recursive", is_flag=True, help="Allow removing whole folders.")
@click.option("-f", "--force", is_flag=True, help="Remove files even with local changes.")
@quiet_option("Do not list each file removed (warnings and errors still show).")
@JSON
def rm(paths: tuple[str, ...], cached: bool, recursive: bool, force: bool,
       as_json: bool) -> None:
    """Remove tracked files; the next commit records it (--cached: keep the files)."""
    from ..treeops import remove

    repo = open_repo()
    done = remove(repo, _specs(repo, paths), cached=cached, recursive=recursive, force=force)
    if as_json:
        emit_json({"paths": done.paths, "cached": done.cached,
                   "not_ignored": done.not_ignored})
        return
    verb = "untracked" if cached else "removed"
    for path in done.paths:
        say(f"{verb}: {printable(path)}")
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
    from ..treeops import ignored_destination, move

    repo = open_repo()
    root = repo.worktree.root
    src, dst = resolve_spec(root, source), resolve_spec(root, destination)
    old, new = move(repo, src, dst)
    ignored = ignored_destination(repo, new)
    if as_json:
        emit_json({"from": old, "to": new, "ignored": ignored})
        return
    click.echo(f"renamed: {printable(old)} -> {printable(new)}")
    if ignored:
        click.echo(f"note: .museignore matches {printable(new)}: the next commit will record "
                   f"{printable(old)} as deleted and not record the new name", err=True)


# -- stash --------------------------------------------------------------------------


def _stash_record(entry: Any) -> dict[str, Any]:
    return {"index": entry.index, "name": entry.name, "id": entry.id, "base": entry.base,
            "message": entry.commit.message, "timestamp": entry.commit.timestamp}


STASH_NAME = click.argument("name", required=False, default="0")


@click.group(invoke_without_command=True)
@click.option("-m", "--message", help="With no subcommand: as `stash push -m`.")
@quiet_option("With no subcommand: as `stash push -q`.")
@click.pass_context
def stash(ctx: click.Context, message: str | None) -> None:
    """Save local changes away and bring the tree back to HEAD (`muse stash` = push)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(stash_push, message=message)
    elif message is not None:
        raise UsageError("-m goes after the subcommand", hint="muse stash push -m MESSAGE")


@stash.command("push")
@click.option("-m", "--message", help="Describe the stash (default: WIP on BRANCH: …).")
@quiet_option()
@JSON
def stash_push(message: str | None = None, as_json: bool = False) -> None:
    """Save every local change (new files too) as a stash; the tree goes back to HEAD."""
    from ..stash import push

    made = push(open_repo(), message)
    if as_json:
        emit_json(_stash_record(made) if made else None)
    elif made is None:
        say("No local changes to save")
    else:
        say(f"Saved working tree as {made.name}: {printable(made.commit.subject)}")


@stash.command("list")
@JSON
def stash_list(as_json: bool) -> None:
    """List the stashes, newest first."""
    from ..stash import entries

    found = entries(open_repo())
    if as_json:
        emit_json([_stash_record(e) for e in found])
        return
    for entry in found:
        click.echo(f"{entry.name}: {printable(entry.commit.subject)}")


def _report_applied(entry: Any, changed: list[str], as_json: bool, verb: str) -> None:
    if as_json:
        emit_json({**_stash_record(entry), "paths": changed})
        return
    say(f"{verb} {entry.name} ({short(entry.id)}): {counted(len(changed), 'path')}")


@stash.command("apply")
@STASH_NAME
@quiet_option()
@JSON
def stash_apply(name: str, as_json: bool) -> None:
    """Put a stash's changes (default stash@{0}) back into the tree; keep the stash."""
    from ..stash import apply, parse_name

    entry, changed = apply(open_repo(), parse_name(name))
    _report_applied(entry, changed, as_json, "Applied")


@stash.command("pop")
@STASH_NAME
@quiet_option()
@JSON
def stash_pop(name: str, as_json: bool) -> None:
    """Apply a stash (default stash@{0}), then drop it."""
    from ..stash import parse_name, pop

    entry, changed = pop(open_repo(), parse_name(name))
    _report_applied(entry, changed, as_json, "Applied and dropped")


@stash.command("drop")
@STASH_NAME
@quiet_option()
@JSON
def stash_drop(name: str, as_json: bool) -> None:
    """Delete a stash (default stash@{0}); its commit goes at the next gc."""
    from ..stash import drop, parse_name

    entry = drop(open_repo(), parse_name(name))
    if as_json:
        emit_json(_stash_record(entry))
        return
    say(f"Dropped {entry.name} ({short(entry.id)})")


@stash.command("show")
@STASH_NAME
@click.option("-p", "--patch", is_flag=True, help="Show the full diff, not only the stat.")
@click.option("--name-status", is_flag=True, help="Only a status letter and path per file.")
@JSON
def stash_show(name: str, patch: bool, name_status: bool, as_json: bool) -> None:
    """Show what a stash (default stash@{0}) changes against the commit it was made on
    (a moved file as a rename, unless diff.renames is false)."""
    from ..stash import entry, parse_name
    from .inspect_cmds import _print_diffs, _store_reader, diffs_between, rename_settings_for

    repo = open_repo()
    settings = rename_settings_for(repo, no_renames=False)
    found = entry(repo, parse_name(name))
    base = repo.commit_snapshot(found.base) if found.base else None
    reader = _store_reader(repo)
    diffs = diffs_between(base, repo.store.read_snapshot(found.commit.snapshot), reader,
                          reader, settings)
    if as_json:
        emit_json({**_stash_record(found), "changes": [fd.as_dict() for fd in diffs]})
        return
    _print_diffs(diffs, stat=not patch, name_status=name_status)




@click.command()
@click.argument("paths", nargs=-1)
@click.option("-n", "--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("-f", "--force", is_flag=True, help="Remove (required unless -n).")
@click.option("-d", "folders", is_flag=True,
              help="Also files in untracked folders (folders holding no tracked file).")
@click.option("-x", "also_ignored", is_flag=True, help="Also files .museignore ignores.")
@click.option("-X", "only_ignored", is_flag=True, help="Only files .museignore ignores.")
@click.option("-e", "--exclude", "patterns", multiple=True, metavar="PATTERN",
              help="Keep files matching PATTERN too (a .museignore line).")
@click.option("-q", "--quiet", is_flag=True, help="Do not list what is removed.")
@JSON
def clean(paths: tuple[str, ...], dry_run: bool, force: bool, folders: bool,
          also_ignored: bool, only_ignored: bool, patterns: tuple[str, ...], quiet: bool,
          as_json: bool) -> None:
    """Remove untracked files (under PATHS): bounces, renders, scratch takes.

    Tracked files, a merge's files, `muse rm --cached` files, symbolic links and
    other repositories inside this one are never touched. Needs -f, or -n to see
    what -f would remove.
    """
    from ..cleaning import ALSO_IGNORED, NOT_IGNORED, ONLY_IGNORED, plan_clean, run_clean

    if also_ignored and only_ignored:
        raise UsageError("-x and -X cannot be combined")
    if not (dry_run or force):
        raise UsageError("refusing to clean without -f",
                         hint="`muse clean -n` lists what `muse clean -f` would remove")
    repo = open_repo()
    ignored = ALSO_IGNORED if also_ignored else ONLY_IGNORED if only_ignored else NOT_IGNORED
    plan = plan_clean(repo, _specs(repo, paths), folders=folders, ignored=ignored,
                      patterns=patterns)
    removed = plan.files if dry_run else run_clean(repo, plan.files)
    if as_json:
        emit_json({"dry_run": dry_run, "removed": removed,
                   "skipped_folders": plan.skipped_folders})
        return
    if quiet:
        return
    verb = "Would remove" if dry_run else "Removing"
    for path in removed:
        click.echo(f"{verb} {printable(path)}")
    for folder in plan.skipped_folders:
        click.echo(f"{'Would skip' if dry_run else 'Skipped'} {printable(folder)}/ "
                   "(an untracked folder: -d cleans it too)", err=True)


@click.command("ls-files")
@click.argument("paths", nargs=-1)
@click.option("-z", "nul", is_flag=True, help="End each name with NUL, not a newline.")
@JSON
def ls_files(paths: tuple[str, ...], nul: bool, as_json: bool) -> None:
    """List the files the next commit records (under PATHS if given), sorted.

    That is every file not ignored, the tracked ones an ignore rule matches, and
    not those `muse rm --cached` set aside; nothing is read or hashed.
    """
    from ..pathspec import matcher
    from .repo_cmds import skipped_warnings, warn_skipped

    repo = open_repo()
    keep = matcher(_specs(repo, paths))
    worktree = repo.worktree
    worktree.tolerant = True  # an odd name is a warning here, as in `status`
    names = sorted(p for p in worktree.states() if keep(p))
    if as_json:
        emit_json(names)
        return
    warn_skipped(skipped_warnings(worktree.notes))
    if nul:  # names as they are, for `xargs -0`: a NUL is the one byte none can hold
        click.echo("".join(f"{name}\0" for name in names), nl=False)
    else:
        for name in names:
            click.echo(printable(name))


COMMANDS: list[click.Command] = [restore, rm, mv, stash, clean, ls_files]
