"""The signers a user trusts: their own keys plus public keys they add (`muse keys trust`).

    CONFIG_DIR/trusted/FINGERPRINT.pub   one hex public key per file, first line;
                                         an optional second line names its owner

A good signature by a key outside this list is reported as `untrusted` (good
signature, unknown key), never as `good`: anyone can make a key. Receiving can
demand trusted signers (`ReceivePolicy(signers="trusted")`), and so can
`muse verify --require-signatures`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import user_config_dir
from .errors import ConfigError, UsageError
from .fsutil import atomic_write_bytes
from .keys import fingerprint, list_keys, verify_commit_signature
from .objects import Signed
from .policy import ANY, SIGNED, TRUSTED, ReceivePolicy

KEY_BYTES = 32


@dataclass(frozen=True)
class TrustedKey:
    fingerprint: str
    public_key: bytes
    name: str
    own: bool  # one of the user's own signing keys


def trusted_dir() -> Path:
    return user_config_dir() / "trusted"


def parse_public_key(text: str) -> bytes:
    """A 64-hex-digit Ed25519 public key (as `muse keys show` prints it), as bytes."""
    cleaned = text.strip().lower()
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise UsageError(f"not an Ed25519 public key: {text.strip()[:80]!r}",
                         hint="give the 64 hex digits `muse keys show` prints")
    return raw


def trusted_keys() -> list[TrustedKey]:
    """The user's own keys, then every key they trust, sorted by fingerprint."""
    found = {k.fingerprint: TrustedKey(k.fingerprint, k.public_key, "own key", True)
             for k in list_keys()}
    directory = trusted_dir()
    if directory.is_dir():
        for path in sorted(directory.glob("*.pub")):
            found.setdefault(path.stem, _read_trusted(path))
    return sorted(found.values(), key=lambda k: (not k.own, k.fingerprint))


def _read_trusted(path: Path) -> TrustedKey:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        key = parse_public_key(lines[0] if lines else "")
    except (OSError, UnicodeDecodeError, UsageError):
        raise ConfigError(f"trusted key file {path} is damaged",
                          hint="remove it and trust the key again (`muse keys trust`)") from None
    if fingerprint(key) != path.stem:
        raise ConfigError(f"trusted key file {path} does not hold the key its name says",
                          hint="remove it and trust the key again (`muse keys trust`)")
    return TrustedKey(path.stem, key, lines[1].strip() if len(lines) > 1 else "", False)


def trusted_set() -> frozenset[bytes]:
    return frozenset(k.public_key for k in trusted_keys())


def trust(public_key: bytes, name: str = "") -> TrustedKey:
    """Add a key to the trust list (idempotent); its name is one line of text."""
    if not name.isprintable():  # newlines and escapes too: the name is shown in listings
        raise UsageError("a key's name must be one printable line")
    fp = fingerprint(public_key)
    directory = trusted_dir()
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(directory / f"{fp}.pub", f"{public_key.hex()}\n{name}\n".encode())
    return TrustedKey(fp, public_key, name, False)


def untrust(prefix: str) -> TrustedKey:
    """Remove the one added key whose fingerprint starts with `prefix` (own keys stay)."""
    matches = [k for k in trusted_keys() if k.fingerprint.startswith(prefix.lower())]
    if len(matches) != 1:
        raise UsageError(f"no single trusted key matches {prefix!r}",
                         hint="see `muse keys trust` for the list")
    key = matches[0]
    if key.own:
        raise UsageError(f"{key.fingerprint} is one of your own signing keys; it is always "
                         "trusted", hint="delete the key itself to stop using it")
    (trusted_dir() / f"{key.fingerprint}.pub").unlink()
    return key


def trust_status(commit: Signed, trusted: frozenset[bytes], *,
                 verifies: Callable[[Signed], bool] = verify_commit_signature) -> str:
    """'good' (trusted signer), 'untrusted' (good signature, unknown key), 'bad' or 'unsigned'.

    `verifies` checks the signature itself (`muse.sigcache` answers from its cache)."""
    if not commit.is_signed:
        return "unsigned"
    if not verifies(commit):
        return "bad"
    return "good" if commit.signer in trusted else "untrusted"


RULE_KEY = "receive.signatures"


def receive_policy(rule: str | None, *, require: bool = False) -> ReceivePolicy:
    """The policy for a signer rule: `--require-signatures` (trusted signers), else the
    `receive.signatures` setting (any, signed or trusted), else any."""
    rule = TRUSTED if require else (rule or ANY)
    if rule == TRUSTED:
        return ReceivePolicy(signers=TRUSTED, trusted_keys=trusted_set())
    if rule in (ANY, SIGNED):
        return ReceivePolicy(signers=rule)
    raise ConfigError(f"unknown signature rule {rule!r}", hint="use any, signed or trusted")
