#!/usr/bin/env python3
"""The hub's repack figures: clone requests and time before and after, repack time for N pushes.

    .venv/bin/python benchmarks/bench_hub_repack.py [WORK] [--pushes 1000] [--stem-kb 16]
        [--pg-s3]      (PostgreSQL + SeaweedFS started for the run, as bench_hub.py does)

A real `muse hub serve` process on 127.0.0.1 takes PUSHES pushes of one new stem
each (in this process, through the hub client, counting every HTTP request):

    clone before   requests and seconds of a clone: one pack download per push
    repack         `muse hub repack OWNER/NAME --json`, whole process, and the
                   report's own time for the fold and the swap
    clone after    requests and seconds: one pack                     target 3 requests
    geometric      10 more pushes, then `--geometric`: packs folded, seconds
    automatic      a second hub with --auto-repack-packs 50 takes the same pushes:
                   median push time against the first hub's (repacks run in the
                   background: no slower), live packs at the end, clone requests
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_remote import MUSE, ROOT, ensure_identity, fresh_dir, muse_env

sys.path.insert(0, str(ROOT))  # the checkout's tests/ (not installed), imported below

from tests.hub.conftest import CountingTransport, hub_remote
from tests.hub_server import HubServer, NewRepo, Storage
from tests.remotes.remote_support import MAIN, blob, commit_files, new_repo


def push_many(repo: NewRepo, local_dir: Path, n: int, stem: int, start: int = 0) -> list[float]:
    from muse.repo import Repository
    from muse.transfer import push

    local = Repository.find(local_dir) if (local_dir / ".muse").exists() else new_repo(local_dir)
    times = []
    remote = hub_remote(repo)
    for i in range(start, start + n):
        commit_files(local, {f"takes/{i}.wav": blob(10_000 + i, stem)}, f"take {i}")
        began = time.perf_counter()
        push(local, remote, [(MAIN, MAIN)])
        times.append(time.perf_counter() - began)
    remote.close()
    return times


def clone_cost(repo: NewRepo, dest: Path) -> tuple[int, int, float]:
    """(requests, pack downloads, seconds) of one clone."""
    from muse.transfer import clone

    counting = CountingTransport()
    began = time.perf_counter()
    clone(repo.url, fresh_dir(dest), remote=hub_remote(repo, token=repo.read_token,
                                                       transport=counting))
    seconds = time.perf_counter() - began
    seen = counting.take()
    packs = sum(n for what, n in seen.items() if what.startswith("GET ") and what != "GET refs")
    return sum(seen.values()), packs, seconds


def repack(storage: Storage, repo: NewRepo, *extra: str) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, **storage.env}
    began = time.perf_counter()
    done = subprocess.run([*MUSE, "hub", "repack", f"{repo.owner}/{repo.name}", "--json",
                           *extra, *storage.args()], env=env, capture_output=True, check=True)
    seconds = time.perf_counter() - began
    (report,) = json.loads(done.stdout)["repos"]
    return seconds, report


def unthrottled(server: HubServer) -> HubServer:
    """The hub's push rate limit lifted: a benchmark pushes faster than any person."""
    server.admin().guard.rows.set_hub_setting("pushes_per_minute", 1_000_000)
    return server


def live_packs(server: HubServer, repo: NewRepo) -> int:
    hub = server.admin()
    found = hub.index.repo(repo.owner, repo.name)
    assert found is not None
    return len(hub.index.pack_rows(found))


def wait_idle(server: HubServer, repo: NewRepo, limit: float = 60.0) -> None:
    """Until the background repack is done: no lease held on the repository."""
    hub = server.admin()
    found = hub.index.repo(repo.owner, repo.name)
    assert found is not None
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if hub.index._one("SELECT 1 FROM repack_leases WHERE repo_id = ?", found.id) is None:
            time.sleep(0.5)  # a job may still be queued behind the last push
            if hub.index._one("SELECT 1 FROM repack_leases WHERE repo_id = ?",
                              found.id) is None:
                return
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", nargs="?", type=Path, default=ROOT / "bench-work")
    ap.add_argument("--pushes", type=int, default=1000)
    ap.add_argument("--stem-kb", type=int, default=16)
    ap.add_argument("--pg-s3", action="store_true")
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = muse_env(work)
    ensure_identity(work, env)
    os.environ["MUSE_CONFIG_DIR"] = env["MUSE_CONFIG_DIR"]
    runs = fresh_dir(work / "repack-runs")
    runs.mkdir()
    services: list[Any] = []
    stem = args.stem_kb * 1024
    try:
        storages = [_storage(args, runs / f"hub{i}", services) for i in range(2)]
        manual = unthrottled(HubServer.start(storages[0], runs,
                                             extra=["--auto-repack-packs", "0"]))
        try:
            repo = manual.new_repo()
            off = push_many(repo, runs / "local-a", args.pushes, stem)
            print(f"{args.pushes} pushes of one {args.stem_kb} KiB stem: median "
                  f"{statistics.median(off) * 1000:.1f} ms per push (auto-repack off)")
            req, packs, secs = clone_cost(repo, runs / "clone-before")
            print(f"clone before repack: {req} requests, {packs} pack downloads, {secs:.2f} s")
            whole, report = repack(storages[0], repo)
            print(f"repack: {report['folded_packs']} packs → 1 in {report['seconds']:.2f} s "
                  f"({whole:.2f} s whole process); "
                  f"{report['folded_bytes'] / 1e6:.1f} MB read, "
                  f"{report['written_bytes'] / 1e6:.1f} MB written")
            req, packs, secs = clone_cost(repo, runs / "clone-after")
            print(f"clone after repack: {req} requests, {packs} pack downloads, {secs:.2f} s")
            push_many(repo, runs / "local-a", 10, stem, start=args.pushes)
            whole, report = repack(storages[0], repo, "--geometric")
            print(f"geometric after 10 more pushes: {report['folded_packs']} packs folded, "
                  f"{report['packs_after']} left, {report['seconds']:.2f} s")
        finally:
            manual.stop()
        auto = unthrottled(HubServer.start(storages[1], runs))
        try:
            repo = auto.new_repo()
            on = push_many(repo, runs / "local-b", args.pushes, stem)
            wait_idle(auto, repo)
            req, packs, secs = clone_cost(repo, runs / "clone-auto")
            print(f"auto-repack 50: median {statistics.median(on) * 1000:.1f} ms per push "
                  f"(off: {statistics.median(off) * 1000:.1f} ms); {live_packs(auto, repo)} "
                  f"live packs; clone {req} requests, {packs} pack downloads, {secs:.2f} s")
        finally:
            auto.stop()
    finally:
        for service in services:
            service.stop()


def _storage(args: argparse.Namespace, base: Path, services: list[Any]) -> Storage:
    if not args.pg_s3:
        return Storage(data=base)
    from bench_hub import production_storage

    base.mkdir(parents=True, exist_ok=True)
    if services:  # one cluster and one bucket server, a database and bucket per hub
        from tests.hub_prod import prod_storage

        return prod_storage(services[0], services[1], base)
    return production_storage(base, services)


if __name__ == "__main__":
    main()
