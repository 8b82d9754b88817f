"""Annotated tags: making, storing, listing and peeling tag objects."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .errors import CorruptObjectError, MissingObjectError, UsageError
from .objects import MAX_TAG_DEPTH, Tag, decode_tag, tag_name_problem, text_problem
from .refs import TAGS
from .storage import COMMIT, TAG

if TYPE_CHECKING:
    from .branches import RefChange
    from .repo import Repository


class _Kinds(Protocol):
    def kind(self, oid: str) -> str | None: ...

    def read(self, oid: str) -> bytes: ...


def chain(store: _Kinds, oid: str) -> list[tuple[str, Tag]]:
    """The tag objects from `oid` to the commit they end at, outermost first ([] for no tag).

    Each tag's target must be stored as the kind the tag says (a commit target may be
    missing: the caller reports a missing commit as it always has), and a chain holds at
    most MAX_TAG_DEPTH tags. Content addressing rules out a cycle; the bound keeps a
    reader's walk short however the store was filled.
    """
    found: list[tuple[str, Tag]] = []
    while store.kind(oid) == TAG:
        if len(found) == MAX_TAG_DEPTH:
            raise CorruptObjectError(
                f"tag {found[0][0]} is a chain of over {MAX_TAG_DEPTH} tag objects",
                hint=f"a tag may name a tag, at most {MAX_TAG_DEPTH} deep (docs/objects.md)")
        tag = decode_tag(store.read(oid))
        found.append((oid, tag))
        check_target_kind(oid, tag, store.kind(tag.target))
        oid = tag.target
    return found


def check_target_kind(oid: str, tag: Tag, kind: str | None) -> None:
    """Refuse a tag whose target is stored as another kind than it says (or, for a tag
    target, is missing: the chain cannot be followed)."""
    if kind == tag.target_kind or (kind is None and tag.target_kind == COMMIT):
        return
    if kind is None:
        raise MissingObjectError(f"tag {oid} names tag {tag.target}, which is missing",
                                 hint="fetch the tag it signs over, or run `muse verify`")
    raise CorruptObjectError(f"tag {oid} names {tag.target} as a {tag.target_kind}, "
                             f"but it is a {kind}", hint="run `muse verify`")


def peel(store: _Kinds, oid: str) -> str:
    """The commit `oid` stands for: itself for a commit, the end of its chain for a tag."""
    found = chain(store, oid)
    return found[-1][1].target if found else oid


def peel_all(store: _Kinds, ids: Iterable[str]) -> list[str]:
    """Every id peeled, in order, duplicates dropped."""
    return list(dict.fromkeys(peel(store, oid) for oid in ids))


def make_tag(repo: Repository, name: str, target: str, message: str, *, sign: bool,
             timestamp: int | None = None) -> Tag:
    """Build (and sign, like a commit) a tag object naming `target`, a commit or a tag
    object; it is not stored yet."""
    problem = text_problem(message, multiline=True)
    if problem is not None:
        raise UsageError(f"tag message holds {problem}",
                         hint="a message is UTF-8 text: newlines and tabs, no other control "
                         "characters")
    problem = tag_name_problem(name)
    if problem is not None:
        raise UsageError(f"invalid tag name {name!r}: {problem}")
    kind = repo.store.kind(target)
    if kind not in (COMMIT, TAG):
        raise UsageError(f"{target[:12]} is neither a commit nor a tag object: a tag names "
                         "one of those")
    if kind == TAG and len(chain(repo.store, target)) >= MAX_TAG_DEPTH:
        raise UsageError(f"{target[:12]} is a chain of {MAX_TAG_DEPTH} tag objects already",
                         hint=f"a tag may name a tag, at most {MAX_TAG_DEPTH} deep; tag its "
                         "commit instead (NAME^{})")
    from .repo import _local_tz_minutes

    who = repo.identity()
    now = int(time.time()) if timestamp is None else timestamp
    tag = Tag(target=target, target_kind=kind, name=name, tagger_name=who.name,
              tagger_email=who.email, timestamp=now, tz_offset_minutes=_local_tz_minutes(now),
              message=message)
    if sign:
        from .keys import sign_commit

        tag = sign_commit(tag)
    return tag


def create_annotated_tag(repo: Repository, name: str, target: str, message: str, *,
                         sign: bool, force: bool = False) -> tuple[Tag, RefChange]:
    """Store a new tag object, then point refs/tags/NAME at it (data first, ref last)."""
    from .branches import check_tag_creatable, create_tag

    check_tag_creatable(repo, name, force=force)  # refused before anything is written
    tag = make_tag(repo, name, target, message, sign=sign)
    with repo.store.batch() as batch:
        batch.add_bytes(tag.encode())
    return tag, create_tag(repo, name, tag.id, force=force)


@dataclass(frozen=True)
class TagEntry:
    """A tag as listed: lightweight (`tag_object` None) or annotated.

    `chain` holds every tag object from the ref's own (`tag_object`, `tag`) to the
    commit, outermost first: one for a tag of a commit, more for a tag of a tag.
    """

    name: str
    commit: str
    tag_object: str | None
    tag: Tag | None
    chain: tuple[tuple[str, Tag], ...] = ()

    @property
    def annotated(self) -> bool:
        return self.tag_object is not None


def read_entry(repo: Repository, name: str, value: str) -> TagEntry:
    """What tag NAME (its ref holding `value`) is: the commit, and the tag object if any."""
    try:
        kind = repo.store.kind(value)
    except (MissingObjectError, CorruptObjectError):
        kind = None
    if kind != TAG:
        return TagEntry(name, value, None, None)
    found = chain(repo.store, value)
    return TagEntry(name, found[-1][1].target, value, found[0][1], tuple(found))


def list_entries(repo: Repository) -> list[TagEntry]:
    return [read_entry(repo, ref[len(TAGS):], value)
            for ref, value in repo.refs.list(TAGS).items()]
