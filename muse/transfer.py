"""The transfer engine: push, fetch and clone over any `Remote`, written once for every driver."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from .branches import branch_ref_name
from .bundle import plan_bundle, write_bundle
from .errors import (
    IntegrityError,
    MuseError,
    NonFastForwardError,
    RefConflictError,
    RemoteError,
    RevisionError,
    UsageError,
)
from .objects import is_object_id
from .policy import DEFAULT_POLICY, ReceivePolicy
from .receive import receive_bundle, receive_linked
from .refs import HEADS, REMOTES, TAGS, RefUpdate, check_ref_name
from .remote import OutgoingBundle, PackContents, Remote, dependency_order, recorded_settings
from .remote_registry import URL_SCHEME
from .remotes_config import check_remote_name, normalise_url, path_from_url, remote_options
from .repo import Repository
from .storage import TAG
from .tags import peel

__all__ = [
    "FetchReport",
    "NoProgress",
    "PushConflictError",
    "PushNameClashError",
    "PushNonFastForwardError",
    "PushReport",
    "RefOutcome",
    "TransferProgress",
    "clone",
    "fetch",
    "push",
    "remote_name_for_url",
    "tracking_ref",
]


class TransferProgress(Protocol):
    def phase(self, name: str, total: int | None) -> None: ...  # "bundling", "uploading", …
    def advance(self, n: int) -> None: ...
    def finish(self) -> None: ...


@dataclass(frozen=True)
class RefOutcome:
    name: str
    old: str | None
    new: str | None
    status: str  # "up-to-date" | "created" | "fast-forward" | "forced" | "deleted" | "rejected"
    reason: str | None = None


@dataclass(frozen=True)
class PushReport:
    refs: list[RefOutcome]
    commits: int
    objects: int
    bundle_bytes: int
    dry_run: bool


@dataclass(frozen=True)
class FetchReport:
    refs: list[RefOutcome]  # the local refs this fetch changed (tracking refs, new tags)
    commits: int
    bundle_bytes: int


class PushNonFastForwardError(NonFastForwardError):
    """Refused before sending anything; `refs` has every ref's outcome (some "rejected")."""

    def __init__(self, message: str, *, hint: str | None, refs: list[RefOutcome]) -> None:
        super().__init__(message, hint=hint)
        self.refs = refs


class PushConflictError(RefConflictError):
    """The remote refused the updates (a concurrent push moved a ref); nothing moved there."""

    def __init__(self, message: str, *, hint: str | None, refs: list[RefOutcome]) -> None:
        super().__init__(message, hint=hint)
        self.refs = refs


class PushNameClashError(RefConflictError):
    """A pushed name cannot coexist with a remote ref (`x/y` while `x` exists); nothing moved."""

    code = "ref-name-clash"

    def __init__(self, message: str, *, hint: str | None, refs: list[RefOutcome]) -> None:
        super().__init__(message, hint=hint)
        self.refs = refs


class NoProgress:
    """The TransferProgress that shows nothing: logs, pipes, --json and library callers."""

    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass


def tracking_ref(remote_name: str, ref: str) -> str | None:
    """`refs/remotes/origin/main` for `refs/heads/main`; None for refs that are not branches."""
    if not ref.startswith(HEADS):
        return None
    return check_ref_name(f"{REMOTES}{remote_name}/{ref[len(HEADS):]}")


def remote_name_for_url(repo: Repository, url: str) -> str | None:
    """The configured remote (`remote.NAME.url`) whose URL is `url`, if exactly one is."""
    names = [n for n in repo.config.sections("remote") if repo.config.get(f"remote.{n}.url") == url]
    return names[0] if len(names) == 1 else None


# -- push ------------------------------------------------------------------------


