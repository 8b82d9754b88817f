"""`muse hub settings|block|quarantine|key|audit|takedown|notice`: the security layer's admin.

Each command acts on the hub's storage like every `muse hub` command and
writes an audit row (docs/hub-security.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from muse.errors import UsageError

from .cli import (
    echo_result,
    hub,
    object_id_arg,
    open_storage,
    parse_count,
    parse_size,
    repo_named,
    storage_options,
)
from .security import actor_name
from .service import check_repo_name


@hub.command("settings")
@storage_options
@click.option("--max-bundle-bytes", metavar="SIZE")
@click.option("--max-object-bytes", metavar="SIZE")
@click.option("--max-repo-bytes", metavar="SIZE")
@click.option("--daily-repo-bytes", metavar="SIZE", help="per repository per UTC day")
@click.option("--daily-user-bytes", metavar="SIZE", help="per user per UTC day")
@click.option("--pushes-per-minute", metavar="N", help="push requests per token per minute")
@click.option("--json", "as_json", is_flag=True)
def settings(data: Path | None, database: str | None, blobs: str | None, as_json: bool,
             **values: str | None) -> None:
    """Show or change the hub-wide limits (a repository's own rules win)."""
    served = open_storage(data, database, blobs)
    rows = served.guard.rows
    changed = {}
    for name, raw in values.items():
        if raw is None:
            continue
        value = parse_size(raw) if name != "pushes_per_minute" else parse_count(raw)
        rows.set_hub_setting(name, value)
        changed[name] = value
    if changed:
        rows.record(actor_name(), "hub-settings", settings=changed)
    shown = rows.hub_settings()
    echo_result(as_json, shown, "\n".join(f"{k}: {'default' if v is None else v}"
                                     for k, v in shown.items()))


@hub.command("block")
@storage_options
@click.argument("oid", metavar="ID")
@click.option("--reason", required=True, help="why (kept in the audit log)")
def block(data: Path | None, database: str | None, blobs: str | None, oid: str,
          reason: str) -> None:
    """Block an object id hub-wide: pushes carrying it are refused (451), it is never served."""
    served = open_storage(data, database, blobs)
    if not served.guard.rows.block(object_id_arg(oid), reason, actor_name()):
        raise UsageError(f"{oid} is blocked already")
    served.guard.rows.record(actor_name(), "block", target=oid, reason=reason)
    click.echo(f"blocked {oid}")


@hub.command("unblock")
@storage_options
@click.argument("oid", metavar="ID")
def unblock(data: Path | None, database: str | None, blobs: str | None, oid: str) -> None:
    """Lift a block."""
    served = open_storage(data, database, blobs)
    if not served.guard.rows.unblock(object_id_arg(oid)):
        raise UsageError(f"{oid} is not blocked", hint="muse hub blocked")
    served.guard.rows.record(actor_name(), "unblock", target=oid)
    click.echo(f"unblocked {oid}")


@hub.command("blocked")
@storage_options
@click.option("--json", "as_json", is_flag=True)
def blocked(data: Path | None, database: str | None, blobs: str | None, as_json: bool) -> None:
    """Every blocked id and why."""
    found = open_storage(data, database, blobs).guard.rows.blocked()
    echo_result(as_json, found, "\n".join(f"{oid}  {why}" for oid, why in sorted(found.items())))


@hub.group()
def quarantine() -> None:
    """Uploads that failed verification, kept for inspection."""


@quarantine.command("list")
@storage_options
@click.option("--json", "as_json", is_flag=True)
def quarantine_list(data: Path | None, database: str | None, blobs: str | None,
                    as_json: bool) -> None:
    """Every quarantined upload: id, when, repository, who, why."""
    served = open_storage(data, database, blobs)
    names = {r.id: r.full_name for r in served.index.repos()}
    rows = [{**vars(q), "repo": names.get(q.repo_id)} for q in served.guard.rows.quarantined()]
    echo_result(as_json, rows, "\n".join(
        f"{q['id']}  {time.strftime('%Y-%m-%d %H:%M', time.gmtime(q['created']))}  "
        f"{q['repo']}  {q['user']}  {q['code']}" + ("  purged" if q["purged"] else "")
        for q in rows))


@quarantine.command("show")
@storage_options
@click.argument("qid", metavar="ID")
@click.option("--output", type=click.Path(path_type=Path), help="also write its bytes here")
def quarantine_show(data: Path | None, database: str | None, blobs: str | None, qid: str,
                    output: Path | None) -> None:
    """One quarantined upload's record (and, with --output, its bytes)."""
    served = open_storage(data, database, blobs)
    found = served.guard.rows.quarantined_one(qid)
    if found is None:
        raise UsageError(f"no quarantined upload {qid!r}", hint="muse hub quarantine list")
    click.echo(json.dumps(vars(found), indent=2))
    if output is not None:
        if found.blob_key is None or found.purged:
            raise UsageError(f"the bytes of {qid} are not kept (purged, or never arrived)")
        import shutil

        with served.blobs.open_key(found.blob_key) as source, open(output, "xb") as out:
            shutil.copyfileobj(source, out)


@quarantine.command("purge")
@storage_options
@click.argument("qids", metavar="ID...", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="every quarantined upload")
def quarantine_purge(data: Path | None, database: str | None, blobs: str | None,
                     qids: tuple[str, ...], everything: bool) -> None:
    """Delete quarantined bytes (the records stay, marked purged)."""
    served = open_storage(data, database, blobs)
    rows = served.guard.rows
    chosen = [q for q in rows.quarantined() if not q.purged and (everything or q.id in qids)]
    unknown = set(qids) - {q.id for q in rows.quarantined()}
    if unknown or not (qids or everything):
        raise UsageError(f"no quarantined upload {sorted(unknown)[0]!r}" if unknown else
                         "name the uploads to purge, or --all", hint="muse hub quarantine list")
    for q in chosen:
        if q.blob_key is not None and q.blob_key.startswith("quarantine/"):
            served.blobs.delete_key(q.blob_key)  # a pack another repository uses stays
        rows.mark_purged(q.id)
        rows.record(actor_name(), "quarantine-purge", target=q.id, bundle=q.bundle_id)
    click.echo(f"purged {len(chosen)} quarantined upload(s)")


@hub.group()
def key() -> None:
    """Users' signing keys (for repositories whose rule is `registered`)."""


@key.command("add")
@storage_options
@click.argument("user_name", metavar="USER")
@click.argument("public_key", metavar="KEY")
def key_add(data: Path | None, database: str | None, blobs: str | None, user_name: str,
            public_key: str) -> None:
    """Register an Ed25519 public key (64 hex digits, as `muse keys show` prints) to USER."""
    from muse.keys import fingerprint
    from muse.trust import parse_public_key

    served = open_storage(data, database, blobs)
    if not served.index.user_exists(user_name):
        raise UsageError(f"no user {user_name!r} on this hub")
    raw = parse_public_key(public_key)
    if not served.guard.rows.add_key(user_name, fingerprint(raw), raw):
        raise UsageError(f"that key is registered to {user_name} already")
    served.guard.rows.record(actor_name(), "key-add", target=fingerprint(raw), user=user_name)
    click.echo(f"registered key {fingerprint(raw)} to {user_name}")


@key.command("list")
@storage_options
@click.argument("user_name", metavar="USER")
@click.option("--json", "as_json", is_flag=True)
def key_list(data: Path | None, database: str | None, blobs: str | None, user_name: str,
             as_json: bool) -> None:
    """USER's registered keys (fingerprints)."""
    keys = open_storage(data, database, blobs).guard.rows.keys_of(user_name)
    echo_result(as_json, {f: k.hex() for f, k in keys.items()}, "\n".join(keys))


@key.command("remove")
@storage_options
@click.argument("user_name", metavar="USER")
@click.argument("fp", metavar="FINGERPRINT")
def key_remove(data: Path | None, database: str | None, blobs: str | None, user_name: str,
               fp: str) -> None:
    """Unregister a key."""
    served = open_storage(data, database, blobs)
    if not served.guard.rows.remove_key(user_name, fp):
        raise UsageError(f"{user_name} has no key {fp!r}", hint=f"muse hub key list {user_name}")
    served.guard.rows.record(actor_name(), "key-remove", target=fp, user=user_name)
    click.echo(f"removed key {fp} from {user_name}")


@hub.command("audit")
@storage_options
@click.option("--repo", "full_name", metavar="OWNER/NAME")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True)
def audit(data: Path | None, database: str | None, blobs: str | None, full_name: str | None,
          limit: int, as_json: bool) -> None:
    """The audit log, oldest first: admin actions, refused pushes, takedown steps."""
    if full_name is not None:
        check_repo_name(full_name)
    entries = open_storage(data, database, blobs).guard.rows.audit(repo=full_name, limit=limit)
    rows = [vars(e) for e in entries]
    echo_result(as_json, rows, "\n".join(
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(e.at_ns / 1e9))}  {e.actor}  "
        f"{e.action}  {e.repo or '-'}  {e.target or '-'}  {json.dumps(e.detail)}"
        for e in entries))


