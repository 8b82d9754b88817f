"""Transfer progress: a rich bar on an interactive terminal, and silence everywhere else."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO

from ..transfer import NoProgress as SilentProgress

# Phases the engine counts in items rather than bytes (everything else is bytes).
COUNT_UNITS = {"checking out": "files"}
_FALSE = {"", "0", "false", "no", "off"}


def ci_enabled(env: Mapping[str, str]) -> bool:
    """CI=true / CI=1 (as CI services set it) means a log, not a person, is reading."""
    return env.get("CI", "").strip().lower() not in _FALSE


def should_show(*, as_json: bool, stream: TextIO, env: Mapping[str, str]) -> bool:
    """A bar only for a person: not with --json, not in CI, not on a dumb or absent terminal."""
    if as_json or ci_enabled(env) or env.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


class NoProgress(SilentProgress):
    """The TransferProgress for logs, pipes and --json, usable as a context manager."""

    def close(self) -> None:
        pass

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class RichProgress(NoProgress):
    """One bar per phase (bytes or files, rate, ETA); rich is imported only when one is shown."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console

        self._console = Console(file=stream)
        self._bars: Any = None
        self._task: Any = None

    def phase(self, name: str, total: int | None) -> None:
        if self._bars is None:
            self._bars = _new_bars(self._console)
            self._bars.start()
        self._complete_current()
        unit = COUNT_UNITS.get(name, "bytes")
        self._task = self._bars.add_task(name, total=total, unit=unit)

    def advance(self, n: int) -> None:
        if self._bars is not None and self._task is not None:
            self._bars.advance(self._task, n)

    def finish(self) -> None:
        # The engine may start new phases after finish() (clone: fetch, then check out).
        self._complete_current()
        self.close()

    def close(self) -> None:
        if self._bars is not None:
            self._bars.stop()
        self._bars = None
        self._task = None

    def _complete_current(self) -> None:
        if self._bars is None or self._task is None:
            return
        task = self._bars.tasks[self._task]
        self._bars.update(self._task, total=task.completed if task.total is None else task.total,
                          completed=task.completed if task.total is None else task.total)


def _new_bars(console: Any) -> Any:
    from rich.filesize import decimal
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    def amount(value: float, unit: str) -> str:
        return decimal(int(value)) if unit == "bytes" else f"{int(value)} {unit}"

    class AmountColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            unit = task.fields.get("unit", "bytes")
            done = amount(task.completed, unit)
            text = done if task.total is None else f"{done} / {amount(task.total, unit)}"
            return Text(text, style="progress.download")

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            if speed is None:
                return Text("", style="progress.data.speed")
            return Text(f"{amount(speed, task.fields.get('unit', 'bytes'))}/s",
                        style="progress.data.speed")

    return Progress(TextColumn("{task.description:<13}"), BarColumn(), AmountColumn(),
                    RateColumn(), TimeRemainingColumn(), console=console)


def make_progress(*, as_json: bool, stream: TextIO | None = None,
                  env: Mapping[str, str] | None = None) -> NoProgress:
    """The progress reporter a transfer command should use right now."""
    stream = stream if stream is not None else sys.stderr
    env = env if env is not None else os.environ
    if should_show(as_json=as_json, stream=stream, env=env):
        return RichProgress(stream)
    return NoProgress()
