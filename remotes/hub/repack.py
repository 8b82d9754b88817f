"""Server-side repacking: a repository's packs folded into one pack, online, on any replica.

A repack takes the repository's lease (one row per repository: two hubs never
fold it at once), copies the packs it folds from the blob store into a work
folder while verifying every byte, writes one pack of every item they carry
(`remotes.geometric.write_union`, each item re-hashed again), stores it, then
in one transaction points every row of the folded packs at it and marks them
replaced. Data first, rows last: a kill at any step leaves every ref served.

The lease lapses unless renewed: the repack renews it at each step and, a
quarter of LEASE_SECONDS apart, from its copy, write and store loops, by
compare-and-swap on its holder (the swap renews it in its own transaction). A
repack that finds another holder stops with `repack-busy` at once; its stored
pack goes unless a row names it. So a repack making progress keeps its lease
however long it runs, and one that stopped loses it within LEASE_SECONDS.

A replaced pack keeps its row and its bytes until the grace period after its
`replaced_at` has passed (a fetch may have chosen it a moment ago); a later
repack drops it. Packs pushed after the repack read the pack list stay as they
are. A pack hidden by a block or a takedown is never folded, nor any pack
before it in the fold order (`pack_order`), so the fold stays a suffix of that
order and hiding keeps working pack by pack (docs/hub.md, "Repacking").
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from muse.errors import BundleError, ConflictError, MuseError
from muse.gc import prune_cutoff
from muse.receive import verify_pack
from muse.units import counted

from ..bucket import PackIndex, verified_index
from ..geometric import geometric_tail, pack_order, write_union
from .blobs import deleter
from .security import IN_FORCE
from .service import Hub
from .sql_index import NewPack, Repo, lease_lost

log = logging.getLogger("muse.hub")
# Steps a hook sees, in order ("swapping" is inside the transaction, before its commit).
STEPS = ("locked", "copied", "stored", "swapping", "swapped", "dropped")
# A lease left by a repack killed on another host lapses after this; one on this host
# whose process is gone is taken over at once.
LEASE_SECONDS = 3600
# A working repack renews its lease once this fraction of it has passed, so a lease held by
# a repack making progress always has three quarters of its term left (clock skew between
# replicas and a slow step fit in that).
RENEW_AFTER = 0.25
# How long a replaced pack stays downloadable: well past a download URL's lifetime.
DEFAULT_GRACE = "1.hour.ago"
DEFAULT_AUTO_PACKS = 50


@dataclass
class RepackReport:
    """What one repack did to one repository."""

    repo: str
    packs_before: int = 0
    packs_after: int = 0
    folded_into: str | None = None
    folded_packs: int = 0
    folded_bytes: int = 0      # the bytes of the packs folded
    written_bytes: int = 0     # the bytes of the pack written
    kept_hidden: int = 0       # live packs left out because a block or takedown hides them
    skipped: str | None = None  # why nothing was folded
    dropped_packs: int = 0     # replaced packs past the grace period, deleted
    dropped_bytes: int = 0
    kept_replaced: int = 0     # replaced packs still within the grace period
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def line(self) -> str:
        if self.folded_into:
            done = (f"folded {counted(self.folded_packs, 'pack')} into {self.folded_into[:12]} "
                    f"({self.packs_before} → {counted(self.packs_after, 'pack')})")
        else:
            done = f"nothing folded ({self.skipped}); {counted(self.packs_after, 'pack')}"
        dropped = counted(self.dropped_packs, "replaced pack")
        return (f"{self.repo}: {done}; dropped {dropped}, kept "
                f"{self.kept_replaced} in their grace period ({self.seconds:.2f} s)")


def holder_id() -> str:
    """Who holds a lease: host, process, and a nonce (a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _holder_gone(holder: str) -> bool:
    """Whether `holder` was a process on this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    """One repack's hold on one repository: taken, kept (renewed by compare-and-swap on the
    holder) and released. `keep` raises ConflictError (`repack-busy`) once another holds it."""

    def __init__(self, hub: Hub, repo: Repo, holder: str, clock: Callable[[], float],
                 seconds: int) -> None:
        self._index = hub.index
        self.repo = repo
        self.holder = holder
        self.seconds = seconds
        self._clock = clock
        self._renewed = clock()
        # An upload in parts reports its progress from its own threads.
        self._renewing = threading.Lock()

    def take(self) -> None:
        index, repo = self._index, self.repo
        other = index.take_lease(repo, self.holder, self._clock(), self.seconds)
        if other is not None and _holder_gone(other):
            index.release_lease(repo, other)  # killed on this host: its lease is void
            other = index.take_lease(repo, self.holder, self._clock(), self.seconds)
        if other is not None:
            raise ConflictError(f"{repo.full_name} is being repacked already (by {other})",
                                code="repack-busy",
                                hint="wait for that repack to end; a lease left by a killed "
                                f"repack on another host lapses after {self.seconds // 60} "
                                "minutes")
        self._renewed = self._clock()

    def keep(self, *, now: bool = False) -> None:
        """Renew the lease (`now`, or once RENEW_AFTER of it has passed since the last)."""
        with self._renewing:
            at = self._clock()
            if not now and at - self._renewed < self.seconds * RENEW_AFTER:
                return
            other = self._index.renew_lease(self.repo, self.holder, at, self.seconds)
            if other is not None:
                raise lease_lost(self.repo, other)
            self._renewed = at

    def tick(self, _done: int) -> None:
        """A long loop's progress (bytes copied, written or sent): keep the lease."""
        self.keep()

    def release(self) -> None:
        self._index.release_lease(self.repo, self.holder)  # only if still this holder's


