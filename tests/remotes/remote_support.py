"""Helpers for the remote tests: build repositories, commit, check a remote has no ghost refs."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from muse.committing import commit_worktree
from muse.objects import Snapshot
from muse.refs import RefUpdate
from muse.remote import (
    Capabilities,
    IncomingBundle,
    Opener,
    OutgoingBundle,
    RefResult,
    Remote,
)
from muse.repo import Repository
from muse.tags import peel
from muse.transfer import fetch
from tests.testkit import tree_state

__all__ = ["tree_state"]

Hook = Callable[[str], None]
MAIN = "refs/heads/main"


def new_repo(path: Path) -> Repository:
    path.mkdir(parents=True, exist_ok=True)
    return Repository.init(path)


def commit_files(repo: Repository, files: dict[str, bytes], message: str) -> str:
    """Write `files` into the working tree and commit them; returns the commit id."""
    assert repo.root is not None
    for rel, data in files.items():
        target = repo.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return commit_worktree(repo, message).id


def blob(seed: int, size: int = 200) -> bytes:
    """Deterministic incompressible-looking bytes (a fake audio stem or MIDI file)."""
    out = bytearray()
    state = seed * 2654435761 % (1 << 32) or 1
    while len(out) < size:
        state = (state * 1103515245 + 12345) % (1 << 31)
        out += state.to_bytes(4, "big")
    return bytes(out[:size])


def closure(repo: Repository, tip: str) -> tuple[list[str], set[str], dict[str, bytes]]:
    """Every commit, snapshot and object reachable from `tip`, each read back and re-hashed."""
    commits = list(repo.graph.walk([tip]))
    snapshots: set[str] = set()
    objects: dict[str, bytes] = {}
    for oid in commits:
        snap_id = repo.graph.commit(oid).snapshot
        if snap_id in snapshots:
            continue
        snapshots.add(snap_id)
        for entry in repo.store.read_snapshot(snap_id).entries:
            if entry.oid not in objects:
                objects[entry.oid] = b"".join(repo.store.iter_chunks(entry.oid))
    return commits, snapshots, objects


def assert_no_ghost_refs(remote: Remote, scratch: Path) -> dict[str, str]:
    """Fetch everything the remote lists into a fresh repository and read every closure.

    Works for any driver: a ref naming a commit whose closure the remote lacks makes
    the remote unable to build (or the receiver unable to verify) the bundle.
    """
    refs = remote.list_refs()
    probe = Repository.init(scratch, bare=True)
    fetch(probe, remote, "probe")
    for name, tip in refs.items():
        assert probe.store.has(tip), f"{name} names {tip}, which the remote could not serve"
        if name.startswith("refs/heads/"):
            assert probe.store.kind(tip) == "commit", f"branch {name} names a {tip}"
        closure(probe, peel(probe.store, tip))  # an annotated tag: its commit's closure
    return refs


def merge_snapshot(repo: Repository, ours: str, theirs: str) -> Snapshot:
    """Union of both commits' files (ours wins on a clash): a merge for disjoint changes."""
    mine = repo.store.read_snapshot(repo.graph.commit(ours).snapshot).as_dict()
    other = repo.store.read_snapshot(repo.graph.commit(theirs).snapshot).as_dict()
    return Snapshot.from_entries({**other, **mine}.values())


def merge_commit(repo: Repository, theirs: str, message: str) -> str:
    """Record a two-parent merge of HEAD and `theirs` (the union of files) on the branch."""
    ours = repo.head()
    assert ours is not None
    snap = merge_snapshot(repo, ours, theirs)
    with repo.store.batch() as batch:
        batch.add_bytes(snap.encode())
        commit = repo.make_commit(snap.id, [ours, theirs], message)
        batch.add_bytes(commit.encode())
    target = repo.refs.head_target()
    assert target is not None
    repo.refs.update(target, ours, commit.id, "merge")
    assert repo.root is not None
    old = repo.store.read_snapshot(repo.graph.commit(ours).snapshot)
    repo.worktree.apply(old, snap)
    return commit.id


class StaleView:
    """A remote whose `list_refs` answers with an old reading: a concurrent pusher, frozen."""

    def __init__(self, inner: Remote, refs: dict[str, str]) -> None:
        self.inner = inner
        self.url = inner.url
        self.refs = dict(refs)

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    def list_refs(self) -> dict[str, str]:
        return dict(self.refs)

    def push(self, bundle: OutgoingBundle | None,
             updates: Sequence[RefUpdate]) -> list[RefResult]:
        return self.inner.push(bundle, updates)

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        return self.inner.fetch(wants, haves)

    def close(self) -> None:
        self.inner.close()


class HostileRemote:
    """Serves the real refs but a doctored bundle: `mangle` rewrites the bytes it sends."""

    def __init__(self, inner: Remote, mangle: Callable[[bytes], bytes]) -> None:
        self.inner = inner
        self.url = inner.url
        self.mangle = mangle

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    def list_refs(self) -> dict[str, str]:
        return self.inner.list_refs()

    def push(self, bundle: OutgoingBundle | None,
             updates: Sequence[RefUpdate]) -> list[RefResult]:
        return self.inner.push(bundle, updates)

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        # Serving other bytes than its files hold, it must not offer them for linking.
        return [replace(b, opener=self._mangled(b), local_path=None)
                for b in self.inner.fetch(wants, haves)]

    def _mangled(self, bundle: IncomingBundle) -> Opener:
        @contextlib.contextmanager
        def opener() -> Iterator[BinaryIO]:
            with bundle.open() as stream:
                data = stream.read()
            yield io.BytesIO(self.mangle(data))

        return opener

    def close(self) -> None:
        self.inner.close()


def files_of(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".muse"]
        for name in names:
            full = Path(dirpath) / name
            out[str(full.relative_to(root))] = full.read_bytes()
    return out



def outgoing(path: Path) -> OutgoingBundle:
    """A bundle file as the engine hands it to a driver (size and id read from the file)."""
    import hashlib

    data = path.read_bytes()
    return OutgoingBundle(path, len(data), hashlib.sha256(data).hexdigest())


def write_push_bundle(repo: Repository, path: Path, tip: str, base: str | None) -> OutgoingBundle:
    """One bundle of `tip` beyond `base` at `path`, as an OutgoingBundle."""
    from muse.bundle import plan_bundle, write_bundle

    plan = plan_bundle(repo.graph, {MAIN: tip}, [tip], [base] if base else [])
    with open(path, "wb") as out:
        write_bundle(repo.store, plan, out)
    return outgoing(path)


class PhaseBytes:
    """A TransferProgress recording each phase's total and the bytes reported in it."""

    def __init__(self) -> None:
        self.totals: dict[str, int | None] = {}
        self.moved: dict[str, int] = {}
        self._now = ""

    def phase(self, name: str, total: int | None) -> None:
        self._now = name
        self.totals[name] = total
        self.moved[name] = 0

    def advance(self, n: int) -> None:
        self.moved[self._now] += n

    def finish(self) -> None:
        pass