@hub.command("takedown")
@storage_options
@click.argument("full_name", metavar="OWNER/NAME")
@click.argument("objects", metavar="[OBJECT...]", nargs=-1)
@click.option("--notice", required=True, help="the notice's id")
@click.option("--claimant", required=True, help="who sent it")
@click.option("--date", "noticed", default=lambda: time.strftime("%Y-%m-%d", time.gmtime()),
              help="the notice's date (default: today, UTC)")
@click.option("--text", required=True, help="the notice's text (or a reference to it)")
def takedown(data: Path | None, database: str | None, blobs: str | None, full_name: str,
             objects: tuple[str, ...], notice: str, claimant: str, noticed: str,
             text: str) -> None:
    """Hide a repository (or OBJECTs in it) at once: every read that needs them is 451."""
    from .takedown import take_down

    served = open_storage(data, database, blobs)
    found = repo_named(served, full_name)
    take_down(served, found, [object_id_arg(o) for o in objects], notice=notice,
              claimant=claimant, noticed=noticed, text=text)
    what = f"{len(objects)} object(s) of {full_name}" if objects else full_name
    click.echo(f"took down {what} under notice {notice} (reversible until purged)")


@hub.group()
def notice() -> None:
    """Takedown notices: list, restore (until purged), purge the bytes."""