def _remote_refs(remote: Remote) -> dict[str, str]:
    """The remote's refs, checked: a misbehaving remote is a RemoteError, not a crash here."""
    refs = remote.list_refs()
    for name, value in refs.items():
        try:
            check_ref_name(name)
        except UsageError:
            raise RemoteError(f"{remote.url} lists an invalid ref name {name!r}") from None
        if not isinstance(value, str) or not is_object_id(value):
            raise RemoteError(f"{remote.url} lists ref {name} with a malformed id "
                              f"{str(value)[:80]!r}")
    return refs


def _resolve_source(repo: Repository, local: str, dst: str) -> str:
    value = repo.refs.read(check_ref_name(local)) if local.startswith("refs/") else None
    if value is None and is_object_id(local) and repo.store.has(local):
        value = local
    if value is None:
        raise UsageError(f"nothing to push: {local} does not exist here",
                         hint="name an existing branch or tag (e.g. refs/heads/main)")
    kind = repo.store.kind(value)
    if kind == TAG and dst.startswith(TAGS):
        return value  # an annotated tag: its tag object travels with its commit
    if kind != "commit":
        # A remote ref naming a blob would break every later fetch of that remote.
        raise IntegrityError(f"cannot push {local}: {value} is a {kind}, not a commit; "
                             "nothing was sent", code="not-a-commit",
                             hint="a branch or tag must name a commit")
    return value


def _clash_outcomes(outcomes: list[RefOutcome], remote_refs: dict[str, str]) -> list[RefOutcome]:
    """Each pushed name that would clash, as folders, with another remote ref, as rejected."""
    names = {n for n in remote_refs} | {o.name for o in outcomes if o.new is not None}
    names -= {o.name for o in outcomes if o.new is None}
    clashed = []
    for o in outcomes:
        other = _folder_clash(o.name, names) if o.new is not None else None
        if other is not None:
            clashed.append(RefOutcome(o.name, o.old, o.new, "rejected",
                                      f"clashes with existing ref {other}"))
    return clashed


def _folder_clash(name: str, names: set[str]) -> str | None:
    for other in sorted(names):
        if other != name and (other.startswith(name + "/") or name.startswith(other + "/")):
            return other
    return None


def _raise_clash(clashed: list[RefOutcome], outcomes: list[RefOutcome]) -> None:
    by_name = {o.name: o for o in clashed}
    first = clashed[0]
    raise PushNameClashError(
        f"push refused: {first.name} {first.reason} on the remote (a ref and a folder "
        "of refs cannot share a name); nothing was changed",
        hint="rename the branch, or delete the other ref first (`muse push REMOTE :NAME`)",
        refs=[by_name.get(o.name, o) for o in outcomes])


def _classify(repo: Repository, name: str, old: str | None, new: str | None,
              force: bool) -> RefOutcome:
    if old == new:
        return RefOutcome(name, old, new, "up-to-date")
    if new is None:
        return RefOutcome(name, old, new, "deleted")
    if old is None:
        return RefOutcome(name, old, new, "created")
    if name.startswith(TAGS):
        reason = "tag already exists on the remote"
    elif not repo.store.has(old):
        reason = "fetch first: the remote has commits this repository lacks"
    elif repo.graph.is_ancestor(old, new):
        return RefOutcome(name, old, new, "fast-forward")
    else:
        reason = "non-fast-forward: the remote has commits not in yours"
    if force:
        return RefOutcome(name, old, new, "forced")
    return RefOutcome(name, old, new, "rejected", reason)


