"""File-level diffs between two trees: unified text diffs, binary size changes, stats."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .changes import Change
from .display import pad, printable, text_width
from .objects import SnapshotEntry
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
    def old_path(self) -> str | None:
        """The path a renamed file had; None for every other change."""
        return self.change.old_path

    @property
    def stat_name(self) -> str:
        """The path as `--stat` names it: a rename in git's folded `{old => new}` form."""
        if self.change.old_path is None:
            return self.path
        return folded_rename(self.change.old_path, self.path)

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
            "old_path": self.change.old_path,
            "similarity": self.change.similarity,
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
        fromfile="/dev/null" if change.old is None else f"a/{change.source}",
        tofile="/dev/null" if change.new is None else f"b/{change.path}",
        n=CONTEXT_LINES, lineterm=""))
    insertions = sum(1 for line in patch[2:] if line.startswith("+"))
    deletions = sum(1 for line in patch[2:] if line.startswith("-"))
    return FileDiff(change, binary=False, patch=patch, insertions=insertions,
                    deletions=deletions)


def diff_changes(changes: list[Change], read_old: Reader, read_new: Reader) -> list[FileDiff]:
    """Each change's content diff (renames paired or not: `muse.renames.pair_renames`)."""
    return [diff_change(change, read_old, read_new) for change in changes]


def header_lines(fd: FileDiff) -> list[str]:
    """The `diff a/x b/x` line plus what happened to the file's existence and mode, and
    for a rename git's `similarity index` / `rename from` / `rename to` lines."""
    change = fd.change
    lines = [f"diff a/{change.source} b/{fd.path}"]
    if change.old is None:
        lines.append(f"new file mode {mode_of(change.new)}")
    elif change.new is None:
        lines.append(f"deleted file mode {mode_of(change.old)}")
    elif fd.mode_change:
        lines.append(f"old mode {fd.mode_change[0]}")
        lines.append(f"new mode {fd.mode_change[1]}")
    if change.old_path is not None:
        lines.append(f"similarity index {change.similarity}%")
        lines.append(f"rename from {change.old_path}")
        lines.append(f"rename to {fd.path}")
    return lines


def folded_rename(old: str, new: str) -> str:
    """git's `--stat` name of a rename (diff.c's pprint_rename): the leading folders and
    the trailing part from a `/` both share stay outside braces, `stems/{a.wav => b.wav}`,
    `{old => new}/take.wav`; with nothing shared, `old => new`."""
    # The common prefix ends in a slash.
    prefix = 0
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            break
        if a == "/":
            prefix = i + 1
    # The common suffix starts at a slash, read from the ends (the end itself included, as
    # git's NUL), and may reach one back into the prefix to see its slash.
    suffix = 0
    i, j = len(old), len(new)
    stop = prefix - (1 if prefix else 0)
    while i >= stop and j >= stop and (old[i] if i < len(old) else "") == \
            (new[j] if j < len(new) else ""):
        if i < len(old) and old[i] == "/":
            suffix = len(old) - i
        i -= 1
        j -= 1
    old_mid = max(len(old) - prefix - suffix, 0)
    new_mid = max(len(new) - prefix - suffix, 0)
    middle = f"{old[prefix:prefix + old_mid]} => {new[prefix:prefix + new_mid]}"
    if not prefix + suffix:
        return middle
    return f"{old[:prefix]}{{{middle}}}{old[len(old) - suffix:]}"


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
    names = {fd.path: printable(fd.stat_name) for fd in diffs}
    name_width = max(text_width(name) for name in names.values())
    most = max((fd.insertions + fd.deletions for fd in diffs), default=0)
    scale = min(1.0, width / most) if most else 1.0
    out = []
    for fd in diffs:
        if fd.binary:
            detail = (f"Bin {human_size(fd.old_size)} → {human_size(fd.new_size)} "
                      f"({signed_size(fd.new_size - fd.old_size)})")
        elif not fd.content_changed and fd.old_path is not None:
            detail = "0"  # a pure rename, as git counts it (a binary stem's too)
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
    """`M\tpath` per change; a rename `R087\told\tnew`, as git prints it."""
    return [f"{change.letter}\t{change.old_path}\t{change.path}" if change.old_path is not None
            else f"{change.letter}\t{change.path}" for change in changes]


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