@notice.command("list")
@storage_options
@click.option("--json", "as_json", is_flag=True)
def notice_list(data: Path | None, database: str | None, blobs: str | None,
                as_json: bool) -> None:
    """Every notice and its state (hidden, restored, purged)."""
    served = open_storage(data, database, blobs)
    names = {r.id: r.full_name for r in served.index.repos()}
    rows = [{**vars(t), "repo": names.get(t.repo_id)} for t in served.guard.rows.takedowns()]
    echo_result(as_json, rows, "\n".join(
        f"{t['notice']}  {t['repo']}  {t['state']}  {len(t['objects']) or 'all'} object(s)  "
        f"{t['claimant']}  {t['noticed']}" for t in rows))


@notice.command("restore")
@storage_options
@click.argument("notice_id", metavar="NOTICE")
def notice_restore(data: Path | None, database: str | None, blobs: str | None,
                   notice_id: str) -> None:
    """Lift a takedown that has not been purged."""
    from .takedown import restore

    restore(open_storage(data, database, blobs), notice_id)
    click.echo(f"restored what notice {notice_id} hid")


@notice.command("purge")
@storage_options
@click.argument("notice_id", metavar="NOTICE")
def notice_purge(data: Path | None, database: str | None, blobs: str | None,
                 notice_id: str) -> None:
    """Delete a takedown's bytes from the blob store for good (packs rewritten without them)."""
    from .takedown import purge

    touched = purge(open_storage(data, database, blobs), notice_id)
    click.echo(f"purged notice {notice_id}: {len(touched)} pack(s) deleted or rewritten")
