"""`describe`: the nearest tag a commit is reachable from, as `TAG-N-gID`, walked as git does.

The names: annotated tags by default; lightweight ones too with `tags`; every
branch, remote-tracking branch and tag with `all_refs`. When one commit holds
several names, an annotated tag beats a lightweight one, which beats a branch;
among annotated tags the newest tag date wins; otherwise the first in ref-name
order. An annotated tag is printed by the name its tag object records (signed,
so the tagger's); when its ref is called something else (`muse tag lt v1`,
or a ref renamed), the description warns, as git does, and always takes the
long form `NAME-N-gID`, so the id says which commit is meant.

The walk is git's: commits are visited newest first (by timestamp; equal
timestamps in the order they were reached) from the revision; each name met
becomes a candidate, up to `candidates`, and the walk stops early once every
commit left is reachable from the best candidates found. A candidate's
distance is the number of commits the walk met that it does not reach. The
best is the one with the smallest distance; of several, the one met first
(the newer tagged commit). The cost is bounded by the commits between the
revision and its candidates, not the size of the history.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .errors import (
    CorruptObjectError,
    IntegrityError,
    MissingObjectError,
    RepositoryError,
    SystemRefusedError,
    UsageError,
    system_refusal,
)
from .refs import HEADS, REMOTES, TAGS
from .repo import Repository
from .revisions import MIN_ABBREV, resolve
from .storage import COMMIT
from .tags import read_entry

DEFAULT_ABBREV = 12  # as Muse's short ids elsewhere (log, branch): sha256 ids are long
MAX_ABBREV = 64
DEFAULT_CANDIDATES = 10  # git's
MAX_CANDIDATES = 1000
DIRTY_MARK = "-dirty"
BROKEN_MARK = "-broken"

ANNOTATED, LIGHTWEIGHT, OTHER_REF = 2, 1, 0
_SEEN = 1  # the walk's own flag; each candidate gets a higher bit


@dataclass(frozen=True)
class Name:
    """A ref that can describe `commit`: its printed name, kind and (annotated) tag date.

    `ref` is the ref as shown (`v1`, `tags/v1` with --all); `name` is what a description
    prints: the same, but for an annotated tag the name its tag object records. When
    they differ, `warning` says so in git's words.
    """

    name: str
    ref: str
    commit: str
    priority: int
    date: int | None = None
    warning: str | None = None


@dataclass(frozen=True)
class Options:
    tags: bool = False
    all_refs: bool = False
    long: bool = False
    abbrev: int = DEFAULT_ABBREV
    always: bool = False
    match: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    first_parent: bool = False
    candidates: int = DEFAULT_CANDIDATES


@dataclass(frozen=True)
class Description:
    """One revision described; `tag` and `distance` are None for an `--always` fallback."""

    revision: str
    commit: str
    tag: str | None
    distance: int | None
    abbrev: str
    dirty: bool | None
    description: str
    walked: int = 0  # commits the walk visited: what describing cost
    tag_ref: str | None = None  # the tag's ref as shown: differs from `tag` when misnamed
    broken: bool | None = None  # None unless --broken was asked for
    warning: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"revision": self.revision, "commit": self.commit, "tag": self.tag,
                "tag_ref": self.tag_ref, "distance": self.distance, "abbrev": self.abbrev,
                "dirty": self.dirty, "broken": self.broken, "description": self.description,
                "warnings": [self.warning] if self.warning else []}


def known_names(repo: Repository, options: Options) -> dict[str, Name]:
    """The best name of every commit that has one (see the module docstring)."""
    found: dict[str, Name] = {}
    prefixes = (HEADS, REMOTES, TAGS) if options.all_refs else (TAGS,)
    refs = {ref: value for prefix in prefixes for ref, value in repo.refs.list(prefix).items()}
    for ref in sorted(refs):
        name = _name(repo, ref, refs[ref], options)
        if name is not None and _replaces(found.get(name.commit), name):
            found[name.commit] = name
    return found


def _name(repo: Repository, ref: str, value: str, options: Options) -> Name | None:
    """The Name `ref` gives, or None when the patterns leave it out or it names no commit."""
    is_tag = ref.startswith(TAGS)
    matched = ref[len(TAGS if is_tag else HEADS if ref.startswith(HEADS) else REMOTES):]
    if any(fnmatchcase(matched, p) for p in options.exclude):
        return None
    if options.match and not any(fnmatchcase(matched, p) for p in options.match):
        return None
    try:
        entry = read_entry(repo, matched, value) if is_tag else None
        commit = entry.commit if entry is not None else value
        if repo.store.kind(commit) != COMMIT:
            return None  # a damaged ref names nothing to describe with; `verify` reports it
    except (MissingObjectError, CorruptObjectError):
        return None
    shown = ref[len("refs/"):] if options.all_refs else matched
    if entry is not None and entry.tag is not None:
        own = entry.tag.name
        warning = (None if own == matched else
                   f"tag '{shown}' is externally known as '{own}'")
        return Name(("tags/" if options.all_refs else "") + own, shown, commit, ANNOTATED,
                    entry.tag.timestamp, warning)
    return Name(shown, shown, commit, LIGHTWEIGHT if is_tag else OTHER_REF)


def _replaces(old: Name | None, new: Name) -> bool:
    """Whether `new` is a better name for its commit than `old` (refs come in name order)."""
    if old is None or old.priority < new.priority:
        return True
    return (old.priority == new.priority == ANNOTATED
            and (old.date or 0) < (new.date or 0))


def abbreviate(repo: Repository, oid: str, length: int) -> str:
    """`oid`'s first `length` digits (0: all), lengthened until no other stored id shares them."""
    if length == 0:
        return oid
    length = max(length, MIN_ABBREV)
    while length < len(oid) and len(repo.store.ids_with_prefix(oid[:length])) > 1:
        length += 1
    return oid[:length]


