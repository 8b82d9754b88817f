"""Which commits `log` lists: revision ranges (`A..B`, `A...B`, `^A`), and path limiting.

A range is a set of starting commits and a set of excluded ones: `A..B` is
"reachable from B, not from A" (an empty side means HEAD), `A...B` is "reachable
from exactly one of A and B", `^A` excludes A; `--all` starts from every ref and
HEAD. With pathspecs, a commit is listed when it changes a matched path against
every parent (a merge that took one side's version unchanged is not listed, as
git's default simplification); a root commit is listed when it holds a matched
path. With `first_parent` the walk follows first parents only, and a merge is
compared with its first parent alone; the excluded side is still every commit
the exclusions reach, as git's is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import msgpack

from .errors import UsageError
from .objects import FORMAT_VERSION, SNAPSHOT_TAG, Commit, decode_snapshot
from .pathspec import Pathspec, matcher
from .repo import Repository
from .revisions import resolve

_Key = tuple[tuple[str, str, bool], ...]


@dataclass
class Range:
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


def parse_range(repo: Repository, texts: list[str]) -> Range:
    """Resolve every revision text (all before any walk: one bad name refuses the whole)."""
    found = Range()
    for text in texts or ["HEAD"]:
        if "..." in text:
            left, _, right = text.partition("...")
            a, b = resolve(repo, left or "HEAD"), resolve(repo, right or "HEAD")
            found.include += [a, b]
            found.exclude += repo.graph.merge_bases(a, b)
        elif ".." in text:
            left, _, right = text.partition("..")
            found.exclude.append(resolve(repo, left or "HEAD"))
            found.include.append(resolve(repo, right or "HEAD"))
        elif text.startswith("^") and len(text) > 1:
            found.exclude.append(resolve(repo, text[1:]))
        else:
            found.include.append(resolve(repo, text))
    return found


def all_tips(repo: Repository) -> list[str]:
    """`--all`: the commit of every ref (a tag peeled to its commit), HEAD's, and the
    newest stash's — git's `refs/stash`, which `git log --all` walks (older stashes
    are that ref's reflog there, and are not walked)."""
    from .stash import stash_ids
    from .tags import peel_all

    refs = repo.refs.list("refs/").values()
    head = repo.head()
    stash = stash_ids(repo.muse_dir)[:1]
    return peel_all(repo.store, [*refs, *([head] if head else []), *stash])


def in_range(repo: Repository, wanted: Range, first_parent: bool = False) -> Iterator[str]:
    """The commits of `wanted`, newest first (by timestamp)."""
    stop = set(repo.graph.walk(wanted.exclude)) if wanted.exclude else set()
    return repo.graph.walk(wanted.include, stop=stop, first_parent=first_parent)


@dataclass(frozen=True)
class CommitFilter:
    """`log --author`, `--grep`, `--since`, `--until`, `--min-parents`, `--max-parents`:
    which commits of the range are shown.

    Patterns are regular expressions searched (not matched whole), as git's are: the
    author in `Name <email>`, `--grep` in the whole message; `ignore_case` for both.
    """

    author: str | None = None
    grep: str | None = None
    since: float | None = None
    until: float | None = None
    ignore_case: bool = False
    min_parents: int = 0
    max_parents: int | None = None

    def compiled(self) -> Callable[[Commit], bool]:
        flags = re.IGNORECASE if self.ignore_case else 0
        author = compile_pattern(self.author, "--author", flags)
        grep = compile_pattern(self.grep, "--grep", flags)

        def keeps(commit: Commit) -> bool:
            if not self._parents_fit(len(commit.parents)):
                return False
            if self.since is not None and commit.timestamp < self.since:
                return False
            if self.until is not None and commit.timestamp > self.until:
                return False
            if author is not None and not author.search(
                    f"{commit.author_name} <{commit.author_email}>"):
                return False
            return grep is None or grep.search(commit.message) is not None
        return keeps

    def _parents_fit(self, count: int) -> bool:
        return count >= self.min_parents and (self.max_parents is None
                                              or count <= self.max_parents)


def compile_pattern(text: str | None, option: str, flags: int) -> re.Pattern[str] | None:
    """`text` compiled, or UsageError naming `option`: a bad pattern is a user's mistake."""
    if text is None:
        return None
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise UsageError(f"{option}: not a regular expression: {exc}", hint="escape "
                         "special characters with a backslash, e.g. \\. for a dot") from None


def listed(repo: Repository, wanted: Range, specs: list[Pathspec],
           walked: set[str] | None = None,
           keeps: Callable[[Commit], bool] | None = None, *,
           first_parent: bool = False) -> Iterator[str]:
    """The commits `log` lists, newest first, lazily; every commit passed is added to
    `walked` (the graph links shown commits through the hidden ones). `keeps`: a
    `CommitFilter.compiled()` test, or None for every commit."""
    limit = PathFilter(repo, specs, first_parent)
    for oid in in_range(repo, wanted, first_parent):
        if walked is not None:
            walked.add(oid)
        if (keeps is None or keeps(repo.graph.commit(oid))) and limit.touches(oid):
            yield oid


class PathFilter:
    """Whether a commit changes any path under `specs` (see the module docstring)."""

    def __init__(self, repo: Repository, specs: list[Pathspec],
                 first_parent: bool = False) -> None:
        self.repo = repo
        self.specs = specs
        self.first_parent = first_parent
        self._wanted = matcher(specs)
        self._keys: dict[str, _Key] = {}

    def _key(self, commit_id: str) -> _Key:
        snapshot_id = self.repo.graph.commit(commit_id).snapshot
        found = self._keys.get(snapshot_id)
        if found is None:
            found = self._rows(snapshot_id)
            self._keys[snapshot_id] = found
        return found

    def _rows(self, snapshot_id: str) -> _Key:
        """The matched (path, id, executable) rows of a stored snapshot.

        Read verified (its bytes hash to its id), but not re-validated path by
        path as `decode_snapshot` does, which costs ten times the decoding: rows
        are only compared here, never written anywhere. Anything but the exact
        shape is left to `decode_snapshot`, which says what is wrong with it.
        """
        data = self.repo.store.read(snapshot_id)
        wanted = self._wanted
        try:
            tag, version, rows = msgpack.unpackb(data, raw=False, use_list=False)
            if tag == SNAPSHOT_TAG and version == FORMAT_VERSION:
                return tuple((path, oid.hex(), executable)
                             for path, oid, _size, executable in rows
                             if type(path) is str and wanted(path))
        except (ValueError, TypeError, AttributeError, msgpack.ExtraData):
            pass
        entries = decode_snapshot(data).entries  # raises CorruptObjectError, naming it
        return tuple((e.path, e.oid, e.executable) for e in entries if wanted(e.path))

    def touches(self, commit_id: str) -> bool:
        if not self.specs:
            return True
        commit = self.repo.graph.commit(commit_id)
        parents = followed(commit.parents, self.first_parent)
        if any(self.repo.graph.commit(p).snapshot == commit.snapshot for p in parents):
            return False  # the same tree as a parent: nothing to read
        mine = self._key(commit_id)
        if not parents:
            return bool(mine)
        return all(self._key(p) != mine for p in parents)


def followed(parents: tuple[str, ...], first_parent: bool) -> tuple[str, ...]:
    """The parents a walk goes on to: all of them, or the first alone."""
    return parents[:1] if first_parent else parents


def visible_parents(repo: Repository, shown: set[str], walked: set[str],
                    first_parent: bool = False) -> dict[str, list[str]]:
    """For the graph: each shown commit's nearest shown ancestors along its parents
    (first parents only with `first_parent`), passing through commits of the range
    that path limiting or a filter hid."""
    memo: dict[str, list[str]] = {}

    def through(oid: str) -> list[str]:
        # The nearest shown commits at or below a hidden `oid`, without recursion.
        if oid in memo:
            return memo[oid]
        result: list[str] = []
        stack, seen = [oid], {oid}
        while stack:
            current = stack.pop()
            for parent in followed(repo.graph.commit(current).parents, first_parent):
                if parent in seen or parent not in walked:
                    continue
                seen.add(parent)
                if parent in shown:
                    if parent not in result:
                        result.append(parent)
                else:
                    stack.append(parent)
        memo[oid] = result
        return result

    found: dict[str, list[str]] = {}
    for oid in shown:
        parents: list[str] = []
        reached: set[str] = set()  # through hidden commits, not parents of `oid` itself
        for parent in followed(repo.graph.commit(oid).parents, first_parent):
            if parent not in walked:
                continue
            for target in ([parent] if parent in shown else through(parent)):
                if target not in parents:
                    parents.append(target)
                    if target != parent:
                        reached.add(target)
        if reached and len(parents) > 1:
            # One reached through hidden commits may be another's ancestor: a lane for it
            # would only show what the other already leads to. A parent of the commit
            # itself is always drawn (a merge whose mainline had not moved included).
            parents = [p for p in parents if p not in reached
                       or not any(q != p and repo.graph.is_ancestor(p, q) for q in parents)]
        found[oid] = parents
    return found
