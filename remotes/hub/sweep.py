"""Sweeping the hub's blob store: bundles no index row names, older than a grace period, deleted.

Every writer stores a pack's bytes before a row names them (data first, rows
last), so a kill between the two leaves a bundle nothing names and nothing
else would ever delete: a push killed after its upload and before its confirm
committed, a repack or a purge killed after storing the pack it wrote. The
sweep lists `bundles/` and deletes each bundle that no repository's row names
(live, or replaced and still in its grace period) once it is older than the
cutoff (docs/hub.md, "Sweeping unnamed bundles").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice

from muse.gc import prune_cutoff
from muse.units import human_size

from .blobs import StoredBlob
from .service import Hub
from .sql_index import BATCH

# Why a grace period, and why by the bundle's age: an unnamed bundle is either garbage or
# one a writer in flight is about to name, and nothing but time tells them apart. A push
# uploads before it confirms (an upload in parts may take hours, and S3 may date the object
# from when its upload began); a repack or a purge stores its pack just before the
# transaction that names it. A day is far longer than any of them, and an orphan costs
# only its bytes meanwhile, so no `--prune` makes the sweep take a younger bundle.
#
# The grace keeps writers in flight from failing; it is not what keeps a row from naming
# deleted bytes. A writer may also reuse an old unnamed bundle (a push of the same bytes
# answered "exists", a repack writing the pack a killed one left), which no age protects.
# That is the key lock's work: the sweep deletes under the pack's lock after finding no
# row (SqlIndex.delete_unnamed), and every transaction that names a pack checks under the
# same lock that its bytes are still there; whichever comes second sees the first, so the
# writer either keeps the bundle or fails cleanly, changing nothing ("push again").
SWEEP_FLOOR_SECONDS = 86400
DEFAULT_SWEEP_GRACE = "1.day.ago"


@dataclass
class SweepReport:
    """What one sweep of the blob store did."""

    cutoff: float | None             # bundles unnamed since before this went (None: never)
    listed: int = 0                  # bundles in the store
    named: int = 0                   # a repository's row names them: kept
    kept_unnamed: int = 0            # no row names them, but younger than the cutoff
    swept_packs: int = 0             # unnamed and older than the cutoff: deleted
    swept_bytes: int = 0
    swept: list[str] = field(default_factory=list)  # the ids of those deleted
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def lines(self) -> list[str]:
        if self.cutoff is None:
            return ["blob store: not swept (--prune never)"]
        head = (f"blob store: swept {self.swept_packs} bundles no row names "
                f"({human_size(self.swept_bytes)}); kept {self.kept_unnamed} unnamed ones "
                f"in their grace period and {self.named} named ({self.seconds:.2f} s)")
        return [head, *(f"  swept {pack_id}" for pack_id in self.swept)]


def sweep_cutoff(prune: str | None, now: float) -> float | None:
    """The sweep's cutoff for `--prune` (default a day ago), never later than a day ago."""
    found = prune_cutoff(prune or DEFAULT_SWEEP_GRACE, now=now)
    return None if found is None else min(found, now - SWEEP_FLOOR_SECONDS)


def sweep_blobs(hub: Hub, *, prune: str | None = None,
                clock: Callable[[], float] = time.time) -> SweepReport:
    """Delete every bundle of `hub`'s blob store that no row names and that is older than
    the cutoff; memory stays at one batch of the listing."""
    started = time.monotonic()
    report = SweepReport(sweep_cutoff(prune, clock()))
    if report.cutoff is None:
        return report
    for batch in _batches(hub.blobs.list_bundles()):
        named = hub.index.named_packs(b.pack_id for b in batch)
        for blob in batch:
            _judge(hub, blob, blob.pack_id in named, report.cutoff, report)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _judge(hub: Hub, blob: StoredBlob, named: bool, cutoff: float,
           report: SweepReport) -> None:
    report.listed += 1
    if named:
        report.named += 1
    elif blob.modified >= cutoff:
        report.kept_unnamed += 1
    elif hub.index.delete_unnamed(blob.pack_id, _delete_if_old(hub, blob.pack_id, cutoff)):
        report.swept_packs += 1
        report.swept_bytes += blob.size
        report.swept.append(blob.pack_id)
    else:
        report.kept_unnamed += 1  # named, or stored again, since it was listed


def _delete_if_old(hub: Hub, pack_id: str, cutoff: float) -> Callable[[], bool]:
    """Under the pack's lock, with no row naming it: delete it if it is still older than the
    cutoff (the listing may be minutes old; a writer may have stored it again since)."""
    def delete() -> bool:
        modified = hub.blobs.modified(pack_id)
        if modified is None or modified >= cutoff:
            return False
        hub.blobs.delete(pack_id)
        return True
    return delete


def _batches(blobs: Iterable[StoredBlob]) -> Iterator[list[StoredBlob]]:
    found = iter(blobs)
    while batch := list(islice(found, BATCH)):
        yield batch


__all__ = ["DEFAULT_SWEEP_GRACE", "SWEEP_FLOOR_SECONDS", "SweepReport", "sweep_blobs",
           "sweep_cutoff"]
