"""Signing keys: generation, file modes, listing, signing and verification."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from muse.errors import ConfigError
from muse.keys import (
    default_key,
    fingerprint,
    generate_key,
    keys_dir,
    list_keys,
    sign_commit,
    signature_status,
    verify_commit_signature,
)
from muse.objects import Commit, hash_bytes
from tests.testkit import MuseRunner


def _commit() -> Commit:
    return Commit(hash_bytes(b"s"), (), "Ada", "ada@example.org", 1_700_000_000, 0, "take 1")


def test_generate_writes_private_key_0600(muse_home: Path) -> None:
    [info] = list_keys()
    assert info.is_default
    assert info.path.parent == keys_dir() == muse_home / "keys"
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir().stat().st_mode) == 0o700
    assert info.path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    pub = info.path.with_suffix(".pub").read_text().strip()
    assert bytes.fromhex(pub) == info.public_key and len(info.public_key) == 32
    assert info.fingerprint == fingerprint(info.public_key) and len(info.fingerprint) == 16


def test_second_key_becomes_default(muse_home: Path) -> None:
    first = default_key()
    second = generate_key()
    assert default_key().fingerprint == second.fingerprint != first.fingerprint
    assert {k.fingerprint for k in list_keys()} == {first.fingerprint, second.fingerprint}
    generate_key(make_default=False)
    assert default_key().fingerprint == second.fingerprint


def test_sign_and_verify(muse_home: Path) -> None:
    signed = sign_commit(_commit())
    assert signed.signer == default_key().public_key
    assert verify_commit_signature(signed)
    assert signature_status(signed) == "good"
    assert signature_status(_commit()) == "unsigned"


def test_tampered_commit_or_signature_is_bad(muse_home: Path) -> None:
    signed = sign_commit(_commit())
    assert signed.signature is not None
    flipped = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
    assert signature_status(replace(signed, signature=flipped)) == "bad"
    assert signature_status(replace(signed, message="take 2")) == "bad"
    other = generate_key(make_default=False)
    assert signature_status(replace(signed, signer=other.public_key)) == "bad"


def test_no_key_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSE_CONFIG_DIR", str(tmp_path / "empty"))
    assert list_keys() == []
    with pytest.raises(ConfigError, match="no signing key") as info:
        default_key()
    assert info.value.exit_code == 7
    assert "muse keys generate" in (info.value.hint or "")


def test_keys_cli_list_show_generate(muse: MuseRunner, tmp_path: Path) -> None:
    listed = muse("keys", "list", "--json", cwd=tmp_path)
    assert listed.exit_code == 0
    [entry] = json.loads(listed.stdout)
    assert entry["default"] is True
    shown = muse("keys", "show", "--json", cwd=tmp_path)
    data = json.loads(shown.stdout)
    assert data["fingerprint"] == entry["fingerprint"]
    assert data["public_key"] == entry["public_key"]
    generated = muse("keys", "generate", cwd=tmp_path)
    assert generated.exit_code == 0 and "Generated Ed25519 key" in generated.stdout
    text = muse("keys", "list", cwd=tmp_path).stdout.splitlines()
    assert len(text) == 2 and sum(line.startswith("*") for line in text) == 1
    missing = muse("keys", "show", "ffffffffff", cwd=tmp_path)
    assert missing.exit_code == 2 and "no single key" in missing.stderr


def test_a_second_key_does_not_replace_the_default_unless_asked(muse: MuseRunner,
                                                                tmp_path: Path) -> None:
    def default() -> str:
        keys = json.loads(muse("keys", "list", "--json", cwd=tmp_path).stdout)
        return next(k["fingerprint"] for k in keys if k["default"])

    first = default()
    second = muse("keys", "generate", cwd=tmp_path)
    assert second.exit_code == 0
    assert default() == first  # collaborators trust the first key: it keeps signing
    assert "not the default" in second.stdout
    new = next(k["fingerprint"] for k in json.loads(
        muse("keys", "list", "--json", cwd=tmp_path).stdout) if k["fingerprint"] != first)
    assert muse("keys", "default", new[:10], cwd=tmp_path).exit_code == 0
    assert default() == new
    third = muse("keys", "generate", "--default", cwd=tmp_path)
    assert third.exit_code == 0 and default() not in (first, new)
    refused = muse("keys", "default", "ffffffffff", cwd=tmp_path)
    assert refused.exit_code == 2 and "no single key" in refused.stderr


def test_config_list_in_a_repository_shows_global_settings_too(muse: MuseRunner,
                                                               repo_dir: Path) -> None:
    assert muse("config", "core.editor", "nano", cwd=repo_dir).exit_code == 0
    listed = muse("config", "--list", cwd=repo_dir).stdout.splitlines()
    assert "user.name=Test Musician" in listed  # from the user config
    assert "core.editor=nano" in listed  # from the repository's
    assert listed.index("user.name=Test Musician") < listed.index("core.editor=nano")
    only_global = muse("config", "--global", "--list", cwd=repo_dir).stdout.splitlines()
    assert "core.editor=nano" not in only_global
