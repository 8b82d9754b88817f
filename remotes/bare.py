"""A bare filesystem remote seen from inside: its refs document as refs, its packs as a store.

Inside a remote made by `muse init --bare DIR` and pushed to, the refs live in
`refs.json` and the objects in `packs/pack-ID.bundle` with JSON `.index` files
(`remotes.bucket`): not where a repository keeps them. `RemoteRepository` is a
read-only `Repository` over that layout, so `muse log`, `muse branch` and
`muse verify` work inside a remote, and `verify` also checks every named pack
against its `.index` and the refs document against the packs.

`BareRemote` is the remotes' maintenance (`remotes.maintenance`: gc folds the
named packs into one and drops packs no refs document names once past the
grace period; count) over the directory, with its lock, `tmp/` and config.
The core never imports this module; the command line does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from muse.config import ConfigFile, layered, user_config
from muse.errors import ConflictError, RefConflictError, RemoteError, RepositoryError
from muse.gc import GC_LOCK
from muse.graph import CommitGraph
from muse.lockfile import locked
from muse.reflog import DamagedLine, ReflogEntry
from muse.refs import RefStore, RefUpdate
from muse.repo import Repository
from muse.workfiles import Leftovers, survey, sweep

from .bucket import EMPTY_DOC, REFS_KEY, Hook, RefsDoc, decode_refs_doc
from .fs import TMP_DIR, DirBucket
from .maintenance import (
    READ_ONLY_HINT,
    REMOTE_STEPS,
    BucketMaintenance,
    BucketStore,
    RemoteCounts,
    RemoteGcReport,
    bundle_problems,
)


def is_bare_remote(path: Path) -> bool:
    """A bare repository holding a bucket layout (a refs document, or pushed packs)."""
    if not (path / "HEAD").is_file() or not (path / "objects").is_dir():
        return False
    if (path / REFS_KEY).is_file():
        return True
    with contextlib.suppress(OSError):
        return any(n.endswith(".index") for n in os.listdir(path / "packs"))
    return False


def _read_doc(root: Path) -> RefsDoc:
    try:
        raw = (root / REFS_KEY).read_bytes()
    except FileNotFoundError:
        return EMPTY_DOC
    return decode_refs_doc(raw, str(root / REFS_KEY))


# -- refs: the refs document ------------------------------------------------------------


class DocumentRefs(RefStore):
    """The refs of `refs.json`, read once; HEAD is the bare repository's own file."""

    def __init__(self, root: Path, doc: RefsDoc, problem: str | None = None) -> None:
        super().__init__(root)
        self.doc = doc
        self.problem = problem  # why refs.json cannot be read: every read says so

    def _check(self) -> None:
        if self.problem is not None:
            raise RepositoryError(self.problem, hint="restore refs.json from a backup, or "
                                  "rewrite it from a clone's remote-tracking refs")

    def read(self, name: str) -> str | None:
        self._check()
        return self.doc.refs.get(name)

    def names(self, prefix: str = "refs/") -> list[str]:
        self._check()
        return sorted(n for n in self.doc.refs if n.startswith(prefix))

    def transaction(self, updates: list[RefUpdate], message: str) -> None:  # type: ignore[override]
        raise RepositoryError("this is a bare remote: its refs cannot be changed here",
                              hint=READ_ONLY_HINT)

    def set_head(self, target: str, message: str) -> None:
        raise RepositoryError("this is a bare remote: its HEAD cannot be changed here",
                              hint=READ_ONLY_HINT)

    def reflog(self, name: str) -> Iterator[ReflogEntry | DamagedLine]:
        return iter(())  # a remote keeps no reflog


class RemoteRepository(Repository):
    """A bare filesystem remote as a read-only repository (log, branch, verify)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, None)
        self.doc_problem: str | None = None
        try:
            doc = _read_doc(root)
        except RemoteError as exc:
            self.doc_problem = exc.message  # verify reports it; nothing else can be read
            doc = EMPTY_DOC
        self.doc = doc
        self.packs = BucketStore(root)
        self.store = self.packs
        self.refs = DocumentRefs(root, doc, self.doc_problem)
        self.graph = CommitGraph(self.store)

    def storage_problems(self) -> Iterator[tuple[str, str]]:
        """The refs document, and every pack it names checked in full against its index."""
        if self.doc_problem is not None:
            return  # reading the refs reports it
        provided = self.doc.commits()
        for name, commit in sorted(self.doc.refs.items()):
            if commit not in provided:
                yield name, f"ref {name} names commit {commit}, which no pack provides"
        for pack_id, commits in sorted(self.doc.packs.items()):
            yield from self._pack_problems(pack_id, set(commits), provided)

    def _pack_problems(self, pack_id: str, commits: set[str],
                       provided: dict[str, str]) -> Iterator[tuple[str, str]]:
        where = f"packs/pack-{pack_id}"
        try:
            index = self.packs.pack_index(pack_id)
        except FileNotFoundError:
            yield where, f"pack {pack_id} named by {REFS_KEY} has no index"
            return
        except RemoteError as exc:
            yield where, exc.message
            return
        if index.pack != pack_id:
            yield where, f"the index of pack {pack_id} says it is pack {index.pack}"
        if not commits <= set(index.commits):
            yield where, f"{REFS_KEY} says pack {pack_id} provides commits its index lacks"
        for oid in index.requires:
            if oid not in provided:
                yield where, f"pack {pack_id} builds on commit {oid}, which no pack provides"
        bundle = self.store.packs_dir / f"pack-{index.pack}.bundle"
        yield from ((where, m) for m in bundle_problems(bundle, index))


# -- maintenance ----------------------------------------------------------------------


class BareRemote(BucketMaintenance):
    """Maintenance of a bare filesystem remote at `root`: the bucket algorithm with the
    directory's `gc.lock`, its `tmp/` and its config file; its packs are folded in place."""

    def __init__(self, root: Path, *, hook: Hook | None = None) -> None:
        self.root = root
        self.config = ConfigFile(root / "config")
        super().__init__(DirBucket(root), url=str(root), setting=self._config_setting,
                         hook=hook)

    def _config_setting(self, key: str) -> str | None:
        return layered(key, self.config, user_config())

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        try:
            with locked(self.root / GC_LOCK, what="gc", wait=0.5):
                yield
        except RefConflictError as exc:
            if not exc.message.startswith("gc is locked"):
                raise
            raise ConflictError("another `muse gc` is running on this remote",
                                hint="wait for it to finish", code="gc-running") from None

    @contextlib.contextmanager
    def _local_packs(self, doc: RefsDoc) -> Iterator[Path]:
        # The packs are files here already; writing the fold re-hashes every object.
        yield self.root

    def _sweep(self) -> int:
        return sweep(self.root / TMP_DIR)

    def _survey(self) -> Leftovers:
        return survey(self.root / TMP_DIR)


def open_bare_remote(path: Path) -> BareRemote:
    """The bare filesystem remote at `path`, for maintenance; RemoteError if it is not one."""
    root = Path(path).absolute()
    if not is_bare_remote(root):
        raise RemoteError(f"no bare filesystem remote at {root}",
                          hint="give the folder of a remote made by `muse init --bare` "
                          "and pushed to")
    return BareRemote(root)


__all__ = ["REMOTE_STEPS", "BareRemote", "BucketStore", "RemoteCounts", "RemoteGcReport",
           "RemoteRepository", "is_bare_remote", "open_bare_remote"]
