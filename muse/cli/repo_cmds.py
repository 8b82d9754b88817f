"""Everyday commands on one repository: init, status, commit (and a commit as log shows it)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ..display import format_time, printable, printable_lines
from ..errors import UsageError
from ..units import counted
from .base import (
    emit_json,
    json_option,
    open_repo,
    quiet_option,
    request_auto_gc,
    say,
    short,
    warn,
)


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--bare", is_flag=True, help="Create a bare repository (a remote's storage).")
@click.option("-b", "--initial-branch", default="main", show_default=True,
              help="Name of the first branch.")
@quiet_option()
@click.pass_context
def init(ctx: click.Context, directory: Path | None, bare: bool, initial_branch: str) -> None:
    """Create an empty repository in DIRECTORY (default: here).

    Over an existing repository, as git does, it only makes its missing standard
    folders again: HEAD, refs, config and objects are left as they are.
    """
    from ..branches import branch_ref_name
    from ..repo import Repository

    branch_ref_name(initial_branch)  # the same rule as `muse branch`
    existing = Repository.reinit(directory or Path.cwd(), bare=bare)
    if existing is not None:
        if ctx.get_parameter_source("initial_branch") is not ParameterSource.DEFAULT:
            warn(f"re-init: ignored --initial-branch={initial_branch}")
        kind = "bare repository" if bare else "repository"
        say(f"Reinitialised existing Muse {kind} in {existing.muse_dir}")
        return
    if bare and directory is None and any(Path.cwd().iterdir()):
        # A bare layout has no working tree to live beside: scattered into a folder of
        # other files, it is hard to tell apart and to remove again.
        raise UsageError("muse init --bare needs a folder for the new remote, or an empty "
                         "current folder", hint="name it: muse init --bare song.muse")
    repo = Repository.init(directory or Path.cwd(), bare=bare, branch=initial_branch)
    kind = "bare repository" if bare else "repository"
    say(f"Initialised empty Muse {kind} in {repo.muse_dir}")


def _status_data(repo: Any, typed: tuple[str, ...] = ()) -> dict[str, Any]:
    from ..changes import compare
    from ..merge_state import pending_merge, pending_pick, unresolved_conflicts
    from ..pathspec import matches_any, resolve_specs
    from ..untracking import pending

    worktree = repo.worktree
    worktree.tolerant = True  # an odd name or an unreadable folder is a warning here
    specs = resolve_specs(worktree.root, typed)
    current = worktree.snapshot()
    worktree.cache.save()
    changes = [c for c in compare(repo.head_snapshot(), current) if matches_any(specs, c.path)]
    branch = repo.current_branch()
    return {
        "branch": branch,
        "head": repo.head(),
        "upstream": _upstream_data(repo, branch),
        "merging": pending_merge(repo),
        "picking": asdict(pick) if (pick := pending_pick(repo)) else None,
        "unresolved": unresolved_conflicts(repo),
        "changes": [{"path": c.path, "status": c.status} for c in changes],
        # `rm --cached` paths: listed as deleted above, yet kept on disk.
        "untracking": sorted(p for p in pending(repo.muse_dir) if matches_any(specs, p)),
        # What the scan passed over without recording: said once here, not silently.
        "not_recorded": {"links": worktree.notes.links,
                         "nested_ignore_files": worktree.notes.nested_ignores,
                         "nested_repositories": worktree.notes.nested_repositories},
        # Names it could not store and folders it could not read: each passed over.
        "warnings": skipped_warnings(worktree.notes),
    }


def skipped_warnings(notes: Any) -> list[dict[str, str]]:
    """The names a tolerant scan passed over, escaped for showing, as `status` lists them."""
    return [{"path": printable(path), "message": printable(problem)}
            for path, problem in sorted(notes.skipped)]


def _upstream_data(repo: Any, branch: str | None) -> dict[str, Any] | None:
    if branch is None:
        return None
    from ..tracking import upstream_status

    found = upstream_status(repo, branch)
    if found is None:
        return None
    return {"name": found.name, "ref": found.ref, "ahead": found.ahead,
            "behind": found.behind, "gone": found.gone}


def _short_branch_line(data: dict[str, Any]) -> str:
    """`status -sb`'s first line, as git writes it."""
    branch = data["branch"]
    if branch is None:
        return "## HEAD (no branch)"
    if data["head"] is None:
        return f"## No commits yet on {branch}"
    up = data["upstream"]
    if up is None:
        return f"## {branch}"
    counts = [f"{word} {n}" for word, n in (("ahead", up["ahead"]), ("behind", up["behind"]))
              if n]
    state = " [gone]" if up["gone"] else f" [{', '.join(counts)}]" if counts else ""
    return f"## {branch}...{printable(up['name'])}{state}"


