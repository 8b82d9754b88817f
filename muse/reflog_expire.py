"""Reflog expiry: old entries go, so what only they kept alive can be collected by gc.

An entry older than `gc.reflogExpire` (default 90 days) goes; so does one older than
`gc.reflogExpireUnreachable` (default 30 days) naming a commit (before or after the
move) that the ref's current tip no longer reaches (a reset, an amended history, a
deleted branch). Either may be `never`.
`muse gc` expires every log first; `muse reflog expire` does it on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .reflog import ReflogEntry
from .repo import Repository

EXPIRE_KEY = "gc.reflogExpire"
UNREACHABLE_KEY = "gc.reflogExpireUnreachable"
DEFAULT_EXPIRE = "90.days.ago"
DEFAULT_UNREACHABLE = "30.days.ago"


@dataclass(frozen=True)
class Cutoffs:
    """Unix times before which an entry goes (None: never): any entry, or one the tip lacks."""

    expire: float | None
    unreachable: float | None


@dataclass
class ExpireReport:
    """What one expiry removed and kept, per log."""

    removed: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    @property
    def total_removed(self) -> int:
        return sum(self.removed.values())


def configured_cutoffs(repo: Repository, expire: str | None = None,
                       unreachable: str | None = None) -> Cutoffs:
    """The cutoffs asked for, else the configured ones, else 90 and 30 days ago."""
    from .gc import cutoff_setting  # the one reader of `now`, `never`, `2.weeks.ago`, dates

    return Cutoffs(cutoff_setting(repo, expire, EXPIRE_KEY, DEFAULT_EXPIRE),
                   cutoff_setting(repo, unreachable, UNREACHABLE_KEY, DEFAULT_UNREACHABLE))


def expire_reflogs(repo: Repository, cutoffs: Cutoffs, names: list[str] | None = None, *,
                   dry_run: bool = False) -> ExpireReport:
    """Expire the logs of `names` (default: every log, HEAD's included)."""
    report = ExpireReport()
    if cutoffs.expire is None and cutoffs.unreachable is None:
        return report  # nothing may go: not even a read
    walked: dict[str, set[str]] = {}  # tip -> what it reaches: HEAD and its branch share one
    for name in names if names is not None else repo.refs.log_names():
        keep = _keeper(repo, name, cutoffs, walked)
        report.removed[name], report.kept[name] = repo.refs.expire_reflog(
            name, keep, dry_run=dry_run)
    return report


def _keeper(repo: Repository, name: str, cutoffs: Cutoffs,
            walked: dict[str, set[str]]) -> Callable[[ReflogEntry], bool]:
    """Whether an entry of `name`'s log stays. The tip's ancestry is walked once, and only
    when an entry is old enough for reachability to matter."""
    # A damaged ref refuses (RepositoryError): what it reaches cannot be known.
    tip = repo.refs.head_commit() if name == "HEAD" else repo.refs.read(name)

    def reaches(commit: str) -> bool:
        if tip is None:
            return False
        if tip not in walked:
            walked[tip] = _ancestry(repo, tip)
        return commit in walked[tip]

    def keep(entry: ReflogEntry) -> bool:
        if cutoffs.expire is not None and entry.timestamp < cutoffs.expire:
            return False
        if cutoffs.unreachable is None or entry.timestamp >= cutoffs.unreachable:
            return True
        # gc keeps both ids of a line alive: both must be reached for an old line to stay.
        return entry.new is not None and reaches(entry.new) and (
            entry.old is None or reaches(entry.old))

    return keep


def _ancestry(repo: Repository, tip: str) -> set[str]:
    """Every commit `tip` reaches (a tag object: its commit's)."""
    from .tags import peel

    return set(repo.graph.walk([peel(repo.store, tip)]))
