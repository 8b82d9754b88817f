"""`muse log`: which commits to list, and each one as git prints it, with what it changed."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import click

from ..display import printable
from ..errors import UsageError
from .base import COUNT, emit_json_array, json_option, open_repo, short, warn
from .pathargs import LogCommand
from .repo_cmds import commit_lines, commit_record


@dataclass(frozen=True)
class Asked:
    """Every option of one `muse log`, as click parsed it."""

    max_count: int | None
    oneline: bool
    graph: bool
    decorate: bool | None
    author: str | None
    grep: str | None
    ignore_case: bool
    since: str | None
    until: str | None
    format_text: str | None
    as_json: bool
    all_refs: bool
    reverse: bool
    first_parent: bool
    merges: bool
    no_merges: bool
    min_parents: int | None
    max_parents: int | None
    stat: bool
    name_only: bool
    name_status: bool
    patch: bool
    pickaxe_text: str | None
    pickaxe_regex: str | None
    no_renames: bool

    def refuse_bad_combinations(self) -> None:
        """One line, exit 2, before the repository is read (git refuses the same pairs)."""
        pairs = [("--format", self.format_text is not None, "--json", self.as_json),
                 ("--format", self.format_text is not None, "--oneline", self.oneline),
                 ("--reverse", self.reverse, "--graph", self.graph),
                 ("--name-only", self.name_only, "--name-status", self.name_status),
                 ("--merges", self.merges, "--no-merges", self.no_merges),
                 ("-S", self.pickaxe_text is not None, "-G", self.pickaxe_regex is not None)]
        for one, given, other, also in pairs:
            if given and also:
                raise UsageError(f"{one} cannot be combined with {other}")


@click.command(cls=LogCommand)
@click.argument("revisions", nargs=-1)
@click.option("-n", "--max-count", type=COUNT, help="Show at most N commits (or -N).")
@click.option("--oneline", is_flag=True, help="One line per commit: short id and subject.")
@click.option("--graph", is_flag=True, help="Draw the history's branches and merges beside it.")
@click.option("--decorate/--no-decorate", default=None,
              help="Show the branch and tag names of each commit (default: on a terminal).")
@click.option("--author", metavar="PATTERN",
              help="Only commits whose `Name <email>` matches PATTERN (a regular expression).")
@click.option("--grep", metavar="PATTERN", help="Only commits whose message matches PATTERN.")
@click.option("-i", "--regexp-ignore-case", "ignore_case", is_flag=True,
              help="--author, --grep, -S and -G ignore case.")
@click.option("--since", "--after", "since", metavar="DATE",
              help="Only commits made at or after DATE (2.weeks.ago, 2026-11-01, …).")
@click.option("--until", "--before", "until", metavar="DATE",
              help="Only commits made at or before DATE.")
@click.option("--format", "--pretty", "format_text", metavar="FORMAT",
              help="Each commit as FORMAT: git's placeholders, %H %h %s %an %ad %d %G? … "
              "(`format:` / `tformat:` prefixes), or a name: oneline, short, medium, "
              "reference.")
@click.option("--all", "all_refs", is_flag=True,
              help="Start from every branch, tag and remote-tracking ref, and HEAD.")
@click.option("--reverse", is_flag=True,
              help="Oldest first (of the commits -N chose); not with --graph.")
@click.option("--first-parent", is_flag=True,
              help="Follow only the first parent of each merge (a branch's own line).")
@click.option("--merges", is_flag=True, help="Only merge commits.")
@click.option("--no-merges", is_flag=True, help="No merge commits.")
@click.option("--min-parents", type=COUNT, metavar="N",
              help="Only commits with N parents or more.")
@click.option("--max-parents", type=COUNT, metavar="N",
              help="Only commits with N parents or fewer.")
@click.option("--stat", is_flag=True, help="What each commit changed: per-file line counts, sizes.")
@click.option("--name-only", is_flag=True, help="The path of each file each commit changed.")
@click.option("--name-status", is_flag=True,
              help="A status letter (A/M/D; R and the old path for a rename) and path per "
              "file each commit changed.")
@click.option("-p", "-u", "--patch", is_flag=True,
              help="What each commit changed, as a patch (binary stems by size).")
@click.option("-S", "pickaxe_text", metavar="TEXT",
              help="Only commits that change how often TEXT occurs in a text file.")
@click.option("-G", "pickaxe_regex", metavar="REGEX",
              help="Only commits with an added or removed line REGEX matches.")
@click.option("--no-renames", is_flag=True,
              help="With the options above, a renamed file as a deletion and an addition "
              "(diff.renames false does the same by default).")
@json_option("Machine-readable output.")
def log(revisions: tuple[str, ...], **options: Any) -> None:
    """Show the history reachable from REVISIONS (default: HEAD), newest first.

    A revision may be a range: A..B (in B, not in A), A...B (in exactly one),
    ^A (not in A). After `--`, PATHS list only the commits that change them.
    With --stat, --name-only, --name-status or -p, each commit is followed by
    what it changed against its first parent (merges show nothing, as in git).
    """
    import sys

    from ..decorate import decorations

    asked = Asked(**options)
    asked.refuse_bad_combinations()
    pieces, oneline, decorate = _format_pieces(asked)
    repo = open_repo()
    walked: set[str] = set()
    found = _selection(repo, revisions, asked, walked)
    if found is None:
        if asked.as_json:
            emit_json_array([])
        else:
            click.echo(f"no commits yet on branch {repo.current_branch()}")
        return
    commits, changes = found
    if decorate is None:
        decorate = sys.stdout.isatty()
    names = decorations(repo) if decorate or asked.as_json else {}
    printer = _Printer(repo, asked, names, pieces, oneline=oneline, decorate=bool(decorate),
                       changes=changes if changes is not None and changes.view.asked else None)
    try:
        printer.run(commits, walked)
    finally:  # what was verified stays verified, even when `| head` closes the pipe
        printer.signatures.save()
    if changes is not None and changes.skipped:  # once, however many commits it was
        warn(changes.renames.skipped_warning(changes.skipped))


def _selection(repo: Any, revisions: tuple[str, ...], asked: Asked, walked: set[str]
               ) -> tuple[Iterator[str], Any] | None:
    """(the listed commits, lazily; their `CommitChanges` or None), or None when there is
    no commit to start from. The graph's `walked` collects every commit passed."""
    from ..logwalk import Range, all_tips, listed, parse_range
    from .pathargs import split_paths

    tips = all_tips(repo) if asked.all_refs else []
    if not revisions and not tips and repo.head() is None:
        return None
    texts, specs = split_paths(repo, revisions)
    wanted = parse_range(repo, texts) if texts or not tips else Range()
    wanted.include += tips
    commits = listed(repo, wanted, specs, walked if asked.graph else None,
                     _commit_filter(asked), first_parent=asked.first_parent)
    changes = _changes(repo, specs, asked)
    if changes is not None and changes.pick is not None:  # after the cheaper tests
        commits = (oid for oid in commits if changes.of(oid))
    return commits, changes


