"""Revision syntax: ids (full or ≥4-digit prefix), ref names, HEAD, and `~N` / `^N` suffixes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import CorruptObjectError, MissingObjectError, RevisionError
from .objects import is_object_id
from .refs import HEADS, REMOTES, TAGS

if TYPE_CHECKING:
    from .repo import Repository

_SUFFIX = re.compile(r"(~\d*|\^\d*)$")
ID_PREFIX = re.compile(r"^[0-9a-f]{4,64}$")
MIN_ABBREV = 4

_HINT = "see `muse log --oneline` and `muse branch` for what exists"


def resolve_ref_name(repo: Repository, name: str) -> str | None:
    """The full ref name `name` stands for (branch, tag or remote-tracking), or None."""
    if name.startswith("refs/"):
        return name if repo.refs.read(name) is not None else None
    matches = [full for full in (HEADS + name, TAGS + name, REMOTES + name)
               if repo.refs.read(full) is not None]
    if len(matches) > 1:
        raise RevisionError(f"ambiguous name {name!r}: it is {' and '.join(matches)}",
                            hint="spell out the one you mean, e.g. refs/heads/" + name)
    return matches[0] if matches else None


def abbreviated_object(repo: Repository, text: str, *, commits_only: bool) -> str | None:
    """The one stored id (a commit's, or any object's) that `text` abbreviates; None if none.

    Several matches are a RevisionError listing them: an abbreviation never guesses.
    """
    if not ID_PREFIX.match(text):
        return None
    found = repo.store.ids_with_prefix(text)
    candidates = sorted(oid for oid in found if not commits_only or _is_commit(repo, oid))
    if len(candidates) > 1:
        shown = ", ".join(c[:12] for c in candidates[:5])
        noun = "revision" if commits_only else "object"
        raise RevisionError(f"ambiguous {noun} {text!r}: matches {shown}",
                            hint="give more digits of the id")
    return candidates[0] if candidates else None


def _is_commit(repo: Repository, oid: str) -> bool:
    try:
        return repo.store.kind(oid) == "commit"
    except (MissingObjectError, CorruptObjectError):
        return False


def _resolve_base(repo: Repository, text: str) -> str:
    if text in ("HEAD", "@"):
        head = repo.refs.head_commit()
        if head is None:
            raise RevisionError("HEAD does not point at a commit yet",
                                hint="make the first commit with `muse commit -m MESSAGE`")
        return head
    ref = resolve_ref_name(repo, text)
    if ref is not None:
        if ID_PREFIX.match(text) and repo.store.ids_with_prefix(text):
            raise RevisionError(f"ambiguous revision {text!r}: a ref and an object id prefix",
                                hint="use refs/... for the ref, or more digits for the id")
        value = repo.refs.read(ref)
        assert value is not None
        return value
    if is_object_id(text):
        if not repo.store.has(text):
            raise RevisionError(f"unknown revision {text!r}: no such object", hint=_HINT)
        return text
    found = abbreviated_object(repo, text, commits_only=True)
    if found is None:
        raise RevisionError(f"unknown revision {text!r}", hint=_HINT)
    return found


def resolve(repo: Repository, text: str) -> str:
    """The commit id `text` names; RevisionError if it names none, or several."""
    if not text or text != text.strip():
        raise RevisionError(f"invalid revision {text!r}", hint=_HINT)
    steps: list[tuple[str, int]] = []
    base = text
    while (match := _SUFFIX.search(base)) and match.start() > 0:
        token = match.group(1)
        digits = token[1:]
        steps.append((token[0], int(digits) if digits else 1))
        base = base[: match.start()]
    oid = _resolve_base(repo, base)
    if not _is_commit(repo, oid):
        raise RevisionError(f"{text!r} names an object that is not a commit")
    for op, n in reversed(steps):
        oid = _step(repo, text, oid, op, n)
    return oid


def _step(repo: Repository, text: str, oid: str, op: str, n: int) -> str:
    if op == "~":
        for _ in range(n):
            parents = repo.graph.commit(oid).parents
            if not parents:
                raise RevisionError(f"{text!r} goes past the first commit")
            oid = parents[0]
        return oid
    if n == 0:
        return oid
    parents = repo.graph.commit(oid).parents
    if n > len(parents):
        raise RevisionError(f"{text!r}: commit {oid[:12]} has no parent number {n}")
    return parents[n - 1]
