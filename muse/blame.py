"""`blame`: the commit that last changed each line of a text file, through history as git does.

Every line starts as the blamed version's own (a commit's, or the working
tree's, which has HEAD as its parent). A commit whose file is byte for byte
one parent's passes every line to that parent (the first such); otherwise
each parent in turn, first parent first, takes the lines it shares with the
commit (a line diff, `linediff.matching_pairs`), and the lines no parent has
stay the commit's. So a line a merged branch wrote is blamed on the branch's
commit, and a line only the merge itself wrote on the merge; with
`first_parent`, only first parents are followed, so the merge keeps them.
Commits are visited newest first; a commit whose parent has no version of
the file (or has it as binary, or over the size limit) keeps the lines it
holds.

Renames are followed, as git blame follows them: when a parent lacks the
path, the file it came from is one the parent held and the commit removed —
one with the very same content id (an exact rename), else the text file most
like it that shares at least RENAME_SIMILARITY of its bytes in whole lines
(git's 50 %), ties going to the first path. Sizes too far apart are never
read; past RENAME_CANDIDATES removed files, only exact renames count. Each
line records the path it had where it was written.

Bounds: only text is blamed (no NUL in the first 8 KiB and valid UTF-8, as
`diff` decides), and only up to BLAME_LIMIT bytes; the blamed file is checked
from its first bytes and its size before it is read whole, so a binary stem
of any size is refused without being loaded. At most CACHED_VERSIONS older
versions are held at once.
"""

from __future__ import annotations

import heapq
import os
import stat
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .diff import TEXT_SNIFF, looks_like_text
from .errors import RepositoryError, UsageError
from .linediff import matching_pairs
from .objects import Commit, hash_bytes
from .repo import Repository
from .revisions import resolve
from .units import counted, human_size

BLAME_LIMIT = 8 << 20  # the text-merge cap: above it a file's versions are not diffed
CACHED_VERSIONS = 8
CACHED_TREES = 4  # snapshots' path → blob maps: a commit and its parents
RENAME_SIMILARITY = 0.5  # git's default rename threshold (`-M50%`)
RENAME_CANDIDATES = 100  # files a commit removed, past which only exact renames are followed
NOT_COMMITTED = "Not Committed Yet"

_WORKTREE = ""  # the working tree's version, in the places a commit id goes

# (the line's index in a version, the line's index in the blamed file)
_Lines = list[tuple[int, int]]


@dataclass(frozen=True)
class BlamedLine:
    """Line `number` (1-based) of the blamed file: `commit` (None: not committed yet) last
    changed it, where it was line `original` of the file, then at `path`."""

    number: int
    commit: str | None
    original: int
    text: str
    path: str


@dataclass(frozen=True)
class Blame:
    path: str
    commit: str | None  # the blamed revision's commit; None for the working tree
    lines: list[BlamedLine]
    commits: dict[str, Commit]  # every commit a line is blamed on
    mtime: float | None = None  # the working file's, when its lines are not committed yet


def parse_range(text: str) -> tuple[int, int | None, str]:
    """`-L` as git takes it: `START,END`, `START,+N`, `START,-N`, `START`, `,END`.

    Returns (start, end or None for "to the end", form) with 1-based numbers; END
    before START is swapped, as git does.
    """
    start_text, comma, end_text = text.partition(",")
    start = _number(text, start_text) if start_text else 1
    if not comma or end_text == "":
        if not comma and not start_text:
            raise _bad_range(text)
        return start, None, text
    if end_text[0] in "+-":
        count = _number(text, end_text[1:])
        if end_text[0] == "+":
            return start, start + count - 1, text
        return max(1, start - count + 1), start, text
    end = _number(text, end_text)
    return (start, end, text) if end >= start else (end, start, text)


def _number(text: str, part: str) -> int:
    if not (part.isascii() and part.isdigit()) or int(part) < 1:
        raise _bad_range(text)
    return int(part)


def _bad_range(text: str) -> UsageError:
    return UsageError(f"invalid line range {text!r}", hint="-L START,END, -L START,+COUNT "
                      "or -L START (lines count from 1), e.g. -L 10,20")