def _format_pieces(asked: Asked) -> tuple[Any, bool, bool | None]:
    """(--format's compiled pieces or None, --oneline, --decorate) as the format sets them."""
    if asked.format_text is None:
        return None, asked.oneline, asked.decorate
    from .log_format import format_pieces, uses

    pieces = format_pieces(asked.format_text)
    if pieces is None:  # a name for the default layout
        return None, asked.oneline, asked.decorate
    return pieces, asked.oneline, asked.decorate or uses(pieces, "d", "D")


def _commit_filter(asked: Asked) -> Any:
    """The test of a commit the filtering options ask for, or None when none is given."""
    from ..dates import point_in_time
    from ..logwalk import CommitFilter

    least = max(asked.min_parents or 0, 2 if asked.merges else 0)
    most = 1 if asked.no_merges else asked.max_parents
    texts = (asked.author, asked.grep, asked.since, asked.until)
    if all(text is None for text in texts) and not least and most is None:
        return None

    def when(text: str | None, option: str) -> float | None:
        if text is None:
            return None
        found = point_in_time(text, what=f"{option} date")
        if found is None:
            raise UsageError(f"{option} needs a date, not {text!r}",
                             hint="e.g. 2.weeks.ago or 2026-11-01")
        return found

    # Compiled here: a bad pattern is refused before anything is printed.
    return CommitFilter(asked.author, asked.grep, when(asked.since, "--since"),
                        when(asked.until, "--until"), asked.ignore_case,
                        min_parents=least, max_parents=most).compiled()


def _changes(repo: Any, specs: list[Any], asked: Asked) -> Any:
    """A `CommitChanges` when a diff output or the pickaxe was asked for, else None."""
    from ..logdiff import CommitChanges, DiffView, pickaxe
    from .inspect_cmds import rename_settings_for

    view = DiffView(asked.name_only, asked.name_status, asked.stat, asked.patch)
    pick = pickaxe(asked.pickaxe_text, asked.pickaxe_regex, asked.ignore_case)
    if not view.asked and pick is None:
        return None
    return CommitChanges(repo, specs, view, asked.first_parent, pick,
                         renames=rename_settings_for(repo, asked.no_renames))


