"""Text merge benchmark: Muse's line-level three-way merge against `git merge-file` and git merge.

Run:  .venv/bin/python benchmarks/bench_merge.py [--lines N] [--runs R] [--quick]

A text file of N lines (default 160,000: about 7.5 MiB, under the 8 MiB
text-merge cap) gets scattered edits on two sides (no overlap: a clean
merge) and, in a second case, also 50 overlapping edits (conflicts).
Three figures per case, medians of R runs:
`merge_texts` in-process (the algorithm alone), `git merge-file -p` as a
process, and an end-to-end `muse merge` vs `git merge` of two branches that
hold the file. Results are checked to agree on the clean case. Not a test:
nothing asserts speed, it prints figures.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from muse.repo import Repository
from muse.textmerge import merge_texts


def versions(lines: int, conflicts: int, seed: int = 11) -> tuple[bytes, bytes, bytes]:
    """A base of `lines` lines and two sides each editing one line in 200, apart, plus
    `conflicts` lines both sides edit differently."""
    rng = random.Random(seed)
    base = [f"{i:07d} {rng.getrandbits(160):040x}\n".encode() for i in range(lines)]
    ours, theirs = list(base), list(base)
    for i in range(0, lines - 100, 200):
        ours[i] = b"ours " + base[i]
        theirs[i + 100] = b"theirs " + base[i + 100]
    step = lines // (conflicts + 1)
    for i in range(50, 50 + step * conflicts, step):
        ours[i] = b"ours clash\n"
        theirs[i] = b"theirs clash\n"
    return b"".join(base), b"".join(ours), b"".join(theirs)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median(runs: int, once) -> float:  # type: ignore[no-untyped-def]
    return statistics.median(once() for _ in range(runs))


def merge_file_figures(scratch: Path, texts: tuple[bytes, bytes, bytes], runs: int,
                       env: dict[str, str]) -> tuple[float, float, int]:
    base, ours, theirs = texts
    for name, data in (("base", base), ("ours", ours), ("theirs", theirs)):
        (scratch / name).write_bytes(data)
    ours_result = merge_texts(base, ours, theirs)
    git = subprocess.run(["git", "merge-file", "-p", "ours", "base", "theirs"], cwd=scratch,
                         capture_output=True, env=env)
    if ours_result.conflicts == 0 and git.stdout != ours_result.data:
        raise SystemExit("muse and git disagree on the clean merge")

    def muse_once() -> float:
        start = time.perf_counter()
        merge_texts(base, ours, theirs)
        return time.perf_counter() - start

    muse_s = median(runs, muse_once)
    git_s = median(runs, lambda: timed(["git", "merge-file", "-p", "ours", "base", "theirs"],
                                       scratch, env))
    return muse_s, git_s, ours_result.conflicts


def _build(root: Path, texts: tuple[bytes, bytes, bytes], tool: list[str], env: dict[str, str],
           commit: list[list[str]]) -> None:
    """base on main, theirs on feature, ours on main: the same history for either tool."""
    base, ours, theirs = texts
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()

    def run(*cmds: list[str]) -> None:
        for cmd in cmds:
            subprocess.run(cmd, cwd=root, env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    run([*tool, "init", *(["-q", "-b", "main"] if tool == ["git"] else [])])
    (root / "score.txt").write_bytes(base)
    run(*commit, [*tool, "switch", "-c", "feature"])
    (root / "score.txt").write_bytes(theirs)
    run(*commit, [*tool, "switch", "main"])
    (root / "score.txt").write_bytes(ours)
    run(*commit)


def branch_figures(scratch: Path, texts: tuple[bytes, bytes, bytes], runs: int,
                   env: dict[str, str]) -> tuple[float, float]:
    """End to end: `muse merge feature` vs `git merge feature`, reset between runs."""
    muse = [sys.executable, "-m", "muse"]
    muse_root, git_root = scratch / "muse-repo", scratch / "git-repo"
    _build(muse_root, texts, muse, env, [[*muse, "commit", "--unsigned", "-m", "c"]])
    _build(git_root, texts, ["git"], env,
           [["git", "add", "-A"], ["git", "commit", "-q", "-m", "c"]])
    start = Repository.find(muse_root).head() or ""
    samples: dict[str, list[float]] = {"muse": [], "git": []}
    for _ in range(runs):
        samples["muse"].append(timed([*muse, "merge", "--unsigned", "feature"], muse_root, env))
        subprocess.run([*muse, "reset", "--hard", start], cwd=muse_root, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        samples["git"].append(timed(["git", "merge", "-q", "--no-edit", "feature"], git_root,
                                    env))
        for cmd in (["git", "merge", "--abort"], ["git", "reset", "-q", "--hard", "ORIG_HEAD"]):
            subprocess.run(cmd, cwd=git_root, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    return statistics.median(samples["muse"]), statistics.median(samples["git"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=160_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20,000 lines, 3 runs")
    args = parser.parse_args()
    lines, runs = (20_000, 3) if args.quick else (args.lines, args.runs)
    scratch = Path(tempfile.mkdtemp(prefix="bench-merge-"))
    env = dict(os.environ)
    config = scratch / "config"
    env.update({"MUSE_CONFIG_DIR": str(config), "MUSE_AUTHOR_NAME": "Bench",
                "MUSE_AUTHOR_EMAIL": "bench@example.org", "GIT_AUTHOR_NAME": "Bench",
                "GIT_AUTHOR_EMAIL": "bench@example.org", "GIT_COMMITTER_NAME": "Bench",
                "GIT_COMMITTER_EMAIL": "bench@example.org", "GIT_CONFIG_NOSYSTEM": "1",
                "HOME": str(scratch)})
    try:
        for label, conflicts in (("clean", 0), ("50 conflicts", 50)):
            texts = versions(lines, conflicts)
            size = len(texts[0]) / (1 << 20)
            m, g, found = merge_file_figures(scratch, texts, runs, env)
            print(f"{label:13s} {lines} lines ({size:.1f} MiB): merge_texts {m:6.3f} s   "
                  f"git merge-file {g:6.3f} s   ratio {m / g:5.1f}x   ({found} conflicts)")
            bm, bg = branch_figures(scratch, texts, runs, env)
            print(f"{'':13s} end to end: muse merge {bm:6.3f} s   git merge {bg:6.3f} s   "
                  f"ratio {bm / bg:5.1f}x")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
