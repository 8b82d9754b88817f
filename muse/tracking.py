"""How a branch stands against its upstream's remote-tracking ref: ahead, behind, gone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UsageError
from .graph import reachability_delta
from .refs import HEADS, REMOTES, check_ref_name

if TYPE_CHECKING:
    from .repo import Repository


@dataclass(frozen=True)
class Upstream:
    """A branch's upstream: `branch.NAME.remote` and `branch.NAME.merge`."""

    remote: str
    merge: str  # the branch's full ref name on the remote, e.g. refs/heads/main

    @property
    def branch(self) -> str:
        return self.merge[len(HEADS):] if self.merge.startswith(HEADS) else self.merge


def upstream(repo: Repository, branch: str) -> Upstream | None:
    remote = repo.config.get(f"branch.{branch}.remote")
    merge = repo.config.get(f"branch.{branch}.merge")
    if not remote or not merge:
        return None
    return Upstream(remote, merge)


def tracking_ref(repo: Repository, branch: str) -> str | None:
    """The remote-tracking ref BRANCH's upstream is followed by (`refs/remotes/origin/main`),
    whether fetched or not; None when it has no upstream branch."""
    up = upstream(repo, branch)
    if up is None or not up.merge.startswith(HEADS):
        return None
    try:
        return check_ref_name(f"{REMOTES}{up.remote}/{up.merge[len(HEADS):]}")
    except UsageError:
        return None  # a hand-edited setting no ref can match: nothing to compare with


@dataclass(frozen=True)
class UpstreamStatus:
    """`name` as shown (`origin/main`); `gone`: the tracking ref does not exist (never
    fetched, or the branch was deleted on the remote and pruned); counts are then 0."""

    name: str
    ref: str
    ahead: int
    behind: int
    gone: bool


def upstream_status(repo: Repository, branch: str) -> UpstreamStatus | None:
    """BRANCH against its upstream (`branch.NAME.remote` / `.merge`); None when it has none.

    Counts come from two reachability deltas, O(commits between) rather than
    O(history): exact whenever commit clocks never go backwards (muse.graph).
    """
    ref = tracking_ref(repo, branch)
    if ref is None:
        return None
    name = ref[len(REMOTES):]
    mine = repo.refs.read(HEADS + branch)
    if mine is None:
        return None  # no commits yet: nothing to count
    theirs = repo.refs.read(ref)
    if theirs is None:
        return UpstreamStatus(name, ref, 0, 0, gone=True)
    if mine == theirs:
        return UpstreamStatus(name, ref, 0, 0, gone=False)
    ahead = len(reachability_delta(repo.graph, [mine], [theirs]).commits)
    behind = len(reachability_delta(repo.graph, [theirs], [mine]).commits)
    return UpstreamStatus(name, ref, ahead, behind, gone=False)