def select_lines(ranges: list[tuple[int, int | None, str]], count: int, path: str) -> list[int]:
    """The 0-based line indexes the ranges name (all when none); a start past the end is
    refused, an end past it is cut there."""
    if not ranges:
        return list(range(count))
    chosen: set[int] = set()
    for start, end, typed in ranges:
        if start > count:
            raise UsageError(f"-L {typed}: {path} has only {counted(count, 'line')}",
                             hint=f"ask for lines 1 to {count}")
        chosen.update(range(start - 1, min(end or count, count)))
    return sorted(chosen)


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their endings; only `\\n` ends one (as git and `muse diff` count lines:
    a lone `\\r`, which `textmerge.split_lines` would split on, stays inside its line)."""
    lines = data.split(b"\n")
    last = lines.pop()
    found = [line + b"\n" for line in lines]
    return [*found, last] if last else found


def _not_text(path: str, where: str) -> UsageError:
    return UsageError(f"{path} is binary in {where}: only text files have lines to blame",
                      code="not-text", hint=f"binary stems have no lines; `muse log -- {path}` "
                      "lists the commits that changed it")


def _too_large(path: str, where: str, size: int) -> UsageError:
    return UsageError(f"{path} is {human_size(size)} in {where}: blame reads text files of "
                      f"at most {human_size(BLAME_LIMIT)}", code="file-too-large",
                      hint=f"`muse log -- {path}` lists the commits that changed it")


def _checked(path: str, where: str, head: bytes, size: int, read: Iterator[bytes]) -> bytes:
    """The whole text, after its first bytes and size were checked; UsageError if it is
    binary or too large (nothing past the first chunk is read then)."""
    if b"\0" in head[:TEXT_SNIFF]:
        raise _not_text(path, where)
    if size > BLAME_LIMIT:
        raise _too_large(path, where, size)
    data = head + b"".join(read)
    if len(data) > BLAME_LIMIT:  # grew while it was read
        raise _too_large(path, where, len(data))
    if not looks_like_text(data):
        raise _not_text(path, where)
    return data


def _stored_text(repo: Repository, oid: str, path: str, where: str) -> bytes:
    chunks = repo.store.iter_chunks(oid)
    head = next(chunks, b"")
    return _checked(path, where, head, repo.store.size(oid), chunks)


def _working_text(repo: Repository, path: str) -> tuple[bytes, float]:
    """The working file's text and mtime, refusing a folder, a link or a missing file."""
    full = repo.worktree.root / path
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file in the working tree",
                         hint=f"to blame HEAD's version: muse blame HEAD -- {path}") from None
    except NotADirectoryError:
        raise UsageError(f"{path}: no such file in the working tree") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path} is a folder: blame takes one file",
                         hint="name a file in it; `muse log -- FOLDER` lists its commits")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path} is not a regular file (a symbolic link?): Muse does not "
                         "store it", hint="name the file it stands for")
    with open(full, "rb") as handle:
        head = handle.read(TEXT_SNIFF)
        return _checked(path, "the working tree", head, st.st_size,
                        iter(lambda: handle.read(1 << 20), b"")), st.st_mtime


