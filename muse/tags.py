"""Annotated tags: making, storing, listing and peeling tag objects."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .errors import CorruptObjectError, MissingObjectError, UsageError
from .objects import Tag, decode_tag, tag_name_problem, text_problem
from .refs import TAGS
from .storage import COMMIT, TAG

if TYPE_CHECKING:
    from .branches import RefChange
    from .repo import Repository


class _Kinds(Protocol):
    def kind(self, oid: str) -> str | None: ...

    def read(self, oid: str) -> bytes: ...


def peel(store: _Kinds, oid: str) -> str:
    """The commit `oid` stands for: itself for a commit, its target for a tag object.

    A tag names a commit, never another tag (decode_tag's target is checked on
    the way in), so one step is all peeling takes.
    """
    if store.kind(oid) != TAG:
        return oid
    return decode_tag(store.read(oid)).target


def peel_all(store: _Kinds, ids: Iterable[str]) -> list[str]:
    """Every id peeled, in order, duplicates dropped."""
    return list(dict.fromkeys(peel(store, oid) for oid in ids))


def make_tag(repo: Repository, name: str, commit: str, message: str, *, sign: bool,
             timestamp: int | None = None) -> Tag:
    """Build (and sign, like a commit) a tag object naming `commit`; it is not stored yet."""
    problem = text_problem(message, multiline=True)
    if problem is not None:
        raise UsageError(f"tag message holds {problem}",
                         hint="a message is UTF-8 text: newlines and tabs, no other control "
                         "characters")
    problem = tag_name_problem(name)
    if problem is not None:
        raise UsageError(f"invalid tag name {name!r}: {problem}")
    if repo.store.kind(commit) != COMMIT:
        raise UsageError(f"{commit[:12]} is not a commit: a tag names a commit")
    from .repo import _local_tz_minutes

    who = repo.identity()
    now = int(time.time()) if timestamp is None else timestamp
    tag = Tag(target=commit, name=name, tagger_name=who.name, tagger_email=who.email,
              timestamp=now, tz_offset_minutes=_local_tz_minutes(now), message=message)
    if sign:
        from .keys import sign_commit

        tag = sign_commit(tag)
    return tag


def create_annotated_tag(repo: Repository, name: str, commit: str, message: str, *,
                         sign: bool, force: bool = False) -> tuple[Tag, RefChange]:
    """Store a new tag object, then point refs/tags/NAME at it (data first, ref last)."""
    from .branches import check_tag_creatable, create_tag

    check_tag_creatable(repo, name, force=force)  # refused before anything is written
    tag = make_tag(repo, name, commit, message, sign=sign)
    with repo.store.batch() as batch:
        batch.add_bytes(tag.encode())
    return tag, create_tag(repo, name, tag.id, force=force)


@dataclass(frozen=True)
class TagEntry:
    """A tag as listed: lightweight (`tag_object` None) or annotated."""

    name: str
    commit: str
    tag_object: str | None
    tag: Tag | None

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
    tag = repo.store.read_tag(value)
    return TagEntry(name, tag.target, value, tag)


def list_entries(repo: Repository) -> list[TagEntry]:
    return [read_entry(repo, ref[len(TAGS):], value)
            for ref, value in repo.refs.list(TAGS).items()]
