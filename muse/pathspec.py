"""Pathspecs: what a user types for a path, made repository-relative, and matching it.

A pathspec is a file or a folder, given relative to the current directory
(or absolute). It is resolved lexically (symbolic links are not followed, so
a link cannot make a path inside the tree name something outside it): `..`
may climb as long as the result stays inside the working tree; anything
outside it, or inside `.muse/`, is refused. A folder spec matches every path
below it; the tree's top (`.`) matches everything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import UnsafePathError, UsageError
from .objects import Snapshot
from .paths import REPO_DIR, validate_path

TOP = ""  # the spec that names the whole tree


@dataclass(frozen=True)
class Pathspec:
    """One resolved spec: `path` relative to the tree's top ("" for the top), as typed."""

    path: str
    typed: str

    def matches(self, path: str) -> bool:
        return self.path == TOP or path == self.path or path.startswith(self.path + "/")


def resolve_spec(root: Path, typed: str, *, cwd: Path | None = None) -> Pathspec:
    """`typed` (relative to `cwd`, default the current directory) as a repository path.

    UsageError when it is empty or leaves the working tree; UnsafePathError when
    it names something no snapshot may hold (`.muse`, a work file, a control
    character).
    """
    if typed == "":
        raise UsageError("empty path", hint="name a file or folder, or `.` for all of them")
    here = Path(os.path.abspath(cwd or Path.cwd()))
    top = Path(os.path.abspath(root))
    full = Path(os.path.normpath(here / typed))
    rel = _inside(full, top)
    if rel is None:
        # Reached through a link outside the tree (/home/me/link/song/x)? Its folder's real
        # place decides; a link inside the tree that leads out still ends outside.
        real = Path(os.path.realpath(full.parent)) / full.name
        rel = _inside(real, top) if full.name not in ("", "..") else None
    if rel is None:
        raise UsageError(f"{typed!r} is outside the repository ({top})",
                         hint="name paths inside the working tree")
    if rel == ".":
        return Pathspec(TOP, typed)
    if rel.split("/")[0].lower() == REPO_DIR:
        raise UnsafePathError(f"{typed!r} is inside {REPO_DIR}/, Muse's own storage",
                              hint="name files of the working tree")
    validate_path(rel)
    return Pathspec(rel, typed)


def _inside(path: Path, top: Path) -> str | None:
    try:
        return path.relative_to(top).as_posix()
    except ValueError:
        return None


def resolve_specs(root: Path, typed: Iterable[str], *, cwd: Path | None = None
                  ) -> list[Pathspec]:
    """Every spec resolved first, so one bad spec refuses the command before it acts."""
    return [resolve_spec(root, text, cwd=cwd) for text in typed]


def matches_any(specs: list[Pathspec], path: str) -> bool:
    """True when `path` is under one of `specs` (no specs: every path)."""
    return not specs or any(spec.matches(path) for spec in specs)


def matcher(specs: list[Pathspec]) -> Callable[[str], bool]:
    """`matches_any` for many paths: one set lookup and one `startswith` per path."""
    if not specs or any(spec.path == TOP for spec in specs):
        return lambda path: True
    exact = frozenset(spec.path for spec in specs)
    folders = tuple(spec.path + "/" for spec in specs)
    return lambda path: path in exact or path.startswith(folders)


def restrict_to(snapshot: Snapshot | None, specs: list[Pathspec]) -> Snapshot:
    """The entries of `snapshot` that `specs` match (all of them when there are no specs)."""
    if snapshot is None:
        return Snapshot(())
    if not specs:
        return snapshot
    wanted = matcher(specs)
    return Snapshot(tuple(e for e in snapshot.entries if wanted(e.path)))


def unmatched(specs: list[Pathspec], paths: Iterable[str]) -> list[Pathspec]:
    """The specs that match none of `paths`."""
    listed = list(paths)
    return [spec for spec in specs if not any(spec.matches(p) for p in listed)]