class Repacker:
    """Repacks of `hub`'s repositories, one at a time. `hook(step)` is called at each of
    STEPS (a test kills the process there); `clock` dates leases and replacements."""

    def __init__(self, hub: Hub, *, hook: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, holder: str | None = None,
                 lease_seconds: int = LEASE_SECONDS) -> None:
        self.hub = hub
        self._hook = hook or (lambda step: None)
        self._clock = clock
        self.holder = holder or holder_id()
        self._lease_seconds = lease_seconds
        self._lease: Lease | None = None  # the one held by the repack under way

    def cutoff(self, prune: str | None) -> float | None:
        return prune_cutoff(prune or DEFAULT_GRACE, now=self._clock())

    def repack(self, repo: Repo, *, geometric: bool = False,
               prune: str | None = None) -> RepackReport:
        """Fold `repo`'s packs (all of them, or with `geometric` only the tail), then drop the
        replaced packs past the grace period. ConflictError when another repack holds the
        repository's lease (nothing changed)."""
        started = time.monotonic()
        cutoff = self.cutoff(prune)
        report = RepackReport(repo.full_name)
        lease = Lease(self.hub, repo, self.holder, self._clock, self._lease_seconds)
        lease.take()
        self._lease = lease
        try:
            self._step("locked")
            self._fold(repo, geometric, report)
            self._drop_replaced(repo, cutoff, report)
            self._step("dropped")
        finally:
            self._lease = None
            lease.release()
        report.packs_after = len(self.hub.index.pack_rows(repo))
        report.seconds = round(time.monotonic() - started, 3)
        return report

    # -- the lease ------------------------------------------------------------------------

    @property
    def lease(self) -> Lease:
        assert self._lease is not None, "only inside a repack"
        return self._lease

    def _step(self, step: str) -> None:
        """Each step renews the lease first: a repack that lost it stops before the next."""
        self.lease.keep(now=True)
        self._hook(step)

    # -- the fold -------------------------------------------------------------------------

    def _choose(self, repo: Repo, geometric: bool, report: RepackReport) -> list[str]:
        """The live packs to fold, in pack order: a suffix of it after every hidden pack."""
        index = self.hub.index
        rows = index.pack_rows(repo)
        report.packs_before = len(rows)
        graph = index.commit_graph(repo)
        provided: dict[str, dict[str, tuple[str, ...]]] = {p: {} for p in rows}
        for commit, (pack, parents) in graph.items():
            provided.setdefault(pack, {})[commit] = parents
        light = {p: PackIndex(p, size, requires, provided[p], ()) for p, (size, requires)
                 in rows.items()}
        sizes = {p: size for p, (size, _) in rows.items()}
        order = pack_order(light, sizes)
        hidden = self.hub.guard.hidden_packs(repo)
        last_hidden = max((i for i, p in enumerate(order) if p in hidden), default=-1)
        report.kept_hidden = sum(p in hidden for p in rows)
        candidates = order[last_hidden + 1:]
        chosen = geometric_tail(candidates, sizes) if geometric else candidates
        return chosen if len(chosen) > 1 else []

    def _fold(self, repo: Repo, geometric: bool, report: RepackReport) -> None:
        chosen = self._choose(repo, geometric, report)
        if not chosen:
            report.skipped = ("the packs are geometric already" if geometric and
                              report.packs_before > 1 else "nothing to fold")
            return
        union = self._write_and_store(repo, chosen, report)
        if union is None:
            return
        try:
            self._step("stored")
            self._install(repo, chosen, union, report)
        except ConflictError:
            self._discard(union.pack)  # the lease was lost: the pack stored goes, unless named
            raise

    def _write_and_store(self, repo: Repo, chosen: Sequence[str],
                         report: RepackReport) -> PackIndex | None:
        """The chosen packs copied, verified and folded into one pack, stored; None (nothing
        stored) when their bytes carry hidden content."""
        work_root = self.hub.blobs.work_dir()
        work_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="repack-", dir=work_root) as work:
            folder = Path(work)
            indexes = [self._copy_verified(repo, p, folder) for p in chosen]
            report.folded_bytes = sum(i.size for i in indexes)
            if self._carries_hidden(repo, indexes):
                report.skipped = "a pack to fold carries blocked or taken-down content"
                return None
            self._step("copied")
            out = folder / "repacked.bundle"
            with open(out, "wb") as stream:
                union = write_union(folder, indexes, stream, progress=self.lease.tick)
            self.lease.keep(now=True)
            self.hub.blobs.put(union.pack, out, progress=self.lease.tick)
        report.written_bytes = union.size
        return union

    def _install(self, repo: Repo, chosen: Sequence[str], union: PackIndex,
                 report: RepackReport) -> None:
        replaced = [p for p in chosen if p != union.pack]
        new = NewPack(union.pack, union.size, union.requires, union.entries,
                      dict(union.commits))
        # A takedown that landed while copying: its packs stay as they are.
        if set(chosen) & set(self.hub.guard.hidden_packs(repo)):
            why: str | None = "a pack to fold was hidden while folding"
        else:
            # The swap renews the lease in its own transaction (ConflictError if lost).
            why = self.hub.index.swap_packs(repo, replaced, new, self._clock(), self._hook,
                                            stored=self.hub.blobs.exists, holder=self.holder,
                                            lease_seconds=self._lease_seconds)
        if why is not None:
            report.skipped = why
            self._discard(union.pack)
            return
        self._step("swapped")
        report.folded_into, report.folded_packs = union.pack, len(replaced)

    def _discard(self, pack_id: str) -> None:
        """Delete a pack this repack stored but did not swap in, unless a row names it."""
        self.hub.index.delete_unnamed(pack_id, deleter(self.hub.blobs, pack_id))

    def _copy_verified(self, repo: Repo, pack_id: str, folder: Path) -> PackIndex:
        """One pack copied from the blob store into `folder`, verified as it streams (every
        item re-hashed); its index as the bytes say. BundleError when they disagree."""
        path = folder / f"pack-{pack_id}.bundle"
        with self.hub.blobs.open(pack_id) as source, open(path, "wb") as copy:
            verified = verify_pack(source, None, sink=copy.write, progress=self.lease.tick)
        if verified.pack_id != pack_id:
            raise BundleError(f"pack {pack_id} of {repo.full_name} hashes to "
                              f"{verified.pack_id}; the repack changed nothing",
                              hint="restore that pack from a backup of the blob store")
        return verified_index(verified)

    def _carries_hidden(self, repo: Repo, indexes: Sequence[PackIndex]) -> bool:
        """Whether a pack's bytes carry an id a block or a takedown hides, even one whose
        row is in another pack (the hiding looks at rows; a fold must not spread bytes)."""
        rows = self.hub.guard.rows
        hidden = set(rows.blocked())
        for notice in rows.takedowns(repo):
            if notice.state in IN_FORCE:
                hidden.update(notice.objects)
        return any(e.oid in hidden for i in indexes for e in i.entries)

    # -- the drop -------------------------------------------------------------------------

    def _drop_replaced(self, repo: Repo, cutoff: float | None, report: RepackReport) -> None:
        """Delete the replaced packs older than `cutoff`: each one's row and (unless another
        repository's rows name them) its bytes in one transaction; a kill between the
        bytes and the commit leaves the row, and the next repack drops it again."""
        index = self.hub.index
        sizes = index.pack_rows(repo, replaced=True)
        for pack_id, when in sorted(index.replaced_packs(repo).items()):
            if cutoff is None or when >= cutoff:
                report.kept_replaced += 1
                continue
            self.lease.keep()
            index.delete_unnamed(pack_id, deleter(self.hub.blobs, pack_id), forget=repo)
            report.dropped_packs += 1
            report.dropped_bytes += sizes.get(pack_id, (0, ()))[0]


