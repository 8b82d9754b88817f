"""The filesystem remote's failures: each a clear RemoteError (exit 6), and nothing changed."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from muse.errors import RemoteError, UsageError
from muse.remote_registry import known_schemes, open_remote
from muse.remote_wrappers import connect
from muse.repo import Repository
from muse.transfer import clone, push
from remotes.bucket import encode_refs_doc
from remotes.bundlefile import BundleFileRemote
from remotes.fs import FsRemote
from tests.remotes.remote_support import MAIN, commit_files, new_repo, tree_state


def _push(repo: Repository, url: str) -> object:
    return push(repo, connect(url, retries=1), [(MAIN, MAIN)])


def test_unknown_scheme_lists_the_known_drivers() -> None:
    with pytest.raises(RemoteError) as caught:
        open_remote("gopher://example.org/song")
    assert caught.value.exit_code == 6
    assert "unknown remote scheme 'gopher'" in caught.value.message
    assert caught.value.hint is not None and "file" in caught.value.hint
    assert "file" in known_schemes()


def test_missing_path_is_no_muse_remote_and_is_not_created(tmp_path: Path,
                                                           local: Repository) -> None:
    missing = tmp_path / "nowhere" / "remote.muse"
    for attempt in (lambda: connect(str(missing)).list_refs(),
                    lambda: _push(local, str(missing))):
        with pytest.raises(RemoteError) as caught:
            attempt()
        assert caught.value.exit_code == 6
        assert caught.value.message == f"no Muse remote at {missing}"
        assert caught.value.hint is not None and f"muse init --bare {missing}" in caught.value.hint
    assert not (tmp_path / "nowhere").exists()


def test_a_path_below_a_regular_file_is_unreachable(tmp_path: Path, local: Repository) -> None:
    (tmp_path / "plain.txt").write_text("not a directory")
    url = str(tmp_path / "plain.txt" / "remote")
    with pytest.raises(RemoteError, match="no Muse remote at"):
        _push(local, url)
    assert (tmp_path / "plain.txt").read_text() == "not a directory"


def test_a_regular_file_is_not_a_remote(tmp_path: Path, local: Repository) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(RemoteError, match="is a file, not a Muse remote") as caught:
        connect(str(tmp_path / "notes.txt")).list_refs()
    assert caught.value.exit_code == 6


def test_a_directory_of_other_files_is_not_a_muse_remote(tmp_path: Path,
                                                         local: Repository) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    before = tree_state(other)
    with pytest.raises(RemoteError, match="is not a Muse remote") as caught:
        _push(local, str(other))
    assert caught.value.exit_code == 6
    assert tree_state(other) == before


def test_a_working_repository_can_be_cloned_but_not_pushed_to(tmp_path: Path,
                                                              local: Repository) -> None:
    other = new_repo(tmp_path / "other")
    commit_files(other, {"theirs.mid": b"theirs"}, "theirs")
    assert other.root is not None
    before = tree_state(other.root)
    with pytest.raises(RemoteError, match="fetch-only: it can be fetched") as caught:
        _push(local, str(other.root))
    assert caught.value.exit_code == 6
    with pytest.raises(RemoteError, match="working repository, not a bare remote"):
        FsRemote(other.root).push(None, [])
    assert tree_state(other.root) == before
    assert FsRemote(other.root).list_refs() == {MAIN: other.head()}
    copy = clone(str(other.root), tmp_path / "copy")
    assert copy.head() == other.head()
    assert tree_state(other.root) == before  # reading a working repository changes nothing


def test_an_empty_directory_becomes_a_remote_on_first_push(tmp_path: Path,
                                                           local: Repository) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert connect(str(empty)).list_refs() == {}
    assert list(empty.iterdir()) == []  # reading does not create anything
    _push(local, str(empty))
    assert Repository.open_bare(empty).is_bare
    assert connect(str(empty)).list_refs() == {MAIN: local.head()}
    assert connect(f"file://{empty}").list_refs() == {MAIN: local.head()}


@pytest.mark.parametrize("damage", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"format": "muse-remote-refs", "version": 2, "refs": {}}).encode(),
     "expected exactly the keys"),
    (encode_refs_doc({MAIN: "ab" * 32}).replace(b"abab", b"abac", 1), "checksum mismatch"),
    (encode_refs_doc({}).replace(b'"version": 2', b'"version": 9'), "version 9"),
    (encode_refs_doc({"refs/heads/a b": "ab" * 32}), "invalid ref name"),
    (encode_refs_doc({}, {"ab" * 32: ["zz"]}), "is malformed"),
    # Nesting deep enough to exhaust the JSON parser's recursion is damage, not a crash.
    (b"[" * 200_000 + b"]" * 200_000, "not valid JSON"),
], ids=["json", "schema", "checksum", "version", "name", "pack", "nested"])
def test_a_corrupt_refs_document_is_named_and_nothing_changes(
        tmp_path: Path, local: Repository, damage: tuple[bytes, str]) -> None:
    raw, why = damage
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    (remote / "refs.json").write_bytes(raw)
    before = tree_state(remote)
    for attempt in (lambda: connect(str(remote)).list_refs(), lambda: _push(local, str(remote))):
        with pytest.raises(RemoteError) as caught:
            attempt()
        assert caught.value.exit_code == 6 and caught.value.code == "remote-corrupt"
        assert f"refs document {remote / 'refs.json'} is corrupt" in caught.value.message
        assert why in caught.value.message
    assert tree_state(remote) == before


def test_permission_denied_is_translated_at_the_edge(tmp_path: Path, local: Repository) -> None:
    """The driver's own edge: an OS PermissionError injected where the directory is opened."""
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    before = tree_state(remote)

    def deny(point: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(remote / "HEAD"))

    with pytest.raises(RemoteError) as caught:
        push(local, FsRemote(remote, hook=deny), [(MAIN, MAIN)])
    assert caught.value.exit_code == 6
    assert caught.value.message.startswith(f"permission denied on the remote at {remote}")
    assert caught.value.hint is not None and "check that you may read" in caught.value.hint
    assert tree_state(remote) == before