def _commits(n: int) -> str:
    return counted(n, "commit")


def _echo_upstream(up: dict[str, Any]) -> None:
    """Where the branch stands against its upstream, as git says it (as of the last fetch)."""
    name = printable(up["name"])
    ahead, behind = up["ahead"], up["behind"]
    if up["gone"]:
        click.echo(f"Your branch is based on '{name}', but the upstream is gone.")
        click.echo('  (use "muse fetch" to look again, or "muse push -u" to publish it)')
    elif ahead and behind:
        click.echo(f"Your branch and '{name}' have diverged, and have {ahead} and {behind} "
                   "different commits each, respectively.")
        click.echo('  (use "muse pull --merge" to merge the remote branch into yours)')
    elif ahead:
        click.echo(f"Your branch is ahead of '{name}' by {_commits(ahead)}.")
        click.echo('  (use "muse push" to publish your local commits)')
    elif behind:
        click.echo(f"Your branch is behind '{name}' by {_commits(behind)}, "
                   "and can be fast-forwarded.")
        click.echo('  (use "muse pull" to update your local branch)')
    else:
        click.echo(f"Your branch is up to date with '{name}'.")


@click.command()
@click.argument("paths", nargs=-1)
@json_option("Machine-readable output.")
@click.option("-s", "--short", "--porcelain", "short_format", is_flag=True,
              help="One line per changed path: a letter (A/M/D) and the path; a stable "
              "format for scripts.")
@click.option("-b", "--branch", "show_branch", is_flag=True,
              help="With --short: first a `## BRANCH...UPSTREAM [ahead N, behind M]` line.")
def status(paths: tuple[str, ...], as_json: bool, short_format: bool,
           show_branch: bool) -> None:
    """Show what changed in the working tree since the last commit (only under PATHS if given)."""
    data = _status_data(open_repo(), paths)
    if as_json:
        emit_json(data)
        return
    _mention_not_recorded(data["not_recorded"])
    warn_skipped(data["warnings"])
    if short_format:
        if show_branch:
            click.echo(_short_branch_line(data))
        for change in data["changes"]:
            click.echo(f"{change['status'][0].upper()} {printable(change['path'])}")
        return
    if data["branch"]:
        click.echo(f"On branch {data['branch']}")
        if data["upstream"] is not None:
            _echo_upstream(data["upstream"])
    else:
        click.echo(f"HEAD detached at {short(data['head'])}")
    if data["head"] is None:
        click.echo("No commits yet")
    if data["merging"] or data["picking"]:
        if data["merging"]:
            click.echo(f"Merging {short(data['merging'])}")
        else:
            doing = "Cherry-picking" if data["picking"]["action"] == "cherry-pick" else "Reverting"
            click.echo(f"{doing} {short(data['picking']['commit'])}")
        for path in data["unresolved"]:
            click.echo(f"  unresolved: {printable(path)}")
    if not data["changes"]:
        click.echo("nothing to commit, working tree clean")
        return
    click.echo("Changes:")
    kept = set(data["untracking"])
    for change in data["changes"]:
        note = " (untracked by rm --cached; file kept)" if change["path"] in kept else ""
        click.echo(f"  {change['status'] + ':':<10}{printable(change['path'])}{note}")


