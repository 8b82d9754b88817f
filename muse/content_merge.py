"""Settling a merge's file-level conflicts: text files merge line by line, `favour` picks a side.

A path both sides changed is merged line by line (`textmerge`) when every
side present is text (`diff.looks_like_text`) of at most TEXT_MERGE_CAP
bytes; anything else (binary, larger, or one side deleted) keeps the
file-level rule of `merge.three_way`. Merged bytes go into the caller's
object batch, so a merge refused later stores nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .diff import looks_like_text
from .errors import ConfigError
from .merge_state import RENAME_RENAME
from .objects import SnapshotEntry
from .repo import Repository
from .store import ObjectBatch
from .textmerge import OURS, STYLE_MERGE, STYLES, merge_texts

TEXT_MERGE_CAP = 8 << 20  # per side: above it a file merges as a whole, like a binary
CONFLICT_STYLE_KEY = "merge.conflictStyle"

if TYPE_CHECKING:  # merge.py calls in here: the plan types are only named, not imported
    from .merge import Conflict, MergePlan


def conflict_style(repo: Repository) -> str:
    """`merge.conflictStyle`: `merge` (the default) or `diff3` (the base shown too)."""
    value = repo.config_value(CONFLICT_STYLE_KEY) or STYLE_MERGE
    if value not in STYLES:
        raise ConfigError(f"{CONFLICT_STYLE_KEY} is {value!r}: it must be merge or diff3",
                          hint=f"muse config {CONFLICT_STYLE_KEY} diff3")
    return value


def merge_contents(repo: Repository, plan: MergePlan, batch: ObjectBatch, *,
                   style: str = STYLE_MERGE, favour: str | None = None) -> MergePlan:
    """The plan with every content conflict merged that can be; the rest still conflicts."""
    merged = dict(plan.merged)
    conflicts: list[Conflict] = []
    for conflict in plan.conflicts:
        if conflict.kind == RENAME_RENAME:
            _rename_rename(repo, conflict, merged, conflicts, batch, style, favour)
            continue
        entry = _merge_text(repo, conflict, batch, style, favour)
        if entry is not None:
            merged[conflict.path] = entry[0]
            if entry[1]:
                conflicts.append(replace(conflict, markers=True))
        elif favour is not None:
            chosen = conflict.ours if favour == OURS else conflict.theirs
            if chosen is None:
                merged.pop(conflict.path, None)
            else:
                merged[conflict.path] = chosen
        else:
            conflicts.append(conflict)
    return replace(plan, merged=merged, conflicts=conflicts)


def _rename_rename(repo: Repository, conflict: Conflict, merged: dict[str, SnapshotEntry],
                   conflicts: list[Conflict], batch: ObjectBatch, style: str,
                   favour: str | None) -> None:
    """A file renamed both ways: its contents merge (text, as git does) and the result is
    at both names, which stay a conflict; `favour` keeps only that side's name."""
    ours, theirs = conflict.ours, conflict.theirs
    assert ours is not None and theirs is not None
    text = _merge_text(repo, conflict, batch, style, favour)
    at_ours, at_theirs, markers = ours, theirs, False
    if text is not None:
        at_ours, markers = text[0], text[1]
        at_theirs = at_ours.at(theirs.path)
    if favour is None:
        merged[ours.path], merged[theirs.path] = at_ours, at_theirs
        conflicts.append(replace(conflict, markers=markers))
        return
    keep, drop = (at_ours, theirs) if favour == OURS else (at_theirs, ours)
    merged.pop(drop.path, None)
    merged[keep.path] = keep


def _merge_text(repo: Repository, conflict: Conflict, batch: ObjectBatch, style: str,
                favour: str | None) -> tuple[SnapshotEntry, bool] | None:
    """The line-merged entry and whether it holds conflict markers; None if not text."""
    ours, theirs, base = conflict.ours, conflict.theirs, conflict.base
    if ours is None or theirs is None:
        return None  # modify-delete: there are no two texts to merge
    texts = [_text(repo, entry) for entry in (base, ours, theirs)]
    if any(text is None for text in texts):
        return None
    base_text, our_text, their_text = (text or b"" for text in texts)
    result = merge_texts(base_text, our_text, their_text, style=style, favour=favour)
    oid = batch.add_bytes(result.data)
    executable = _merged_bit(base, ours, theirs)
    return SnapshotEntry(conflict.path, oid, len(result.data), executable), result.conflicts > 0


def _text(repo: Repository, entry: SnapshotEntry | None) -> bytes | None:
    """The side's bytes if they are mergeable text (b"" for an absent base); else None."""
    if entry is None:
        return b""
    if repo.store.size(entry.oid) > TEXT_MERGE_CAP:
        return None
    data = repo.store.read(entry.oid)
    return data if looks_like_text(data) else None


def _merged_bit(base: SnapshotEntry | None, ours: SnapshotEntry, theirs: SnapshotEntry) -> bool:
    """The executable bit merges like a tiny file: a side that kept the base's yields."""
    if base is not None and ours.executable == base.executable:
        return theirs.executable
    return ours.executable
