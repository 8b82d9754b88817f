"""`muse hub …`: serve a hub, and administer one (users, repositories, tokens) on its storage.

The admin commands act directly on the storage `serve` uses (`--data DIR`, or
`--database` and `--blobs`), whether a server is running or not.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from muse.errors import SystemRefusedError, UsageError

from .repack import DEFAULT_AUTO_PACKS, DEFAULT_GRACE
from .security import actor_name
from .service import Hub, Limits, check_repo_name
from .sql_index import Repo
from .tokens import SCOPES, issue_token

KILL_AT_ENV = "MUSE_HUB_TEST_KILL_AT"  # the test suite's crash point inside confirm


def storage_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--data / --database / --blobs, also from MUSE_HUB_DATA / _DATABASE / _BLOBS."""
    command = click.option("--blobs", envvar="MUSE_HUB_BLOBS", metavar="URL",
                           help="blob store: s3://BUCKET/PREFIX or a folder")(command)
    command = click.option("--database", envvar="MUSE_HUB_DATABASE", metavar="URL",
                           help="index database: postgresql://… (default: SQLite in --data)")(
        command)
    return click.option("--data", envvar="MUSE_HUB_DATA", type=click.Path(path_type=Path),
                        help="the embedded hub's folder (SQLite index + bundles)")(command)


def open_storage(data: Path | None, database: str | None, blobs: str | None,
          limits: Limits | None = None) -> Hub:
    from .deploy import open_hub

    return open_hub(data, database, blobs, limits)


def repo_named(served: Hub, full_name: str) -> Repo:
    owner, name = check_repo_name(full_name)
    found = served.index.repo(owner, name)
    if found is None:
        raise UsageError(f"no repository {owner}/{name} on this hub",
                         hint=f"create it: muse hub repo create {owner}/{name}")
    return found


def echo_result(as_json: bool, value: Any, text: str) -> None:
    click.echo(json.dumps(value, indent=2) if as_json else text)


@click.group()
def hub() -> None:
    """Run a Muse hub, and administer its users, repositories and tokens."""


@hub.command()
@storage_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8470, show_default=True, type=click.IntRange(0, 65535))
@click.option("--public-url", help="the URL clients reach this hub at (behind a proxy)")
@click.option("--max-bundle-bytes", type=click.IntRange(min=1),
              help="refuse larger pushes (413)")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--auto-repack-packs", default=DEFAULT_AUTO_PACKS, show_default=True,
              type=click.IntRange(min=0), envvar="MUSE_HUB_AUTO_REPACK_PACKS",
              help="after a push, fold a repository's newest packs in the background once it "
              "has more than this many (0: never)")
def serve(data: Path | None, database: str | None, blobs: str | None, host: str, port: int,
          public_url: str | None, max_bundle_bytes: int | None, log_level: str,
          auto_repack_packs: int) -> None:
    """Serve the hub over HTTP until interrupted (SIGINT/SIGTERM end it gracefully)."""
    import uvicorn

    from .app import create_app
    from .repack import AutoRepack

    listener = bind_listener(host, port)  # before the storage: a busy port creates nothing
    with listener:
        served = open_storage(data, database, blobs, Limits(max_bundle_bytes=max_bundle_bytes))
        kill_hook(served)
        auto = AutoRepack(served, auto_repack_packs) if auto_repack_packs else None
        served.after_push = auto
        logging.basicConfig(stream=sys.stderr, level=log_level.upper(), format="%(message)s")
        app = create_app(served, public_url=public_url)
        config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=30)
        click.echo(f"muse hub serving on {_listening_url(listener)}", err=True)
        try:
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            if auto is not None:
                auto.close()  # a repack under way finishes (or its lease lapses if killed)


