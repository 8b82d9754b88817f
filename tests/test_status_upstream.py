"""`muse status` says how the branch stands against its upstream (as of the last fetch)."""

from __future__ import annotations

import json

from tests.branching_support import commit, repo, write
from tests.remote_support import clone_of, ok, published
from tests.testkit import changes_nothing


def upstream(muse, where):
    return json.loads(ok(muse("status", "--json", cwd=where)).stdout)["upstream"]


def test_up_to_date_ahead_behind_and_diverged(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    other = clone_of(muse, remote, tmp_path, "other")
    assert upstream(muse, repo_dir) == {"name": "origin/main", "ref": "refs/remotes/origin/main",
                                        "ahead": 0, "behind": 0, "gone": False}
    assert "Your branch is up to date with 'origin/main'." in \
        ok(muse("status", cwd=repo_dir)).stdout
    for n in range(2):
        write(repo_dir, "song.mid", f"take {n}")
        commit(muse, repo_dir, f"take {n}")
    assert upstream(muse, repo_dir)["ahead"] == 2
    assert "Your branch is ahead of 'origin/main' by 2 commits." in \
        ok(muse("status", cwd=repo_dir)).stdout
    ok(muse("push", cwd=repo_dir))
    assert upstream(muse, repo_dir)["ahead"] == 0
    # The clone learns of the new commits only by fetching: status never connects.
    assert upstream(muse, other)["behind"] == 0
    ok(muse("fetch", cwd=other))
    assert (upstream(muse, other)["ahead"], upstream(muse, other)["behind"]) == (0, 2)
    assert "is behind 'origin/main' by 2 commits, and can be fast-forwarded" in \
        ok(muse("status", cwd=other)).stdout
    write(other, "bass.wav", "bass")
    commit(muse, other, "bass")
    assert (upstream(muse, other)["ahead"], upstream(muse, other)["behind"]) == (1, 2)
    assert "have diverged, and have 1 and 2 different commits each" in \
        ok(muse("status", cwd=other)).stdout


def test_no_upstream_and_gone_upstream(muse, repo_dir, tmp_path):
    write(repo_dir, "a.txt", "a")
    commit(muse, repo_dir, "one")
    assert upstream(muse, repo_dir) is None
    assert "Your branch" not in ok(muse("status", cwd=repo_dir)).stdout
    cfg = repo(repo_dir).config
    cfg.set("branch.main.remote", "origin")
    cfg.set("branch.main.merge", "refs/heads/main")
    assert upstream(muse, repo_dir)["gone"] is True
    assert "but the upstream is gone" in ok(muse("status", cwd=repo_dir)).stdout
    # A hand-edited setting no ref can match is not compared, and breaks nothing.
    cfg.set("branch.main.remote", "../../etc")
    result = changes_nothing(muse, repo_dir, "status", "--json", exit_code=0)
    assert json.loads(result.stdout)["upstream"] is None


def test_detached_head_has_no_upstream(muse, repo_dir, tmp_path):
    published(muse, repo_dir, tmp_path)
    ok(muse("switch", "--detach", "HEAD", cwd=repo_dir))
    assert upstream(muse, repo_dir) is None


STATUS_MODULES = """
import sys
from muse.cli import cli
try:
    cli.main(["status"], prog_name="muse", standalone_mode=False)
except SystemExit:
    pass
print("REGISTRY=" + str("muse.remote_registry" in sys.modules))
"""


def test_status_with_an_upstream_loads_no_driver_registry(muse, repo_dir, tmp_path):
    import subprocess
    import sys

    published(muse, repo_dir, tmp_path)
    done = subprocess.run([sys.executable, "-c", STATUS_MODULES], cwd=repo_dir,
                          env=muse.env(), capture_output=True, text=True, timeout=60)
    assert "is up to date with 'origin/main'" in done.stdout, done.stderr
    assert "REGISTRY=False" in done.stdout
