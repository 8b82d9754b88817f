"""Wrappers around any driver (retry, request counting), assembled in one place: `connect()`."""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import BinaryIO, TypeVar

from .errors import TransientRemoteError
from .refs import RefUpdate
from .remote import (
    Capabilities,
    IncomingBundle,
    Opener,
    OutgoingBundle,
    RefResult,
    Remote,
    RemoteOptions,
    recorded_settings,
)

T = TypeVar("T")

DEFAULT_RETRIES = 4


class RetryingRemote:
    """Retries TransientRemoteError with exponential backoff and full jitter.

    Safe for every method: reads are harmless to repeat, and a push is idempotent
    (the same bundle stored twice is one pack; an update whose ref already holds
    `new` succeeds), so a push whose reply was lost can simply be sent again.
    """

    def __init__(self, inner: Remote, *, attempts: int = DEFAULT_RETRIES, base_delay: float = 0.2,
                 max_delay: float = 10.0, sleep: Callable[[float], None] = time.sleep,
                 rand: Callable[[], float] = random.random) -> None:
        self.inner = inner
        self.url = inner.url
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.rand = rand

    def _delay(self, attempt: int) -> float:
        return self.rand() * min(self.max_delay, self.base_delay * (2 ** attempt))

    def _call(self, fn: Callable[[], T], rewind: Callable[[], None] | None = None) -> T:
        for attempt in range(self.attempts):
            try:
                return fn()
            except TransientRemoteError:
                if attempt + 1 >= self.attempts:
                    raise
                self.sleep(self._delay(attempt))
                if rewind is not None:
                    rewind()
        raise AssertionError("unreachable")  # pragma: no cover

    def capabilities(self) -> Capabilities:
        return self._call(self.inner.capabilities)

    def list_refs(self) -> dict[str, str]:
        return self._call(self.inner.list_refs)

    def push(self, bundle: OutgoingBundle | None,
             updates: Sequence[RefUpdate]) -> list[RefResult]:
        # The driver opens the bundle afresh on every attempt: a retry re-sends it whole.
        return self._call(lambda: self.inner.push(bundle, updates))

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        answer = self._call(lambda: self.inner.fetch(wants, haves))
        return [replace(b, opener=self._retrying_opener(b)) for b in answer]

    def _retrying_opener(self, bundle: IncomingBundle) -> Opener:
        # Opening one bundle is retried; a failure in the middle of reading it is the
        # caller's (receive_bundle has then discarded everything, so a rerun is clean).
        @contextlib.contextmanager
        def opener() -> Iterator[BinaryIO]:
            with contextlib.ExitStack() as stack:
                yield self._call(lambda: stack.enter_context(bundle.open()))

        return opener

    def recorded_settings(self) -> dict[str, str]:
        return recorded_settings(self.inner)

    def close(self) -> None:
        self.inner.close()


class CountingRemote:
    """Counts calls per method (the request tracer): proves a push costs a constant count."""

    def __init__(self, inner: Remote, counts: Counter[str] | None = None,
                 on_call: Callable[[str], None] | None = None) -> None:
        self.inner = inner
        self.url = inner.url
        self.counts: Counter[str] = counts if counts is not None else Counter()
        self.on_call = on_call

    def _note(self, method: str) -> None:
        self.counts[method] += 1
        if self.on_call is not None:
            self.on_call(method)

    def capabilities(self) -> Capabilities:
        self._note("capabilities")
        return self.inner.capabilities()

    def list_refs(self) -> dict[str, str]:
        self._note("list_refs")
        return self.inner.list_refs()

    def push(self, bundle: OutgoingBundle | None,
             updates: Sequence[RefUpdate]) -> list[RefResult]:
        self._note("push")
        return self.inner.push(bundle, updates)

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        self._note("fetch")
        return [replace(b, opener=self._counted_opener(b)) for b in self.inner.fetch(wants, haves)]

    def _counted_opener(self, bundle: IncomingBundle) -> Opener:
        def opener() -> contextlib.AbstractContextManager[BinaryIO]:
            self._note("open_bundle")  # one download per bundle, whatever its object count
            return bundle.open()

        return opener

    def recorded_settings(self) -> dict[str, str]:
        return recorded_settings(self.inner)

    def close(self) -> None:
        self.inner.close()


def connect(url: str, options: RemoteOptions | None = None, *, retries: int = DEFAULT_RETRIES,
            trace: Counter[str] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> Remote:
    """Open the driver for `url` with `options` and wrap it: counting innermost (real
    requests), retry outside.

    This is the only place wrappers are composed. `retries` is the total number of
    attempts per call (1 disables retrying); `trace` receives a count per method.
    """
    from .remote_registry import open_remote

    remote: Remote = open_remote(url, options or RemoteOptions())
    if trace is not None:
        remote = CountingRemote(remote, trace)
    if retries > 1:
        remote = RetryingRemote(remote, attempts=retries, sleep=sleep)
    return remote
