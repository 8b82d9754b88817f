"""Ed25519 signing keys: kept in the user's config dir, never in a repository."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .config import user_config, user_config_dir
from .errors import ConfigError
from .fsutil import atomic_write_bytes
from .objects import Commit, Signed

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .objects import Tag

_NO_KEY_HINT = "run `muse keys generate`, or commit with --unsigned"


def fingerprint(public_key: bytes) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    public_key: bytes
    path: Path
    is_default: bool


def keys_dir() -> Path:
    return user_config_dir() / "keys"


def list_keys() -> list[KeyInfo]:
    directory = keys_dir()
    if not directory.is_dir():
        return []
    default = _default_fingerprint()
    found = []
    for pub in sorted(directory.glob("*.pub")):
        raw = bytes.fromhex(pub.read_text().strip())
        fp = pub.stem
        found.append(KeyInfo(fp, raw, pub.with_suffix(".key"), fp == default))
    if default is None and len(found) == 1:
        only = found[0]
        found = [KeyInfo(only.fingerprint, only.public_key, only.path, True)]
    return found


def _default_fingerprint() -> str | None:
    return user_config().get("user.signingkey")


def generate_key(*, make_default: bool = True) -> KeyInfo:
    """Create a new key pair (private key file mode 0600) and make it the default."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fp = fingerprint(public)
    directory = keys_dir()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    atomic_write_bytes(directory / f"{fp}.key", pem, mode=0o600)
    atomic_write_bytes(directory / f"{fp}.pub", public.hex().encode() + b"\n")
    if make_default:
        user_config().set("user.signingkey", fp)
    return KeyInfo(fp, public, directory / f"{fp}.key", make_default)


def default_key() -> KeyInfo:
    keys = list_keys()
    for key in keys:
        if key.is_default:
            return key
    if not keys:
        raise ConfigError("no signing key", hint=_NO_KEY_HINT)
    raise ConfigError(
        "several signing keys and none is the default",
        hint="set one with `muse config --global user.signingkey FINGERPRINT`",
    )


def _load_private(info: KeyInfo) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(info.path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read signing key {info.path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{info.path} is not an Ed25519 key")
    return key


_S = TypeVar("_S", Commit, "Tag")


def sign_commit(commit: _S, info: KeyInfo | None = None) -> _S:
    """Return `commit` (or a tag) with signer and signature filled in by the default (or
    given) key: a tag is signed exactly as a commit is."""
    from dataclasses import replace

    info = info or default_key()
    unsigned = replace(commit, signer=info.public_key, signature=None)
    signature = _load_private(info).sign(unsigned.signed_payload())
    return replace(unsigned, signature=signature)


def verify_commit_signature(commit: Signed) -> bool:
    """True when the commit carries a signature that verifies under its signer key."""
    if not commit.is_signed:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    assert commit.signer is not None and commit.signature is not None
    try:
        Ed25519PublicKey.from_public_bytes(commit.signer).verify(
            commit.signature, commit.signed_payload()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def signature_status(commit: Signed) -> str:
    """'good', 'bad' or 'unsigned' — what `muse log` and `verify` report."""
    if not commit.is_signed:
        return "unsigned"
    return "good" if verify_commit_signature(commit) else "bad"