class _Versions:
    """The file's blob in each commit (under whichever path it had there), rename sources,
    and the lines of a few recent versions."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._blobs: dict[tuple[str, str], str | None] = {}  # (snapshot, path) → blob
        self._trees: OrderedDict[str, dict[str, str]] = OrderedDict()  # snapshot → path → blob
        self._lines: OrderedDict[str, list[bytes] | None] = OrderedDict()

    def tree(self, commit: str) -> dict[str, str]:
        snapshot = self.repo.graph.commit(commit).snapshot
        if snapshot in self._trees:
            self._trees.move_to_end(snapshot)
        else:
            entries = self.repo.store.read_snapshot(snapshot).entries
            self._trees[snapshot] = {e.path: e.oid for e in entries}
            if len(self._trees) > CACHED_TREES:
                self._trees.popitem(last=False)
        return self._trees[snapshot]

    def blob(self, commit: str, path: str) -> str | None:
        # Kept for every snapshot met, so a snapshot is read once however the walk goes;
        # whole trees are only held for a few (rename detection needs two).
        key = (self.repo.graph.commit(commit).snapshot, path)
        if key not in self._blobs:
            self._blobs[key] = self.tree(commit).get(path)
        return self._blobs[key]

    def lines(self, oid: str) -> list[bytes] | None:
        """A version's lines; None when it is binary or too large (it shares no lines)."""
        if oid in self._lines:
            self._lines.move_to_end(oid)
            return self._lines[oid]
        try:
            found: list[bytes] | None = split_lines(_stored_text(self.repo, oid, "", ""))
        except UsageError:
            found = None
        self._lines[oid] = found
        if len(self._lines) > CACHED_VERSIONS:
            self._lines.popitem(last=False)
        return found

    def remember(self, oid: str, lines: list[bytes]) -> None:
        self._lines[oid] = lines

    def source(self, parent: str, commit: str, path: str, oid: str) -> tuple[str, str] | None:
        """(path, blob) of `commit`'s file `path` (blob `oid`) in `parent`: the same path,
        else the file `commit` renamed to it; None when `parent` had neither."""
        blob = self.blob(parent, path)
        if blob is not None:
            return path, blob
        if commit == _WORKTREE:
            return None  # the working tree's file is HEAD's by its path (checked before)
        return self.renamed_from(parent, commit, oid)

    def renamed_from(self, parent: str, commit: str, oid: str) -> tuple[str, str] | None:
        """The file `parent` held that `commit` removed and that became blob `oid`: one with
        that very content (the first by path), else the text most like it, sharing at least
        half its bytes (RENAME_SIMILARITY) in whole lines; None when none qualifies."""
        older, newer = self.tree(parent), self.tree(commit)
        gone = sorted(p for p in older if p not in newer)
        for path in gone:
            if older[path] == oid:
                return path, oid
        size = self.repo.store.size(oid)
        # As git's rename detection: sizes too far apart cannot share half their bytes.
        near = [p for p in gone
                if _within(self.repo.store.size(older[p]), size, RENAME_SIMILARITY)]
        if not near or len(near) > RENAME_CANDIDATES or self.lines(oid) is None:
            return None
        best: tuple[float, str] | None = None
        for path in near:
            score = self._similarity(older[path], oid)
            if score >= RENAME_SIMILARITY and (best is None or score > best[0]):
                best = (score, path)
        return (best[1], older[best[1]]) if best is not None else None

    def _similarity(self, old: str, new: str) -> float:
        """Bytes of `new`'s lines that `old` has too (a line diff), over the larger size."""
        older, newer = self.lines(old), self.lines(new)
        if older is None or newer is None:
            return 0.0
        shared = sum(len(newer[j]) for _, j in matching_pairs(older, newer))
        largest = max(sum(map(len, older)), sum(map(len, newer)), 1)
        return shared / largest


def _within(a: int, b: int, similarity: float) -> bool:
    return min(a, b) >= similarity * max(a, b)


class _Walk:
    """Hands lines down the history until each rests on the commit that wrote it."""

    def __init__(self, repo: Repository, versions: _Versions, count: int,
                 first_parent: bool) -> None:
        self.repo = repo
        self.versions = versions
        self.first_parent = first_parent
        self.owner: list[str | None] = [None] * count
        self.original = [0] * count
        self.paths = [""] * count
        self.pending: dict[tuple[str, str], _Lines] = {}  # (commit, path) → its lines
        self.queue: list[tuple[int, int, str, str]] = []
        self.counter = 0

    def give(self, commit: str, path: str, lines: _Lines) -> None:
        if not lines:
            return
        if (commit, path) not in self.pending:
            self.counter += 1
            heapq.heappush(self.queue, (-self.repo.graph.commit(commit).timestamp,
                                        self.counter, commit, path))
        self.pending.setdefault((commit, path), []).extend(lines)

    def run(self) -> None:
        while self.queue:
            _, _, commit, path = heapq.heappop(self.queue)
            lines = self.pending.pop((commit, path))
            oid = self.versions.blob(commit, path)
            assert oid is not None  # only a commit holding the file is given lines
            text = self.versions.lines(oid)
            assert text is not None  # nor one whose version has no lines
            self.settle(commit, path, oid, text, self.repo.graph.commit(commit).parents,
                        lines)

    def settle(self, commit: str, path: str, oid: str, text: list[bytes],
               parents: Sequence[str], lines: _Lines) -> None:
        """Pass `lines` of `commit`'s version (`path`, `oid`, `text`) to its parents (the
        first alone with `first_parent`); keep the rest."""
        followed = list(parents[:1] if self.first_parent else parents)
        sources = [self.versions.source(p, commit, path, oid) for p in followed]
        for parent, source in zip(followed, sources, strict=True):
            if source is not None and source[1] == oid:
                self.give(parent, source[0], lines)  # unchanged on this side: all from there
                return
        for parent, source in zip(followed, sources, strict=True):
            older = self.versions.lines(source[1]) if source is not None and lines else None
            if source is None or older is None:
                continue
            # Diffed as git does, parent to child; the pairs map a line back to the parent's.
            back = {j: i for i, j in matching_pairs(older, text)}
            self.give(parent, source[0], [(back[at], final) for at, final in lines
                                          if at in back])
            lines = [(at, final) for at, final in lines if at not in back]
        for at, final in lines:
            self.owner[final] = None if commit == _WORKTREE else commit
            self.original[final] = at + 1
            self.paths[final] = path