def bind_listener(host: str, port: int) -> socket.socket:
    """The hub's listening socket, bound before it announces itself.

    Left to uvicorn, a port in use printed "serving on …" and then exited 3 (Muse's
    "repository" code); bound here, it is one line and exit 8, and `--port 0`
    announces the port it got.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host!r}: {exc.strerror}",
                         hint="give --host an address of this machine, e.g. 127.0.0.1") from None
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise _bind_refusal(host, port, exc) from None
    return listener


def _bind_refusal(host: str, port: int, exc: OSError) -> Exception:
    where = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    if exc.errno == errno.EADDRINUSE:
        return SystemRefusedError(where, hint="another process (another hub?) holds that port: "
                                  "stop it, or pick another with --port")
    if exc.errno == errno.EACCES:
        return SystemRefusedError(where, hint="ports below 1024 need privileges: pick --port "
                                  "8470, say, and put a proxy in front")
    if exc.errno == errno.EADDRNOTAVAIL:
        return UsageError(where, hint="give --host an address of this machine, e.g. 127.0.0.1")
    return exc


def _listening_url(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def kill_hook(served: Hub) -> None:
    """The test suite's crash point: SIGKILL at the step $MUSE_HUB_TEST_KILL_AT names."""
    kill_at = os.environ.get(KILL_AT_ENV)
    if kill_at:
        served.hook = lambda step: os.kill(os.getpid(), signal.SIGKILL) if step == kill_at \
            else None


@hub.command()
@storage_options
@click.argument("full_name", metavar="OWNER/NAME", required=False)
@click.option("--all-repos", is_flag=True, help="every repository on the hub, in turn")
@click.option("--geometric", is_flag=True,
              help="fold only the newest packs, so each pack left is at least twice the "
              "total after it (what the hub does after pushes)")
@click.option("--prune", metavar="DATE",
              help=f"drop replaced packs older than this (default {DEFAULT_GRACE}; now, "
              "never, 2.hours.ago); the sweep takes unnamed bundles older than this, but "
              "none younger than a day")
@click.option("--sweep/--no-sweep", default=None,
              help="also delete the bundles no repository's rows name (left by killed "
              "pushes and repacks); default: with --all-repos only")
@click.option("--json", "as_json", is_flag=True)
def repack(data: Path | None, database: str | None, blobs: str | None, full_name: str | None,
           all_repos: bool, geometric: bool, prune: str | None, sweep: bool | None,
           as_json: bool) -> None:
    """Fold a repository's packs into one, so a clone downloads one pack, not one per push."""
    from muse.gc import prune_cutoff

    from .repack import Repacker, repack_all
    from .sweep import sweep_blobs

    if all_repos == (full_name is not None):
        raise UsageError("name one repository, or pass --all-repos",
                         hint="muse hub repack OWNER/NAME, or muse hub repack --all-repos")
    prune_cutoff(prune or DEFAULT_GRACE)  # a bad date is refused before anything is read
    served = open_storage(data, database, blobs)
    kill_hook(served)
    repacker = Repacker(served, hook=served.hook)
    if all_repos:
        reports = repack_all(repacker, served.index.repos(), geometric=geometric, prune=prune)
    else:
        reports = [repacker.repack(repo_named(served, full_name or ""), geometric=geometric,
                                   prune=prune)]
    for report in reports:
        if report.folded_into or report.dropped_packs:
            served.guard.rows.record(actor_name(), "repack", repo=report.repo,
                                     target=report.folded_into, packs=report.folded_packs,
                                     dropped=report.dropped_packs)
    # The sweep is the whole store's, after the folds (one may name a bundle a killed fold
    # left); a hub-wide listing is not one repository's business unless asked for.
    wanted = all_repos if sweep is None else sweep
    swept = sweep_blobs(served, prune=prune) if wanted else None
    if swept is not None and swept.swept_packs:
        served.guard.rows.record(actor_name(), "sweep", packs=swept.swept_packs,
                                 bytes=swept.swept_bytes, swept=swept.swept)
    echo_result(as_json, {"repos": [r.as_dict() for r in reports],
                          "sweep": None if swept is None else swept.as_dict()},
                "\n".join([r.line() for r in reports] + (swept.lines() if swept else [])))


@hub.group()
def user() -> None:
    """Hub accounts."""


@user.command("add")
@storage_options
@click.argument("name")
def user_add(data: Path | None, database: str | None, blobs: str | None, name: str) -> None:
    """Add the account NAME."""
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", name):
        raise UsageError(f"invalid user name {name!r}",
                         hint="letters, digits, '.', '_' and '-'")
    served = open_storage(data, database, blobs)
    served.index.add_user(name)
    served.guard.rows.record(actor_name(), "user-add", target=name)
    click.echo(f"added user {name}")


