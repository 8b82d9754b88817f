"""The working tree: scanning it (with a stat cache), and writing snapshots into it.

The stat cache (`.muse/index`) remembers, per path, the size, mtime, ctime,
inode and mode seen when the file was last hashed, so `status` re-reads only
files whose metadata changed. A file modified within the same clock tick as
the cache was written is "racy" and always re-hashed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

from .errors import ConflictError, UnsafePathError
from .fsutil import atomic_write_bytes, masked
from .ignore import IGNORE_FILE, IgnoreRules
from .objects import Snapshot, SnapshotEntry, is_object_id
from .paths import REPO_DIR, WORK_FILE_PREFIX, validate_path
from .safetree import SafeTree
from .store import READ_CHUNK, ObjectBatch, ObjectStore
from .workfiles import is_stale, owner_of

CACHE_VERSION = 1
WRITE_SLICE = 16 << 10
UNKNOWN = "0" * 64  # a file's id not worked out (see WorkTree.snapshot's `hash_if`)


@dataclass(frozen=True)
class FileState:
    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    executable: bool

    def key(self) -> list[Any]:
        return [self.size, self.mtime_ns, self.ctime_ns, self.inode, self.executable]


def _fs_name(raw: str) -> str:
    """A directory entry's name as text; undecodable bytes make it unsafe to store."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        shown = repr(os.fsencode(raw))[1:]  # bytes repr: '\xff' once, not a doubled backslash
        raise UnsafePathError(f"file name is not valid UTF-8: {shown}",
                              hint="rename the file, or list it in .museignore") from None
    return raw


class Tracked:
    """The paths HEAD tracks, read only once some path turns out to be ignored.

    As in git, ignore rules never untrack a file: a tracked file stays in every
    snapshot until it is removed. Most scans meet no ignored path and never ask.
    """

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        self._files: set[str] | None = None
        self._folders: set[str] = set()

    def _paths(self) -> set[str]:
        if self._files is None:
            self._files = set(self._load())
            for path in self._files:
                parts = path.split("/")
                self._folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        return self._files

    def file(self, path: str) -> bool:
        return path in self._paths()

    def folder(self, path: str) -> bool:
        self._paths()
        return path in self._folders


NOTHING_TRACKED = Tracked(tuple)


@dataclass
class ScanNotes:
    """What a scan passed over that a user may expect to be recorded: said once, in status.

    With `tolerant` (status, which records nothing), an untracked name that cannot
    be stored, or a folder that cannot be listed, is noted in `skipped` as
    (path, problem) and the scan goes on, as git's does; without it, it raises.
    """

    links: list[str] = field(default_factory=list)           # symbolic links (not stored)
    nested_ignores: list[str] = field(default_factory=list)  # `.museignore` below the top
    nested_repositories: list[str] = field(default_factory=list)  # folders holding a `.muse`
    tolerant: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, path: str, problem: str) -> None:
        self.skipped.append((path, problem))


def _listing(root: Path, rel_dir: str, notes: ScanNotes | None) -> list[os.DirEntry[str]]:
    """The entries of folder `rel_dir`; an unreadable one (below the top) is noted when the
    scan is tolerant, else its error is raised."""
    try:
        with os.scandir(root / rel_dir if rel_dir else root) as entries:
            return list(entries)
    except OSError as exc:
        if not rel_dir or notes is None or not notes.tolerant:
            raise
        notes.skip(rel_dir + "/", f"cannot read folder {rel_dir}/: {exc.strerror}")
        return []


