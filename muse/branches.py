"""Branches and tags: named refs created, moved and deleted by compare-and-swap."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConflictError, RevisionError, UsageError
from .refs import HEADS, REMOTES, TAGS, check_ref_name
from .repo import Repository

# Names that would read as revision syntax rather than as a name.
_RESERVED = {"HEAD", "@"}


@dataclass(frozen=True)
class NamedRef:
    """A branch or tag as listed: short name, commit, and whether HEAD is on it."""

    name: str
    commit: str
    current: bool = False


@dataclass(frozen=True)
class RefChange:
    """What a create or delete did: the ref's value before and after."""

    name: str
    old: str | None
    new: str | None


def _full_name(prefix: str, name: str, kind: str) -> str:
    hint = "names may not contain spaces, '..', '~^:?*[\\', start with '.' or '-', or be HEAD"
    if name in _RESERVED or name.startswith("-"):
        raise UsageError(f"invalid {kind} name {name!r}", hint=hint)
    try:
        return check_ref_name(prefix + name)
    except UsageError:
        raise UsageError(f"invalid {kind} name {name!r}", hint=hint) from None


def branch_ref_name(name: str) -> str:
    """`refs/heads/NAME`, or UsageError if NAME cannot be a branch."""
    return _full_name(HEADS, name, "branch")


def tag_ref_name(name: str) -> str:
    """`refs/tags/NAME`, or UsageError if NAME cannot be a tag."""
    return _full_name(TAGS, name, "tag")


def _check_no_folder_clash(repo: Repository, ref: str, kind: str) -> None:
    """Refs are files, so `a` and `a/b` cannot both exist: refuse before touching disk."""
    other = repo.refs.clash(ref)
    if other is None:
        return
    short = ref.split("/", 2)[2]
    what = (f"names under {short}/" if other == ref + "/"
            else f"{kind} {other.split('/', 2)[-1]!r}")
    raise UsageError(f"{kind} {short!r} clashes with existing {what}",
                     hint=f"a {kind} name cannot also be a folder of other {kind} names")


def _list(repo: Repository, prefix: str) -> list[NamedRef]:
    current = repo.refs.head_target()
    return [NamedRef(ref[len(prefix):], commit, ref == current)
            for ref, commit in repo.refs.list(prefix).items()]


def list_branches(repo: Repository) -> list[NamedRef]:
    return _list(repo, HEADS)


def list_remote_branches(repo: Repository) -> list[NamedRef]:
    """Remote-tracking branches, named as `origin/main`."""
    return _list(repo, REMOTES)


def list_tags(repo: Repository) -> list[NamedRef]:
    return _list(repo, TAGS)


def _check_creatable(repo: Repository, ref: str, kind: str, force: bool) -> str | None:
    """The ref's value now; ConflictError if it exists (unless `force`), UsageError on a clash."""
    old = repo.refs.read(ref)
    short = ref.split("/", 2)[2]
    if old is not None and not force:
        raise ConflictError(f"a {kind} named {short!r} already exists",
                            hint="use -f to move it to the new commit")
    if old is None:
        _check_no_folder_clash(repo, ref, kind)
    return old


def _create(repo: Repository, ref: str, kind: str, commit: str, force: bool,
            message: str) -> RefChange:
    old = _check_creatable(repo, ref, kind, force)
    short = ref.split("/", 2)[2]
    if old != commit:
        repo.refs.update(ref, old, commit, message)
    return RefChange(short, old, commit)


def create_branch(repo: Repository, name: str, commit: str, *, force: bool = False,
                  start_label: str = "HEAD") -> RefChange:
    """Create branch NAME at `commit`; with `force`, move it there if it exists."""
    ref = branch_ref_name(name)
    if force and ref == repo.refs.head_target() and repo.refs.read(ref) != commit:
        raise ConflictError(f"cannot force-move the current branch {name!r}",
                            hint="use `muse reset --hard REV` to move the branch you are on")
    return _create(repo, ref, "branch", commit, force, f"branch: created from {start_label}")


