"""`blame`: the commit that last changed each line of a text file, through history as git does.

Every line starts as the blamed version's own (a commit's, or the working
tree's, which has HEAD as its parent). A commit whose file is byte for byte
one parent's passes every line to that parent (the first such); otherwise
each parent in turn, first parent first, takes the lines it shares with the
commit (a line diff, `linediff.matching_pairs`), and the lines no parent has
stay the commit's. So a line a merged branch wrote is blamed on the branch's
commit, and a line only the merge itself wrote on the merge. Commits are
visited newest first; a commit whose parent lacks the file (or has it as
binary, or over the size limit) keeps the lines it holds. Renames are not
followed.

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
from collections.abc import Iterator
from dataclasses import dataclass

from .diff import TEXT_SNIFF, looks_like_text
from .errors import RepositoryError, UsageError
from .linediff import matching_pairs
from .objects import Commit, hash_bytes
from .repo import Repository
from .revisions import resolve
from .units import human_size

BLAME_LIMIT = 8 << 20  # the text-merge cap: above it a file's versions are not diffed
CACHED_VERSIONS = 8
NOT_COMMITTED = "Not Committed Yet"

_WORKTREE = ""  # the working tree's version, in the places a commit id goes

# (the line's index in a version, the line's index in the blamed file)
_Lines = list[tuple[int, int]]


@dataclass(frozen=True)
class BlamedLine:
    """Line `number` (1-based) of the blamed file: `commit` (None: not committed yet) last
    changed it, where it was line `original` of the file."""

    number: int
    commit: str | None
    original: int
    text: str


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
            raise UsageError(f"-L {typed}: {path} has only {count} line"
                             f"{'' if count == 1 else 's'}", hint=f"ask for lines 1 to {count}")
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
    """The file's blob in each commit, and the lines of a few recent versions."""

    def __init__(self, repo: Repository, path: str) -> None:
        self.repo = repo
        self.path = path
        self._blobs: dict[str, str | None] = {}  # snapshot id → blob id
        self._lines: OrderedDict[str, list[bytes] | None] = OrderedDict()

    def blob(self, commit: str) -> str | None:
        snapshot = self.repo.graph.commit(commit).snapshot
        if snapshot not in self._blobs:
            entry = self.repo.store.read_snapshot(snapshot).as_dict().get(self.path)
            self._blobs[snapshot] = entry.oid if entry is not None else None
        return self._blobs[snapshot]

    def lines(self, oid: str) -> list[bytes] | None:
        """A version's lines; None when it is binary or too large (it shares no lines)."""
        if oid in self._lines:
            self._lines.move_to_end(oid)
            return self._lines[oid]
        try:
            found: list[bytes] | None = split_lines(_stored_text(self.repo, oid, self.path, ""))
        except UsageError:
            found = None
        self._lines[oid] = found
        if len(self._lines) > CACHED_VERSIONS:
            self._lines.popitem(last=False)
        return found

    def remember(self, oid: str, lines: list[bytes]) -> None:
        self._lines[oid] = lines


class _Walk:
    """Hands lines down the history until each rests on the commit that wrote it."""

    def __init__(self, repo: Repository, versions: _Versions, count: int) -> None:
        self.repo = repo
        self.versions = versions
        self.owner: list[str | None] = [None] * count
        self.original = [0] * count
        self.pending: dict[str, _Lines] = {}
        self.queue: list[tuple[int, int, str]] = []
        self.counter = 0

    def give(self, commit: str, lines: _Lines) -> None:
        if not lines:
            return
        if commit not in self.pending:
            self.counter += 1
            heapq.heappush(self.queue, (-self.repo.graph.commit(commit).timestamp,
                                        self.counter, commit))
        self.pending.setdefault(commit, []).extend(lines)

    def run(self) -> None:
        while self.queue:
            commit = heapq.heappop(self.queue)[2]
            lines = self.pending.pop(commit)
            oid = self.versions.blob(commit)
            assert oid is not None  # only a commit holding the file is given lines
            text = self.versions.lines(oid)
            assert text is not None  # nor one whose version has no lines
            self.settle(commit, oid, text, list(self.repo.graph.commit(commit).parents), lines)

    def settle(self, commit: str, oid: str, text: list[bytes], parents: list[str],
               lines: _Lines) -> None:
        """Pass `lines` of `commit`'s version (`oid`, `text`) to its parents; keep the rest."""
        blobs = [self.versions.blob(p) for p in parents]
        for parent, blob in zip(parents, blobs, strict=True):
            if blob == oid:
                self.give(parent, lines)  # unchanged on this side: it all comes from there
                return
        for parent, blob in zip(parents, blobs, strict=True):
            older = self.versions.lines(blob) if blob is not None and lines else None
            if older is None:
                continue
            # Diffed as git does, parent to child; the pairs map a line back to the parent's.
            back = {j: i for i, j in matching_pairs(older, text)}
            self.give(parent, [(back[at], final) for at, final in lines if at in back])
            lines = [(at, final) for at, final in lines if at not in back]
        for at, final in lines:
            self.owner[final] = None if commit == _WORKTREE else commit
            self.original[final] = at + 1


def blame(repo: Repository, path: str, revision: str | None,
          ranges: list[tuple[int, int | None, str]] | None = None) -> Blame:
    """Blame `path` (repository-relative) at `revision`, or in the working tree when None."""
    if revision is None:
        return _blame_worktree(repo, path, ranges or [])
    commit = resolve(repo, revision)
    versions = _Versions(repo, path)
    oid = versions.blob(commit)
    if oid is None:
        raise _no_such_path(repo, commit, path, revision)
    data = _stored_text(repo, oid, path, revision)
    text = split_lines(data)
    versions.remember(oid, text)
    chosen = select_lines(ranges or [], len(text), path)
    walk = _Walk(repo, versions, len(text))
    walk.give(commit, [(i, i) for i in chosen])
    walk.run()
    return _result(repo, path, commit, text, chosen, walk, None)


def _blame_worktree(repo: Repository, path: str,
                    ranges: list[tuple[int, int | None, str]]) -> Blame:
    if repo.is_bare:
        raise RepositoryError("a bare repository has no working tree to blame a file in",
                              hint=f"name a revision: muse blame main -- {path}")
    head = resolve(repo, "HEAD")
    versions = _Versions(repo, path)
    if versions.blob(head) is None:
        raise _no_such_path(repo, head, path, "HEAD")
    data, mtime = _working_text(repo, path)
    text = split_lines(data)
    chosen = select_lines(ranges, len(text), path)
    walk = _Walk(repo, versions, len(text))
    walk.settle(_WORKTREE, hash_bytes(data), text, [head], [(i, i) for i in chosen])
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
        lines.append(BlamedLine(i + 1, owner, walk.original[i], shown))
    uncommitted = any(line.commit is None for line in lines)
    return Blame(path, commit, lines, commits, mtime if uncommitted else None)
