"""Comparing trees: what was added, modified or deleted between two snapshots (or the tree)."""

from __future__ import annotations

from dataclasses import dataclass

from .objects import Snapshot, SnapshotEntry


@dataclass(frozen=True)
class Change:
    """One path's difference; `old`/`new` are None for an added/deleted file.

    A rename (`muse.renames.pair_renames`) is one change at its new `path`, with
    `old_path` the path `old` had and `score` how alike the two are (1.0: the same
    object).
    """

    path: str
    old: SnapshotEntry | None
    new: SnapshotEntry | None
    old_path: str | None = None
    score: float = 0.0

    @property
    def status(self) -> str:
        if self.old_path is not None:
            return "renamed"
        if self.old is None:
            return "added"
        if self.new is None:
            return "deleted"
        return "modified"

    @property
    def source(self) -> str:
        """The path the old side had: `old_path` for a rename, else `path`."""
        return self.path if self.old_path is None else self.old_path

    @property
    def similarity(self) -> int | None:
        """git's similarity index of a rename, a whole percent rounded down; else None."""
        return None if self.old_path is None else int(self.score * 100 + 1e-9)

    @property
    def letter(self) -> str:
        """`A`, `M`, `D`, or for a rename `R` and git's three-digit similarity (`R087`)."""
        if self.old_path is not None:
            return f"R{self.similarity:03d}"
        return self.status[0].upper()


def file_key(entry: SnapshotEntry | None) -> tuple[str, bool] | None:
    """What makes two entries the same file: content and executable bit (not size)."""
    return None if entry is None else (entry.oid, entry.executable)


def compare(old: Snapshot | None, new: Snapshot | None) -> list[Change]:
    """Every path that differs (content or executable bit), sorted by path."""
    old_map = old.as_dict() if old else {}
    new_map = new.as_dict() if new else {}
    changes = []
    for path in sorted(old_map.keys() | new_map.keys()):
        a, b = old_map.get(path), new_map.get(path)
        if file_key(a) != file_key(b):
            changes.append(Change(path, a, b))
    return changes


def changed_paths(old: Snapshot | None, new: Snapshot | None) -> list[str]:
    return [c.path for c in compare(old, new)]
