"""A read-only remote over one bundle file: fetch and clone from what was copied on a stick."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from muse.bundle import BundleReader
from muse.errors import RemoteError
from muse.refs import RefUpdate
from muse.remote import Capabilities, RefResult


class BundleFileRemote:
    """Lists the bundle's refs; a fetch streams the whole file (the receiver verifies it)."""

    def __init__(self, path: Path, *, url: str | None = None) -> None:
        self.path = path
        self.url = url if url is not None else str(path)

    def capabilities(self) -> Capabilities:
        return Capabilities(atomic_multi_ref=False, server_verifies=False, writable=False)

    def list_refs(self) -> dict[str, str]:
        try:
            with open(self.path, "rb") as handle:
                return dict(BundleReader(handle).read_header().refs)
        except OSError as exc:
            raise RemoteError(f"cannot read bundle {self.path}: {exc.strerror}") from None

    def push(self, bundle: BinaryIO | None, updates: Sequence[RefUpdate]) -> list[RefResult]:
        raise RemoteError(f"{self.path} is a bundle file: it can be fetched from, not pushed to",
                          hint="create a new bundle with `muse bundle create`")

    @contextlib.contextmanager
    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> Iterator[BinaryIO]:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise RemoteError(f"cannot read bundle {self.path}: {exc.strerror}") from None
        with handle:
            yield handle

    def close(self) -> None:
        pass
