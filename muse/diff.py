"""File-level diffs between two trees: unified text diffs, binary size changes, stats."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .changes import Change, compare
from .display import pad, printable, text_width
from .objects import Snapshot, SnapshotEntry
from .units import counted, human_size, signed_size

TEXT_SNIFF = 8192
TEXT_CAP = 1 << 20  # above this either side is shown as binary: keeps memory and output bounded
CONTEXT_LINES = 3

Reader = Callable[[SnapshotEntry], bytes]
"""Returns the bytes of one side's file (from the store, or from the working tree)."""


def looks_like_text(data: bytes) -> bool:
    """Text means: no NUL byte in the first 8 KiB and the whole of it decodes as UTF-8."""
    if b"\0" in data[:TEXT_SNIFF]:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def mode_of(entry: SnapshotEntry | None) -> str | None:
    if entry is None:
        return None
    return "100755" if entry.executable else "100644"


@dataclass
class FileDiff:
    """One changed path, with its content difference worked out."""

    change: Change
    binary: bool
    patch: list[str] = field(default_factory=list)  # unified diff lines, without newlines
    insertions: int = 0
    deletions: int = 0

    @property
    def path(self) -> str:
        return self.change.path

    @property
    def old_size(self) -> int:
        return self.change.old.size if self.change.old else 0

    @property
    def new_size(self) -> int:
        return self.change.new.size if self.change.new else 0

    @property
    def content_changed(self) -> bool:
        old, new = self.change.old, self.change.new
        return old is None or new is None or old.oid != new.oid

    @property
    def mode_change(self) -> tuple[str, str] | None:
        old, new = self.change.old, self.change.new
        if old is not None and new is not None and old.executable != new.executable:
            return (mode_of(old) or "", mode_of(new) or "")
        return None

    def binary_summary(self) -> str:
        """`Binary files differ: 1.2 MB → 1.3 MB (+102 KB)` and its added/deleted forms."""
        if self.change.old is None:
            return f"Binary file added: {human_size(self.new_size)}"
        if self.change.new is None:
            return f"Binary file deleted: {human_size(self.old_size)}"
        delta = self.new_size - self.old_size
        return (f"Binary files differ: {human_size(self.old_size)} → "
                f"{human_size(self.new_size)} ({signed_size(delta)})")

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.change.status,
            "old": _entry_dict(self.change.old),
            "new": _entry_dict(self.change.new),
            "mode_change": list(self.mode_change) if self.mode_change else None,
            "binary": self.binary,
            "insertions": self.insertions,
            "deletions": self.deletions,
            "size_change": self.new_size - self.old_size,
            "patch": "\n".join(self.patch) if self.patch else None,
        }


def _entry_dict(entry: SnapshotEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"id": entry.oid, "size": entry.size, "executable": entry.executable}


def _side_text(entry: SnapshotEntry | None, read: Reader) -> str | None:
    """The file's text, '' when the side is absent, None when it must be shown as binary."""
    if entry is None:
        return ""
    if entry.size > TEXT_CAP:
        return None
    data = read(entry)
    if len(data) > TEXT_CAP or not looks_like_text(data):
        return None
    return data.decode("utf-8")


def diff_change(change: Change, read_old: Reader, read_new: Reader) -> FileDiff:
    """Work out one change's content diff, reading each side at most once, only if small."""
    if change.old is not None and change.new is not None and change.old.oid == change.new.oid:
        return FileDiff(change, binary=False)  # only the executable bit moved
    old_text = _side_text(change.old, read_old)
    new_text = _side_text(change.new, read_new) if old_text is not None else None
    if old_text is None or new_text is None:
        return FileDiff(change, binary=True)
    old_lines = old_text.splitlines()
    new_lines = new_text.splitlines()
    patch = list(difflib.unified_diff(
        old_lines, new_lines,
        fromfile="/dev/null" if change.old is None else f"a/{change.path}",
        tofile="/dev/null" if change.new is None else f"b/{change.path}",
        n=CONTEXT_LINES, lineterm=""))
    insertions = sum(1 for line in patch[2:] if line.startswith("+"))
    deletions = sum(1 for line in patch[2:] if line.startswith("-"))
    return FileDiff(change, binary=False, patch=patch, insertions=insertions,
                    deletions=deletions)