def delete_branch(repo: Repository, name: str, *, force: bool = False) -> RefChange:
    """Delete branch NAME; unless `force`, only when its commits are all in HEAD."""
    ref = branch_ref_name(name)
    old = repo.refs.read(ref)
    if old is None:
        raise RevisionError(f"no branch named {name!r}", hint="see `muse branch` for the list")
    if ref == repo.refs.head_target():
        raise ConflictError(f"cannot delete the current branch {name!r}",
                            hint="switch to another branch first (`muse switch OTHER`)")
    head = repo.head()
    if not force and (head is None or not repo.graph.is_ancestor(old, head)):
        raise ConflictError(f"branch {name!r} is not merged into HEAD",
                            hint=f"merge it first, or `muse branch -D {name}` to delete it "
                            f"anyway (its reflog keeps the commit: `muse reflog {name}`)")
    repo.refs.update(ref, old, None, "branch: deleted")
    _drop_branch_config(repo, name)
    return RefChange(name, old, None)


def _branch_settings(repo: Repository, name: str) -> list[tuple[str, str]]:
    """`branch.NAME.*` (upstream remote and merge): options have no dots, names may."""
    start = f"branch.{name}."
    return [(key[len(start):], value) for key, value in repo.config.items()
            if key.startswith(start) and "." not in key[len(start):]]


def _drop_branch_config(repo: Repository, name: str) -> None:
    if _branch_settings(repo, name):
        repo.config.remove_section(f"branch.{name}")


@dataclass(frozen=True)
class Renamed:
    """What a rename did: the branch's old and new short names and its commit (None:
    the current branch had no commit yet)."""

    old: str
    new: str
    commit: str | None


def rename_branch(repo: Repository, old_name: str | None, new_name: str) -> Renamed:
    """Rename branch OLD (default: the current one) to NEW, with its upstream settings and
    its reflog; HEAD follows. NEW must not exist."""
    if old_name is None:
        old_name = repo.current_branch()
        if old_name is None:
            raise UsageError("HEAD is detached: which branch to rename?",
                             hint="muse branch -m OLD NEW")
    old_ref, new_ref = branch_ref_name(old_name), branch_ref_name(new_name)
    commit = repo.refs.read(old_ref)
    unborn = commit is None and repo.refs.head_target() == old_ref
    if commit is None and not unborn:
        raise RevisionError(f"no branch named {old_name!r}",
                            hint="see `muse branch` for the list")
    if old_ref == new_ref:
        return Renamed(old_name, new_name, commit)
    if repo.refs.read(new_ref) is not None:
        raise ConflictError(f"a branch named {new_name!r} already exists",
                            hint=f"delete it first (`muse branch -d {new_name}`), "
                            "or choose another name")
    _check_no_folder_clash(repo, new_ref, "branch")
    message = f"branch: renamed {old_ref} to {new_ref}"
    if commit is None:
        repo.refs.set_head(new_ref, message)  # no commit yet: only HEAD names the branch
    else:
        repo.refs.rename(old_ref, new_ref, commit, message)
    settings = _branch_settings(repo, old_name)
    _drop_branch_config(repo, new_name)  # a gone branch's leftovers must not mix in
    for key, value in settings:
        repo.config.set(f"branch.{new_name}.{key}", value)
    _drop_branch_config(repo, old_name)
    return Renamed(old_name, new_name, commit)


def create_tag(repo: Repository, name: str, target: str, *, force: bool = False) -> RefChange:
    """Point tag NAME at `target`, a commit or a stored tag object (whose whole chain and
    commit are stored: a tag ref is never a ghost); with `force`, move it if it exists."""
    return _create(repo, tag_ref_name(name), "tag", target, force, "tag: created")


def check_tag_creatable(repo: Repository, name: str, *, force: bool = False) -> None:
    """Refuse, before anything is written, a tag `create_tag` would refuse."""
    _check_creatable(repo, tag_ref_name(name), "tag", force)


def delete_tag(repo: Repository, name: str) -> RefChange:
    ref = tag_ref_name(name)
    old = repo.refs.read(ref)
    if old is None:
        raise RevisionError(f"no tag named {name!r}", hint="see `muse tag` for the list")
    repo.refs.update(ref, old, None, "tag: deleted")
    return RefChange(name, old, None)