@dataclass
class _Candidate:
    name: Name
    depth: int
    flag: int
    order: int


class _Walk:
    """One describe walk: commits by timestamp, newest first, with reachability flags."""

    def __init__(self, repo: Repository, first_parent: bool) -> None:
        self.graph = repo.graph
        self.first_parent = first_parent
        self.flags: dict[str, int] = {}
        self.queue: list[tuple[int, int, str]] = []
        self.counter = 0
        self.seen = 0

    def push(self, oid: str) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (-self.graph.commit(oid).timestamp, self.counter, oid))

    def pop(self) -> str:
        self.seen += 1
        return heapq.heappop(self.queue)[2]

    def expand(self, oid: str) -> None:
        """Queue `oid`'s parents not seen yet; each learns what `oid` is reachable from."""
        parents = self.graph.commit(oid).parents
        for parent in parents[:1] if self.first_parent else parents:
            known = self.flags.get(parent, 0)
            if not known & _SEEN:
                self.push(parent)
            self.flags[parent] = known | self.flags[oid]


def describe_commit(repo: Repository, commit: str, names: dict[str, Name],
                    options: Options) -> tuple[Name | None, int, int]:
    """(best name, distance, commits walked); (None, 0, walked) when no name describes it."""
    if not names:
        return None, 0, 0  # nothing could be met: no walk (only `--always` gets here)
    exact = names.get(commit)
    if exact is not None and (options.tags or options.all_refs or exact.priority == ANNOTATED):
        return exact, 0, 0
    if options.candidates == 0:
        raise RepositoryError(f"no tag exactly matches {commit[:12]}", code="no-tag",
                              hint="--candidates 0 only accepts a tag on the commit itself")
    walk = _Walk(repo, options.first_parent)
    walk.flags[commit] = _SEEN
    walk.push(commit)
    found: list[_Candidate] = []
    unannotated = annotated = 0
    gave_up: str | None = None
    while walk.queue:
        oid = walk.pop()
        name = names.get(oid)
        if name is not None:
            if not options.tags and not options.all_refs and name.priority < ANNOTATED:
                unannotated += 1
            elif len(found) < options.candidates:
                flag = 1 << (len(found) + 1)
                found.append(_Candidate(name, walk.seen - 1, flag, len(found)))
                walk.flags[oid] |= flag
                annotated += name.priority == ANNOTATED
            else:
                gave_up = oid
                break
        for candidate in found:
            if not walk.flags[oid] & candidate.flag:
                candidate.depth += 1
        if annotated and not walk.queue and _covered(walk.flags[oid], found):
            break
        walk.expand(oid)
    if not found:
        if options.always:
            return None, 0, walk.seen
        raise _no_tag(commit, unannotated)
    found.sort(key=lambda c: (c.depth, c.order))
    best = found[0]
    if gave_up is not None:
        walk.push(gave_up)
        walk.seen -= 1
    _finish_depth(walk, best)
    return best.name, best.depth, walk.seen


def _covered(flags: int, found: list[_Candidate]) -> bool:
    """Whether a commit (the last one queued) is reachable from every best-so-far candidate."""
    best_depth = min(c.depth for c in found)
    within = 0
    for candidate in found:
        if candidate.depth == best_depth:
            within |= candidate.flag
    return flags & within == within


def _finish_depth(walk: _Walk, best: _Candidate) -> None:
    """Count the commits still queued that the best candidate does not reach."""
    while walk.queue:
        oid = walk.pop()
        if walk.flags[oid] & best.flag:
            if all(walk.flags[item[2]] & best.flag for item in walk.queue):
                break
        else:
            best.depth += 1
        walk.expand(oid)


