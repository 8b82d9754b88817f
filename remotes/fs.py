"""The filesystem remote: the bucket algorithm over a directory, or a repository read in place."""

# Layout (docs/remote-protocol.md has the rules):
#     DIR/HEAD, config, objects/, …         a bare repository (`muse init --bare DIR`)
#     DIR/packs/pack-ID.bundle + .index     each pushed bundle, verified, kept whole
#     DIR/refs.json                         every ref and its packs, one CAS-swapped document
#     DIR/refs.lock                         held while refs.json is compared and swapped
#     DIR/tmp/                              uploads in progress (never visible as a key)
# `remotes.bucket.BucketRemote` is the algorithm; `DirBucket` gives it the primitives.

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, cast

from muse.bundle import MAGIC, Progress, plan_bundle, write_bundle
from muse.errors import (
    MuseError,
    RefConflictError,
    RemoteError,
    RepositoryError,
    TransientRemoteError,
    system_refusal,
)
from muse.fsutil import STORED_MODE, atomic_write_bytes, fsync_dir
from muse.lockfile import WAIT_SECONDS, locked
from muse.objects import is_object_id
from muse.refs import HEADS, TAGS, RefUpdate
from muse.remote import (
    Capabilities,
    IncomingBundle,
    Opener,
    OutgoingBundle,
    RefResult,
    Remote,
    RemoteOptions,
)
from muse.remotes_config import path_from_url
from muse.repo import Repository
from muse.storage import COMMIT, TAG
from muse.workfiles import sweep, work_prefix

from .bucket import BucketRemote, Hook, KeyInfo, Versioned

INIT_LOCK = ".init.lock"
TMP_DIR = "tmp"
COPY_CHUNK = 1 << 20
# Where the directory adds a step to the algorithm's (remotes.bucket.STEPS):
#   locked    the refs lock is held; refs.json not read yet
HOOK_POINTS = ("open", "stored", "indexed", "locked", "swapped")

NO_REMOTE_HINT = "create one with `muse init --bare {path}`, or check the path"


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise ValueError(f"invalid bucket key {key!r}")
    return key


