"""Helpers the tests share: run `muse` in-process or as a process, and snapshot a tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from muse.cli import cli


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class MuseRunner:
    """Runs muse in-process (fast) or as a real subprocess (for kills and races)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(self, *args: str, cwd: Path, input: bytes | None = None) -> Result:
        runner = CliRunner()
        old = Path.cwd()
        os.chdir(cwd)
        try:
            res = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        finally:
            os.chdir(old)
        return Result(res.exit_code, res.stdout, res.stderr)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MUSE_CONFIG_DIR"] = str(self.home)
        return env

    def popen(self, *args: str, cwd: Path, **kw: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "muse", *args], cwd=cwd,
                                env=self.env(), **kw)  # type: ignore[call-overload,no-any-return]

    def proc(self, *args: str, cwd: Path, input: bytes | None = None,
             timeout: float = 120) -> Result:
        done = subprocess.run([sys.executable, "-m", "muse", *args], cwd=cwd, env=self.env(),
                              input=input, capture_output=True, timeout=timeout)
        return Result(done.returncode, done.stdout.decode(errors="replace"),
                      done.stderr.decode(errors="replace"))


def tree_state(path: Path) -> dict[str, bytes]:
    """Every file under `path` (the .muse dir included) with its bytes: for "nothing changed"."""
    state = {}
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            full = Path(dirpath) / name
            if full.name == "index" and full.parent.name == ".muse":
                continue  # the stat cache is advisory and may be refreshed by reads
            state[str(full.relative_to(path))] = full.read_bytes()
    return state


def changes_nothing(muse: MuseRunner, cwd: Path, *args: str, exit_code: int,
                    root: Path | None = None) -> Result:
    """Run `muse ARGS` in `cwd`: it must exit with `exit_code`, print no traceback and
    leave every byte under `root` (default `cwd`) as it was. Returns the result."""
    watched = root or cwd
    before = tree_state(watched)
    result = muse(*args, cwd=cwd)
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    assert tree_state(watched) == before
    return result


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """End a server the tests started (by its PID): SIGTERM, then SIGKILL after `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
