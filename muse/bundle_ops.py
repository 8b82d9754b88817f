"""What the bundle commands do, without the CLI: revision ranges in, refs applied out."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .bundle import BundlePlan, BundleSummary, Progress, plan_bundle, write_bundle
from .checkout import check_move, move_tree_or_restore
from .errors import (
    ConflictError,
    MuseError,
    NonFastForwardError,
    RevisionError,
    SystemRefusedError,
    UsageError,
    system_refusal,
)
from .fsutil import atomic_writer
from .objects import Snapshot
from .policy import DEFAULT_POLICY, ReceivePolicy
from .receive import Pending, receive_bundle
from .refs import HEADS, TAGS, RefUpdate
from .repo import Repository
from .revisions import resolve, resolve_ref_name
from .storage import TAG

_RANGE_HINT = "e.g. `main`, `v1..main`, `^v1 main`, or --all for every branch and tag"


# -- create ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What `bundle create REV...` asked for: refs to carry, and the two sides of the range."""

    refs: dict[str, str]
    include: list[str]
    exclude: list[str]


def select_revisions(repo: Repository, revisions: Sequence[str], *,
                     all_refs: bool = False) -> Selection:
    """Parse git-like range arguments: `A`, `A..B`, `^A`, plus every branch and tag with --all."""
    refs: dict[str, str] = {}
    include: list[str] = []
    exclude: list[str] = []
    if all_refs:
        for name, oid in {**repo.refs.list(HEADS), **repo.refs.list(TAGS)}.items():
            refs[name] = oid
            include.append(oid)
    for text in revisions:
        if "..." in text:
            raise UsageError(f"symmetric ranges are not supported: {text!r}", hint=_RANGE_HINT)
        if ".." in text:
            left, right = text.split("..", 1)
            exclude.append(resolve(repo, left or "HEAD"))
            _positive(repo, right or "HEAD", refs, include)
        elif text.startswith("^"):
            exclude.append(resolve(repo, text[1:]))
        else:
            _positive(repo, text, refs, include)
    if not include:
        raise UsageError("no revision to put in the bundle", hint=_RANGE_HINT)
    if not refs:
        raise UsageError("none of the revisions names a branch or tag, so the bundle would "
                         "carry no ref", hint=_RANGE_HINT)
    return Selection(refs, include, exclude)


def _positive(repo: Repository, text: str, refs: dict[str, str], include: list[str]) -> None:
    oid = resolve(repo, text)
    name = _ref_named_by(repo, text)
    if name is not None:
        # The ref's own value: an annotated tag carries its tag object, not just the commit.
        oid = repo.refs.read(name) or oid
        refs[name] = oid
    include.append(oid)


def _ref_named_by(repo: Repository, text: str) -> str | None:
    """The full ref a revision spells (HEAD → the current branch), or None for ids and `~N`."""
    if text in ("HEAD", "@"):
        target = repo.refs.head_target()
        return target if target and repo.refs.read(target) is not None else None
    try:
        return resolve_ref_name(repo, text)
    except RevisionError:
        return None  # `resolve` already accepted it, so it is not an ambiguous ref


@dataclass(frozen=True)
class CreatePlan:
    plan: BundlePlan
    skipped_refs: list[str]  # asked for, but their commits are all on the excluded side


def plan_create(repo: Repository, selection: Selection) -> CreatePlan:
    """The bundle's contents; refuses an empty bundle before any file is touched."""
    plan = plan_bundle(repo.graph, selection.refs, selection.include, selection.exclude)
    if plan.empty:
        raise UsageError("refusing to create an empty bundle: the excluded side already has "
                         "every commit asked for", hint=_RANGE_HINT)
    carried = set(plan.commits) | set(plan.tags)
    kept = {name: oid for name, oid in plan.refs.items() if oid in carried}
    skipped = sorted(set(plan.refs) - set(kept))
    if not kept:
        raise UsageError("refusing to create a bundle whose refs are all excluded",
                         hint=_RANGE_HINT)
    return CreatePlan(dataclasses.replace(plan, refs=kept), skipped)


def write_bundle_file(repo: Repository, plan: BundlePlan, target: Path, *,
                      progress: Progress | None = None) -> BundleSummary:
    """Write to a temporary file beside `target`, renamed over it only once complete.

    No fsync, as git does not for its bundles: the file is an export, and a bundle
    torn by a crash fails its trailer check; it can never pass for a good one.
    """
    if not target.parent.is_dir():
        # A typo in the folder must not send hundreds of megabytes somewhere new.
        why = "is not a folder" if target.parent.exists() else "does not exist"
        raise UsageError(f"cannot write bundle {target}: {target.parent} {why}",
                         hint="create the folder first, or check the path")
    try:
        with atomic_writer(target, durable=False) as out:
            summary = write_bundle(repo.store, plan, out, progress=progress)
    except OSError as exc:
        refusal = system_refusal(exc)  # disk full, permission denied, …: exit 8
        if refusal is not None:
            raise SystemRefusedError(f"cannot write bundle {target}: {refusal.message}",
                                     hint=f"nothing was written; {refusal.hint}") from None
        raise MuseError(f"cannot write bundle {target}: {exc.strerror or exc}",
                        hint="nothing was written; check the path and free space") from None
    return summary


def write_bundle_stream(repo: Repository, plan: BundlePlan, out: BinaryIO, *,
                        progress: Progress | None = None) -> BundleSummary:
    try:
        summary = write_bundle(repo.store, plan, out, progress=progress)
        out.flush()
    except BrokenPipeError:
        # The reader stopped early (`| head -c 100`): what it got is a cut-short bundle,
        # a failure, not the quiet end that `muse log | head` is.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())  # no second error at exit
        raise SystemRefusedError("the bundle was cut short: the reader of the output "
                                 "stopped reading", hint="nothing complete was written; "
                                 "send the whole stream somewhere") from None
    except OSError as exc:
        raise MuseError(f"cannot write the bundle: {exc.strerror or exc}") from None
    return summary


