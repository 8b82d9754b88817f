"""Sizes and counts as people read them: decimal units, `1 commit` / `2 commits`."""

from __future__ import annotations


def human_size(n: int) -> str:
    """Decimal units as people read them: `812 B`, `1.2 MB`, `102 KB`."""
    value = float(abs(n))
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    i = 0
    while value >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    sign = "-" if n < 0 else ""
    if i == 0:
        return f"{sign}{int(value)} B"
    text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
    return f"{sign}{text} {units[i]}"


def signed_size(n: int) -> str:
    return ("+" if n >= 0 else "") + human_size(n)


def counted(n: int, word: str, plural: str | None = None) -> str:
    """`1 commit`, `2 commits`, `0 commits`; `plural` where adding an s is wrong."""
    return f"{n} {word if n == 1 else plural or word + 's'}"
