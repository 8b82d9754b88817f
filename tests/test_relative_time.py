"""`%ar`: relative dates worded and rounded as git words and rounds them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from muse.display import relative_time

# Ages in seconds, each well inside one of git's steps (a test run takes seconds).
AGES = [5, 600, 5 * 3600, 3 * 86400, 20 * 86400, 100 * 86400, 400 * 86400, 800 * 86400,
        365 * 86400 + 200 * 86400, 3000 * 86400]


def test_relative_times_match_gits(tmp_path: Path) -> None:
    now = int(time.time())
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.org",
           "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.org"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    for age in AGES:
        stamp = f"@{now - age} +0000"
        subprocess.run(["git", "-C", str(tmp_path), "commit", "-q", "--allow-empty",
                        "-m", str(age)], check=True,
                       env={**env, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    shown = subprocess.run(["git", "-C", str(tmp_path), "log", "--format=%s|%ar"], check=True,
                           env=env, capture_output=True, text=True).stdout.splitlines()
    gits = dict(line.split("|") for line in shown)
    ours = {str(age): relative_time(now - age, int(time.time())) for age in AGES}
    assert ours == gits


def test_singular_units_and_the_future() -> None:
    assert relative_time(1000 - 1, 1000) == "1 second ago"
    assert relative_time(0, 86400 * 366) == "1 year ago"
    assert relative_time(0, 86400 * (365 + 45)) == "1 year, 1 month ago"
    assert relative_time(2000, 1000) == "in the future"
