"""The filesystem remote: a bare Muse repository whose refs live in one CAS-updated document."""

# Layout (docs/remote-protocol.md has the rules):
#     DIR/HEAD, config, objects/, packs/…   a bare repository (`muse init --bare DIR`)
#     DIR/packs/pack-ID.bundle + .idx       each received push, verified, kept whole
#     DIR/refs.json                         every ref, one JSON document (see FORMAT)
#     DIR/refs.lock                         held while refs.json is compared and swapped
# A push stores and syncs its pack first, then takes the lock, checks every old
# value, and renames a new refs.json into place: a ref never names missing data.

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from muse.bundle import MAGIC, plan_bundle, write_bundle
from muse.errors import (
    BundleError,
    MuseError,
    RefConflictError,
    RemoteError,
    RepositoryError,
    TransientRemoteError,
    UsageError,
)
from muse.fsutil import atomic_write_bytes
from muse.lockfile import WAIT_SECONDS, locked
from muse.objects import is_object_id
from muse.receive import receive_bundle
from muse.refs import HEADS, TAGS, RefUpdate, check_ref_name
from muse.remote import Capabilities, RefResult, Remote
from muse.repo import Repository

REFS_DOC = "refs.json"
REFS_LOCK = "refs.lock"
INIT_LOCK = ".init.lock"
FORMAT = "muse-remote-refs"
DOC_VERSION = 1
DOC_KEYS = {"format", "version", "refs", "checksum"}

# Where a test (or an operator's tracer) may hook in; each is called with its name.
#   open       start of every operation, before the directory is looked at
#   received   the pack is stored and synced; the refs lock is not taken yet
#   locked     the refs lock is held; refs.json not read yet
#   checked    every old value matched; the new refs.json is not written yet
#   written    the new refs.json is in place; the lock is still held
HOOK_POINTS = ("open", "received", "locked", "checked", "written")
Hook = Callable[[str], None]

NO_REMOTE_HINT = "create one with `muse init --bare {path}`, or check the path"


def path_from_url(url: str) -> Path:
    """`file:///srv/x` and `/srv/x` both name /srv/x; `~` is expanded."""
    if url.startswith("file://"):
        parsed = urllib.parse.urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise RemoteError(f"file URL {url} names another host",
                              hint="mount the share and use its local path")
        return Path(urllib.parse.unquote(parsed.path))
    return Path(url).expanduser()