@user.command("list")
@storage_options
@click.option("--json", "as_json", is_flag=True)
def user_list(data: Path | None, database: str | None, blobs: str | None, as_json: bool) -> None:
    """Every account."""
    names = open_storage(data, database, blobs).index.users()
    echo_result(as_json, names, "\n".join(names))


@hub.group()
def repo() -> None:
    """Repositories, named OWNER/NAME."""


@repo.command("create")
@storage_options
@click.argument("full_name", metavar="OWNER/NAME")
@click.option("--public/--private", default=False, show_default=True,
              help="who may read it without a token")
def repo_create(data: Path | None, database: str | None, blobs: str | None, full_name: str,
                public: bool) -> None:
    """Create an empty repository owned by an existing user."""
    owner, name = check_repo_name(full_name)
    served = open_storage(data, database, blobs)
    served.index.create_repo(owner, name, public=public)
    served.guard.rows.record(actor_name(), "repo-create", repo=full_name, public=public)
    click.echo(f"created {'public' if public else 'private'} repository {owner}/{name}")


@repo.command("list")
@storage_options
@click.option("--json", "as_json", is_flag=True)
def repo_list(data: Path | None, database: str | None, blobs: str | None, as_json: bool) -> None:
    """Every repository."""
    repos = open_storage(data, database, blobs).index.repos()
    rows = [{"name": r.full_name, "public": r.public} for r in repos]
    echo_result(as_json, rows, "\n".join(f"{r.full_name}  {'public' if r.public else 'private'}"
                                  for r in repos))


@hub.group()
def token() -> None:
    """Access tokens: printed once, stored hashed, scoped to one repository."""


DURATION = re.compile(r"^(\d+)([smhd])$")


def parse_duration(value: str | None) -> int | None:
    if value is None or value == "never":
        return None
    found = DURATION.match(value)
    if not found or int(found.group(1)) == 0:
        raise UsageError(f"invalid duration {value!r}", hint="e.g. 90d, 12h, 30m or never")
    return int(found.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]


@token.command("create")
@storage_options
@click.option("--repo", "full_name", required=True, metavar="OWNER/NAME")
@click.option("--scope", type=click.Choice(SCOPES), default="read", show_default=True)
@click.option("--user", "user_name", help="the account it speaks for (default: the owner)")
@click.option("--expires", default="90d", show_default=True, help="lifetime: 90d, 12h, never")
@click.option("--note", default="", help="what the token is for")
@click.option("--json", "as_json", is_flag=True)
def token_create(data: Path | None, database: str | None, blobs: str | None, full_name: str,
                 scope: str, user_name: str | None, expires: str, note: str,
                 as_json: bool) -> None:
    """Issue a token; it is printed once and only its hash is kept."""
    served = open_storage(data, database, blobs)
    found = repo_named(served, full_name)
    row, plain = issue_token(served.index, user_name or found.owner, found, scope,
                             expires_in=parse_duration(expires), note=note)
    served.guard.rows.record(actor_name(), "token-create", repo=found.full_name, target=row.id,
                             user=row.user, scope=scope, expires=row.expires)
    echo_result(as_json, {"id": row.id, "token": plain, "scope": scope, "repo": found.full_name,
                    "user": row.user, "expires": row.expires}, plain)
    if not as_json:
        click.echo(f"token {row.id} ({scope} on {found.full_name}); it is shown only once",
                   err=True)


@token.command("list")
@storage_options
@click.option("--repo", "full_name", metavar="OWNER/NAME")
@click.option("--json", "as_json", is_flag=True)
def token_list(data: Path | None, database: str | None, blobs: str | None,
               full_name: str | None, as_json: bool) -> None:
    """Tokens (never their values): id, user, scope, expiry, revoked."""
    index = open_storage(data, database, blobs).index
    scoped = None
    if full_name is not None:
        scoped = index.repo(*check_repo_name(full_name))
        if scoped is None:
            raise UsageError(f"no repository {full_name} on this hub")
    names = {r.id: r.full_name for r in index.repos()}
    now = time.time()
    rows = [{"id": t.id, "user": t.user, "repo": names.get(t.repo_id), "scope": t.scope,
             "expires": t.expires, "revoked": t.revoked is not None,
             "expired": t.expires is not None and t.expires <= now, "note": t.note}
            for t in index.tokens(scoped)]
    echo_result(as_json, rows, "\n".join(
        f"{r['id']}  {r['user']}  {r['repo']}  {r['scope']}"
        + ("  revoked" if r["revoked"] else "  expired" if r["expired"] else "")
        for r in rows))