def push(repo: Repository, remote: Remote, refspecs: list[tuple[str | None, str]], *,
         force: bool = False, dry_run: bool = False, progress: TransferProgress | None = None,
         remote_name: str | None = None) -> PushReport:
    """Send one bundle of what the remote lacks and move its refs by CAS, all or none.

    `refspecs` are (local full ref name or None to delete, remote full ref name).
    `remote_name` names the tracking refs to update; default: the configured
    remote whose URL is `remote.url` (no tracking update when there is none).
    """
    progress = progress or NoProgress()
    if not refspecs:
        raise UsageError("nothing to push: no refs named")
    targets = [check_ref_name(dst) for _, dst in refspecs]
    if len(set(targets)) != len(targets):
        raise UsageError("a remote ref appears twice in one push")
    wanted = [(None if src is None else _resolve_source(repo, src, dst), dst)
              for src, dst in refspecs]

    caps = remote.capabilities()
    if not caps.writable:
        # Not "read-only": users took that for file permissions. The built-in fetch-only
        # remotes are a working repository and a bundle file.
        raise RemoteError(f"{remote.url} is fetch-only: it can be fetched and cloned from, "
                          "not pushed to",
                          hint="a working repository or a bundle file takes no push: push to "
                          "a bare repository (`muse init --bare DIR`)")
    remote_refs = _remote_refs(remote)
    outcomes: list[RefOutcome] = []
    for new, dst in wanted:
        old = remote_refs.get(dst)
        if new is None and old is None:
            raise UsageError(f"cannot delete {dst}: the remote has no such ref")
        outcomes.append(_classify(repo, dst, old, new, force))
    rejected = [o for o in outcomes if o.status == "rejected"]
    if rejected:
        names = ", ".join(o.name for o in rejected)
        if all(o.name.startswith(TAGS) for o in rejected):
            # A tag is not history to pull in: it already names another commit there.
            raise PushNonFastForwardError(
                f"push refused: {names} already exists on the remote at another commit",
                hint="tags are not moved by a push; --force moves it (everyone who "
                "fetched it keeps the old one), or push a new tag name",
                refs=outcomes)
        raise PushNonFastForwardError(
            f"push refused, would drop commits on the remote: {names} ({rejected[0].reason})",
            hint="fetch first (`muse pull` to bring in their commits), "
            "or --force to overwrite the remote",
            refs=outcomes,
        )
    clashed = _clash_outcomes(outcomes, remote_refs)
    if clashed:
        _raise_clash(clashed, outcomes)
    changes = [o for o in outcomes if o.status != "up-to-date"]
    name = remote_name or remote_name_for_url(repo, remote.url)
    if not changes:
        if name is not None and not dry_run:
            # Someone else may have pushed the same commits: the tracking refs catch up.
            _update_tracking(repo, name, {o.name: o.new for o in outcomes}, "push")
        return PushReport(outcomes, 0, 0, 0, dry_run)

    if len(changes) > 1 and not caps.atomic_multi_ref:
        raise RemoteError(f"{remote.url} cannot move several refs atomically",
                          hint="push one ref at a time")
    include = sorted({o.new for o in changes if o.new is not None})
    # Everything a remote ref names is on the remote with its whole closure (no ghost
    # refs), so every one of them we also have bounds the walk: O(new commits).
    exclude = sorted({v for v in remote_refs.values() if repo.store.has(v)})
    plan = plan_bundle(repo.graph, {o.name: o.new for o in changes if o.new is not None},
                       include, exclude) if include else None
    commits = len(plan.commits) if plan is not None else 0
    objects = len(plan.objects) if plan is not None else 0
    if dry_run:
        return PushReport(outcomes, commits, objects, 0, True)

    updates = [RefUpdate(o.name, o.old, o.new) for o in changes]
    bundle_bytes = 0
    with contextlib.ExitStack() as stack:
        bundle: OutgoingBundle | None = None
        if plan is not None and not plan.empty:
            tmp = repo.store.new_tmp_file(".bundle")
            stack.callback(_unlink, tmp)
            progress.phase("bundling", plan.object_bytes)
            with open(tmp, "wb") as out:
                # A verifying remote re-hashes every object and refuses a damaged
                # one, so hashing them here too would only double the work; for any
                # other remote, this is where the pushed bytes are checked.
                summary = write_bundle(repo.store, plan, out, progress=progress.advance,
                                       verify_objects=not caps.server_verifies)
            bundle_bytes = summary.size
            if caps.max_bundle_bytes is not None and bundle_bytes > caps.max_bundle_bytes:
                raise RemoteError(
                    f"push of {bundle_bytes} bytes exceeds {remote.url}'s limit of "
                    f"{caps.max_bundle_bytes} bytes", hint="push fewer commits at a time")
            progress.phase("uploading", bundle_bytes)
            # Our own temporary file, never written again: a receiver may keep it by link.
            contents = PackContents(tuple(plan.prerequisites), plan.parents, summary.entries,
                                    plan.tag_targets)
            bundle = OutgoingBundle(tmp, summary.size, summary.bundle_id, disposable=True,
                                    progress=progress.advance, contents=contents)
        else:
            progress.phase("updating refs", None)
        results = remote.push(bundle, updates)
        progress.finish()

    by_name = {r.name: r for r in results}
    refused = [u for u in updates if u.name not in by_name or not by_name[u.name].ok]
    if refused:
        refused_names = {u.name for u in refused}
        final = [o if o.name not in refused_names else
                 RefOutcome(o.name, o.old, o.new, "rejected",
                            (by_name[o.name].reason if o.name in by_name else None) or "stale")
                 for o in outcomes]
        clashes = [o for o in final if (o.reason or "").startswith("rejected:")
                   and "clashes" in (o.reason or "")]
        if clashes:
            _raise_clash([replace(o, reason=(o.reason or "").split(f"{o.name} ", 1)[-1])
                          for o in clashes], final)
        names = ", ".join(u.name for u in refused)
        raise PushConflictError(
            f"push refused: the remote moved {names} since it was read; nothing was changed",
            hint="fetch first (or pull), then push again", refs=final)

    if name is not None:
        _update_tracking(repo, name, {o.name: o.new for o in outcomes}, "push")
    return PushReport(outcomes, commits, objects, bundle_bytes, False)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _update_tracking(repo: Repository, remote_name: str, values: dict[str, str | None],
                     why: str) -> list[RefUpdate]:
    """Force the tracking refs of `remote_name` to `values` (remote ref → commit or None);
    return the moves made."""
    pending: list[tuple[str, str | None]] = []
    for ref, new in values.items():
        tracking = tracking_ref(remote_name, ref)
        if tracking is not None:
            pending.append((tracking, new))
    if not pending:
        return []
    # Tracking refs are a cache of what the remote said: read, then CAS; a concurrent
    # fetch that moved one in between means we retry with what it wrote.
    for _attempt in range(3):
        updates = [RefUpdate(tracking, old, new) for tracking, new in pending
                   if (old := repo.refs.read(tracking)) != new]
        if not updates:
            return []
        try:
            repo.refs.transaction(updates, f"{why}: {remote_name}")
            return updates
        except RefConflictError:
            continue
    raise RefConflictError(f"tracking refs of {remote_name} keep moving",
                           hint="another command is fetching; retry")


