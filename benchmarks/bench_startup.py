"""Start-up: `muse status`, `muse log` against `git status`, `git log`; small and 10,000 files.

Run:  .venv/bin/python benchmarks/bench_startup.py [--runs 21] [--files 10000] [--imports]

Targets: on a small tree, `status` and `log` under 0.1 s and at most 4x git.
Every figure is a whole process, the median of several interleaved runs (muse,
git, muse, git…, so a busy neighbour slows both alike), on identical trees in
the same run. Muse is timed as a user has it: built and installed from this
tree into a scratch environment (not the editable install, whose import hook
alone costs some 12 ms of every start-up), run from compiled bytecode through
its `muse` script. `--editable` times the development install instead. `--imports` also prints the
slowest imports of one `muse status` (`python -X importtime`). Not a test:
nothing asserts, it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench_local import build_tree

ROOT = Path(__file__).resolve().parent.parent
MUSE = [str(Path(sys.executable).parent / "muse")]
SECONDS_TARGET = 0.1
RATIO_TARGET = 4.0


def install_copy(scratch: Path) -> list[str]:
    """This tree installed as a user installs it, in a scratch environment; its `muse`."""
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    # The dependencies, by path: this environment's own .pth files (the editable
    # install's import hook among them) are not run from a path listed this way.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(ROOT)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    script = venv / "bin" / "muse"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                      "from muse.__main__ import run\nsys.exit(run())\n")
    script.chmod(0o755)
    return [str(script)]


def muse_python() -> str:
    """The interpreter the timed `muse` runs on (beside its script, as a venv has it)."""
    beside = Path(MUSE[0]).parent / "python"
    return str(beside) if beside.exists() else sys.executable


def environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed Muse runs from bytecode
    env.pop("MUSE_AUTHOR_NAME", None)
    env.pop("MUSE_CONFIG_DIR", None)
    env.update({
        # The config where a user's is (XDG), not MUSE_CONFIG_DIR: finding it is start-up too.
        "XDG_CONFIG_HOME": str(scratch / "xdg-config"), "CI": "1",
        "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.org",
        "GIT_CONFIG_GLOBAL": str(scratch / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
    })
    (scratch / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    run(cmd, cwd, env)
    return time.perf_counter() - start


def make_repos(root: Path, files: int, commits: int, env: dict[str, str]) -> None:
    """The same tree and history in a Muse and a git repository (one folder each)."""
    for kind in ("muse", "git"):
        tree = root / kind
        build_tree(tree, files)
        run([*MUSE, "init"] if kind == "muse" else ["git", "init", "-q"], tree, env)
        for i in range(commits):
            (tree / "notes.txt").write_text(f"take {i}\n")
            if kind == "muse":
                run([*MUSE, "commit", "-m", f"take {i}"], tree, env)
            else:
                run(["git", "add", "-A"], tree, env)
                run(["git", "commit", "-q", "-m", f"take {i}"], tree, env)
        # Warm both: the first status after a commit may refresh a cache.
        run([*MUSE, "status"] if kind == "muse" else ["git", "status"], tree, env)


def compare(root: Path, verb: str, runs: int, env: dict[str, str]) -> tuple[float, float]:
    muse_times, git_times = [], []
    for _ in range(runs):
        muse_times.append(timed([*MUSE, verb], root / "muse", env))
        git_times.append(timed(["git", verb], root / "git", env))
    return statistics.median(muse_times), statistics.median(git_times)


def slowest_imports(tree: Path, env: dict[str, str], count: int = 12) -> list[str]:
    done = subprocess.run([muse_python(), "-X", "importtime", "-m", "muse", "status"],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, self_us, total_us, name = (part.strip() for part in
                                      line.replace("import time:", "|").split("|"))
        if self_us.isdigit():
            rows.append((int(total_us), int(self_us), name))
    return [f"  {total / 1000:6.1f} ms total {own / 1000:6.1f} ms self  {name}"
            for total, own, name in sorted(rows, reverse=True)[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs per figure (median)")
    parser.add_argument("--files", type=int, default=10_000, help="files in the large tree")
    parser.add_argument("--imports", action="store_true", help="print the slowest imports")
    parser.add_argument("--muse", help="another `muse` executable to time (an older build)")
    parser.add_argument("--editable", action="store_true",
                        help="time this environment's (editable) install, not a built copy")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "muse"),
                    str(ROOT / "remotes")], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="muse-bench-startup-") as tmp:
        scratch = Path(tmp)
        if args.muse:
            MUSE[:] = [args.muse]
        elif not args.editable:
            MUSE[:] = install_copy(scratch)
        env = environment(scratch)
        for setting in (["user.name", "Bench"], ["user.email", "bench@example.org"]):
            run([*MUSE, "config", "--global", *setting], scratch, env)
        run([*MUSE, "keys", "generate"], scratch, env)
        git_version = subprocess.run(["git", "--version"], capture_output=True,
                                     text=True).stdout.strip()
        python_alone = statistics.median(timed([muse_python(), "-c", "pass"], scratch, env)
                                         for _ in range(args.runs))
        print(f"python {sys.version.split()[0]} ({python_alone * 1000:.1f} ms to start "
              f"and exit), {git_version}, {os.cpu_count()} CPUs, median of {args.runs}")
        print(f"{'operation':<34} {'muse':>9} {'git':>9} {'ratio':>7}  target")
        for label, files, commits in (("small tree (20 files, 5 commits)", 20, 5),
                                      (f"{args.files} files, unchanged", args.files, 1)):
            root = scratch / f"tree-{files}"
            make_repos(root, files, commits, env)
            for verb in ("status", "log"):
                m, g = compare(root, verb, args.runs, env)
                small = files == 20
                ok = (m < SECONDS_TARGET and m <= RATIO_TARGET * g) if small else None
                target = ("ok" if ok else "MISSED") if small else "-"
                print(f"{verb + ', ' + label:<34} {m * 1000:7.1f}ms {g * 1000:7.1f}ms "
                      f"{m / g:6.1f}x  {target}", flush=True)
            if args.imports and files == 20:
                print("slowest imports of one `muse status` (cumulative):")
                print("\n".join(slowest_imports(root / "muse", env)))


if __name__ == "__main__":
    main()
