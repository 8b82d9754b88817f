"""Checking a repository end to end: refs, commits, signatures, snapshots and every object."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CorruptObjectError, MissingObjectError, MuseError, RepositoryError
from .keys import fingerprint
from .midx import disagreement
from .objects import (
    MAX_TAG_DEPTH,
    Commit,
    Signed,
    Snapshot,
    Tag,
    decode_commit,
    decode_snapshot,
    decode_tag,
    is_object_id,
)
from .refs import TAGS, check_ref_name
from .repo import Repository
from .storage import TAG
from .trust import trust_status, trusted_set
from .workfiles import Leftovers, survey


@dataclass(frozen=True)
class Problem:
    """One thing wrong: `subject` is the object id (or ref name) it is about."""

    subject: str
    kind: str  # "ref", "commit", "snapshot", "object", "signature", "pack"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "kind": self.kind, "message": self.message}


@dataclass
class Report:
    """What `verify` looked at, and what it found wrong."""

    refs: int = 0
    commits: int = 0
    snapshots: int = 0
    objects: int = 0
    bytes: int = 0
    unreachable_objects: int = 0
    signed_good: int = 0
    signed_bad: int = 0
    untrusted: list[str] = field(default_factory=list)  # good signature, key not trusted
    unsigned: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    work_files: Leftovers = field(default_factory=Leftovers)  # what `.muse/tmp` holds

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, subject: str, kind: str, message: str) -> None:
        self.problems.append(Problem(subject, kind, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": {
                "refs": self.refs,
                "commits": self.commits,
                "snapshots": self.snapshots,
                "objects": self.objects,
                "bytes": self.bytes,
                "unreachable_objects": self.unreachable_objects,
            },
            "signatures": {"good": self.signed_good, "untrusted": len(self.untrusted),
                           "bad": self.signed_bad, "unsigned": len(self.unsigned)},
            "unsigned_commits": self.unsigned,
            "untrusted_commits": self.untrusted,
            "work_files": {"entries": self.work_files.entries, "bytes": self.work_files.size,
                           "stale_entries": self.work_files.stale_entries,
                           "stale_bytes": self.work_files.stale_size},
            "problems": [p.as_dict() for p in self.problems],
        }


def _collect_tips(repo: Repository, report: Report) -> dict[str, str]:
    """Ref name (and HEAD) → commit id, recording damaged refs as problems."""
    tips: dict[str, str] = {}
    try:
        names = repo.refs.names()
    except RepositoryError as exc:  # the refs cannot be listed at all (a damaged refs.json)
        report.add("refs", "ref", exc.message)
        names = []
    for name in names:  # damaged ones too: they are reported, not skipped
        report.refs += 1
        try:
            value = repo.refs.read(name)
        except RepositoryError as exc:
            report.add(name, "ref", exc.message)
            continue
        if value is not None:
            tips[name] = value
    head_path = repo.muse_dir / "HEAD"
    try:
        text = head_path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        report.add("HEAD", "ref", f"HEAD cannot be read: {exc}")
        return tips
    if text.startswith("ref: "):
        try:
            check_ref_name(text[5:])
        except MuseError:
            report.add("HEAD", "ref", f"HEAD points at an invalid ref name {text[5:]!r}")
    elif is_object_id(text):
        tips["HEAD"] = text
    else:
        report.add("HEAD", "ref", f"HEAD is damaged: {text[:80]!r}")
    return tips


MAX_RECORD = 256 << 20  # no real commit or snapshot is this big; never load more than this


def _read_verified(repo: Repository, oid: str, what: str) -> bytes:
    """A commit's or snapshot's bytes, checked against its id (Missing/CorruptObjectError)."""
    size = repo.store.size(oid)
    if size > MAX_RECORD:
        raise CorruptObjectError(f"{size} bytes is too large for a {what}")
    try:
        return repo.store.read(oid)
    except OSError as exc:  # e.g. a pack file gone from under its index
        raise CorruptObjectError(f"cannot be read: {exc}") from None


def _corrupt_detail(exc: CorruptObjectError) -> str:
    if exc.message.endswith("hash differently"):
        return "its bytes hash to another id"
    return exc.message


def _check_pack_indexes(repo: Repository, report: Report) -> None:
    """Check the multi-pack index against the `.idx` files (the source of truth) and look
    objects up through an index rebuilt from them: damage to either is reported, and
    whatever is readable stays readable for the rest of the check. Nothing is written."""
    store = repo.store

    def damaged(idx: Path, exc: Exception) -> None:
        report.add(f"packs/{idx.name}", "object", f"pack index {idx.name}: {exc}")

    truth = store.index_from_packs(on_damaged=damaged)
    where = f"packs/{store.midx_path.name}"
    try:
        on_disk = store.read_multi_pack_index()
    except CorruptObjectError as exc:
        report.add(where, "object", f"{where}: {exc.message}; the next command that needs "
                                    "it rebuilds it from the pack indexes")
        on_disk = None
    if on_disk is not None:
        problem = disagreement(on_disk, truth)
        if problem is not None:
            report.add(where, "object", f"{where}: multi-pack index {problem}")
        else:
            # A pack whose own .idx is damaged is still readable through the midx's rows.
            salvaged = (set(on_disk.packs) - set(truth.packs)) & set(store.list_packs())
            truth = truth.with_rows(sorted(salvaged),
                                    (row for row in on_disk.rows() if row[1] in salvaged))
    store.use_index(truth)


class _Checker:
    def __init__(self, repo: Repository, report: Report, require_signatures: bool) -> None:
        self.repo = repo
        self.report = report
        self.require_signatures = require_signatures
        self.trusted = trusted_set()
        self.commits_seen: set[str] = set()
        self.snapshots_seen: set[str] = set()
        # object id → {declared size: the first snapshot entry declaring it}; almost
        # always one size, but each distinct claim is checked against the real bytes.
        self.objects: dict[str, dict[int, str]] = {}
        self.checked_objects: set[str] = set()
        self.tags_checked: dict[str, Tag | None] = {}  # None: reported missing or invalid

    def peel(self, name: str, oid: str) -> tuple[str, str] | None:
        """The commit a tip stands for and who names it: a tag ref's tag objects are checked
        (hash, strict decode, signature, target kind) down the chain to its commit."""
        if self._kind(oid) != TAG:
            return oid, f"ref {name}"
        if not name.startswith(TAGS):
            self.commits_seen.add(oid)  # reachable: not "unreachable"
            self.report.add(oid, "ref", f"{name} names tag object {oid}, not a commit")
            return None
        named_by = name
        for _ in range(MAX_TAG_DEPTH):
            tag = self.tag(oid, named_by)
            if tag is None:
                return None
            kind = self._kind(tag.target)
            if tag.target_kind == "commit" and kind in ("commit", None):
                return tag.target, f"tag {oid}"  # a missing commit is reported by commit()
            if tag.target_kind != kind and kind is not None:
                self.report.add(oid, "tag", f"tag {oid} names {tag.target} as a "
                                            f"{tag.target_kind}, but it is a {kind}")
                return None
            named_by, oid = f"tag {oid}", tag.target
        self.report.add(oid, "tag", f"the tag chain {name} names is over {MAX_TAG_DEPTH} "
                                    "tag objects deep")
        return None

    def tag(self, oid: str, named_by: str) -> Tag | None:
        """One tag object of a chain, checked (its signature counted), or None, reported.

        Each is checked once, however many refs and chains lead to it."""
        if oid in self.tags_checked:
            return self.tags_checked[oid]
        self.commits_seen.add(oid)  # reachable (and re-hashed below): not "unreachable"
        self.tags_checked[oid] = None
        try:
            tag = decode_tag(_read_verified(self.repo, oid, "tag"))
        except MissingObjectError:
            self.report.add(oid, "tag", f"tag {oid} (named by {named_by}) is missing")
            return None
        except CorruptObjectError as exc:
            self.report.add(oid, "tag", f"tag {oid} (named by {named_by}) is not valid: "
                                        f"{_corrupt_detail(exc)}")
            return None
        self.signature(oid, tag, what="tag")
        self.tags_checked[oid] = tag
        return tag

    def _kind(self, oid: str) -> str | None:
        try:
            return self.repo.store.kind(oid)
        except (MissingObjectError, CorruptObjectError):
            return None

    def commits_from(self, tips: dict[str, str]) -> None:
        stack = [peeled for name, oid in tips.items() if (peeled := self.peel(name, oid))]
        while stack:
            oid, referrer = stack.pop()
            if oid in self.commits_seen:
                continue
            self.commits_seen.add(oid)
            commit = self.commit(oid, referrer)
            if commit is None:
                continue
            for parent in commit.parents:
                stack.append((parent, f"commit {oid}"))
            if commit.snapshot not in self.snapshots_seen:
                self.snapshots_seen.add(commit.snapshot)
                self.snapshot(commit.snapshot, oid)

    def commit(self, oid: str, referrer: str) -> Commit | None:
        report = self.report
        try:
            data = _read_verified(self.repo, oid, "commit")
        except MissingObjectError:
            what = "parent" if referrer.startswith("commit") else "commit"
            report.add(oid, "commit", f"{what} {oid} is missing (named by {referrer})")
            return None
        except CorruptObjectError as exc:
            report.add(oid, "commit", f"commit {oid} is corrupt: {_corrupt_detail(exc)}")
            return None
        report.commits += 1
        try:
            commit = decode_commit(data)
        except CorruptObjectError as exc:
            report.add(oid, "commit", f"{oid} (named by {referrer}) is not a valid commit: "
                                      f"{exc.message}")
            return None
        self.signature(oid, commit)
        return commit

    def signature(self, oid: str, commit: Signed, *, what: str = "commit") -> None:
        status = trust_status(commit, self.trusted)
        if status == "good":
            self.report.signed_good += 1
        elif status == "bad":
            self.report.signed_bad += 1
            self.report.add(oid, "signature", f"{what} {oid} has a bad signature")
        elif status == "untrusted":
            self.report.untrusted.append(oid)
            if self.require_signatures:
                assert commit.signer is not None
                self.report.add(oid, "signature", f"{what} {oid} is signed by key "
                                f"{fingerprint(commit.signer)}, which is not trusted")
        else:
            self.report.unsigned.append(oid)
            if self.require_signatures:
                self.report.add(oid, "signature", f"{what} {oid} is unsigned")

    def snapshot(self, oid: str, commit_id: str) -> None:
        report = self.report
        try:
            data = _read_verified(self.repo, oid, "snapshot")
        except MissingObjectError:
            report.add(oid, "snapshot", f"snapshot {oid} of commit {commit_id} is missing")
            return
        except CorruptObjectError as exc:
            report.add(oid, "snapshot", f"snapshot {oid} is corrupt: {_corrupt_detail(exc)}")
            return
        report.snapshots += 1
        try:
            snapshot: Snapshot = decode_snapshot(data)
        except CorruptObjectError as exc:
            report.add(oid, "snapshot", f"snapshot {oid} of commit {commit_id} does not "
                                        f"decode: {exc.message}")
            return
        for entry in snapshot.entries:
            claims = self.objects.setdefault(entry.oid, {})
            claims.setdefault(entry.size, f"{oid} ({entry.path})")

    def blobs(self) -> None:
        for oid, claims in sorted(self.objects.items()):
            actual = self.hash_object(oid, f"file {next(iter(claims.values()))}")
            if actual is None:
                continue
            for size, where in claims.items():
                if size != actual:
                    self.report.add(oid, "object", f"object {oid} has {actual} bytes but "
                                                   f"snapshot {where} says {size}")

    def hash_object(self, oid: str, where: str) -> int | None:
        """Re-hash an object in chunks; its byte count, or None (problem recorded)."""
        self.checked_objects.add(oid)
        total = _rehash(self.repo, oid)
        if isinstance(total, MissingObjectError):
            self.report.add(oid, "object", f"object {oid} is missing (for {where})")
            return None
        if isinstance(total, Exception):
            self.report.add(oid, "object", f"object {oid} {_failure(total)} (for {where})")
            return None
        self.report.objects += 1
        self.report.bytes += total
        return total

    def unreachable(self) -> None:
        """Stored objects no ref reaches are re-hashed too: damage anywhere is reported."""
        store = self.repo.store
        seen = self.checked_objects | self.commits_seen | self.snapshots_seen
        loose = set(store.all_loose_ids())
        packed = set(store.packed_ids())
        for oid in sorted((loose | packed) - seen):
            if not is_object_id(oid):
                self.report.add(oid, "object", f"stray file objects/{oid[:2]}/{oid[2:]} is "
                                               "not named by an object id")
                continue
            total = _rehash(self.repo, oid)
            if isinstance(total, Exception):
                self.report.add(oid, "object", f"unreachable object {oid} {_failure(total)}")
                continue
            self.report.unreachable_objects += 1
            self.report.bytes += total


def _rehash(repo: Repository, oid: str) -> int | MuseError | OSError:
    """Re-hash a stored object in chunks: its byte count, or why it failed."""
    total = 0
    try:
        for chunk in repo.store.iter_chunks(oid):
            total += len(chunk)
    except (MuseError, OSError) as exc:
        return exc
    return total


def _failure(exc: Exception) -> str:
    if isinstance(exc, CorruptObjectError):
        return f"is corrupt: {_corrupt_detail(exc)}"
    return f"cannot be read: {exc}"


def verify_repository(repo: Repository, *, require_signatures: bool = False) -> Report:
    """Check everything reachable from every ref and HEAD, then every other stored object."""
    report = Report()
    _check_pack_indexes(repo, report)
    for subject, message in repo.storage_problems():
        report.add(subject, "pack", message)
    tips = _collect_tips(repo, report)
    checker = _Checker(repo, report, require_signatures)
    checker.commits_from(tips)
    checker.blobs()
    checker.unreachable()
    report.work_files = survey(repo.muse_dir / "tmp")
    return report