class DirBucket:
    """Bucket primitives over a directory: create-only by hard link, swap under a lock file.

    A key is a file below `root`. Nothing is ever written in place: an upload goes
    to `tmp/` first, is synced, then linked to its name (the link fails if the name
    exists, so create-only is atomic); a swap renames a synced file over the old one
    while holding `KEY.lock` (muse.lockfile recovers the lock of a crashed holder).
    The version tag is the sha256 of the bytes, so it changes with every new value.
    """

    def __init__(self, root: Path, *, url: str | None = None, hook: Hook | None = None,
                 lock_wait: float = WAIT_SECONDS) -> None:
        self.root = Path(root)
        self.url = url if url is not None else str(self.root)
        self._hook: Hook = hook or (lambda point: None)
        self._lock_wait = lock_wait

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _lock(self, key: str) -> Path:
        return self._path(key).with_suffix(".lock")

    def local_file(self, key: str) -> Path:
        """The file holding `key`: a pack's is create-only and never rewritten, so a fetch on
        this filesystem may hard-link it (`muse.receive.receive_linked`)."""
        return self._path(key)

    def get(self, key: str) -> Versioned | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return Versioned(data, hashlib.sha256(data).hexdigest())

    def _staging(self) -> Path:
        tmp = self.root / TMP_DIR
        tmp.mkdir(exist_ok=True)
        # What killed pushers left is swept first (cheap when empty); this upload is
        # named for this process, so it goes as soon as its owner is gone.
        sweep(tmp)
        fd, name = tempfile.mkstemp(dir=tmp, prefix=work_prefix())
        os.close(fd)
        return Path(name)

    def put_if_absent(self, key: str, source: Path | bytes, *, sha256: str | None = None,
                      disposable: bool = False, progress: Progress | None = None) -> bool:
        target = self._path(key)
        if target.exists():
            return False
        staged = self._staging()
        try:
            if isinstance(source, Path) and disposable and _link_over(source, staged):
                _sync(staged)  # the sender wrote it without syncing; it is durable from here
                if progress is not None:
                    progress(staged.stat().st_size)  # all of it is here at once
            else:
                self._copy(source, staged, sha256, progress)
            os.chmod(staged, STORED_MODE)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(staged, target)  # fails if the key exists: create-only, atomically
            except FileExistsError:
                return False
            fsync_dir(target.parent)
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()

    def _copy(self, source: Path | bytes, staged: Path, sha256: str | None,
              progress: Progress | None) -> None:
        digest = hashlib.sha256()
        with open(staged, "wb") as out:
            if isinstance(source, bytes):
                out.write(source)
                digest.update(source)
            else:
                with open(source, "rb") as src:
                    while chunk := src.read(COPY_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        if progress is not None:
                            progress(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None and digest.hexdigest() != sha256:
            raise RemoteError(f"upload to {self.url} does not match its sha256 {sha256}; "
                              "nothing was stored")

    def put_if_match(self, key: str, data: bytes, tag: str | None) -> str | None:
        target = self._path(key)
        try:
            with locked(self._lock(key), what=f"remote {self.url}", wait=self._lock_wait):
                self._hook("locked")
                current = self.get(key)
                if (current.tag if current is not None else None) != tag:
                    return None
                atomic_write_bytes(target, data)
        except RefConflictError as exc:
            # Only the lock wait raises this here: a busy remote, worth retrying.
            raise TransientRemoteError(exc.message, hint=exc.hint) from None
        return hashlib.sha256(data).hexdigest()

    def list(self, prefix: str) -> Iterator[str]:
        head, _, _ = prefix.rpartition("/")
        base = self.root / head if head else self.root
        for dirpath, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(files):
                key = name if rel == "." else f"{rel}/{name}"
                if not name.startswith(".") and not name.endswith(".lock") and \
                        key.startswith(prefix):
                    yield key

    def list_info(self, prefix: str) -> Iterator[KeyInfo]:
        for key in self.list(prefix):
            try:
                found = (self.root / key).stat()
            except FileNotFoundError:
                continue  # deleted since it was listed: not a key any more
            yield KeyInfo(key, found.st_size, found.st_mtime)

    @contextlib.contextmanager
    def open_range(self, key: str, start: int = 0,
                   length: int | None = None) -> Iterator[BinaryIO]:
        with open(self._path(key), "rb") as handle:
            handle.seek(start)
            yield handle if length is None else cast(BinaryIO, _Window(handle, length))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()


def _sync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _link_over(source: Path, staged: Path) -> bool:
    """Adopt the sender's own temporary file by hard link (same filesystem): no copy."""
    try:
        staged.unlink()
        os.link(source, staged)
    except OSError:
        return False
    return True


class _Window:
    """At most `left` bytes of a file, from where it stands (a ranged read)."""

    def __init__(self, inner: BinaryIO, left: int) -> None:
        self._inner = inner
        self._left = left

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._inner.read(n)
        self._left -= len(data)
        return data


class RepositorySource:
    """A Muse repository read in place (a working one, or an old-style bare one): fetch only.

    Its own branches and tags are listed; a fetch builds one bundle of what the
    client lacks, in a temporary file (bounded by the largest frame, not memory).
    """

    def __init__(self, repo: Repository, *, url: str) -> None:
        self.repo = repo
        self.url = url

    def refs(self) -> dict[str, str]:
        return {n: v for n, v in self.repo.refs.list().items() if n.startswith((HEADS, TAGS))}

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        store = self.repo.store
        for want in wants:
            if not is_object_id(want) or not store.has(want) or \
                    store.kind(want) not in (COMMIT, TAG):
                raise RemoteError(f"{self.url} has no commit {want[:80]}")
        plan = plan_bundle(self.repo.graph, {}, list(wants),
                           [h for h in haves if is_object_id(h) and store.has(h)])
        if plan.empty:
            return []
        carried = set(plan.commits) | set(plan.tags)
        plan = replace(plan, refs={n: v for n, v in self.refs().items() if v in carried})

        @contextlib.contextmanager
        def opener() -> Iterator[BinaryIO]:
            with tempfile.TemporaryFile() as out:
                # The fetching side verifies every object it receives and refuses a
                # damaged one, so re-hashing them here would only double the work.
                write_bundle(store, plan, out, verify_objects=False)
                out.seek(0)
                yield out

        return [IncomingBundle(label=self.url, opener=opener,
                               requires=frozenset(plan.prerequisites),
                               provides=frozenset(carried))]


class FsRemote:
    """A filesystem remote at `root`; every method looks at the directory afresh (no caches)."""

    def __init__(self, root: Path | str, *, url: str | None = None, hook: Hook | None = None,
                 lock_wait: float = WAIT_SECONDS) -> None:
        self.root = Path(root).absolute()
        self.url = url if url is not None else str(self.root)
        self._hook: Hook = hook or (lambda point: None)
        bucket = DirBucket(self.root, url=self.url, hook=self._hook, lock_wait=lock_wait)
        # `open` is this class's own step (before the directory is looked at).
        self._bucket = BucketRemote(bucket, url=self.url,
                                    hook=lambda step: None if step == "open" else self._hook(step))

    # -- the edge: OSError in, RemoteError out ---------------------------------

    @contextlib.contextmanager
    def _edge(self) -> Iterator[None]:
        try:
            yield
        except MuseError:
            raise
        except PermissionError as exc:
            raise RemoteError(
                f"permission denied on the remote at {self.root}: {exc.filename or self.root}",
                hint="check that you may read this directory (and write it, to push)",
            ) from None
        except (FileNotFoundError, NotADirectoryError) as exc:
            if not self._is_dir():
                raise self._missing() from None
            raise RemoteError(f"the remote at {self.root} is incomplete: "
                              f"{exc.strerror}: {exc.filename}",
                              hint=f"see what is missing: cd {self.root} && muse verify"
                              ) from None
        except OSError as exc:
            raise self._os_refusal(exc) from None

    def _os_refusal(self, exc: OSError) -> RemoteError:
        """The remote's filesystem said no: one line, and the hint the system error calls for."""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return RemoteError(f"no space left on the remote at {self.root}",
                               hint="free some space there and push again; nothing of this "
                               "push became visible")
        if exc.errno == errno.EROFS:
            return RemoteError(f"the remote at {self.root} is on a read-only filesystem",
                               hint="it can be fetched and cloned from, not pushed to; "
                               "remount it read-write to push")
        refusal = system_refusal(exc)
        return RemoteError(f"filesystem error on the remote at {self.root}: "
                           f"{exc.strerror or exc}", hint=refusal.hint if refusal else None)

    def _is_dir(self) -> bool:
        try:
            return self.root.is_dir()
        except OSError:
            return False

    def _missing(self) -> RemoteError:
        return RemoteError(f"no Muse remote at {self.root}",
                           hint=NO_REMOTE_HINT.format(path=self.root))

    def _open(self, *, create: bool = False) -> RepositorySource | BucketRemote | None:
        """What the directory is: a bucket remote, a repository to read, or empty (None).

        An empty directory becomes a bucket remote when `create` (the first push).
        """
        self._hook("open")
        root = self.root
        if (root / "HEAD").is_file() and (root / "objects").is_dir():
            return self._bucket
        if not root.exists():
            raise self._missing()
        if not root.is_dir():
            raise RemoteError(f"{root} is a file, not a Muse remote",
                              hint="a remote is a directory made by `muse init --bare`")
        if (root / ".muse" / "HEAD").is_file():
            if create:
                raise RemoteError(f"{root} is a working repository, not a bare remote: "
                                  "it can be fetched and cloned from, not pushed to",
                                  hint="push to a bare repository (`muse init --bare DIR`)")
            return RepositorySource(Repository(root / ".muse", root), url=self.url)
        names = [n for n in os.listdir(root) if not n.startswith(INIT_LOCK)]
        if names and INIT_LOCK not in os.listdir(root):
            raise RemoteError(f"{root} is not a Muse remote (it holds other files)",
                              hint=NO_REMOTE_HINT.format(path=root))
        if not create:
            return None
        # An empty directory becomes a remote on first push; two first pushers must not
        # both initialise it, so that happens under its own lock.
        with locked(root / INIT_LOCK, what=f"remote {self.url} (initialising)"):
            if not (root / "HEAD").is_file():
                with contextlib.suppress(RepositoryError):
                    Repository.init(root, bare=True)
        return self._bucket

    # -- the protocol ---------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        with self._edge():
            working = (self.root / ".muse" / "HEAD").is_file()
        return replace(self._bucket.capabilities(), writable=not working)

    def list_refs(self) -> dict[str, str]:
        with self._edge():
            found = self._open()
            if isinstance(found, RepositorySource):
                return found.refs()
            return found.list_refs() if found is not None else {}

    def push(self, bundle: OutgoingBundle | None, updates: Sequence[RefUpdate]) -> list[RefResult]:
        with self._edge():
            found = self._open(create=True)
            assert isinstance(found, BucketRemote)
            results = found.push(bundle, updates)
        if bundle is not None and any(r.ok for r in results):
            self._auto_gc()
        return results

    def _auto_gc(self) -> None:
        """`gc --auto` on the remote once a push has landed: above gc.autoPacks packs, fold
        them into one (remotes.bare). Never the push's failure: its refs already moved."""
        from .bare import BareRemote

        with contextlib.suppress(MuseError, OSError):
            BareRemote(self.root).gc(auto=True)

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        with self._edge():
            found = self._open()
            if found is None:
                raise RemoteError(f"nothing to fetch from {self.url}: it is empty")
            answer = found.fetch(wants, haves)
        # Opening a pack is the edge too: a pack gone missing is an incomplete remote.
        return [replace(b, opener=self._guarded(b)) for b in answer]

    def _guarded(self, bundle: IncomingBundle) -> Opener:
        @contextlib.contextmanager
        def opener() -> Iterator[BinaryIO]:
            with self._edge(), bundle.open() as stream:
                yield stream
        return opener

    def close(self) -> None:
        pass


def open_remote(url: str, options: RemoteOptions | None = None) -> Remote:
    """The driver for a path or `file://` URL: a directory remote, or a bundle file."""
    path = path_from_url(url)
    with contextlib.suppress(OSError):
        if path.is_file():
            with open(path, "rb") as handle:
                if handle.read(len(MAGIC)) == MAGIC:
                    from .bundlefile import BundleFileRemote

                    return BundleFileRemote(path, url=url)
    return FsRemote(path, url=url)
