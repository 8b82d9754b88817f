"""Trusted signers: `muse keys trust`, the untrusted status, and receiving that demands trust."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from muse.config import user_config
from muse.keys import generate_key, sign_commit
from muse.trust import trust_status, trusted_dir, trusted_set
from tests.bundle_craft import valid_parts
from tests.bundle_repos import commit_files, make_repo
from tests.testkit import MuseRunner, changes_nothing, tree_state


def _stranger_key() -> tuple[str, str]:
    """A key that is not the user's own default (fingerprint, public hex)."""
    info = generate_key(make_default=False)
    # A second key of the user's own would be trusted as "own": make it a stranger's.
    pub = info.public_key.hex()
    info.path.unlink()
    info.path.with_suffix(".pub").unlink()
    return info.fingerprint, pub


def test_own_keys_are_trusted_and_others_are_not(muse_home: Path) -> None:
    _, _, commit = valid_parts()
    mine = sign_commit(commit)
    stranger = generate_key(make_default=False)
    theirs = sign_commit(commit, stranger)
    stranger.path.unlink()
    stranger.path.with_suffix(".pub").unlink()
    trusted = trusted_set()
    assert trust_status(mine, trusted) == "good"
    assert trust_status(theirs, trusted) == "untrusted"
    assert trust_status(commit, trusted) == "unsigned"


def test_trust_and_untrust_a_key(muse: MuseRunner, tmp_path: Path) -> None:
    fp, pub = _stranger_key()
    done = muse("keys", "trust", pub, "--name", "Bea (drums)", cwd=tmp_path)
    assert done.exit_code == 0, done.output
    assert fp in done.stdout
    listed = json.loads(muse("keys", "trust", "--json", cwd=tmp_path).stdout)
    assert [(k["fingerprint"], k["name"], k["own"]) for k in listed if not k["own"]] == [
        (fp, "Bea (drums)", False)]
    assert any(k["own"] for k in listed)
    assert bytes.fromhex(pub) in trusted_set()
    assert muse("keys", "untrust", fp[:8], cwd=tmp_path).exit_code == 0
    assert bytes.fromhex(pub) not in trusted_set()


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, "00" * 31, "00" * 32 + "00"])
def test_a_malformed_key_is_refused(muse: MuseRunner, tmp_path: Path, bad: str) -> None:
    result = changes_nothing(muse, tmp_path, "keys", "trust", bad, exit_code=2,
                             root=muse.home)
    assert "not an Ed25519 public key" in result.output


def test_a_name_with_escapes_is_refused(muse: MuseRunner, tmp_path: Path) -> None:
    _, pub = _stranger_key()
    result = changes_nothing(muse, tmp_path, "keys", "trust", pub, "--name", "x\x1b[2J",
                             exit_code=2, root=muse.home)
    assert "one printable line" in result.output


def test_own_keys_cannot_be_untrusted(muse: MuseRunner, tmp_path: Path) -> None:
    own = json.loads(muse("keys", "list", "--json", cwd=tmp_path).stdout)[0]["fingerprint"]
    result = changes_nothing(muse, tmp_path, "keys", "untrust", own, exit_code=2,
                             root=muse.home)
    assert "always trusted" in result.output


def test_a_damaged_trusted_key_file_is_a_config_error(muse: MuseRunner, tmp_path: Path) -> None:
    fp, _ = _stranger_key()
    trusted_dir().mkdir(parents=True)
    (trusted_dir() / f"{fp}.pub").write_text("00" * 32 + "\n")  # not the key its name says
    result = muse("keys", "trust", cwd=tmp_path)
    assert result.exit_code == 7
    assert "does not hold the key its name says" in result.output


def _bundle_from_stranger(tmp_path: Path, muse: MuseRunner) -> tuple[Path, str]:
    """A bundle of one commit signed by a key the receiving user does not know."""
    source = make_repo(tmp_path / "source")
    stranger = generate_key(make_default=True)
    commit_files(source, {"drums.wav": b"RIFF-drums"}, "drums")
    # The receiving user keeps their first key; the stranger's key leaves the config dir.
    stranger.path.unlink()
    stranger.path.with_suffix(".pub").unlink()
    user_config().unset("user.signingkey")
    out = tmp_path / "from-stranger.bundle"
    assert muse("bundle", "create", str(out), "main", cwd=tmp_path / "source").exit_code == 0
    return out, stranger.public_key.hex()


