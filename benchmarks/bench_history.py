"""History benchmarks: `REF@{N}` and `reflog -n` on a long reflog, and `status` with an
upstream to compare against, each against git in the same run.

Run:  .venv/bin/python benchmarks/bench_history.py [--quick]

The reflog is written directly (200,000 moves between two real commits, in each tool's
own line format), so what is timed is reading it back: Muse reads it backwards in blocks,
so `main@{1}` should cost the same whatever the log's length, as git's does. Every figure
is a whole process, median of several runs. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from bench_local import Tools, median_of, timed


def _run(cmd: list[str], cwd: Path, tools: Tools) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=tools.env, check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


def make_repos(scratch: Path, tools: Tools) -> dict[str, tuple[Path, list[str]]]:
    """One Muse and one git repository, each with two commits: (path, [first, second])."""
    made = {}
    for kind in ("muse", "git"):
        root = scratch / kind
        root.mkdir()
        init = tools.muse_cmd("init") if kind == "muse" else ["git", "init", "-q"]
        _run(init, root, tools)
        ids = []
        for n in range(2):
            (root / "song.mid").write_text(f"take {n}\n")
            if kind == "muse":
                _run(tools.muse_cmd("commit", "-m", f"take {n}"), root, tools)
                ids.append(_run(tools.muse_cmd("rev-parse", "HEAD"), root, tools))
            else:
                _run(["git", "add", "-A"], root, tools)
                _run(["git", "commit", "-q", "-m", f"take {n}"], root, tools)
                ids.append(_run(["git", "rev-parse", "HEAD"], root, tools))
        made[kind] = (root, ids)
    return made


def write_long_reflogs(made: dict[str, tuple[Path, list[str]]], moves: int) -> None:
    """`moves` lines alternating between the two commits, in each tool's format."""
    for kind, (root, ids) in made.items():
        path = root / (".muse" if kind == "muse" else ".git") / "logs/refs/heads/main"
        with open(path, "w", encoding="utf-8") as out:
            for n in range(moves):
                old, new = ids[n % 2], ids[(n + 1) % 2]
                if kind == "muse":
                    out.write(f"{old} {new} {1_700_000_000 + n} Bench <bench@example.org>"
                              f"\treset: moving {n}\n")
                else:
                    out.write(f"{old} {new} Bench <bench@example.org> {1_700_000_000 + n} "
                              f"+0000\treset: moving {n}\n")


def add_upstreams(made: dict[str, tuple[Path, list[str]]], tools: Tools) -> None:
    """Point main's upstream at a tracking ref one commit behind it: status compares."""
    for kind, (root, ids) in made.items():
        if kind == "muse":
            ref = root / ".muse/refs/remotes/origin/main"
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(ids[0] + "\n")
            for key, value in (("branch.main.remote", "origin"),
                               ("branch.main.merge", "refs/heads/main")):
                _run(tools.muse_cmd("config", key, value), root, tools)
        else:
            _run(["git", "update-ref", "refs/remotes/origin/main", ids[0]], root, tools)
            _run(["git", "config", "branch.main.remote", "origin"], root, tools)
            _run(["git", "config", "branch.main.merge", "refs/heads/main"], root, tools)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Fewer moves and runs.")
    args = parser.parse_args()
    moves, runs = (20_000, 3) if args.quick else (200_000, 7)
    with tempfile.TemporaryDirectory(prefix="muse-bench-history-") as tmp:
        scratch = Path(tmp)
        tools = Tools(scratch)
        made = make_repos(scratch, tools)
        write_long_reflogs(made, moves)
        add_upstreams(made, tools)
        commands = {
            "rev-parse HEAD (start-up, no reflog)": (
                tools.muse_cmd("rev-parse", "HEAD"), ["git", "rev-parse", "HEAD"]),
            f"rev-parse main@{{1}} ({moves:,} moves)": (
                tools.muse_cmd("rev-parse", "main@{1}"), ["git", "rev-parse", "main@{1}"]),
            "reflog main -n 10": (
                tools.muse_cmd("reflog", "main", "-n", "10"),
                ["git", "--no-pager", "reflog", "-n", "10", "main"]),
            "status, ahead of upstream by 1": (
                tools.muse_cmd("status"), ["git", "status"]),
        }
        print(f"{'command':<40} {'muse':>8} {'git':>8} {'ratio':>7}")
        for label, pair in commands.items():
            muse_s, git_s = (median_of(runs, lambda _, c=cmd, r=made[kind][0]:
                                       timed(c, r, tools.env))
                             for kind, cmd in zip(("muse", "git"), pair, strict=True))
            print(f"{label:<40} {muse_s:>7.3f}s {git_s:>7.3f}s {muse_s / git_s:>6.1f}x")


if __name__ == "__main__":
    main()