class AutoRepack:
    """After a push, a geometric repack in the background when a repository has more than
    `threshold` live packs: one worker thread, one pending job per repository."""

    def __init__(self, hub: Hub, threshold: int, *,
                 repacker: Callable[[], Repacker] | None = None) -> None:
        self.hub = hub
        self.threshold = threshold
        self._repacker = repacker or (lambda: Repacker(hub, hook=hub.hook))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="muse-repack")
        self._pending: set[str] = set()
        self._guard = threading.Lock()

    def __call__(self, repo: Repo) -> None:
        with self._guard:
            if repo.id in self._pending:
                return
            self._pending.add(repo.id)
        self._pool.submit(self._run, repo)

    def _run(self, repo: Repo) -> None:
        with self._guard:
            self._pending.discard(repo.id)
        try:
            if len(self.hub.index.pack_rows(repo)) <= self.threshold:
                return
            report = self._repacker().repack(repo, geometric=True)
            log.info("repacked %s: %s", repo.full_name, report.line())
        except ConflictError:
            pass  # another replica is repacking it (or took the lease this one lost)
        except MuseError as exc:
            log.warning("automatic repack of %s failed: %s", repo.full_name, exc.message)
        except Exception:  # a bug: logged, never fatal to the server
            log.exception("automatic repack of %s failed", repo.full_name)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def repack_all(repacker: Repacker, repos: Sequence[Repo], *, geometric: bool,
               prune: str | None) -> list[RepackReport]:
    """Each repository in turn; one held by another repack is reported, not fatal."""
    reports = []
    for repo in repos:
        try:
            reports.append(repacker.repack(repo, geometric=geometric, prune=prune))
        except ConflictError as busy:
            reports.append(RepackReport(repo.full_name, skipped=busy.message))
    return reports


__all__ = ["DEFAULT_AUTO_PACKS", "STEPS", "AutoRepack", "Lease", "RepackReport", "Repacker",
           "repack_all"]