def _move_status(repo: Repository, old: str | None, new: str | None) -> str:
    if new is None:
        return "deleted"
    if old is None:
        return "created"
    if repo.store.has(old) and repo.store.has(new) and repo.graph.is_ancestor(old, new):
        return "fast-forward"
    return "forced"


# -- fetch -----------------------------------------------------------------------


def fetch(repo: Repository, remote: Remote, remote_name: str, *,
          progress: TransferProgress | None = None,
          policy: ReceivePolicy = DEFAULT_POLICY, prune: bool = False) -> FetchReport:
    """Receive what the remote's branches and tags have that we lack; update tracking refs.

    Every bundle is verified under `policy` (e.g. trusted signers only) before any
    of it is stored; a refusal leaves the repository as it was. With `prune`, the
    tracking refs of branches the remote no longer has are deleted ("deleted").
    """
    progress = progress or NoProgress()
    check_remote_name(remote_name)
    remote_refs = _remote_refs(remote)
    heads = {n: v for n, v in remote_refs.items() if n.startswith(HEADS)}
    tags = {n: v for n, v in remote_refs.items() if n.startswith(TAGS)}
    wants = sorted({v for v in (*heads.values(), *tags.values()) if not repo.store.has(v)})
    commits = bundle_bytes = 0
    if wants:
        haves = sorted(set(repo.refs.list("refs/").values()))
        # Several bundles (a bucket's packs) arrive in dependency order: each one's
        # prerequisites are in the store, received earlier, by the time it is read.
        bundles = dependency_order(remote.fetch(wants, haves))
        sizes = [b.size for b in bundles]
        progress.phase("receiving", sum(s for s in sizes if s) if None not in sizes else None)
        for incoming in bundles:
            received = None
            if incoming.local_path is not None:
                # The same filesystem: hard-link the remote's pack, verified all the same.
                received = receive_linked(repo.store, incoming.local_path, incoming.bundle_id,
                                          progress=progress.advance, policy=policy)
            if received is None:
                with incoming.open() as stream:
                    received = receive_bundle(repo.store, stream, progress=progress.advance,
                                              policy=policy)
            commits += len(received.summary.commits)
            bundle_bytes += received.summary.size
        progress.finish()
        missing = [w for w in wants if not repo.store.has(w)]
        if missing:
            raise RemoteError(f"{remote.url} did not send commit {missing[0]} that its refs name",
                              hint="the remote is damaged or misbehaving; nothing was changed")
    # Only fetch reports how each tracking ref moved (a push's report is its own refs).
    # Pruning goes first, on its own: a remote that replaced branch `a` by `a/b` then
    # fetches cleanly, as refs are files and `a` must be gone before `a/b` can exist.
    moves = _prune_tracking(repo, remote_name, heads) if prune else []
    moves += _update_tracking(repo, remote_name, dict(heads), "fetch")
    outcomes = [RefOutcome(u.name, u.old, u.new, _move_status(repo, u.old, u.new))
                for u in moves]
    outcomes.extend(_create_tags(repo, tags))
    return FetchReport(outcomes, commits, bundle_bytes)