def blame(repo: Repository, path: str, revision: str | None,
          ranges: list[tuple[int, int | None, str]] | None = None, *,
          first_parent: bool = False) -> Blame:
    """Blame `path` (repository-relative) at `revision`, or in the working tree when None."""
    if revision is None:
        return _blame_worktree(repo, path, ranges or [], first_parent)
    commit = resolve(repo, revision)
    versions = _Versions(repo)
    oid = versions.blob(commit, path)
    if oid is None:
        raise _no_such_path(repo, commit, path, revision)
    data = _stored_text(repo, oid, path, revision)
    text = split_lines(data)
    versions.remember(oid, text)
    chosen = select_lines(ranges or [], len(text), path)
    walk = _Walk(repo, versions, len(text), first_parent)
    walk.give(commit, path, [(i, i) for i in chosen])
    walk.run()
    return _result(repo, path, commit, text, chosen, walk, None)


def _blame_worktree(repo: Repository, path: str,
                    ranges: list[tuple[int, int | None, str]], first_parent: bool) -> Blame:
    if repo.is_bare:
        raise RepositoryError("a bare repository has no working tree to blame a file in",
                              hint=f"name a revision: muse blame main -- {path}")
    head = resolve(repo, "HEAD")
    versions = _Versions(repo)
    if versions.blob(head, path) is None:
        raise _no_such_path(repo, head, path, "HEAD")
    data, mtime = _working_text(repo, path)
    text = split_lines(data)
    chosen = select_lines(ranges, len(text), path)
    walk = _Walk(repo, versions, len(text), first_parent)
    walk.settle(_WORKTREE, path, hash_bytes(data), text, [head], [(i, i) for i in chosen])
    walk.run()
    return _result(repo, path, None, text, chosen, walk, mtime)


def _no_such_path(repo: Repository, commit: str, path: str, revision: str) -> UsageError:
    folder = any(e.path.startswith(path + "/") for e in repo.commit_snapshot(commit).entries)
    if folder:
        return UsageError(f"{path} is a folder in {revision}: blame takes one file",
                          hint="name a file in it; `muse log -- FOLDER` lists its commits")
    return UsageError(f"no such path {path!r} in {revision}",
                      hint=f"`muse log -- {path}` lists the commits that had it")


def _result(repo: Repository, path: str, commit: str | None, text: list[bytes],
            chosen: list[int], walk: _Walk, mtime: float | None) -> Blame:
    lines = []
    commits: dict[str, Commit] = {}
    for i in chosen:
        owner = walk.owner[i]
        if owner is not None:
            commits[owner] = repo.graph.commit(owner)
        shown = text[i].decode("utf-8").removesuffix("\n").removesuffix("\r")
        lines.append(BlamedLine(i + 1, owner, walk.original[i], shown, walk.paths[i]))
    uncommitted = any(line.commit is None for line in lines)
    return Blame(path, commit, lines, commits, mtime if uncommitted else None)
