"""Takedown notices: hide a repository or some of its objects at once, restore, or purge the bytes.

Every step is an audit row. Hiding is reversible until the purge, which deletes
the bytes: a whole repository's packs, or, for named objects, each pack holding
them is rewritten without them (`purge.py`).
"""

from __future__ import annotations

import contextlib
import shutil
import time

from muse.errors import UsageError

from .blobs import deleter
from .purge import rewrite_without
from .security import actor_name
from .security_index import Takedown
from .service import Hub
from .sql_index import NewPack, Repo


def take_down(hub: Hub, repo: Repo, objects: list[str], *, notice: str, claimant: str,
              noticed: str, text: str) -> Takedown:
    rows = hub.guard.rows
    if rows.takedown(notice) is not None:
        raise UsageError(f"notice {notice!r} is on record already",
                         hint="give each notice its own id")
    found = hub.index.objects(repo)
    unknown = found.missing(objects)
    if unknown:
        raise UsageError(f"{repo.full_name} holds no object {sorted(unknown)[0]}",
                         hint="name objects the repository holds, or none for all of it")
    record = Takedown(notice, repo.id, claimant, noticed, text, tuple(sorted(objects)),
                      "hidden", int(time.time()))
    rows.add_takedown(record)
    rows.record(actor_name(), "takedown-hide", repo=repo.full_name, target=notice,
                objects=list(record.objects) or "the whole repository", claimant=claimant)
    return record


def _notice(hub: Hub, notice: str) -> Takedown:
    found = hub.guard.rows.takedown(notice)
    if found is None:
        raise UsageError(f"no takedown notice {notice!r}", hint="muse hub notice list")
    return found


def restore(hub: Hub, notice: str) -> None:
    found = _notice(hub, notice)
    if found.state != "hidden":
        raise UsageError(f"notice {notice} is {found.state}: only a hidden takedown can be "
                         "restored")
    hub.guard.rows.set_takedown_state(notice, "restored")
    hub.guard.rows.record(actor_name(), "takedown-restore", repo=_repo_of(hub, found).full_name,
                          target=notice)


def _repo_of(hub: Hub, notice: Takedown) -> Repo:
    found = next((r for r in hub.index.repos() if r.id == notice.repo_id), None)
    assert found is not None  # repositories are never deleted
    return found


def purge(hub: Hub, notice: str) -> list[str]:
    """Delete the notice's bytes for good; returns the packs deleted or rewritten."""
    found = _notice(hub, notice)
    if found.state != "hidden":
        raise UsageError(f"notice {notice} is {found.state}: only a hidden takedown can be "
                         "purged")
    repo = _repo_of(hub, found)
    if not found.objects:
        touched = hub.index.drop_contents(repo)
        rewritten: list[str] = []
    else:
        # Packs a repack folded into one about to be rewritten carry the bytes too.
        folded = sorted(hub.index.replaced_into(
            repo, hub.guard.rows.packs_holding(repo, found.objects)))
        for pack_id in folded:
            hub.index.forget_pack(repo, pack_id)
        touched, rewritten = _rewrite_packs(hub, repo, set(found.objects))
        touched = sorted({*touched, *folded})
    for pack_id in touched:
        hub.index.delete_unnamed(pack_id, deleter(hub.blobs, pack_id))
    hub.guard.rows.set_takedown_state(notice, "purged", rewritten)
    hub.guard.rows.record(actor_name(), "takedown-purge", repo=repo.full_name, target=notice,
                          packs=touched, rewritten=rewritten)
    return touched



def _rewrite_packs(hub: Hub, repo: Repo, drop: set[str]) -> tuple[list[str], list[str]]:
    holding = sorted(hub.guard.rows.packs_holding(repo, drop))
    rewritten = []
    for pack_id in holding:
        work, out = hub.new_work_file(), hub.new_work_file()
        try:
            with hub.blobs.open(pack_id) as source, open(work, "wb") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
            summary, parents = rewrite_without(work, drop, out)
            hub.blobs.put(summary.bundle_id, out)
            entries = list(summary.entries)  # the rows of the pack this hub wrote
            hub.index.replace_pack(repo, pack_id, NewPack(
                summary.bundle_id, summary.size, tuple(summary.header.prerequisites), entries,
                parents), stored=hub.blobs.exists)
            rewritten.append(summary.bundle_id)
        finally:
            for path in (work, out):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
    return holding, rewritten
