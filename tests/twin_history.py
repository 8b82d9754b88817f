"""One history built twice, in Muse and in git: same files, messages, authors, dates, shape.

Commit ids differ (different hashes), so each commit is known by its message in both:
`twin.muse_id[msg]` / `twin.git_id[msg]`. Dates are fixed and step one minute per
commit, so the newest-first walks of both tools meet commits in the same order.
"""

from __future__ import annotations

import os
import subprocess
import time
import types
from pathlib import Path

import pytest

from tests.testkit import MuseRunner

START = 1_700_000_000


class Twin:
    def __init__(self, muse: MuseRunner, base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.muse = muse
        self.m = base / "muse-side"
        self.g = base / "git-side"
        self.m.mkdir()
        self.g.mkdir()
        self.clock = START
        self.muse_id: dict[str, str] = {}
        self.git_id: dict[str, str] = {}
        # Muse takes "now" from time.time(); these modules' clocks are the fixed one.
        fake = types.SimpleNamespace(time=lambda: self.clock, localtime=time.localtime)
        monkeypatch.setattr("muse.repo.time", fake)
        monkeypatch.setattr("muse.tags.time", fake)
        self.ok("init")
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Test Musician")
        self.git("config", "user.email", "test@example.org")
        self.git("config", "commit.gpgsign", "false")
        self.git("config", "tag.gpgsign", "false")

    def ok(self, *args: str) -> str:
        result = self.muse(*args, cwd=self.m)
        assert result.exit_code == 0, result.output
        return result.stdout

    def git(self, *args: str, author: str | None = None) -> str:
        return self.git_run(*args, author=author).stdout.strip()

    def git_run(self, *args: str, author: str | None = None) -> subprocess.CompletedProcess[str]:
        """`git ARGS` on the git side, which must succeed: its stdout and stderr."""
        env = dict(os.environ, GIT_AUTHOR_DATE=f"{self.clock} +0000",
                   GIT_COMMITTER_DATE=f"{self.clock} +0000", TZ="UTC",
                   GIT_CONFIG_NOSYSTEM="1", HOME=str(self.g))
        if author:
            env["GIT_AUTHOR_NAME"] = author
        done = subprocess.run(["git", *args], cwd=self.g, env=env, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done

    def tick(self) -> None:
        self.clock += 60

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            for side in (self.m, self.g):
                (side / name).write_text(text)

    def commit(self, message: str, files: dict[str, str]) -> None:
        self.tick()
        self.write(files)
        self.ok("commit", "-q", "--unsigned", "-m", message)
        self.muse_id[message] = self.ok("rev-parse", "HEAD").strip()
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git_id[message] = self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.ok("branch", name, start)
        self.git("branch", name, start)

    def switch(self, name: str) -> None:
        self.ok("switch", name)
        self.git("checkout", "-q", name)

    def merge(self, other: str, message: str) -> None:
        self.tick()
        self.ok("merge", "--no-ff", "--unsigned", "-m", message, other)
        self.muse_id[message] = self.ok("rev-parse", "HEAD").strip()
        self.git("merge", "-q", "--no-ff", "-m", message, other)
        self.git_id[message] = self.git("rev-parse", "HEAD")

    def tag(self, name: str, *, annotated: bool = True, target: str = "HEAD") -> None:
        self.tick()
        if annotated:
            self.ok("tag", "-a", "--unsigned", name, target, "-m", f"release {name}")
            self.git("tag", "-a", name, target, "-m", f"release {name}")
        else:
            self.ok("tag", name, target)
            self.git("tag", name, target)
