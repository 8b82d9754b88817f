"""`-q/--quiet` on the commands git gives one: the deed done, nothing said but errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from muse.cli import progress as progress_module
from tests.branching_support import commit, diverged, read, ref, write
from tests.remote_support import bare, ok, published


def quiet(result: Any) -> Any:
    """A successful run that printed nothing at all."""
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == "", result.output
    return result


def test_init_and_commit(muse, tmp_path):
    work = tmp_path / "song"
    work.mkdir()
    quiet(muse("init", "-q", cwd=work))
    assert (work / ".muse").is_dir()
    write(work, "song.mid", "verse")
    quiet(muse("commit", "-q", "-m", "first", cwd=work))
    assert ref(work, "refs/heads/main") is not None
    # Without -q each says what it did.
    other = tmp_path / "other"
    other.mkdir()
    assert "Initialised empty Muse repository" in ok(muse("init", cwd=other)).stdout


def test_branch_switch_reset(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "song.mid", "chorus")
    commit(muse, repo_dir, "second")
    quiet(muse("branch", "-q", "takes", first, cwd=repo_dir))
    quiet(muse("branch", "-q", "-m", "takes", "old-takes", cwd=repo_dir))
    quiet(muse("switch", "-q", "old-takes", cwd=repo_dir))
    assert read(repo_dir, "song.mid") == "verse"
    quiet(muse("switch", "-q", "main", cwd=repo_dir))
    quiet(muse("branch", "-q", "-D", "old-takes", cwd=repo_dir))
    assert ref(repo_dir, "refs/heads/old-takes") is None
    quiet(muse("reset", "-q", "--soft", first, cwd=repo_dir))  # its stderr note too
    assert ref(repo_dir, "refs/heads/main") == first
    # Listing is data, not chatter: -q does not hide it.
    assert ok(muse("branch", "-q", cwd=repo_dir)).stdout == "* main\n"


def test_merge_is_quiet_but_conflicts_still_show(muse, repo_dir):
    quiet(muse("merge", "-q", diverged(muse, repo_dir)["feature"], "-m", "merged",
               cwd=repo_dir))
    assert read(repo_dir, "bass.wav") == "bass"
    write(repo_dir, "song.mid", "ours")
    commit(muse, repo_dir, "ours")
    ok(muse("switch", "feature", cwd=repo_dir))
    write(repo_dir, "song.mid", "theirs")
    commit(muse, repo_dir, "theirs")
    ok(muse("switch", "main", cwd=repo_dir))
    stopped = muse("merge", "-q", "feature", cwd=repo_dir)
    assert stopped.exit_code == 1
    assert "CONFLICT" in stopped.stdout and "hint:" in stopped.stderr


def test_restore_rm_and_stash(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    write(repo_dir, "notes.txt", "notes")
    commit(muse, repo_dir, "first")
    write(repo_dir, "song.mid", "edited")
    quiet(muse("restore", "-q", "song.mid", cwd=repo_dir))
    assert read(repo_dir, "song.mid") == "verse"
    write(repo_dir, "song.mid", "to stash")
    quiet(muse("stash", "-q", cwd=repo_dir))
    assert read(repo_dir, "song.mid") == "verse"
    quiet(muse("stash", "pop", "-q", cwd=repo_dir))
    assert read(repo_dir, "song.mid") == "to stash"
    quiet(muse("stash", "push", "-q", cwd=repo_dir))
    quiet(muse("stash", "drop", "-q", cwd=repo_dir))
    assert ok(muse("stash", "list", cwd=repo_dir)).stdout == ""
    quiet(muse("rm", "-q", "notes.txt", cwd=repo_dir))
    assert not (repo_dir / "notes.txt").exists()


def test_push_fetch_pull_clone(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    copy = tmp_path / "copy"
    quiet(muse("clone", "-q", str(remote), str(copy), cwd=tmp_path))
    write(repo_dir, "song.mid", "chorus")
    head = commit(muse, repo_dir, "chorus")
    quiet(muse("push", "-q", cwd=repo_dir))
    quiet(muse("fetch", "-q", cwd=copy))
    assert ref(copy, "refs/remotes/origin/main") == head
    quiet(muse("pull", "-q", cwd=copy))
    assert read(copy, "song.mid") == "chorus"
    write(repo_dir, "song.mid", "bridge")
    commit(muse, repo_dir, "bridge")
    quiet(muse("push", "-q", "-u", "origin", "main", cwd=repo_dir))


def test_a_refused_push_still_shows_what_was_refused(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    copy = tmp_path / "copy"
    ok(muse("clone", str(remote), str(copy), cwd=tmp_path))
    write(copy, "song.mid", "theirs")
    commit(muse, copy, "theirs")
    ok(muse("push", cwd=copy))
    write(repo_dir, "song.mid", "ours")
    commit(muse, repo_dir, "ours")
    refused = muse("push", "-q", cwd=repo_dir)
    assert refused.exit_code == 4
    assert "[rejected]" in refused.stdout and "error:" in refused.stderr


def test_bundles(muse, repo_dir, tmp_path):
    write(repo_dir, "song.mid", "verse")
    head = commit(muse, repo_dir, "first")
    made = tmp_path / "song.bundle"
    quiet(muse("bundle", "create", "-q", str(made), "main", cwd=repo_dir))
    quiet(muse("bundle", "verify", "-q", str(made), cwd=repo_dir))
    other = tmp_path / "other"
    other.mkdir()
    ok(muse("init", cwd=other))
    quiet(muse("bundle", "unbundle", "-q", str(made), cwd=other))
    assert ref(other, "refs/heads/main") == head
    # A bad bundle is still an error under -q.
    made.write_bytes(made.read_bytes()[:-1] + bytes([made.read_bytes()[-1] ^ 1]))
    bad = muse("bundle", "verify", "-q", str(made), cwd=repo_dir)
    assert bad.exit_code == 5 and bad.stderr.startswith("error:") and bad.stdout == ""


def test_json_is_data_and_stays(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    result = ok(muse("clone", "-q", "--json", str(remote), "mine", cwd=tmp_path))
    assert json.loads(result.stdout)["head"] == head
    assert result.stderr == ""


@pytest.mark.parametrize("flags, silenced", [((), False), (("-q",), True)])
def test_quiet_transfers_draw_no_progress(muse, repo_dir, tmp_path, monkeypatch,
                                          flags: tuple[str, ...], silenced: bool):
    asked: list[bool] = []
    real = progress_module.make_progress

    def recorded(*, as_json: bool, **kwargs: Any) -> Any:
        asked.append(as_json)  # "as_json" here means: draw no bar
        return real(as_json=as_json, **kwargs)

    monkeypatch.setattr(progress_module, "make_progress", recorded)
    remote = bare(muse, tmp_path)
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first")
    ok(muse("push", *flags, str(remote), "main", cwd=repo_dir))
    ok(muse("clone", *flags, str(remote), str(tmp_path / "copy"), cwd=tmp_path))
    assert asked == [silenced, silenced]


def test_quiet_does_not_hide_a_mistake(muse, tmp_path: Path):
    result = muse("clone", "-q", str(tmp_path / "nowhere.muse"), cwd=tmp_path)
    assert result.exit_code != 0
    assert result.stderr.startswith("error:") and result.stdout == ""
