"""Revision syntax: ids (full or ≥4-digit prefix), ref names, HEAD, `REF@{N}` / `@{N}`
(the reflog), `@{-N}` (the N-th branch switched away from), `BRANCH@{u}` (its
upstream), `stash@{N}`, `~N` / `^N` suffixes, and `^{commit}` / `^{}` (peel a tag)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import CorruptObjectError, MissingObjectError, RevisionError, UsageError
from .objects import is_object_id
from .reflog import DamagedLine, has_log, switched_from
from .refs import HEADS, REMOTES, TAGS
from .storage import COMMIT, TAG
from .tags import peel

if TYPE_CHECKING:
    from .repo import Repository

_SUFFIX = re.compile(r"(~\d*|\^\d*|\^\{(?:commit)?\})$")
_REFLOG = re.compile(r"^(?P<ref>.*)@\{(?P<n>[^{}]*)\}$")
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
    candidates = sorted(oid for oid in found if not commits_only or _is_commitish(repo, oid))
    if len(candidates) > 1:
        shown = ", ".join(c[:12] for c in candidates[:5])
        noun = "revision" if commits_only else "object"
        raise RevisionError(f"ambiguous {noun} {text!r}: matches {shown}",
                            hint="give more digits of the id")
    return candidates[0] if candidates else None


def _kind(repo: Repository, oid: str) -> str | None:
    try:
        return repo.store.kind(oid)
    except (MissingObjectError, CorruptObjectError):
        return None


def _is_commitish(repo: Repository, oid: str) -> bool:
    """A commit, or a tag object: what names a commit (a tag peels to its own)."""
    return _kind(repo, oid) in (COMMIT, TAG)


def reflog_ref(repo: Repository, name: str) -> str:
    """The ref whose log `NAME@{N}` reads: `@{N}` the current branch's (HEAD's if
    detached), `HEAD@{N}` HEAD's own, else the ref NAME names, even a deleted one."""
    if name == "":
        return repo.refs.head_target() or "HEAD"
    if name == "HEAD":
        return "HEAD"
    found = resolve_ref_name(repo, name)
    if found is not None:
        return found
    logged = [full for full in ((name,) if name.startswith("refs/") else
                                (HEADS + name, TAGS + name, REMOTES + name))
              if has_log(repo.muse_dir, full)]
    if len(logged) == 1:
        return logged[0]
    raise RevisionError(f"unknown revision {name!r}: no such ref, and no reflog for it",
                        hint="see `muse branch -a` and `muse reflog`")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _resolve_reflog(repo: Repository, text: str, name: str, number: str) -> str:
    if number in ("u", "upstream"):
        return _resolve_upstream(repo, text, name)
    if name == "" and number.startswith("-") and _digits(number[1:]) and int(number[1:]):
        return previous_checkout(repo, text, int(number[1:]))[1]
    if name == "stash" and _digits(number) and _names_stash(repo):
        from .stash import entry as stash_entry  # only here: rarely needed

        return stash_entry(repo, int(number)).id
    if not _digits(number):
        raise RevisionError(f"invalid revision {text!r}: only @{{N}} (a reflog entry), "
                            "@{-N} (an earlier branch) and @{u} (the upstream) are "
                            "understood", hint="e.g. main@{1}: where main was before "
                            "its last move; see `muse reflog main`")
    wanted = int(number)
    ref = reflog_ref(repo, name)
    shown = "HEAD" if ref == "HEAD" else ref.split("/", 2)[-1]
    count = 0
    # Numbered as `muse reflog` numbers them: damaged lines are skipped, not counted.
    for entry in repo.refs.reflog(ref):
        if isinstance(entry, DamagedLine):
            continue
        if count == wanted:
            if entry.new is None:
                raise RevisionError(f"{text!r}: {shown} was deleted at that point")
            if not repo.store.has(entry.new):
                raise RevisionError(f"{text!r} names {entry.new[:12]}, which is no longer "
                                    "stored", hint="garbage collection removed it")
            return entry.new
        count += 1
    if wanted == 0 and ref != "HEAD":
        value = repo.refs.read(ref)  # a ref with no log yet: @{0} is where it is
        if value is not None:
            return value
    raise RevisionError(f"{text!r}: the reflog of {shown} has only "
                        f"{count} entr{'y' if count == 1 else 'ies'}",
                        hint=f"see `muse reflog {shown}`")


def _names_stash(repo: Repository) -> bool:
    """`stash@{N}` is a stash entry unless a ref (or a ref's log) is called `stash`."""
    return resolve_ref_name(repo, "stash") is None and not any(
        has_log(repo.muse_dir, full) for full in (HEADS + "stash", TAGS + "stash"))