def warn_skipped(warnings: list[dict[str, str]]) -> None:
    """One line per name the scan passed over (already escaped), then one hint."""
    for warning in warnings:
        click.echo(f"warning: skipped: {warning['message']}", err=True)
    if warnings:
        click.echo("hint: rename such files (or fix the folder's permissions), or list them "
                   "in .museignore; a commit refuses them", err=True)


def _mention_not_recorded(skipped: dict[str, list[str]]) -> None:
    """One line each, on stderr: what a commit will leave out that the user may expect."""
    links, nested = skipped["links"], skipped["nested_ignore_files"]
    if links:
        listed = ", ".join(printable(p) for p in sorted(links)[:3])
        more = f" and {len(links) - 3} more" if len(links) > 3 else ""
        click.echo(f"note: symbolic links are not recorded: {listed}{more}", err=True)
    if nested:
        listed = ", ".join(printable(p) for p in sorted(nested)[:3])
        click.echo(f"note: only the top-level .museignore is read, not {listed}", err=True)
    repositories = skipped["nested_repositories"]
    if repositories:
        listed = ", ".join(printable(p) + "/" for p in sorted(repositories)[:3])
        more = f" and {len(repositories) - 3} more" if len(repositories) > 3 else ""
        click.echo(f"note: other Muse repositories inside this one are not recorded: "
                   f"{listed}{more}", err=True)


@click.command()
@click.option("-m", "--message", "messages", multiple=True,
              help="The commit message; several -m are paragraphs, as in git.")
@click.option("-F", "--file", "message_file", type=click.File("r", encoding="utf-8"),
              help="Read the message from FILE (`-` for stdin).")
@click.option("--unsigned", is_flag=True, help="Do not sign this commit (explicit opt-out).")
@click.option("--allow-empty", is_flag=True,
              help="Commit even if nothing changed (or, first, an empty tree).")
@click.option("-a", "--all", "all_files", is_flag=True, hidden=True,
              help="git's habit (`commit -am`): Muse always records the whole tree.")
@click.option("--amend", is_flag=True,
              help="Replace HEAD: its parents, and its message unless -m/-F gives one.")
@click.option("--no-edit", is_flag=True,
              help="With --amend: keep HEAD's message instead of opening the editor.")
@click.option("--reset-author", is_flag=True,
              help="With --amend: you as the author, dated now (default: HEAD's author).")
@quiet_option()
def commit(messages: tuple[str, ...], message_file: Any, unsigned: bool, allow_empty: bool,
           all_files: bool, amend: bool, no_edit: bool, reset_author: bool) -> None:
    """Record the whole working tree (minus .museignore and `muse rm --cached`) as a commit.

    --amend replaces the last commit instead (a new commit with HEAD's parents);
    a commit already pushed then needs `muse push --force`.
    """
    from ..committing import commit_worktree

    if (no_edit or reset_author) and not amend:
        raise UsageError(f"{'--no-edit' if no_edit else '--reset-author'} goes with --amend")
    if no_edit and (messages or message_file is not None):
        raise UsageError("--no-edit keeps HEAD's message: it takes no -m or -F")
    message = _commit_message(messages, message_file)
    repo = open_repo()
    if message is None and not no_edit:
        message = _message_from_editor(repo, amend)
    made = commit_worktree(repo, message, sign=not unsigned, allow_empty=allow_empty,
                           amend=amend, reset_author=reset_author)
    request_auto_gc(repo)
    from .branch_cmds import echo_made

    echo_made(repo, made)