def scan(root: Path, rules: IgnoreRules, tracked: Tracked = NOTHING_TRACKED,
         notes: ScanNotes | None = None) -> Iterator[FileState]:
    """Every regular file under `root` that is tracked or not ignored, as relative states.

    Symbolic links are not followed or stored. Work files Muse itself writes
    (`workfiles.tmp_name`) are never listed, and removed once their writer is
    gone. A name that cannot be stored safely raises UnsafePathError naming it
    (unless it is ignored), or is noted and passed over when `notes.tolerant`.
    """
    # Each folder with whether it is ignored: one is entered anyway when it holds a
    # tracked file, and then only its tracked files are listed.
    stack: list[tuple[str, bool]] = [("", False)]
    while stack:
        rel_dir, ignored_here = stack.pop()
        entries = _listing(root, rel_dir, notes)
        if rel_dir and _holds_repository(entries):
            # Another repository (a sample library cloned inside a session): its files
            # are its own, as git leaves a nested repository alone. One tracked here
            # before the folder became a repository stays tracked: the folder is then
            # read as an ignored one is, for its tracked files only.
            if notes is not None and not ignored_here:
                notes.nested_repositories.append(_fs_name(rel_dir))
            if not tracked.folder(_fs_name(rel_dir)):
                continue
            ignored_here = True
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name == REPO_DIR:  # this repository's, or a nested one's
                        continue
                    text = _fs_name(rel)
                    ignored = ignored_here or rules.ignored(text, is_dir=True)
                    if ignored and not tracked.folder(text):
                        continue
                    validate_path(text)
                    stack.append((rel, ignored))
                elif entry.is_file(follow_symlinks=False):
                    # Only a name with the reserved prefix can be a work file: no regex
                    # per file on the common path.
                    if name.startswith(WORK_FILE_PREFIX) and owner_of(name) is not None:
                        _clean_if_stale(Path(entry.path), entry.stat(follow_symlinks=False))
                        continue
                    text = _fs_name(rel)
                    if (ignored_here or rules.ignored(text)) and not tracked.file(text):
                        continue
                    if notes is not None and rel_dir and name == IGNORE_FILE:
                        notes.nested_ignores.append(text)
                    validate_path(rel)
                    st = entry.stat(follow_symlinks=False)
                    yield FileState(rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                    st.st_ino, bool(st.st_mode & stat.S_IXUSR))
                elif notes is not None and entry.is_symlink():
                    text = _fs_name(rel)
                    if not (ignored_here or rules.ignored(text)):
                        notes.links.append(text)
            except UnsafePathError as exc:
                if notes is None or not notes.tolerant:
                    raise
                notes.skip(rel, exc.message)


def _holds_repository(entries: list[os.DirEntry[str]]) -> bool:
    return any(e.name == REPO_DIR and e.is_dir(follow_symlinks=False) for e in entries)


def _clean_if_stale(path: Path, st: os.stat_result) -> None:
    """A killed checkout's partial file: remove it (a live writer's stays, it is renamed soon)."""
    if is_stale(path, st):
        with contextlib.suppress(OSError):
            path.unlink()


def _hash_scanned(full: Path, path: str) -> str:
    try:
        return hash_file(full)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise ConflictError(f"{path} was replaced by a symbolic link while Muse read the tree",
                            hint="run the command again") from None


def hash_file(path: Path) -> str:
    import hashlib

    hasher = hashlib.sha256()
    # Not through a link: the scan saw a regular file, and a link put there since must not
    # make `status` read (or a commit record) a file outside the tree.
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