def _no_tag(commit: str, unannotated: int) -> RepositoryError:
    if unannotated:
        return RepositoryError(f"no annotated tag can describe {commit[:12]}; there are "
                               "lightweight tags", code="no-tag",
                               hint="add --tags to use them, or --always for the id alone")
    return RepositoryError(f"no tag can describe {commit[:12]}", code="no-tag",
                           hint="tag a commit it comes from (`muse tag -a NAME REV -m MSG`), "
                           "or use --always for the id alone")


def describe(repo: Repository, revisions: Iterable[str], options: Options, *,
             dirty_mark: str | None = None, broken_mark: str | None = None
             ) -> list[Description]:
    """Describe every revision (default HEAD); every one is resolved before any walk.

    A mark (`--dirty`, `--broken`) describes the working tree, so takes no revision."""
    given = list(revisions)
    texts = given or ["HEAD"]
    if given and (dirty_mark is not None or broken_mark is not None):
        flag = "--broken" if broken_mark is not None else "--dirty"
        raise UsageError(f"{flag} describes the working tree: it takes no revision",
                         hint=f"drop the revision, or drop {flag}")
    commits = [resolve(repo, text) for text in texts]
    names = known_names(repo, options)
    if not names and not options.always:
        raise RepositoryError("no names found, cannot describe anything", code="no-tag",
                              hint=_no_names_hint(options))
    tree = _tree_state(repo, dirty_mark, broken_mark)
    return [_describe_one(repo, text, oid, names, options, tree)
            for text, oid in zip(texts, commits, strict=True)]


def _no_names_hint(options: Options) -> str:
    if options.all_refs or options.tags:
        return "create a tag (`muse tag -a v1.0 -m MSG`), or use --always for the id alone"
    return ("create an annotated tag (`muse tag -a v1.0 -m MSG`), add --tags to use "
            "lightweight ones, or use --always for the id alone")


@dataclass(frozen=True)
class _Tree:
    """The working tree's state, when a mark asked for it: what to append, and why."""

    dirty: bool | None = None
    broken: bool | None = None
    mark: str | None = None


def _describe_one(repo: Repository, text: str, commit: str, names: dict[str, Name],
                  options: Options, tree: _Tree) -> Description:
    name, distance, walked = describe_commit(repo, commit, names, options)
    short = abbreviate(repo, commit, options.abbrev)
    if name is None:
        shown = short
    elif not name.warning and (options.abbrev == 0 or (distance == 0 and not options.long)):
        shown = name.name
    else:
        # A misnamed tag always gets the id (all of it with --abbrev 0), as in git: the
        # name alone would not say which commit is meant.
        shown = f"{name.name}-{distance}-g{short}"
    return Description(text, commit, name.name if name else None,
                       distance if name else None, short, tree.dirty,
                       shown + (tree.mark or ""), walked=walked,
                       tag_ref=name.ref if name else None, broken=tree.broken,
                       warning=name.warning if name else None)


def _tree_state(repo: Repository, dirty_mark: str | None, broken_mark: str | None) -> _Tree:
    """`--dirty` compares the tree with HEAD; `--broken` does too (marking a difference
    with the dirty mark, `-dirty` by default), but a repository that cannot be read cleanly
    (a missing or damaged object, an unreadable file) is marked broken, not an error."""
    if broken_mark is None:
        if dirty_mark is None:
            return _Tree()
        dirty = _is_dirty(repo, "--dirty")
        return _Tree(dirty, None, dirty_mark if dirty else None)
    try:
        dirty = _is_dirty(repo, "--broken")
    except (IntegrityError, SystemRefusedError):
        return _Tree(None, True, broken_mark)
    except OSError as exc:
        if system_refusal(exc) is None:
            raise  # not the system's refusal: a bug, reported as one
        return _Tree(None, True, broken_mark)
    return _Tree(dirty, False, (dirty_mark or DIRTY_MARK) if dirty else None)


def _is_dirty(repo: Repository, flag: str) -> bool:
    """Whether `muse status` would list anything: Muse has no index, so a new file that
    is not ignored is as much a difference from HEAD as an edit (the next commit records it)."""
    from .changes import compare

    if repo.is_bare:
        raise RepositoryError(f"{flag} compares the working tree, and a bare repository "
                              "has none", hint=f"drop {flag}")
    worktree = repo.worktree
    current = worktree.snapshot()
    worktree.cache.save()  # as status does: the next scan need not re-read these files
    return bool(compare(repo.head_snapshot(), current))
