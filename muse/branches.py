"""Branches and tags: named refs created, moved and deleted by compare-and-swap."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConflictError, RevisionError, UsageError
from .refs import HEADS, TAGS, check_ref_name
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


def list_tags(repo: Repository) -> list[NamedRef]:
    return _list(repo, TAGS)


def _create(repo: Repository, ref: str, kind: str, commit: str, force: bool,
            message: str) -> RefChange:
    old = repo.refs.read(ref)
    short = ref.split("/", 2)[2]
    if old is not None and not force:
        raise ConflictError(f"a {kind} named {short!r} already exists",
                            hint="use -f to move it to the new commit")
    if old is None:
        _check_no_folder_clash(repo, ref, kind)
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
                            hint="merge it first, or use -f to delete it and its "
                            "unmerged commits' only name")
    repo.refs.update(ref, old, None, "branch: deleted")
    return RefChange(name, old, None)


def create_tag(repo: Repository, name: str, commit: str, *, force: bool = False) -> RefChange:
    """Create lightweight tag NAME at `commit`; with `force`, move it if it exists."""
    return _create(repo, tag_ref_name(name), "tag", commit, force, "tag: created")


def delete_tag(repo: Repository, name: str) -> RefChange:
    ref = tag_ref_name(name)
    old = repo.refs.read(ref)
    if old is None:
        raise RevisionError(f"no tag named {name!r}", hint="see `muse tag` for the list")
    repo.refs.update(ref, old, None, "tag: deleted")
    return RefChange(name, old, None)