@token.command("revoke")
@storage_options
@click.argument("token_id")
def token_revoke(data: Path | None, database: str | None, blobs: str | None,
                 token_id: str) -> None:
    """Revoke a token by id: refused at once by every replica."""
    served = open_storage(data, database, blobs)
    if not served.index.revoke_token(token_id):
        raise UsageError(f"no live token {token_id!r}", hint="muse hub token list")
    served.guard.rows.record(actor_name(), "token-revoke", target=token_id)
    click.echo(f"revoked token {token_id}")


# -- the security layer (docs/hub-security.md) -------------------------------------------------

SIZE = re.compile(r"^(\d+)([KMGT]?)B?$", re.IGNORECASE)


def parse_size(value: str | None) -> int | None:
    """`100M`, `2G`, `5000` (bytes) → bytes; `none` → no limit."""
    if value is None or value.lower() == "none":
        return None
    found = SIZE.match(value.strip())
    if not found:
        raise UsageError(f"invalid size {value!r}", hint="e.g. 500M, 2G, 10000, or none")
    return int(found.group(1)) * 1024 ** " KMGT".index(found.group(2).upper() or " ")


SIZE_OPTIONS = ("max-bundle-bytes", "max-object-bytes", "max-repo-bytes")


@repo.command("set")
@storage_options
@click.argument("full_name", metavar="OWNER/NAME")
@click.option("--public/--private", default=None, help="who may read it without a token")
@click.option("--signatures", type=click.Choice(["any", "signed", "registered"]),
              help="accept any commit, only signed ones, or only ones signed by a key "
              "registered to the pusher")
@click.option("--max-bundle-bytes", metavar="SIZE", help="per push (e.g. 500M; none)")
@click.option("--max-object-bytes", metavar="SIZE", help="per object")
@click.option("--max-repo-bytes", metavar="SIZE", help="all of the repository's packs")
@click.option("--daily-bytes", metavar="SIZE", help="bytes it may receive per UTC day")
@click.option("--json", "as_json", is_flag=True)
def repo_set(data: Path | None, database: str | None, blobs: str | None, full_name: str,
             public: bool | None, signatures: str | None, max_bundle_bytes: str | None,
             max_object_bytes: str | None, max_repo_bytes: str | None, daily_bytes: str | None,
             as_json: bool) -> None:
    """Show or change one repository's rules (unset sizes fall back to the hub's)."""
    served = open_storage(data, database, blobs)
    found = repo_named(served, full_name)
    rows = served.guard.rows
    changes: dict[str, Any] = {}
    for column, raw in (("max_bundle_bytes", max_bundle_bytes),
                        ("max_object_bytes", max_object_bytes),
                        ("max_repo_bytes", max_repo_bytes), ("daily_bytes", daily_bytes)):
        if raw is not None:
            changes[column] = parse_size(raw)
    if signatures is not None:
        changes["signatures"] = signatures
    for column, value in changes.items():
        rows.set_repo_rule(found, column, value)
    if public is not None:
        served.index.set_public(found, public)
        changes["public"] = public
    if changes:
        rows.record(actor_name(), "repo-set", repo=found.full_name, changes=changes)
    shown = {**vars(rows.repo_rules(found)),
             "public": public if public is not None else found.public}
    echo_result(as_json, shown, "\n".join(f"{k}: {'none' if v is None else v}"
                                     for k, v in shown.items()))


def parse_count(raw: str) -> int | None:
    if raw.lower() == "none":
        return None
    if not raw.isdigit() or int(raw) == 0:
        raise UsageError(f"invalid count {raw!r}", hint="a positive whole number, or none")
    return int(raw)


def object_id_arg(oid: str) -> str:
    from muse.objects import is_object_id

    if not is_object_id(oid):
        raise UsageError(f"not an object id: {oid[:80]!r}", hint="64 lowercase hex digits")
    return oid


# Registers the security layer's commands on `hub` (they share its storage options).
from . import security_cli  # noqa: E402, F401