class StatCache:
    """path → (file state key, object id), persisted in `.muse/index`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, tuple[list[Any], str]] = {}
        self.written_ns = 0
        self.dirty = False
        try:
            raw = msgpack.unpackb(path.read_bytes(), raw=False)
            if raw[0] == CACHE_VERSION:
                self.written_ns = raw[1]
                # A damaged cache must never put a malformed id into a snapshot.
                self.entries = {p: (v[0], v[1]) for p, v in raw[2].items()
                                if is_object_id(v[1])}
        except (FileNotFoundError, ValueError, TypeError, IndexError, KeyError,
                msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
            self.entries = {}

    def lookup(self, state: FileState) -> str | None:
        found = self.entries.get(state.path)
        if found is None or found[0] != state.key():
            return None
        if state.mtime_ns >= self.written_ns:
            return None  # racy: modified in the same tick the cache was written
        return found[1]

    def remember(self, state: FileState, oid: str) -> None:
        previous = self.entries.get(state.path)
        if previous is None or previous != (state.key(), oid):
            self.entries[state.path] = (state.key(), oid)
            self.dirty = True

    def retain(self, paths: set[str]) -> None:
        for path in list(self.entries):
            if path not in paths:
                del self.entries[path]
                self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        import time

        now = time.time_ns()
        payload = [CACHE_VERSION, now, {p: [k, o] for p, (k, o) in self.entries.items()}]
        # The cache is advisory (a lost one costs a re-hash), so skip the fsync.
        with contextlib.suppress(OSError):
            atomic_write_bytes(self.path, msgpack.packb(payload, use_bin_type=True),
                               durable=False)
        self.dirty = False


class WorkTree:
    """A repository's working directory, read through the stat cache."""

    def __init__(self, root: Path, muse_dir: Path, store: ObjectStore,
                 tracked: Callable[[], Iterable[str]] = tuple,
                 untracking: Callable[[], frozenset[str]] = frozenset) -> None:
        self.root = root
        self.store = store
        self.tracked = tracked  # HEAD's paths: ignore rules never untrack them
        self.untracking = untracking  # `rm --cached` paths: left out until committed
        self.dropped: frozenset[str] = frozenset()
        self.notes = ScanNotes()
        self.tolerant = False  # status: skip (and note) names it cannot store, do not fail
        self.cache = StatCache(muse_dir / "index")
        self.safe = SafeTree(root)

    def rules(self) -> IgnoreRules:
        return IgnoreRules.load(self.root)

    def states(self) -> dict[str, FileState]:
        # What this scan passed over, for `status` to mention.
        self.notes = ScanNotes(tolerant=self.tolerant)
        dropped = self.untracking()
        self.dropped = dropped  # what this scan left out, for the commit that records it
        return {s.path: s for s in scan(self.root, self.rules(), Tracked(self.tracked),
                                         self.notes) if s.path not in dropped}

    def snapshot(self, batch: ObjectBatch | None = None, *,
                 hash_if: Callable[[str], bool] | None = None) -> Snapshot:
        """The working tree as a snapshot; with a batch, new file contents are stored too.

        With `hash_if`, a file the stat cache cannot vouch for is read only when
        `hash_if(path)` holds; any other gets the id UNKNOWN, which matches no real
        content (for a command that rewrites such files whatever they hold).
        """
        states = self.states()
        entries = []
        for path, state in states.items():
            oid = self.cache.lookup(state)
            if oid is not None and batch is not None and not self.store.has(oid):
                oid = None
            if oid is None and hash_if is not None and not hash_if(path):
                oid = UNKNOWN
            if oid is None:
                full = self.root / path
                if batch is not None:
                    oid, _ = batch.add_file(full)
                else:
                    oid = _hash_scanned(full, path)
                # Size from the stat taken before reading: if the file changed while we
                # read it, the key will not match next time and it is re-hashed.
                self.cache.remember(state, oid)
            entries.append(SnapshotEntry(path, oid, state.size, state.executable))
        self.cache.retain(set(states))
        # Already valid: scan() validated every path (unique, as dict keys), ids are
        # hashes or cache entries checked on load, sizes come from stat.
        return Snapshot(tuple(sorted(entries, key=lambda e: e.path)))

    # -- writing snapshots into the tree --------------------------------------

    def write_entry(self, entry: SnapshotEntry) -> None:
        """Replace the file at `entry.path` with the object's bytes, atomically, never via links."""
        st = self.safe.write(entry.path, lambda out: self._copy_out(entry.oid, out),
                             masked(0o755 if entry.executable else 0o644))
        state = FileState(entry.path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
                          entry.executable)
        self.cache.remember(state, entry.oid)

    def _copy_out(self, oid: str, out: BinaryIO) -> None:
        """Stream a verified object into `out` in small writes: writing each read chunk in
        WRITE_SLICE pieces measured twice as fast for large files (docs/performance.md)."""
        for chunk in self.store.iter_chunks(oid):
            view = memoryview(chunk)
            for start in range(0, len(view), WRITE_SLICE):
                out.write(view[start:start + WRITE_SLICE])

    def remove_entry(self, path: str) -> None:
        self.safe.remove(path)
        self.cache.entries.pop(path, None)
        self.cache.dirty = True

    def apply(self, old: Snapshot | None, new: Snapshot, done: list[str] | None = None) -> None:
        """Move the tracked files from `old` to `new`; untracked files are left alone.

        Each path is appended to `done` just before it is touched, so a caller
        interrupted midway knows every one it may have to put back.
        """
        old_map = old.as_dict() if old else {}
        new_map = new.as_dict()
        touched = done if done is not None else []
        with self.safe.session():  # folder descriptors opened once per folder, not per file
            for path in old_map:
                if path not in new_map:
                    touched.append(path)
                    self.remove_entry(path)
            for path, entry in new_map.items():
                if old_map.get(path) != entry or not os.path.lexists(self.root / path):
                    touched.append(path)
                    self.write_entry(entry)
        self.cache.save()