def _commit_message(messages: tuple[str, ...], message_file: Any) -> str | None:
    """-m paragraphs joined by a blank line, or the text of -F (never both); None for
    neither."""
    if messages and message_file is not None:
        raise UsageError("-m and -F cannot be combined")
    if message_file is not None:
        try:
            return str(message_file.read())
        except UnicodeDecodeError:
            raise UsageError("the message file is not UTF-8 text") from None
    if not messages:
        return None
    return "\n\n".join(m.strip("\n") for m in messages)


def _message_from_editor(repo: Any, amend: bool) -> str | None:
    """The message written in the user's editor, as git asks for it; with no editor to
    open (no terminal), UsageError — or, amending, None: HEAD's message stays."""
    from .editor import chosen_editor, edit_message

    editor = chosen_editor(repo)
    if editor is None:
        if amend:
            return None
        raise UsageError("a commit needs a message",
                         hint='pass one with -m "MESSAGE", or -F FILE (`-` for stdin); on a '
                         "terminal Muse opens your editor (core.editor, VISUAL, EDITOR)")
    return edit_message(repo, editor, _commit_template(repo, amend))


def _commit_template(repo: Any, amend: bool) -> str:
    """What the editor opens on: HEAD's message when amending, then git's `#` notes."""
    from ..changes import compare
    from .editor import commented

    head = repo.head()
    start = repo.graph.commit(head).message.rstrip("\n") + "\n" if amend and head else ""
    notes = ["Please enter the commit message for your changes. Lines starting",
             "with '#' will be ignored, and an empty message aborts the commit.", ""]
    branch = repo.current_branch()
    notes.append(f"On branch {branch}" if branch else "HEAD detached")
    changes = compare(repo.head_snapshot(), repo.worktree.snapshot())
    if changes:
        notes += ["Changes to be committed:"]
        notes += [f"\t{c.status + ':':<12}{printable(c.path)}" for c in changes]
    return f"{start}\n{commented(notes)}"


def commit_record(oid: str, commit: Any, trusted: frozenset[bytes],
                  signatures: Any = None) -> dict[str, Any]:
    """A commit as plain data, the shape `log --json` and `show --json` print.

    The signature status is good only for a `trusted` signer (`muse keys trust`);
    a good signature by any other key is `untrusted`. With `signatures` (a
    `muse.sigcache.VerifiedSignatures`), a signature verified before is not
    verified again.
    """
    from ..keys import fingerprint, verify_commit_signature
    from ..trust import trust_status

    verifies = verify_commit_signature if signatures is None else \
        (lambda c: signatures.check(oid, c))

    return {
        "id": oid,
        "parents": list(commit.parents),
        "snapshot": commit.snapshot,
        "author": {"name": commit.author_name, "email": commit.author_email},
        "timestamp": commit.timestamp,
        "tz_offset_minutes": commit.tz_offset_minutes,
        "message": commit.message,
        "signature": {
            "status": trust_status(commit, trusted, verifies=verifies),
            "signer": fingerprint(commit.signer) if commit.signer else None,
        },
    }


def echo_commit(record: dict[str, Any]) -> None:
    for line in commit_lines(record):
        click.echo(line)


def commit_lines(record: dict[str, Any], decoration: str = "") -> list[str]:
    """A commit as `log` and `show` print it (a list: the graph draws lanes beside it)."""
    lines = [f"commit {record['id']}{decoration}"]
    if len(record["parents"]) > 1:
        lines.append("Merge: " + " ".join(short(p) for p in record["parents"]))
    author = record["author"]
    lines.append(f"Author: {printable(author['name'])} <{printable(author['email'])}>")
    lines.append(f"Date:   {format_time(record['timestamp'], record['tz_offset_minutes'])}")
    sig = record["signature"]
    signer = f" (key {sig['signer']})" if sig["signer"] else ""
    lines.append(f"Signature: {sig['status']}{signer}")
    lines.append("")
    lines += [f"    {line}" for line in printable_lines(record["message"]) or [""]]
    lines.append("")
    return lines