def test_unbundle_can_require_trusted_signers(tmp_path: Path, muse: MuseRunner) -> None:
    bundle, stranger_pub = _bundle_from_stranger(tmp_path, muse)
    dest = make_repo(tmp_path / "dest")
    assert dest.root is not None
    result = changes_nothing(muse, dest.root, "bundle", "unbundle", str(bundle),
                             "--require-signatures", exit_code=5)
    assert "which is not trusted" in result.output
    # The same demand from config, without the flag.
    dest.config.set("receive.signatures", "trusted")
    changes_nothing(muse, dest.root, "bundle", "unbundle", str(bundle), exit_code=5)
    assert muse("keys", "trust", stranger_pub, cwd=tmp_path).exit_code == 0
    before = tree_state(dest.root)
    done = muse("bundle", "unbundle", str(bundle), "--require-signatures", cwd=dest.root)
    assert done.exit_code == 0, done.output
    assert tree_state(dest.root) != before


def test_unbundle_with_a_bad_rule_in_config_is_a_config_error(tmp_path: Path,
                                                              muse: MuseRunner) -> None:
    bundle, _ = _bundle_from_stranger(tmp_path, muse)
    dest = make_repo(tmp_path / "dest")
    assert dest.root is not None
    dest.config.set("receive.signatures", "sometimes")
    result = changes_nothing(muse, dest.root, "bundle", "unbundle", str(bundle), exit_code=7)
    assert "unknown signature rule" in result.output


def test_log_show_and_verify_tell_untrusted_from_good(tmp_path: Path, muse: MuseRunner) -> None:
    bundle, stranger_pub = _bundle_from_stranger(tmp_path, muse)
    dest = make_repo(tmp_path / "dest")
    assert dest.root is not None
    assert muse("bundle", "unbundle", str(bundle), cwd=dest.root).exit_code == 0
    log = json.loads(muse("log", "--json", cwd=dest.root).stdout)
    assert [c["signature"]["status"] for c in log] == ["untrusted"]
    assert "signature untrusted" in muse("cat-object", "-p", "HEAD", cwd=dest.root).stdout
    report = json.loads(muse("verify", "--json", cwd=dest.root).stdout)
    assert report["ok"] and report["signatures"]["untrusted"] == 1
    strict = muse("verify", "--require-signatures", cwd=dest.root)
    assert strict.exit_code == 1
    assert "which is not trusted" in strict.output
    assert muse("keys", "trust", stranger_pub, cwd=tmp_path).exit_code == 0
    log = json.loads(muse("log", "--json", cwd=dest.root).stdout)
    assert [c["signature"]["status"] for c in log] == ["good"]
    assert muse("verify", "--require-signatures", cwd=dest.root).exit_code == 0


def test_clone_and_fetch_can_require_trusted_signers(tmp_path: Path, muse: MuseRunner) -> None:
    _, stranger_pub = _bundle_from_stranger(tmp_path, muse)
    remote = tmp_path / "remote.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    source = tmp_path / "source"
    assert muse("push", str(remote), "main", cwd=source).exit_code == 0
    refused = muse("clone", "--require-signatures", str(remote), "strict", cwd=tmp_path)
    assert refused.exit_code == 5, refused.output
    assert "which is not trusted" in refused.output
    assert not (tmp_path / "strict").exists()
    # A repository fetching from the remote: refused under the demand, nothing changed.
    lax = make_repo(tmp_path / "lax")
    assert lax.root is not None
    assert muse("remote", "add", "origin", str(remote), cwd=lax.root).exit_code == 0
    refused = changes_nothing(muse, lax.root, "fetch", "--require-signatures", exit_code=5)
    assert "which is not trusted" in refused.output
    assert muse("config", "receive.signatures", "trusted", cwd=lax.root).exit_code == 0
    changes_nothing(muse, lax.root, "pull", "origin", "main", exit_code=5)
    assert muse("keys", "trust", stranger_pub, cwd=tmp_path).exit_code == 0
    done = muse("clone", "--require-signatures", str(remote), "strict", cwd=tmp_path)
    assert done.exit_code == 0, done.output
    assert muse("fetch", cwd=lax.root).exit_code == 0
