"""Which branches or tags a listing shows: patterns, `--contains`, `--merged`, `--no-merged`."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .repo import Repository


@dataclass(frozen=True)
class RefFilter:
    """Commits are resolved ids; a ref is kept when it passes every condition given."""

    patterns: tuple[str, ...] = ()
    contains: str | None = None    # the ref's commit reaches this one
    merged: str | None = None      # this commit reaches the ref's
    not_merged: str | None = None  # this commit does not reach the ref's

    def keeps(self, repo: Repository, name: str, commit: str) -> bool:
        """Whether the ref `name` (as listed: `main`, `v1`, `origin/main`) at `commit`
        (a tag's peeled commit) is shown. Patterns are shell globs, as git's `--list`."""
        if self.patterns and not any(fnmatchcase(name, p) for p in self.patterns):
            return False
        graph = repo.graph
        if self.contains is not None and not graph.is_ancestor(self.contains, commit):
            return False
        if self.merged is not None and not graph.is_ancestor(commit, self.merged):
            return False
        return self.not_merged is None or not graph.is_ancestor(commit, self.not_merged)
