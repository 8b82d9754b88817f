"""A read-only remote over one bundle file: fetch and clone from what was copied on a stick."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from muse.bundle import BundleHeader, BundleReader
from muse.errors import RemoteError
from muse.refs import RefUpdate
from muse.remote import Capabilities, IncomingBundle, OutgoingBundle, RefResult


class BundleFileRemote:
    """Lists the bundle's refs; a fetch answers with the whole file (the receiver verifies it)."""

    def __init__(self, path: Path, *, url: str | None = None) -> None:
        self.path = path
        self.url = url if url is not None else str(path)

    def capabilities(self) -> Capabilities:
        return Capabilities(atomic_multi_ref=False, server_verifies=False, writable=False)

    def _header(self) -> BundleHeader:
        with self._open() as handle:
            return BundleReader(handle).read_header()

    def list_refs(self) -> dict[str, str]:
        return dict(self._header().refs)

    def push(self, bundle: OutgoingBundle | None, updates: Sequence[RefUpdate]) -> list[RefResult]:
        raise RemoteError(f"{self.path} is a bundle file: it can be fetched from, not pushed to",
                          hint="create a new bundle with `muse bundle create`")

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        header = self._header()
        size: int | None = None
        with contextlib.suppress(OSError):
            size = self.path.stat().st_size
        requires = frozenset(header.prerequisites)
        # The tips it carries; the commits themselves are known only once it is read.
        provides = frozenset(v for v in header.refs.values() if v not in requires)
        return [IncomingBundle(label=str(self.path), opener=self._open, size=size,
                               requires=requires, provides=provides)]

    @contextlib.contextmanager
    def _open(self) -> Iterator[BinaryIO]:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise RemoteError(f"cannot read bundle {self.path}: {exc.strerror}") from None
        with handle:
            yield handle

    def close(self) -> None:
        pass
