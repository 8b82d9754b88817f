"""What a receiver accepts: size limits, blocked ids and signer rules, as one value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ANY = "any"          # unsigned commits are accepted (a bad signature never is)
SIGNED = "signed"    # every new commit carries a good signature, by any key
TRUSTED = "trusted"  # every new commit is signed by one of `trusted_keys`
SIGNER_RULES = (ANY, SIGNED, TRUSTED)


@dataclass(frozen=True)
class ReceivePolicy:
    """The rules a bundle must meet before anything it carries becomes visible.

    The local store receives under the default (any signer, no limits); a hub
    fills it from its per-repository settings. `trusted_keys` are Ed25519 public
    keys (32 raw bytes each); `blocked` answers True for an id never to accept.
    """

    signers: str = ANY
    trusted_keys: frozenset[bytes] = frozenset()
    max_bundle_bytes: int | None = None
    max_object_bytes: int | None = None
    blocked: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        if self.signers not in SIGNER_RULES:
            raise ValueError(f"unknown signer rule {self.signers!r}")

    @classmethod
    def require_signed(cls, required: bool) -> ReceivePolicy:
        """The policy of a `--require-signatures` flag: signed by anyone, or anything."""
        return cls(signers=SIGNED if required else ANY)


DEFAULT_POLICY = ReceivePolicy()
