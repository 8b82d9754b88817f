"""Benchmark: object lookups and a full verify across 1 to 10,000 packs (the multi-pack index).

Run:  .venv/bin/python benchmarks/bench_packs.py [--objects 20000] [--counts 1,100,1000,10000]

Each store holds the same objects spread over a different number of packs. The
packs are written the way a directory remote or an older Muse leaves them (a
pack file of data frames and its `.idx`, through the store's index encoder), so
building 10,000 of them takes seconds; opening the store then folds them all
into the multi-pack index in one merge. Measured, per pack count:

  lookups   `missing()` (one batched call) and `has()` per id, present and absent
            ids, through the multi-pack index; and the same absent-id lookup the
            way the store answered before the multi-pack index (search every
            pack's own index in turn), for comparison in the same run
  add       `put_pack` of one more pack: the incremental merge into the index
  verify    `verify_repository` (what `muse verify` runs): every packed object
            re-hashed, per object

Not a test: nothing here asserts, it prints a table. Lookups must stay flat
across pack counts; the per-pack scan grows with them.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from muse.frames import KIND_DATA, encode_header
from muse.fsck import verify_repository
from muse.midx import PackIndex, encode_pack_index
from muse.objects import hash_bytes
from muse.repo import Repository
from muse.storage import BLOB, PackEntry
from muse.store import ObjectStore

SAMPLE = 2000  # ids per lookup measurement


def make_objects(count: int, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(64, 512)) for _ in range(count)]


def pack_bytes(objects: list[bytes]) -> tuple[bytes, list[PackEntry]]:
    """A pack file's bytes (one data frame per object) and its entries."""
    out = bytearray(b"PACK")
    entries = []
    for data in objects:
        entries.append(PackEntry(hash_bytes(data), len(out), len(data), BLOB))
        out += encode_header(KIND_DATA, len(data)) + data
    return bytes(out), entries


def build_store(root: Path, objects: list[bytes], packs: int) -> tuple[Repository, float]:
    """A bare repository holding `objects` in `packs` packs; and the seconds the first
    open took to fold them all into the multi-pack index."""
    repo = Repository.init(root, bare=True)
    repo.store.packs_dir.mkdir(parents=True, exist_ok=True)
    for n in range(packs):
        data, entries = pack_bytes(objects[n::packs])
        (repo.store.packs_dir / f"pack-{n:06d}.bundle").write_bytes(data)
        (repo.store.packs_dir / f"pack-{n:06d}.idx").write_bytes(encode_pack_index(entries))
    start = time.perf_counter()
    fresh = ObjectStore(repo.muse_dir)
    fresh.has("00" * 32)  # the first lookup opens (and here builds) the index
    return Repository.find(root), time.perf_counter() - start


def per_id(ids: list[str], lookup: Callable[[str], object], rounds: int = 3) -> float:
    """Median over `rounds` of the time per id of calling `lookup` on every id (µs)."""
    def once() -> float:
        start = time.perf_counter()
        for oid in ids:
            lookup(oid)
        return (time.perf_counter() - start) / len(ids) * 1e6
    return statistics.median(once() for _ in range(rounds))


def batched(ids: list[str], store: ObjectStore, rounds: int = 3) -> float:
    def once() -> float:
        start = time.perf_counter()
        store.missing(ids)
        return (time.perf_counter() - start) / len(ids) * 1e6
    return statistics.median(once() for _ in range(rounds))


def scan_every_pack(store: ObjectStore) -> Callable[[str], object]:
    """The lookup as it was before the multi-pack index: each pack's .idx in turn."""
    indexes = [PackIndex(idx, idx.with_suffix(".bundle"))
               for idx in sorted(store.packs_dir.glob("pack-*.idx"))]

    def lookup(oid: str) -> object:
        raw = bytes.fromhex(oid)
        for index in indexes:  # noqa: SIM110 - the plain loop the store ran
            if index.find(oid, raw) is not None:
                return True
        return False
    return lookup


def add_one_pack(store: ObjectStore, seed: int) -> float:
    data, entries = pack_bytes(make_objects(4, seed=seed))
    tmp = store.new_tmp_file(".bundle")
    tmp.write_bytes(data)
    start = time.perf_counter()
    store.put_pack(f"added-{seed}", tmp, entries)
    return time.perf_counter() - start


def measure(root: Path, objects: list[bytes], packs: int, scan_sample: int) -> dict[str, float]:
    repo, fold_seconds = build_store(root, objects, packs)
    store = repo.store
    rng = random.Random(packs)
    present = [hash_bytes(data) for data in rng.sample(objects, min(SAMPLE, len(objects)))]
    absent = [hash_bytes(f"absent {i}".encode()) for i in range(SAMPLE)]
    assert store.missing(present) == set() and store.missing(absent) == set(absent)
    figures = {
        "fold": fold_seconds,
        "missing present": batched(present, store),
        "missing absent": batched(absent, store),
        "has present": per_id(present, store.has),
        "has absent": per_id(absent, store.has),
        "scan absent": per_id(absent[:scan_sample], scan_every_pack(store), rounds=1),
        "add": statistics.median(add_one_pack(store, seed) for seed in range(5)),
    }
    start = time.perf_counter()
    report = verify_repository(Repository.find(root))
    elapsed = time.perf_counter() - start
    assert report.ok and report.unreachable_objects == len(objects) + 5 * 4, report.problems
    figures["verify"] = elapsed / report.unreachable_objects * 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000, help="objects in every store")
    parser.add_argument("--counts", default="1,100,1000,10000", help="pack counts to build")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    objects = make_objects(args.objects)
    print(f"python {sys.version.split()[0]}; {args.objects:,} objects in every store; "
          f"lookups over {SAMPLE:,} ids, median of 3; times per id or per object")
    header = (f"{'packs':>6} {'missing()':>10} {'missing()':>10} {'has()':>8} {'has()':>8}"
              f" {'per-pack':>10} {'put_pack':>9} {'verify':>8} {'first':>7}")
    sub = (f"{'':>6} {'present':>10} {'absent':>10} {'present':>8} {'absent':>8}"
           f" {'scan, abs.':>10} {'one more':>9} {'per obj':>8} {'open':>7}")
    print(header)
    print(sub)
    for packs in counts:
        with tempfile.TemporaryDirectory(prefix="bench-packs-") as scratch:
            scan_sample = max(20, min(SAMPLE, 200_000 // packs))
            f = measure(Path(scratch) / "store.muse", objects, packs, scan_sample)
        print(f"{packs:>6} {f['missing present']:>8.2f}µs {f['missing absent']:>8.2f}µs"
              f" {f['has present']:>6.2f}µs {f['has absent']:>6.2f}µs"
              f" {f['scan absent']:>8.1f}µs {f['add'] * 1e3:>7.2f}ms {f['verify']:>6.1f}µs"
              f" {f['fold']:>6.2f}s", flush=True)


if __name__ == "__main__":
    main()
