"""Ctrl-C held back for the few steps it must never land inside: thread hand-overs.

Python raises KeyboardInterrupt in the main thread at almost any bytecode,
including inside `queue.Queue` and `threading` code between taking a lock and
the `with` block that would release it. Landing there leaves the lock held:
the next queue call (the clean-up's own) waits on it for ever, and so does the
worker thread. `deferred_interrupts` records a SIGINT that arrives during such
a step and re-delivers it as soon as the step is over, so an interrupt still
ends the command promptly, only never in the middle of a lock.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run the block with SIGINT recorded, not raised; re-deliver it once the block is done."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread ever receives KeyboardInterrupt
        return
    caught: list[FrameType | None] = []

    def record(_signum: int, frame: FrameType | None) -> None:
        caught.append(frame)

    previous = signal.signal(signal.SIGINT, record)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            _deliver(previous, caught[0])


def _deliver(handler: Any, frame: FrameType | None) -> None:
    """What the SIGINT held back would have done: the handler that was in place."""
    if callable(handler):
        handler(signal.SIGINT, frame)  # Python's default raises KeyboardInterrupt here
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)
    # SIG_IGN (or a handler installed outside Python): the interrupt was being ignored.