def _prune_tracking(repo: Repository, remote_name: str, heads: dict[str, str],
                    ) -> list[RefUpdate]:
    """Delete the tracking refs of `remote_name` whose branch is not among `heads`."""
    prefix = f"{REMOTES}{remote_name}/"
    gone: dict[str, str | None] = {HEADS + ref[len(prefix):]: None
                                   for ref in repo.refs.names(prefix)
                                   if HEADS + ref[len(prefix):] not in heads}
    return _update_tracking(repo, remote_name, gone, "fetch: prune") if gone else []


def _create_tags(repo: Repository, tags: dict[str, str]) -> list[RefOutcome]:
    updates: list[RefUpdate] = []
    outcomes: list[RefOutcome] = []
    for name, value in sorted(tags.items()):
        local = repo.refs.read(name)
        if local is None:
            updates.append(RefUpdate(name, None, value))
            outcomes.append(RefOutcome(name, None, value, "created"))
        elif local != value:
            outcomes.append(RefOutcome(name, local, value, "rejected",
                                       "would clobber an existing tag"))
    if updates:
        with contextlib.suppress(RefConflictError):
            # A tag created here meanwhile wins: tags are never overwritten by a fetch.
            repo.refs.transaction(updates, "fetch: new tags")
            return outcomes
        return [o for o in outcomes if o.status == "rejected"]
    return outcomes


# -- clone -----------------------------------------------------------------------


def _default_branch(heads: dict[str, str]) -> str | None:
    if HEADS + "main" in heads:
        return "main"
    return sorted(heads)[0][len(HEADS):] if heads else None


