"""`muse init` over an existing repository: re-initialised as git does it, touching nothing
but missing standard folders; over a repository of the other kind, refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.testkit import MuseRunner, changes_nothing, tree_state


@pytest.fixture
def committed(muse: MuseRunner, repo_dir: Path) -> Path:
    (repo_dir / "song.mid").write_bytes(b"MThd one")
    assert muse("commit", "-m", "one", cwd=repo_dir).exit_code == 0
    assert muse("tag", "v1", cwd=repo_dir).exit_code == 0
    assert muse("config", "core.editor", "nano", cwd=repo_dir).exit_code == 0
    return repo_dir


def _folders(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


def test_init_in_a_repository_reinitialises_it_changing_nothing(
        muse: MuseRunner, committed: Path) -> None:
    (committed / "draft.txt").write_text("not committed")
    folders = _folders(committed)
    res = changes_nothing(muse, committed, "init", exit_code=0)
    assert res.stdout == f"Reinitialised existing Muse repository in {committed / '.muse'}\n"
    assert res.stderr == ""
    assert _folders(committed) == folders
    assert muse("log", "--oneline", cwd=committed).stdout.endswith(" one\n")


def test_init_recreates_missing_standard_folders_only(muse: MuseRunner,
                                                      committed: Path) -> None:
    muse_dir = committed / ".muse"
    for gone in ("tmp", "refs/remotes", "logs"):
        shutil.rmtree(muse_dir / gone)
    before = tree_state(committed)  # every file: refs, HEAD, config, objects, packs
    res = muse("init", str(committed), cwd=committed.parent)
    assert res.exit_code == 0, res.output
    assert res.stdout == f"Reinitialised existing Muse repository in {muse_dir}\n"
    assert tree_state(committed) == before  # byte for byte; no file added or changed
    for made in ("tmp", "refs/remotes", "logs"):
        assert (muse_dir / made).is_dir() and not any((muse_dir / made).iterdir())
    assert muse("verify", cwd=committed).exit_code == 0


def test_reinit_ignores_another_initial_branch_and_obeys_quiet(muse: MuseRunner,
                                                               committed: Path) -> None:
    res = changes_nothing(muse, committed, "init", "-b", "dev", exit_code=0)
    assert res.stderr == "warning: re-init: ignored --initial-branch=dev\n"
    assert (committed / ".muse/HEAD").read_text() == "ref: refs/heads/main\n"
    quiet = changes_nothing(muse, committed, "init", "-q", exit_code=0)
    assert quiet.output == ""


def test_init_bare_in_a_bare_repository_reinitialises_it(muse: MuseRunner,
                                                         tmp_path: Path) -> None:
    remote = tmp_path / "song.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    (remote / "tmp").rmdir()
    before = tree_state(remote)
    for cwd, args in ((tmp_path, ("init", "--bare", str(remote))), (remote, ("init", "--bare"))):
        res = muse(*args, cwd=cwd)
        assert res.exit_code == 0, res.output
        assert res.stdout == f"Reinitialised existing Muse bare repository in {remote}\n"
        assert tree_state(remote) == before and (remote / "tmp").is_dir()


def test_init_bare_over_a_working_repository_is_refused(muse: MuseRunner,
                                                        committed: Path) -> None:
    folders = _folders(committed)
    for args in (("init", "--bare"), ("init", "--bare", ".")):
        res = changes_nothing(muse, committed, *args, exit_code=3)
        assert res.stderr.startswith(f"error: {committed} is a repository with a working "
                                     "tree: it cannot be re-initialised as a bare one\nhint: ")
        assert "without --bare" in res.stderr
    assert _folders(committed) == folders


def test_init_over_a_bare_repository_is_refused(muse: MuseRunner, tmp_path: Path) -> None:
    remote = tmp_path / "song.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    for cwd, args in ((remote, ("init",)), (tmp_path, ("init", str(remote)))):
        res = changes_nothing(muse, cwd, *args, exit_code=3, root=tmp_path)
        assert res.stderr.startswith(f"error: {remote} is a bare repository: it has no "
                                     "working tree to re-initialise\nhint: run `muse init "
                                     "--bare` there")
    assert not (remote / ".muse").exists()


def test_init_bare_over_a_foreign_head_is_refused(muse: MuseRunner, tmp_path: Path) -> None:
    """A folder with a HEAD that is not Muse's (a git bare repository) is not taken for one."""
    other = tmp_path / "other.git"
    other.mkdir()
    (other / "HEAD").write_text("ref: refs/heads/master\n")
    res = changes_nothing(muse, other, "init", "--bare", ".", exit_code=3)
    assert "holds a HEAD that is not a Muse bare repository's" in res.stderr


def test_a_file_where_a_standard_folder_goes_is_refused(muse: MuseRunner,
                                                        committed: Path) -> None:
    shutil.rmtree(committed / ".muse/tmp")
    shutil.rmtree(committed / ".muse/logs")
    (committed / ".muse/tmp").write_text("in the way")
    res = changes_nothing(muse, committed, "init", exit_code=3)
    assert res.stderr.startswith(f"error: {committed / '.muse/tmp'} is not a folder\n")
    assert not (committed / ".muse/logs").exists()  # nothing made before the refusal