class _Printer:
    """Prints the listed commits in the form asked for, streamed where the form allows."""

    def __init__(self, repo: Any, asked: Asked, names: dict[str, Any], pieces: Any, *,
                 oneline: bool, decorate: bool, changes: Any) -> None:
        from ..sigcache import VerifiedSignatures
        from ..trust import trusted_set

        self.repo = repo
        self.asked = asked
        self.names = names
        self.pieces = pieces
        self.oneline = oneline
        self.decorate = decorate
        self.changes = changes
        self.trusted = trusted_set()
        self.signatures = VerifiedSignatures()
        self.current = repo.current_branch()

    def run(self, commits: Iterator[str], walked: set[str]) -> None:
        if self.asked.as_json:
            emit_json_array(self.record(oid) for oid in self._chosen(commits))
            return
        if self.asked.graph:
            # The full layout's blank line between commits is drawn before the next one.
            separated = self.pieces is None and not self.oneline
            lines: Iterable[str] = _graph_lines(self.repo, list(commits), walked,
                                                self.asked, self.parts_of, separated)
        else:  # streamed: `muse log | head` prints at once, whatever the history's length
            lines = (line for oid in self._chosen(commits) for line in self.lines_of(oid))
        for line in lines:
            click.echo(line)

    def _chosen(self, commits: Iterator[str]) -> Iterable[str]:
        """The first -N commits, oldest first with --reverse (only their ids are held)."""
        chosen = itertools.islice(commits, self.asked.max_count)
        return reversed(list(chosen)) if self.asked.reverse else chosen

    def record(self, oid: str) -> dict[str, Any]:
        from ..decorate import Names

        found = {**commit_record(oid, self.repo.graph.commit(oid), self.trusted,
                                 self.signatures),
                 "decorations": self.names.get(oid, Names()).as_dict()}
        if self.changes is not None:
            found["changes"] = self.changes.view.records(self.changes.of(oid))
        return found

    def lines_of(self, oid: str) -> list[str]:
        """One commit's lines, then what it changed where that was asked for."""
        head, after = self.parts_of(oid)
        if after and self.pieces is None and not self.oneline:
            return [*head[:-1], *after, ""]  # the full form ends in the line parting commits
        return head + after

    def parts_of(self, oid: str) -> tuple[list[str], list[str]]:
        """(The commit's own lines, the lines of what it changed), laid out as git lays them:
        changes straight after a one-line commit, else after a blank line (`---` when a stat
        comes before a patch)."""
        head = self._head_lines(oid)
        shown = [] if self.changes is None else \
            [printable(line) for line in self.changes.view.lines(self.changes.of(oid))]
        if not shown or self.oneline:
            return head, shown
        view = self.changes.view
        return head, ["---" if view.stat and view.patch and not view.names else "", *shown]

    def _head_lines(self, oid: str) -> list[str]:
        commit = self.repo.graph.commit(oid)
        if self.pieces is not None:
            return self._formatted(oid, commit).split("\n")
        decoration = _decorated(self.names.get(oid), self.current) if self.decorate else ""
        if self.oneline:
            return [f"{short(oid)}{decoration} {printable(commit.subject)}"]
        return commit_lines(commit_record(oid, commit, self.trusted, self.signatures),
                            decoration)

    def _formatted(self, oid: str, commit: Any) -> str:
        from .log_format import render, shown_commit

        return render(self.pieces, shown_commit(
            oid, commit,
            lambda: commit_record(oid, commit, self.trusted, self.signatures)["signature"],
            self.names.get(oid), self.current))


def _decorated(names: Any, current: str | None) -> str:
    label = names.label(current) if names is not None else ""
    return f" ({printable(label)})" if label else ""


def _graph_lines(repo: Any, shown: list[str], walked: set[str], asked: Asked,
                 parts_of: Callable[[str], tuple[list[str], list[str]]],
                 separated: bool) -> Iterator[str]:
    """The graph needs the whole range first: topological order, parents through hidden
    commits; then at most `max_count` commits are drawn (their lanes to parents past the
    last one drawn end where it does, as git's do)."""
    from ..loggraph import draw

    order, parents = _graph_order(repo, shown, walked, asked.first_parent)
    order = order[:asked.max_count] if asked.max_count is not None else order
    return draw(order, parents, parts_of, separated=separated)


def _graph_order(repo: Any, shown: list[str], walked: set[str], first_parent: bool
                 ) -> tuple[list[str], dict[str, list[str]]]:
    """The shown commits children-first, with each one's nearest shown ancestors."""
    from ..loggraph import topological
    from ..logwalk import visible_parents

    parents = visible_parents(repo, set(shown), walked, first_parent)
    # With --first-parent git draws first parents only, but orders by every parent.
    every = visible_parents(repo, set(shown), walked) if first_parent else parents
    order = topological(shown, every, lambda oid: repo.graph.commit(oid).timestamp)
    return order, parents
