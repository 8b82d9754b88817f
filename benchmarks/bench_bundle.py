"""Benchmark: `muse bundle` against `git bundle` on the seed-shaped workload, plus a 1 GB file.

Not a timed test: run it by hand, it prints whole-process medians and ratios
measured in the same run (absolute times drift between machines and loads).

    .venv/bin/python benchmarks/bench_bundle.py --work bench-work

The work dir caches the replayed Muse repository (1,024 `muse commit` runs take
minutes), the git peer (`workload.py fast-import | git fast-import`) and the
1 GB repository, so re-runs only measure. Targets: create ≤ 1.5x git bundle
create; full verify faster than git index-pack on the bundle's pack; unbundle
into an empty repository ≤ 1.5x git bundle unbundle; 1 GB create, verify and
unbundle each under 150 MB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

WORKLOAD = Path("/work/shared/bench/workload.py")
MIB = 1 << 20
RSS_LIMIT_MB = 150
TIME = "/usr/bin/time"  # GNU time, for the child's peak RSS
Setup = Callable[[], Path]


def muse_cmd() -> list[str]:
    script = Path(sys.executable).with_name("muse")
    return [str(script)] if script.exists() else [sys.executable, "-m", "muse"]


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Run to completion; (wall seconds, peak RSS of the command in MB). Raises on failure.

    The peak comes from GNU time, a small C parent: a child forked straight from
    this Python process would report this process's own peak (Linux carries the
    pre-exec memory's high-water mark into ru_maxrss).
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        start = time.perf_counter()
        done = subprocess.run([TIME, "-f", "%M", "-o", rss_file.name, *cmd], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)} (in {cwd})\n"
                             f"{done.stderr.decode(errors='replace')}")
        peak_kb = int(rss_file.read().strip().splitlines()[-1])
    return elapsed, peak_kb // 1024


# -- building the repositories (cached) ---------------------------------------------------


def user_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MUSE_CONFIG_DIR"] = str(work / "config")
    if not (work / "config" / "keys").is_dir():
        (work / "config").mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", (
            "from muse.config import user_config\n"
            "from muse.keys import generate_key\n"
            "c = user_config(); c.set('user.name', 'Bench'); c.set('user.email', 'b@e.org')\n"
            "generate_key()\n")], env=env, check=True)
    return env


def marked(path: Path, stamp: str) -> bool:
    marker = path.with_name(path.name + ".complete")
    return path.is_dir() and marker.exists() and marker.read_text() == stamp


def mark(path: Path, stamp: str) -> None:
    path.with_name(path.name + ".complete").write_text(stamp)


def build_muse(work: Path, env: dict[str, str]) -> Path:
    target = work / "muse-src"
    stamp = "1024 5139 7"  # workload.py's default shape: commits, objects, seed
    if marked(target, stamp):
        return target
    print(f"replaying the workload into {target} (1,024 muse commits; a few minutes)…",
          flush=True)
    tmp = work / "muse-src.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    tmp.mkdir(parents=True)
    subprocess.run([*muse_cmd(), "init"], cwd=tmp, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, str(WORKLOAD), "replay", str(tmp),
                    "--", *muse_cmd(), "commit", "-m", "{msg}"], env=env, check=True)
    tmp.rename(target)
    mark(target, stamp)
    return target


def build_git(work: Path) -> Path:
    target = work / "git-src"
    if marked(target, "fast-import"):
        return target
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "--bare", str(target)], check=True)
    stream = subprocess.Popen([sys.executable, str(WORKLOAD), "fast-import"],
                              stdout=subprocess.PIPE)
    subprocess.run(["git", "-C", str(target), "fast-import", "--quiet"], stdin=stream.stdout,
                   check=True)
    assert stream.wait() == 0
    mark(target, "fast-import")
    return target


def build_big(work: Path, env: dict[str, str], size: int) -> Path:
    target = work / "big-src"
    stamp = str(size)
    if marked(target, stamp):
        return target
    print(f"writing and committing a {size // MIB} MiB file in {target}…", flush=True)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run([*muse_cmd(), "init"], cwd=target, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    block = os.urandom(MIB)
    with open(target / "take.wav", "wb") as out:
        for i in range(size // MIB):
            out.write(i.to_bytes(8, "big") + block[8:])  # every MiB distinct
        out.write(block[: size % MIB])
    subprocess.run([*muse_cmd(), "commit", "-m", "one big take"], cwd=target, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    mark(target, stamp)
    return target


# -- measuring ------------------------------------------------------------------------------


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def medians(pairs: dict[str, tuple[Sequence[str], Path, Setup | None]], env: dict[str, str],
            runs: int) -> dict[str, tuple[float, int]]:
    """Interleave the commands run by run, so load changes hit both sides alike."""
    times: dict[str, list[float]] = {name: [] for name in pairs}
    rss: dict[str, int] = {name: 0 for name in pairs}
    for _ in range(runs):
        for name, (cmd, cwd, setup) in pairs.items():
            where = setup() if setup is not None else cwd
            elapsed, peak = run(cmd, where, env)
            times[name].append(elapsed)
            rss[name] = max(rss[name], peak)
    return {name: (statistics.median(values), rss[name]) for name, values in times.items()}


def extract_pack(bundle: Path, pack: Path) -> None:
    """The pack inside a git bundle: everything after the header's blank line."""
    data = bundle.read_bytes()
    pack.write_bytes(data[data.index(b"\n\n") + 2 :])