# -- unbundle --------------------------------------------------------------------------


CREATED = "created"
FAST_FORWARD = "fast-forward"
FORCED = "forced"
UP_TO_DATE = "up to date"


@dataclass(frozen=True)
class RefChange:
    name: str
    old: str | None
    new: str
    status: str  # created, fast-forward, forced, up to date

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "old": self.old, "new": self.new, "status": self.status}


@dataclass(frozen=True)
class Unbundled:
    summary: BundleSummary
    new_items: int
    changes: list[RefChange]
    worktree_updated: bool


@dataclass
class _TreeMove:
    """The checked-out branch's move: checked before the pack lands, applied before the refs."""

    old: Snapshot | None
    new: Snapshot
    changed: list[str]


def unbundle(repo: Repository, source: BinaryIO, *, force: bool = False,
             progress: Progress | None = None,
             policy: ReceivePolicy = DEFAULT_POLICY) -> Unbundled:
    """Verify and store the bundle, then move its refs here in one all-or-nothing transaction.

    Every refusal (a bad bundle, a non-fast-forward, local changes in the way)
    happens before the pack is installed, so it leaves the repository unchanged.
    The checked-out branch's files are written before any ref moves, and put
    back if writing them or moving the refs fails: a ref never names a commit
    its tree only half shows.
    """
    changes: list[RefChange] = []
    moves: list[_TreeMove] = []

    def before_install(pending: Pending) -> None:
        changes.extend(plan_ref_changes(repo, pending.summary.header.refs, pending.parents,
                                        force=force, tags=pending.tags))
        move = _check_worktree(repo, changes, pending)
        if move is not None:
            moves.append(move)

    received = receive_bundle(repo.store, source, progress=progress, policy=policy,
                              before_install=before_install)
    moving = [c for c in changes if c.status != UP_TO_DATE]

    def move_refs() -> None:
        if moving:
            repo.refs.transaction([RefUpdate(c.name, c.old, c.new) for c in moving],
                                  f"unbundle: {received.summary.bundle_id[:12]}")

    if moves:  # the checked-out branch moves: its tree first, put back if the refs fail
        (move,) = moves
        move_tree_or_restore(repo, move.old, move.new, move.changed, move_refs)
    else:
        move_refs()
    return Unbundled(received.summary, received.new_items, changes, bool(moves))


def plan_ref_changes(repo: Repository, refs: Mapping[str, str],
                     parents: Mapping[str, tuple[str, ...]], *, force: bool,
                     tags: Mapping[str, str] | None = None) -> list[RefChange]:
    """How each bundle ref would move here; NonFastForwardError (nothing moved) if one may not.

    `tags` are the bundle's tag objects: a tag object is no point in history, so a ref
    naming one (before or after) never moves by fast-forward."""
    tags = tags or {}
    changes = []
    refused = []
    for name, new in sorted(refs.items()):
        _check_ref_path(repo, name)
        old = repo.refs.read(name)
        if old == new:
            status = UP_TO_DATE
        elif old is None:
            status = CREATED
        elif new not in tags and repo.store.kind(old) != TAG and _descends(repo, parents, old,
                                                                              new):
            status = FAST_FORWARD
        elif force:
            status = FORCED
        else:
            refused.append(name)
            continue
        changes.append(RefChange(name, old, new, status))
    if refused:
        raise NonFastForwardError(
            f"not a fast-forward: {', '.join(refused)} would lose commits; no ref was moved",
            hint="use --force to overwrite them, or merge first",
        )
    return changes


def _check_ref_path(repo: Repository, name: str) -> None:
    """A ref file cannot be created where a directory (or file) of another ref stands."""
    other = repo.refs.clash(name)
    if other is not None:
        what = "refs exist below it" if other == name + "/" else f"{other} exists"
        raise ConflictError(f"cannot create ref {name}: {what}")


def _descends(repo: Repository, parents: Mapping[str, tuple[str, ...]], old: str,
              new: str) -> bool:
    """True when `old` is an ancestor of `new`, walking the bundle's commits, then the store's."""
    stack = [new]
    seen: set[str] = set()
    while stack:
        oid = stack.pop()
        if oid == old:
            return True
        if oid in seen:
            continue
        seen.add(oid)
        found = parents.get(oid)
        stack.extend(found if found is not None else repo.graph.commit(oid).parents)
    return False


def _check_worktree(repo: Repository, changes: list[RefChange],
                    pending: Pending) -> _TreeMove | None:
    """How the working tree must move, or ConflictError if local work is in the way.

    The same rule as `switch` (`checkout.check_move`): local changes to the
    paths the move rewrites, and anything untracked or ignored where it
    writes, refuse it; other local changes are carried.
    """
    if repo.is_bare:
        return None
    target = repo.refs.head_target()
    moving = next((c for c in changes if c.name == target and c.status != UP_TO_DATE), None)
    if moving is None:
        return None
    old = repo.head_snapshot()
    worktree = repo.worktree
    current = worktree.snapshot()
    worktree.cache.save()
    new = pending.snapshot_of(moving.new)
    changed = check_move(worktree.root, old, new, current,
                         f"unbundle into the checked-out {moving.name}",
                         hint="commit them or move them out of the way, then unbundle again; "
                         "nothing was changed")
    return _TreeMove(old, new, changed)