def diff_trees(old: Snapshot | None, new: Snapshot | None, read_old: Reader,
               read_new: Reader) -> list[FileDiff]:
    """Every changed path between two trees, sorted by path, with content diffs."""
    return [diff_change(change, read_old, read_new) for change in compare(old, new)]


def header_lines(fd: FileDiff) -> list[str]:
    """The `diff a/x b/x` line plus what happened to the file's existence and mode."""
    lines = [f"diff a/{fd.path} b/{fd.path}"]
    change = fd.change
    if change.old is None:
        lines.append(f"new file mode {mode_of(change.new)}")
    elif change.new is None:
        lines.append(f"deleted file mode {mode_of(change.old)}")
    elif fd.mode_change:
        lines.append(f"old mode {fd.mode_change[0]}")
        lines.append(f"new mode {fd.mode_change[1]}")
    return lines


def render_patch(diffs: list[FileDiff]) -> list[str]:
    """The full textual diff: per file a header, then a unified diff or a binary summary."""
    out: list[str] = []
    for fd in diffs:
        out.extend(header_lines(fd))
        if fd.binary:
            out.append(fd.binary_summary())
        else:
            out.extend(fd.patch)
    return out


def render_stat(diffs: list[FileDiff], width: int = 40) -> list[str]:
    """`path | 12 +++---` per file (binaries show their size change) and a summary line."""
    if not diffs:
        return []
    names = {fd.path: printable(fd.path) for fd in diffs}
    name_width = max(text_width(name) for name in names.values())
    most = max((fd.insertions + fd.deletions for fd in diffs), default=0)
    scale = min(1.0, width / most) if most else 1.0
    out = []
    for fd in diffs:
        if fd.binary:
            detail = (f"Bin {human_size(fd.old_size)} → {human_size(fd.new_size)} "
                      f"({signed_size(fd.new_size - fd.old_size)})")
        elif not fd.content_changed:
            detail = f"mode {fd.mode_change[0]} → {fd.mode_change[1]}" if fd.mode_change else ""
        else:
            count = fd.insertions + fd.deletions
            bar = "+" * round(fd.insertions * scale) + "-" * round(fd.deletions * scale)
            detail = f"{count} {bar}"
        out.append(f" {pad(names[fd.path], name_width)} | {detail}")
    out.append(_stat_summary(len(diffs), sum(fd.insertions for fd in diffs),
                             sum(fd.deletions for fd in diffs)))
    return out


def _stat_summary(files: int, ins: int, dels: int) -> str:
    """git's last stat line: a zero count is left out, unless both are zero."""
    parts = [f" {counted(files, 'file')} changed"]
    if ins or not dels:
        parts.append(f"{counted(ins, 'insertion')}(+)")
    if dels or not ins:
        parts.append(f"{counted(dels, 'deletion')}(-)")
    return ", ".join(parts)


def render_name_status(changes: list[Change]) -> list[str]:
    return [f"{change.letter}\t{change.path}" for change in changes]


def render_diffs(diffs: list[FileDiff], *, name_only: bool = False, name_status: bool = False,
                 stat: bool = False, patch: bool = False) -> list[str]:
    """What `show`, `diff` and `log` print of a change set, with git's precedence: paths
    alone, or letters and paths, else the stat and/or the patch (a blank line between)."""
    if name_only:
        return [fd.path for fd in diffs]
    if name_status:
        return render_name_status([fd.change for fd in diffs])
    lines = render_stat(diffs) if stat else []
    if patch:
        lines += ([""] if lines else []) + render_patch(diffs)
    return lines
