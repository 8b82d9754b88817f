"""Local benchmarks: commit and status on a 10,000-file tree against git, and 1 GB commit RSS.

Run:  .venv/bin/python benchmarks/bench_local.py [--quick]

Every figure is a whole process (`python -m muse …`, `git …`), median of several
runs, measured in the same run on identical trees so the ratios compare like
with like. Not a test: nothing here asserts, it prints figures.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RSS_TARGET_MB = 100


def build_tree(root: Path, files: int, seed: int = 7, max_size: int = 4096) -> None:
    """`files` small files (0.5 KiB to `max_size`) spread over a few nested directories;
    another `seed` changes every file's bytes."""
    rng = random.Random(seed)
    dirs = [f"dir{d:02d}/sub{s}" for d in range(20) for s in range(3)]
    for i in range(files):
        path = root / dirs[i % len(dirs)] / f"file{i:05d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(512, max_size)))


def touch_files(root: Path, count: int, round_no: int) -> None:
    """Change the content of `count` files (what a small edit session does)."""
    paths = sorted(root.glob("dir0*/sub0/*.dat"))[:count]
    for path in paths:
        with open(path, "ab") as handle:
            handle.write(f"edit {round_no}\n".encode())


def timed(cmd: list[str] | str, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, shell=isinstance(cmd, str),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_of(runs: int, once: Callable[[int], float]) -> float:
    return statistics.median(once(i) for i in range(runs))


class Tools:
    """How to run muse and git with an isolated identity and config."""

    def __init__(self, scratch: Path) -> None:
        self.muse = [sys.executable, "-m", "muse"]
        self.env = dict(os.environ)
        # An installed Muse runs from compiled bytecode: without it every process would
        # recompile Muse's modules (about 25 ms) and time the compiler, not Muse.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["MUSE_CONFIG_DIR"] = str(scratch / "muse-config")
        self.env.update({
            "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.org",
            "GIT_CONFIG_GLOBAL": str(scratch / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
        })
        (scratch / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
        for args in (["config", "--global", "user.name", "Bench"],
                     ["config", "--global", "user.email", "bench@example.org"],
                     ["keys", "generate"]):
            subprocess.run([*self.muse, *args], env=self.env, check=True,
                           stdout=subprocess.DEVNULL)

    def muse_cmd(self, *args: str) -> list[str]:
        return [*self.muse, *args]


def reset_repo(root: Path, kind: str, tools: Tools) -> None:
    shutil.rmtree(root / (".muse" if kind == "muse" else ".git"), ignore_errors=True)
    cmd = tools.muse_cmd("init") if kind == "muse" else ["git", "init", "-q"]
    subprocess.run(cmd, cwd=root, env=tools.env, check=True, stdout=subprocess.DEVNULL)


def bench_tree(scratch: Path, tools: Tools, files: int, runs: int) -> list[tuple[str, float,
                                                                                 float]]:
    trees = {kind: scratch / f"tree-{kind}" for kind in ("muse", "git")}
    for root in trees.values():
        build_tree(root, files)
    first_commit = {
        "muse": lambda root: timed(tools.muse_cmd("commit", "-m", "first"), root, tools.env),
        "git": lambda root: timed("git add -A && git commit -q -m first", root, tools.env),
    }
    second_commit = {
        "muse": lambda root: timed(tools.muse_cmd("commit", "-m", "edit"), root, tools.env),
        "git": lambda root: timed("git add -A && git commit -q -m edit", root, tools.env),
    }
    status = {
        "muse": lambda root: timed(tools.muse_cmd("status"), root, tools.env),
        "git": lambda root: timed(["git", "status"], root, tools.env),
    }
    results: dict[str, dict[str, float]] = {"first": {}, "second": {}, "status": {}}
    for kind, root in trees.items():
        def first(_: int, kind: str = kind, root: Path = root) -> float:
            reset_repo(root, kind, tools)
            return first_commit[kind](root)

        results["first"][kind] = median_of(runs, first)

        def second(i: int, kind: str = kind, root: Path = root) -> float:
            touch_files(root, 10, i)
            return second_commit[kind](root)

        results["second"][kind] = median_of(runs, second)
        status[kind](root)  # warm: the first status after a commit may refresh caches
        results["status"][kind] = median_of(max(runs, 5), lambda _, k=kind, r=root: status[k](r))
    return [
        (f"commit, first ({files} files)", results["first"]["muse"], results["first"]["git"]),
        ("commit, 10 files touched", results["second"]["muse"], results["second"]["git"]),
        ("status, unchanged tree", results["status"]["muse"], results["status"]["git"]),
    ]


def write_big_file(path: Path, size: int) -> None:
    """Random-ish, incompressible bytes streamed to disk (never held in memory)."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        written = 0
        n = 0
        while written < size:
            piece = n.to_bytes(8, "big") + block[8:]
            out.write(piece[: size - written])
            written += len(piece)
            n += 1


PEAK_RSS_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)\n"
)


def child_peak(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `cmd`, measured in a fresh wrapper so nothing else counts."""
    out = subprocess.run([sys.executable, "-c", PEAK_RSS_WRAPPER, *cmd], cwd=cwd, env=env,
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]) / 1024, float(out[1])


def bench_big(scratch: Path, tools: Tools, size: int) -> tuple[float, float, float]:
    root = scratch / "big"
    root.mkdir()
    write_big_file(root / "session.wav", size)
    subprocess.run(tools.muse_cmd("init"), cwd=root, env=tools.env, check=True,
                   stdout=subprocess.DEVNULL)
    baseline, _ = child_peak(tools.muse_cmd("--version"), root, tools.env)
    peak, seconds = child_peak(tools.muse_cmd("commit", "-m", "big"), root, tools.env)
    return peak, seconds, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--files", type=int, help="files in the tree (default 10000)")
    parser.add_argument("--big-mb", type=int, help="size of the big file in MB (default 1024)")
    parser.add_argument("--runs", type=int, help="runs per figure (median; default 5)")
    args = parser.parse_args()
    files = args.files or (1000 if args.quick else 10_000)
    big_mb = args.big_mb or (64 if args.quick else 1024)
    runs = args.runs or (3 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="muse-bench-") as tmp:
        scratch = Path(tmp)
        tools = Tools(scratch)
        git_version = subprocess.run(["git", "--version"], capture_output=True,
                                     text=True).stdout.strip()
        print(f"python {sys.version.split()[0]}, {git_version}, {os.cpu_count()} CPUs, "
              f"median of {runs} runs")
        print(f"{'operation':<32} {'muse':>9} {'git':>9} {'muse/git':>9}")
        for name, muse_s, git_s in bench_tree(scratch, tools, files, runs):
            print(f"{name:<32} {muse_s:>8.3f}s {git_s:>8.3f}s {muse_s / git_s:>8.2f}x")
        peak, seconds, baseline = bench_big(scratch, tools, big_mb << 20)
        verdict = "under" if peak < RSS_TARGET_MB else "OVER"
        print(f"commit of one {big_mb} MiB file: peak RSS {peak:.1f} MB "
              f"({verdict} the {RSS_TARGET_MB} MB target; `muse --version` alone: "
              f"{baseline:.1f} MB), {seconds:.2f}s")


if __name__ == "__main__":
    main()