def clone(url: str, dest: Path, *, remote_name: str = "origin",
          progress: TransferProgress | None = None, remote: Remote | None = None,
          policy: ReceivePolicy = DEFAULT_POLICY, branch: str | None = None,
          settings: Mapping[str, str] | None = None) -> Repository:
    """A new repository at `dest` with everything the remote has, on its default branch
    (or on `branch`; a tag of that name detaches HEAD at its commit, as git's `-b`).

    `settings` are the remote's own (`remote.NAME.KEY`, checked by `parse_settings`):
    recorded first and used to connect, then with them what the driver took from the
    environment (`recorded_settings`), so the new remote opens as this clone's did.
    `remote` overrides connecting to `url` (tests and callers that wrap drivers).
    On any failure, everything this call created is removed again.
    """
    dest = Path(dest)
    existed = dest.exists()
    if existed and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"destination {dest} already exists and is not an empty directory",
                         hint="choose a new directory name")
    check_remote_name(remote_name)
    if branch is not None:
        branch_ref_name(branch)  # a name no branch (or tag) could have
    url = normalise_url(url)
    _check_outside_destination(url, dest, existed)
    owned = remote is None
    try:
        repo = Repository.init(dest)
        repo.config.set(f"remote.{remote_name}.url", url)
        for key, value in (settings or {}).items():
            repo.config.set(f"remote.{remote_name}.{key}", value)
        if remote is None:
            from .remote_wrappers import connect

            remote = connect(url, remote_options(repo, remote_name, url=url))
        for key, value in recorded_settings(remote).items():
            if repo.config.get(f"remote.{remote_name}.{key}") is None:
                repo.config.set(f"remote.{remote_name}.{key}", value)
        fetch(repo, remote, remote_name, progress=progress, policy=policy)
        heads = {n[len(f"{REMOTES}{remote_name}/"):]: v
                 for n, v in repo.refs.list(f"{REMOTES}{remote_name}/").items()}
        commit = _check_out_clone(repo, url, remote_name, heads, branch)
        if commit is not None:
            snapshot = repo.commit_snapshot(commit)
            if progress is not None:
                progress.phase("checking out", len(snapshot.entries))
            repo.worktree.apply(None, snapshot)
            if progress is not None:
                progress.advance(len(snapshot.entries))
                progress.finish()
        return repo
    except BaseException:
        _remove_created(dest, existed)
        raise
    finally:
        if owned and remote is not None:
            with contextlib.suppress(MuseError, OSError):
                remote.close()


def _check_out_clone(repo: Repository, url: str, remote_name: str, heads: dict[str, str],
                     wanted: str | None) -> str | None:
    """Point HEAD where a clone starts: a local branch tracking the remote's (the
    default, or `wanted`), or detached at tag `wanted`. The commit to check out."""
    if wanted is None:
        branch = _default_branch({HEADS + n: v for n, v in heads.items()})
    else:
        branch = wanted if wanted in heads else None
    if branch is None:
        if wanted is None:
            return None  # an empty remote
        tag = repo.refs.read(TAGS + wanted)
        if tag is None:
            raise RevisionError(f"remote {remote_name} has no branch or tag {wanted!r}",
                                hint=f"see `muse ls-remote {url}` for what it has")
        commit = peel(repo.store, tag)
        repo.refs.set_head(commit, f"clone: from {url}")
        return commit
    ref = HEADS + branch
    repo.refs.update(ref, None, heads[branch], f"clone: from {url}")
    repo.refs.set_head(ref, f"clone: from {url}")
    repo.config.set(f"branch.{branch}.remote", remote_name)
    repo.config.set(f"branch.{branch}.merge", ref)
    return heads[branch]


def _check_outside_destination(url: str, dest: Path, existed: bool) -> None:
    """A local remote may not be the destination (or inside it): the folder clone is about
    to create would be read back as the remote, an empty one, and "cloned" from itself."""
    if URL_SCHEME.match(url) and not url.startswith("file://"):
        return
    source = path_from_url(url)
    target = dest.resolve()
    source = source.resolve()
    if source != target and target not in source.parents:
        return
    if not existed:  # the source is not there yet: only the clone would have made it
        raise RemoteError(f"no Muse remote at {source}",
                          hint=f"create one with `muse init --bare {source}`, or check the path")
    raise UsageError(f"cannot clone {source} into itself",
                     hint="name another directory: muse clone URL DIR")


def _remove_created(dest: Path, existed: bool) -> None:
    if not existed:
        shutil.rmtree(dest, ignore_errors=True)
        return
    # The directory was empty before: empty it again, keep the directory itself.
    if dest.is_dir():
        for child in list(dest.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(child)