def encode_refs_doc(refs: dict[str, str]) -> bytes:
    ordered = dict(sorted(refs.items()))
    doc = {"format": FORMAT, "version": DOC_VERSION, "refs": ordered,
           "checksum": "sha256:" + _refs_digest(ordered)}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _refs_digest(refs: dict[str, str]) -> str:
    canonical = json.dumps(refs, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def decode_refs_doc(raw: bytes, path: Path) -> dict[str, str]:
    """The refs in a refs document, or RemoteError naming the document and what is wrong."""

    def corrupt(why: str) -> RemoteError:
        return RemoteError(f"refs document {path} is corrupt: {why}",
                           hint="restore it from a backup, or rewrite it from a clone's "
                           "remote-tracking refs; no ref was changed")

    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise corrupt("not valid JSON") from None
    if not isinstance(doc, dict) or set(doc) != DOC_KEYS:
        raise corrupt(f"expected exactly the keys {sorted(DOC_KEYS)}")
    if doc["format"] != FORMAT:
        raise corrupt(f"format is {doc['format']!r}, not {FORMAT!r}")
    if doc["version"] != DOC_VERSION:
        raise corrupt(f"version {doc['version']!r} is not supported (this Muse reads "
                      f"{DOC_VERSION})")
    refs = doc["refs"]
    if not isinstance(refs, dict):
        raise corrupt("refs is not an object")
    for name, value in refs.items():
        if not isinstance(value, str) or not is_object_id(value):
            raise corrupt(f"ref {name!r} has a malformed id")
        try:
            check_ref_name(name)
        except UsageError:
            raise corrupt(f"invalid ref name {name!r}") from None
    if doc["checksum"] != "sha256:" + _refs_digest(refs):
        raise corrupt("checksum mismatch (edited by hand or damaged)")
    return dict(refs)


def _clash(name: str, names: set[str]) -> str | None:
    """A ref that cannot coexist with `name` as files (`a` vs `a/b`), as clients store refs."""
    for other in names:
        if other != name and (other.startswith(name + "/") or name.startswith(other + "/")):
            return other
    return None


class FsRemote:
    """A filesystem remote at `root`; every method opens the directory afresh (no caches)."""

    def __init__(self, root: Path, *, url: str | None = None, hook: Hook | None = None,
                 lock_wait: float = WAIT_SECONDS) -> None:
        self.root = Path(root).absolute()
        self.url = url if url is not None else str(self.root)
        self._hook: Hook = hook or (lambda point: None)
        self._lock_wait = lock_wait

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
                              hint="run `muse fsck` on a copy of it") from None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise RemoteError(f"no space left on the remote at {self.root}") from None
            raise RemoteError(f"filesystem error on the remote at {self.root}: "
                              f"{exc.strerror or exc}") from None

    def _is_dir(self) -> bool:
        try:
            return self.root.is_dir()
        except OSError:
            return False

    def _missing(self) -> RemoteError:
        return RemoteError(f"no Muse remote at {self.root}",
                           hint=NO_REMOTE_HINT.format(path=self.root))

    def _open(self, *, create: bool = False) -> Repository | None:
        """The bare repository; None for an empty directory (created when `create`)."""
        self._hook("open")
        root = self.root
        if (root / "HEAD").is_file() and (root / "objects").is_dir():
            return Repository(root, None)
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
            return Repository(root / ".muse", root)
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
        return Repository(root, None)

    def _refs_of(self, repo: Repository) -> dict[str, str]:
        if not repo.is_bare:
            # A working repository read as a source: its own branches and tags.
            return {n: v for n, v in repo.refs.list().items()
                    if n.startswith((HEADS, TAGS))}
        return self._read_refs()

    def _read_refs(self) -> dict[str, str]:
        path = self.root / REFS_DOC
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return {}
        return decode_refs_doc(raw, path)

    # -- the protocol ---------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        with self._edge():
            working = (self.root / ".muse" / "HEAD").is_file()
        return Capabilities(atomic_multi_ref=True, max_bundle_bytes=None, server_verifies=True,
                            writable=not working)

    def list_refs(self) -> dict[str, str]:
        with self._edge():
            repo = self._open()
            return self._refs_of(repo) if repo is not None else {}

    def push(self, bundle: BinaryIO | None, updates: Sequence[RefUpdate]) -> list[RefResult]:
        updates = list(updates)
        _check_updates(updates)
        with self._edge():
            repo = self._open(create=True)
            assert repo is not None
            self._read_refs()  # a damaged refs document refuses the push before it stores data
            if bundle is not None:
                # Verified in full and synced as a pack before any ref can name it.
                receive_bundle(repo.store, bundle)
            for u in updates:
                if u.new is not None and not repo.store.has(u.new):
                    raise BundleError(f"push names commit {u.new} for {u.name}, which is neither "
                                      "in the bundle nor on the remote; nothing was changed")
            self._hook("received")
            try:
                with locked(self.root / REFS_LOCK, what=f"remote {self.url}",
                            wait=self._lock_wait):
                    self._hook("locked")
                    return self._swap(updates)
            except RefConflictError as exc:
                # Only the lock wait raises this here: a busy remote, worth retrying.
                raise TransientRemoteError(exc.message, hint=exc.hint) from None

    def _swap(self, updates: list[RefUpdate]) -> list[RefResult]:
        current = self._read_refs()
        # An update whose ref already holds `new` is done: re-sending a push whose
        # reply was lost succeeds instead of reporting a conflict with itself.
        refused: dict[str, str] = {}
        for u in updates:
            if current.get(u.name) not in (u.old, u.new):
                refused[u.name] = "stale"
        proposed = dict(current)
        for u in updates:
            if u.new is None:
                proposed.pop(u.name, None)
            else:
                proposed[u.name] = u.new
        names = set(proposed)
        for u in updates:
            other = _clash(u.name, names) if u.new is not None else None
            if other is not None and u.name not in refused:
                refused[u.name] = f"rejected: {u.name} clashes with existing ref {other}"
        if refused:
            return [RefResult(u.name, u.old, u.new, False,
                              refused.get(u.name, "not applied: another ref in this push "
                                                  "was refused"))
                    for u in updates]
        if proposed != current:
            self._hook("checked")
            atomic_write_bytes(self.root / REFS_DOC, encode_refs_doc(proposed))
            self._hook("written")
        return [RefResult(u.name, u.old, u.new, True) for u in updates]

    @contextlib.contextmanager
    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> Iterator[BinaryIO]:
        with self._edge():
            repo = self._open()
            for want in wants:
                if not is_object_id(want) or repo is None or not repo.store.has(want):
                    raise RemoteError(f"{self.url} has no commit {want[:80]}")
            if repo is None or not wants:
                raise RemoteError(f"nothing to fetch from {self.url}")
            plan = plan_bundle(repo.graph, {}, list(wants), [h for h in haves if is_object_id(h)])
            if not plan.commits:
                raise RemoteError(f"nothing to fetch from {self.url}: you have everything asked")
            carried = set(plan.commits)
            plan = replace(plan, refs={n: v for n, v in self._refs_of(repo).items()
                                       if v in carried})
            # A temporary file (not memory) holds the bundle: bounded by the largest frame.
            out = tempfile.TemporaryFile()  # noqa: SIM115 - yielded, closed below
            try:
                # The fetching side verifies every object it receives and refuses a
                # damaged one, so re-hashing them here would only double the work.
                write_bundle(repo.store, plan, out, verify_objects=False)
                out.seek(0)
            except BaseException:
                out.close()
                raise
        with out:
            yield out

    def close(self) -> None:
        pass


def _check_updates(updates: list[RefUpdate]) -> None:
    names = [u.name for u in updates]
    if len(set(names)) != len(names):
        raise UsageError("a ref appears twice in one push")
    for u in updates:
        check_ref_name(u.name)
        for value in (u.old, u.new):
            if value is not None and not is_object_id(value):
                raise UsageError(f"malformed commit id for {u.name}: {value[:80]!r}")


def open_remote(url: str) -> Remote:
    """The driver for a path or `file://` URL: a bare-repository remote, or a bundle file."""
    path = path_from_url(url)
    with contextlib.suppress(OSError):
        if path.is_file():
            with open(path, "rb") as handle:
                if handle.read(len(MAGIC)) == MAGIC:
                    from .bundlefile import BundleFileRemote

                    return BundleFileRemote(path, url=url)
    return FsRemote(path, url=url)