def _resolve_upstream(repo: Repository, text: str, name: str) -> str:
    """`BRANCH@{u}` (`@{u}`: the current branch's): the commit its upstream's
    remote-tracking ref names, as last fetched."""
    from .tracking import tracking_ref

    branch = name or repo.current_branch()
    if branch is None:
        raise RevisionError(f"{text!r}: HEAD is detached, so there is no current branch",
                            hint="name one, e.g. main@{u}")
    if name and repo.refs.read(HEADS + name) is None:
        raise RevisionError(f"{text!r}: no branch named {name!r}", hint=_HINT)
    ref = tracking_ref(repo, branch)
    if ref is None:
        raise RevisionError(f"{text!r}: branch {branch!r} has no upstream",
                            hint=f"set one with `muse push -u REMOTE {branch}`")
    value = repo.refs.read(ref)
    if value is None:
        raise RevisionError(f"{text!r}: {ref[len(REMOTES):]} has not been fetched",
                            hint="run `muse fetch`")
    return value


def abbreviated_ref(repo: Repository, text: str) -> str:
    """`rev-parse --abbrev-ref`: the short name of the ref TEXT stands for (`main` for HEAD
    on main, `HEAD` when detached, `origin/main` for `main@{u}`), or "" for a revision
    that names a commit through no ref, as git prints nothing for it."""
    from .tracking import tracking_ref

    resolve(repo, text)  # refuses what names nothing, as for ids
    if text in ("HEAD", "@"):
        return repo.current_branch() or "HEAD"
    base, marker, rest = text.partition("@{")
    if marker:
        if rest not in ("u}", "upstream}"):
            return ""  # a reflog entry names a commit, not a ref
        ref = tracking_ref(repo, base or repo.current_branch() or "")
    else:
        ref = resolve_ref_name(repo, text)
    return _short_ref(ref) if ref else ""


def _short_ref(ref: str) -> str:
    for prefix in (HEADS, TAGS, REMOTES):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def previous_checkout(repo: Repository, text: str, n: int) -> tuple[str | None, str]:
    """`@{-N}`: what HEAD was on N switches ago — the branch's name while the branch still
    exists (else None), and its commit now (for a detached HEAD, the commit it was at)."""
    seen = 0
    for entry in repo.refs.reflog("HEAD"):
        if isinstance(entry, DamagedLine):
            continue
        left = switched_from(entry.message)
        if left is None:
            continue
        seen += 1
        if seen < n:
            continue
        try:
            branch_commit = repo.refs.read(HEADS + left)
        except UsageError:
            branch_commit = None  # not a branch name: a detached commit's abbreviation
        if branch_commit is not None:
            return left, branch_commit
        if entry.old is None or not repo.store.has(entry.old):
            raise RevisionError(f"{text!r}: {left} no longer exists",
                                hint="see `muse reflog`")
        return None, entry.old
    raise RevisionError(f"{text!r}: HEAD's reflog records only {seen} "
                        f"switch{'' if seen == 1 else 'es'}", hint="see `muse reflog`")


def _resolve_base(repo: Repository, text: str) -> str:
    moved = _REFLOG.match(text)
    if moved is not None:
        return _resolve_reflog(repo, text, moved.group("ref"), moved.group("n"))
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
        if token.startswith("^{"):
            steps.append(("^", 0))  # every revision peels to a commit: `^{commit}` is a no-op
        else:
            steps.append((token[0], int(digits) if digits else 1))
        base = base[: match.start()]
    oid = _resolve_base(repo, base)
    if _kind(repo, oid) == TAG:
        # A tag ref names a tag object: wherever a commit is wanted, the commit its
        # chain (a tag of a tag of …) ends at is meant.
        oid = peel(repo.store, oid)
    if _kind(repo, oid) != COMMIT:
        raise RevisionError(f"{text!r} names an object that is not a commit")
    for op, n in reversed(steps):
        oid = _step(repo, text, oid, op, n)
    return oid


def named_tag_object(repo: Repository, text: str) -> str | None:
    """The tag object `text` names as it stands (a tag's name or the object's id), or None.

    A revision with a suffix (`v1~1`, `v1^{}`) names a commit, never the tag itself.
    """
    if not text or _SUFFIX.search(text):
        return None
    try:
        oid = _resolve_base(repo, text)
    except RevisionError:
        return None  # `resolve` reports it
    return oid if _kind(repo, oid) == TAG else None


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
