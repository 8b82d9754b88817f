"""Ref names decorating `log`: which branches, tags, remote-tracking refs and HEAD name a commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import CorruptObjectError, MissingObjectError, RepositoryError
from .refs import HEADS, REMOTES, TAGS

if TYPE_CHECKING:
    from .repo import Repository


@dataclass
class Names:
    head: bool = False
    branches: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    remotes: list[str] = field(default_factory=list)
    stash: bool = False  # the newest stash (git's `refs/stash`)

    def as_dict(self) -> dict[str, Any]:
        return {"head": self.head, "branches": self.branches, "tags": self.tags,
                "remotes": self.remotes, "stash": self.stash}

    def label(self, current: str | None) -> str:
        """`HEAD -> main, feature, tag: v1, origin/main` (git's order), '' when none."""
        parts = []
        branches = list(self.branches)
        if self.head:
            if current in branches:
                branches.remove(current)
                parts.append(f"HEAD -> {current}")
            else:
                parts.append("HEAD")
        parts += branches + self.remotes + [f"tag: {t}" for t in self.tags]
        if self.stash:
            parts.append("refs/stash")
        return ", ".join(parts)


def decorations(repo: Repository) -> dict[str, Names]:
    """Commit id → the names pointing at it (every ref read once)."""
    found: dict[str, Names] = {}
    for name, oid in repo.refs.list("refs/").items():
        if name.startswith(TAGS):
            oid = _peeled(repo, oid)  # an annotated tag decorates its commit
        names = found.setdefault(oid, Names())
        if name.startswith(HEADS):
            names.branches.append(name[len(HEADS):])
        elif name.startswith(TAGS):
            names.tags.append(name[len(TAGS):])
        elif name.startswith(REMOTES):
            names.remotes.append(name[len(REMOTES):])
    head = repo.head()
    if head is not None:
        found.setdefault(head, Names()).head = True
    for stash in _newest_stash(repo):
        found.setdefault(stash, Names()).stash = True
    return found


def _newest_stash(repo: Repository) -> list[str]:
    """The newest stash's commit, which `log --all` walks; none when the list is damaged
    (a decoration is no reason to fail a `log`: `muse stash list` reports it)."""
    from .stash import stash_ids

    try:
        return stash_ids(repo.muse_dir)[:1]
    except RepositoryError:
        return []


def _peeled(repo: Repository, oid: str) -> str:
    from .tags import peel

    try:
        return peel(repo.store, oid)
    except (MissingObjectError, CorruptObjectError):
        return oid  # a damaged tag decorates nothing; `muse verify` reports it
