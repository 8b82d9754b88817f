"""Three-way merge of one text file, line by line (diff3), with git-style conflict markers.

Lines keep their endings, so a file without a final newline and CRLF files
merge byte for byte. Base lines that both sides kept (matched by
`linediff.matching_pairs` on each side) are stable; between two stable lines
each side either left the base alone or changed it. A changed region is
taken from the side that changed it; the same change on both sides is taken
once; different changes to one region (or to adjacent lines, as in git)
are a conflict, written as

    <<<<<<< ours
    our lines
    ||||||| base          (only with the diff3 style)
    base lines
    =======
    their lines
    >>>>>>> theirs

In the default style the lines both sides share at the edges of a conflict
are moved out of it (git's "zealous" merge). `favour` settles every conflict
for one side instead of writing markers (`muse merge --ours/--theirs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .linediff import matching_pairs

STYLE_MERGE, STYLE_DIFF3 = "merge", "diff3"
STYLES = (STYLE_MERGE, STYLE_DIFF3)
OURS, THEIRS = "ours", "theirs"

OURS_MARKER = b"<<<<<<< ours"
BASE_MARKER = b"||||||| base"
SPLIT_MARKER = b"======="
THEIRS_MARKER = b">>>>>>> theirs"


@dataclass(frozen=True)
class TextMerge:
    """The merged bytes, and how many conflict regions they hold (0: a clean merge)."""

    data: bytes
    conflicts: int


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their endings (`\\n`, `\\r\\n` or `\\r`): joining them gives `data` back."""
    return data.splitlines(keepends=True)


def merge_texts(base: bytes, ours: bytes, theirs: bytes, *, style: str = STYLE_MERGE,
                favour: str | None = None) -> TextMerge:
    """Merge `ours` and `theirs`, both descended from `base` (b"" when neither had it)."""
    b, o, t = split_lines(base), split_lines(ours), split_lines(theirs)
    writer = _Writer(_newline(o or t or b), style, favour)
    on_ours = dict(matching_pairs(b, o))
    on_theirs = dict(matching_pairs(b, t))
    at_b = at_o = at_t = 0
    for i, line in enumerate(b):
        j, k = on_ours.get(i), on_theirs.get(i)
        if j is None or k is None:
            continue
        writer.region(b[at_b:i], o[at_o:j], t[at_t:k])
        writer.lines.append(line)
        at_b, at_o, at_t = i + 1, j + 1, k + 1
    writer.region(b[at_b:], o[at_o:], t[at_t:])
    return TextMerge(b"".join(writer.lines), writer.conflicts)


def _newline(lines: list[bytes]) -> bytes:
    """The line ending markers get: the file's own (its first line's), else `\\n`."""
    if lines and lines[0].endswith(b"\r\n"):
        return b"\r\n"
    return b"\n"


class _Writer:
    """Collects the merged lines region by region."""

    def __init__(self, newline: bytes, style: str, favour: str | None) -> None:
        self.newline = newline
        self.style = style
        self.favour = favour
        self.lines: list[bytes] = []
        self.conflicts = 0

    def region(self, base: list[bytes], ours: list[bytes], theirs: list[bytes]) -> None:
        if ours == theirs or theirs == base:
            self.lines.extend(ours)
        elif ours == base:
            self.lines.extend(theirs)
        elif self.favour is not None:
            self.lines.extend(ours if self.favour == OURS else theirs)
        elif self.style == STYLE_DIFF3:
            self._conflict(ours, base, theirs)
        else:
            self._zealous_conflict(ours, theirs)

    def _zealous_conflict(self, ours: list[bytes], theirs: list[bytes]) -> None:
        head = 0
        while head < min(len(ours), len(theirs)) and ours[head] == theirs[head]:
            head += 1
        tail = 0
        while (tail < min(len(ours), len(theirs)) - head
               and ours[-1 - tail] == theirs[-1 - tail]):
            tail += 1
        self.lines.extend(ours[:head])
        self._conflict(ours[head:len(ours) - tail], None, theirs[head:len(theirs) - tail])
        self.lines.extend(ours[len(ours) - tail:])

    def _conflict(self, ours: list[bytes], base: list[bytes] | None,
                  theirs: list[bytes]) -> None:
        self.conflicts += 1
        self._marker(OURS_MARKER)
        self._side(ours)
        if base is not None:
            self._marker(BASE_MARKER)
            self._side(base)
        self._marker(SPLIT_MARKER)
        self._side(theirs)
        self._marker(THEIRS_MARKER)

    def _marker(self, marker: bytes) -> None:
        self.lines.append(marker + self.newline)

    def _side(self, lines: list[bytes]) -> None:
        self.lines.extend(lines)
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            self.lines.append(self.newline)  # a last line without its newline: end it here


def has_conflict_markers(data: bytes) -> bool:
    """True while `data` still holds a line that opens or closes a conflict Muse wrote."""
    return any(line.rstrip(b"\r\n") in (OURS_MARKER, THEIRS_MARKER)
               for line in split_lines(data))


def file_has_conflict_markers(path: Path) -> bool:
    """`has_conflict_markers` for a working file, read a line at a time (any size)."""
    try:
        with open(path, "rb") as handle:
            return any(line.rstrip(b"\r\n") in (OURS_MARKER, THEIRS_MARKER) for line in handle)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False  # deleted (accepting a deletion) or replaced: no markers left