@pytest.fixture
def world_reachable_dir() -> Iterator[Path]:
    # pytest's tmp_path lives under a 0700 root-owned directory: an unprivileged user
    # could not even reach it, which would hide the case being tested.
    path = Path(tempfile.mkdtemp(prefix="muse-perm-"))
    os.chmod(path, 0o755)
    yield path
    import shutil

    os.chmod(path, 0o755)
    for child in path.iterdir():
        os.chmod(child, 0o755)
    shutil.rmtree(path)


PROBE = """
import os, sys
from muse.errors import MuseError
from remotes.fs import FsRemote  # imported first: `nobody` cannot read root's Python install
if os.getuid() == 0:
    os.setgid(65534)
    os.setuid(65534)  # root ignores mode bits: become `nobody` so chmod 000 applies
try:
    FsRemote(sys.argv[1]).list_refs()
    print("listed")
except MuseError as exc:
    print(type(exc).__name__, exc.exit_code, exc.message, "|", exc.hint)
"""


def test_a_real_unreadable_directory_is_permission_denied(world_reachable_dir: Path,
                                                          muse_home: Path) -> None:
    remote = world_reachable_dir / "remote.muse"
    Repository.init(remote, bare=True)
    os.chmod(remote, 0o000)
    done = subprocess.run([sys.executable, "-c", PROBE, str(remote)], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"RemoteError 6 permission denied on the remote at {remote}")
    assert "check that you may read" in done.stdout


def test_a_bundle_file_can_be_cloned_but_not_pushed_to(tmp_path: Path,
                                                       local: Repository) -> None:
    from muse.bundle import plan_bundle, write_bundle

    head = local.head()
    assert head is not None
    plan = plan_bundle(local.graph, {MAIN: head}, [head], [])
    path = tmp_path / "song.bundle"
    with open(path, "wb") as out:
        write_bundle(local.store, plan, out)
    driver = open_remote(str(path))
    assert isinstance(driver, BundleFileRemote)
    assert driver.list_refs() == {MAIN: head}
    copy = clone(str(path), tmp_path / "copy")
    assert copy.head() == head
    commit_files(local, {"more.mid": b"more"}, "more")
    with pytest.raises(RemoteError, match="fetch-only"):
        _push(local, str(path))
    with pytest.raises(RemoteError, match="bundle file"):
        driver.push(None, [])


def test_a_file_url_naming_another_host_is_refused() -> None:
    with pytest.raises(RemoteError, match="names another host"):
        open_remote("file://elsewhere/srv/song")


def test_clone_refuses_a_non_empty_destination_and_leaves_it_alone(tmp_path: Path,
                                                                   local: Repository) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    _push(local, str(remote))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not an empty directory"):
        clone(str(remote), dest)
    assert tree_state(dest) == {"keep.txt": b"mine"}


def test_a_failed_clone_into_an_empty_directory_empties_it_again(tmp_path: Path,
                                                                 muse_home: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(RemoteError, match="no Muse remote"):
        clone(str(tmp_path / "missing"), dest)
    assert dest.is_dir() and list(dest.iterdir()) == []


def test_a_remote_on_a_read_only_filesystem_says_so_and_keeps_its_state(
        tmp_path: Path, local: Repository) -> None:
    """EROFS (a USB stick or a share mounted read-only) was "filesystem error … Read-only
    file system" with no hint. A test cannot mount read-only without privileges, so the
    driver's edge gets the OSError the kernel would give where the push first writes."""
    remote = tmp_path / "stick.muse"
    Repository.init(remote, bare=True)
    before = tree_state(remote)

    def read_only(point: str) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(remote / "tmp"))

    with pytest.raises(RemoteError) as caught:
        push(local, FsRemote(remote, hook=read_only), [(MAIN, MAIN)])
    assert caught.value.exit_code == 6
    assert caught.value.message == f"the remote at {remote} is on a read-only filesystem"
    assert caught.value.hint is not None and "fetched and cloned from" in caught.value.hint
    assert tree_state(remote) == before


def test_a_remote_missing_a_pack_points_at_muse_verify(tmp_path: Path,
                                                       local: Repository) -> None:
    """The hint named `muse fsck`, a command Muse does not have."""
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    _push(local, str(remote))
    for pack in (remote / "packs").glob("*.bundle"):
        pack.unlink()
    with pytest.raises(RemoteError, match="is incomplete") as caught:
        clone(str(remote), tmp_path / "copy")
    assert caught.value.hint == f"see what is missing: cd {remote} && muse verify"
    assert not (tmp_path / "copy").exists()
