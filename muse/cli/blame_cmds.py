"""Who wrote each line of a text file: blame."""

from __future__ import annotations

from typing import Any

import click

from ..display import pad, printable, text_width
from ..errors import UsageError
from .base import emit_json, json_option, open_repo, short
from .pathargs import PATHS, PathspecCommand

COMMANDS: list[click.Command] = []
_USAGE_HINT = "muse blame [REV] [--] PATH, e.g. muse blame -- notes.txt"


@click.command(cls=PathspecCommand)
@click.argument("words", nargs=-1)
@click.option("-L", "line_ranges", multiple=True, metavar="START,END",
              help="Only these lines (also START,+COUNT, START,-COUNT, START, ,END); "
              "may be repeated.")
@click.option("--first-parent", is_flag=True,
              help="Follow only the first parent of merges: a merged branch's lines are the "
              "merge's.")
@json_option("One JSON object on stdout: the path, the revision and one record per line.")
def blame(words: tuple[str, ...], line_ranges: tuple[str, ...], first_parent: bool,
          as_json: bool) -> None:
    """Show, for each line of PATH, the commit that last changed it.

    Without REV, the working tree's file: lines changed since HEAD show as
    "Not Committed Yet". Renames are followed (a line written under another
    name shows that name). Text files only (binary stems have no lines: see
    `muse log -- PATH`), up to 8 MiB.
    """
    from ..blame import blame as blame_file
    from ..blame import parse_range

    ranges = [parse_range(text) for text in line_ranges]  # refused before anything is read
    revision, typed = _split(words)
    repo = open_repo()
    path = _repository_path(repo, typed)
    found = blame_file(repo, path, revision, ranges, first_parent=first_parent)
    if as_json:
        emit_json(_as_json(found, revision))
        return
    for line in _render(found):
        click.echo(line)


def _split(words: tuple[str, ...]) -> tuple[str | None, str]:
    """(REV or None, PATH) from `[REV] [--] PATH`."""
    after = click.get_current_context().meta.get(PATHS)
    if after is not None:
        if len(after) != 1 or len(words) > 1:
            raise UsageError("blame takes one revision at most and one path", hint=_USAGE_HINT)
        return (words[0] if words else None), after[0]
    if len(words) == 1:
        return None, words[0]
    if len(words) == 2:
        return words[0], words[1]
    raise UsageError("blame takes one path" if not words else
                     "blame takes one revision at most and one path", hint=_USAGE_HINT)


def _repository_path(repo: Any, typed: str) -> str:
    """PATH as the repository names it; in a bare repository, as typed from the top."""
    from ..paths import validate_path
    from ..pathspec import TOP, resolve_spec

    if repo.is_bare:
        return validate_path(typed)
    spec = resolve_spec(repo.worktree.root, typed)
    if spec.path == TOP:
        raise UsageError(f"{typed!r} is the whole working tree: blame takes one file",
                         hint=_USAGE_HINT)
    return spec.path


def _who(found: Any, commit: str | None) -> tuple[str, str, int, int]:
    """(author, email, timestamp, tz minutes) of a line's commit, or of the working file."""
    if commit is None:
        from ..repo import _local_tz_minutes

        when = int(found.mtime or 0)
        return NOT_COMMITTED, "not.committed.yet", when, _local_tz_minutes(when)
    c = found.commits[commit]
    return c.author_name, c.author_email, c.timestamp, c.tz_offset_minutes


NOT_COMMITTED = "Not Committed Yet"
_UNCOMMITTED_ID = "0" * 12


def _render(found: Any) -> list[str]:
    """git's default form: `ID (Author DATE LINENO) line`, the columns aligned; as git,
    `ID PATH (…)` when some line was written under another path."""
    from ..display import format_time

    rows = []
    for line in found.lines:
        author, _email, when, tz = _who(found, line.commit)
        shown = short(line.commit) if line.commit else _UNCOMMITTED_ID
        rows.append((shown, printable(author), format_time(when, tz), line))
    name_width = max((text_width(r[1]) for r in rows), default=0)
    number_width = len(str(max((r[3].number for r in rows), default=0)))
    paths = {line.path: printable(line.path) for line in found.lines}
    path_width = max(map(text_width, paths.values())) if set(paths) - {found.path} else 0
    return [f"{oid}{' ' + pad(paths[line.path], path_width) if path_width else ''} "
            f"({pad(author, name_width)} {date} {line.number:>{number_width}}) "
            f"{printable(line.text)}" for oid, author, date, line in rows]


def _as_json(found: Any, revision: str | None) -> dict[str, Any]:
    from ..display import format_time

    records = []
    for line in found.lines:
        author, email, when, tz = _who(found, line.commit)
        records.append({"line": line.number, "commit": line.commit,
                        "original_line": line.original, "original_path": line.path,
                        "author": author, "email": email,
                        "timestamp": when, "tz_offset_minutes": tz,
                        "date": format_time(when, tz),
                        "summary": found.commits[line.commit].subject if line.commit else "",
                        "text": line.text})
    return {"path": found.path, "revision": revision, "commit": found.commit,
            "lines": records}


COMMANDS.append(blame)