def bench_workload(work: Path, env: dict[str, str], runs: int) -> dict[str, object]:
    muse_src, git_src = build_muse(work, env), build_git(work)
    out = fresh_dir(work / "out")
    m_bundle, g_bundle = out / "w.muse-bundle", out / "w.git-bundle"
    muse = muse_cmd()

    create = medians({
        "muse bundle create": ([*muse, "bundle", "create", str(m_bundle), "main"], muse_src, None),
        "git bundle create": (["git", "bundle", "create", str(g_bundle), "main"], git_src, None),
    }, env, runs)

    pack = out / "w.pack"
    extract_pack(g_bundle, pack)
    index_repo = work / "index-pack-repo"
    if not index_repo.is_dir():
        subprocess.run(["git", "init", "-q", "--bare", str(index_repo)], check=True)

    def fresh_idx() -> Path:
        (out / "w.idx").unlink(missing_ok=True)
        return index_repo

    verify = medians({
        "muse bundle verify": ([*muse, "bundle", "verify", str(m_bundle)], out, None),
        "git index-pack": (["git", "index-pack", "-o", str(out / "w.idx"), str(pack)],
                           index_repo, fresh_idx),
    }, env, runs)

    def empty_muse() -> Path:
        dest = fresh_dir(out / "unbundle-muse")
        run([*muse, "init"], dest, env)
        return dest

    def empty_git() -> Path:
        dest = fresh_dir(out / "unbundle-git")
        run(["git", "init", "-q"], dest, env)
        return dest

    unbundle = medians({
        # Muse also checks out the 200 files of main; git bundle unbundle only stores.
        "muse bundle unbundle": ([*muse, "bundle", "unbundle", str(m_bundle)], out, empty_muse),
        "git bundle unbundle": (["git", "bundle", "unbundle", str(g_bundle)], out, empty_git),
    }, env, runs)
    return {
        "create": create, "verify": verify, "unbundle": unbundle,
        "sizes": {"muse bundle": m_bundle.stat().st_size, "git bundle": g_bundle.stat().st_size},
    }


def bench_big(work: Path, env: dict[str, str], size: int) -> dict[str, tuple[float, int]]:
    src = build_big(work, env, size)
    out = fresh_dir(work / "out-big")
    bundle = out / "big.bundle"
    muse = muse_cmd()
    results = {"create": run([*muse, "bundle", "create", str(bundle), "main"], src, env),
               "verify": run([*muse, "bundle", "verify", str(bundle)], out, env)}
    dest = fresh_dir(out / "dest")
    run([*muse, "init"], dest, env)
    results["unbundle"] = run([*muse, "bundle", "unbundle", str(bundle)], dest, env)
    shutil.rmtree(out)
    return results


def report(work: dict[str, object], big: dict[str, tuple[float, int]] | None,
           big_size: int) -> list[str]:
    lines = []
    failures = []

    def row(name: str, value: tuple[float, int]) -> None:
        lines.append(f"  {name:<30} {value[0]:7.3f} s   peak RSS {value[1]:4d} MB")

    def ratio(label: str, a: float, b: float, limit: float, *, below: bool = False) -> None:
        ok = a / b < limit if below else a / b <= limit
        lines.append(f"  ratio {label:<36} {a / b:5.2f}x  (target {'<' if below else '≤'} "
                     f"{limit}x) {'ok' if ok else 'MISSED'}")
        if not ok:
            failures.append(label)

    create, verify, unbundle = (work[k] for k in ("create", "verify", "unbundle"))
    assert isinstance(create, dict) and isinstance(verify, dict) and isinstance(unbundle, dict)
    lines.append("workload (1,024 commits, 5,139 objects), whole-process medians:")
    for table in (create, verify, unbundle):
        for name, value in table.items():
            row(name, value)
    ratio("create muse/git", create["muse bundle create"][0],
          create["git bundle create"][0], 1.5)
    ratio("verify muse/git index-pack", verify["muse bundle verify"][0],
          verify["git index-pack"][0], 1.0, below=True)
    ratio("unbundle muse/git", unbundle["muse bundle unbundle"][0],
          unbundle["git bundle unbundle"][0], 1.5)
    lines.append(f"  bundle sizes: {work['sizes']}")
    if big is not None:
        lines.append(f"one {big_size // MIB} MiB file:")
        for name, value in big.items():
            row(f"muse bundle {name}", value)
            if value[1] >= RSS_LIMIT_MB:
                failures.append(f"{name} RSS")
        lines.append(f"  peak RSS target < {RSS_LIMIT_MB} MB: "
                     f"{'ok' if all(v[1] < RSS_LIMIT_MB for v in big.values()) else 'MISSED'}")
    lines.append("all targets met" if not failures else f"missed: {', '.join(failures)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("bench-work"),
                        help="cache and scratch directory (git-ignored bench-work/ by default)")
    parser.add_argument("--runs", type=int, default=7, help="runs per command (median)")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big file")
    parser.add_argument("--skip-big", action="store_true", help="skip the 1 GB part")
    parser.add_argument("--json", action="store_true", help="print raw figures as JSON too")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = user_env(work)
    figures = bench_workload(work, env, args.runs)
    big = None if args.skip_big else bench_big(work, env, args.big_mib * MIB)
    print("\n".join(report(figures, big, args.big_mib * MIB)))
    if args.json:
        print(json.dumps({"workload": figures, "big": big}, indent=2))


if __name__ == "__main__":
    main()
