"""The hub in production: the PostgreSQL index adapter, and the S3 blob store's presigned paths.

The index runs on the private cluster of tests/pg_server.py, the bucket on the
SeaweedFS of tests/s3_server.py, the hub as a real process (`hub_prod_server`).
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from muse.errors import UsageError
from muse.remote import OutgoingBundle
from muse.remote_registry import redact_url
from muse.repo import Repository
from muse.transfer import clone, push
from remotes.hub.blobs import bundle_key
from remotes.hub.postgres_db import PostgresDatabase
from remotes.hub.schema import SCHEMA_VERSION
from remotes.hub.sql_index import SqlIndex
from remotes.hub.sqlite_db import SqliteDatabase
from tests.hub.conftest import CountingTransport, hub_remote
from tests.hub.test_hub_schema_versions import seed_version_2
from tests.hub_prod import PART_SIZE
from tests.hub_server import HubServer, NewRepo
from tests.pg_server import PgServer
from tests.remotes.remote_support import (
    MAIN,
    assert_no_ghost_refs,
    blob,
    commit_files,
    new_repo,
    write_push_bundle,
)
from tests.testkit import MuseRunner

# -- the PostgreSQL adapter ---------------------------------------------------------------


def pg_columns(dsn: str) -> dict[str, list[str]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema() "
                            "ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def sqlite_columns(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()


def test_the_hub_creates_the_same_versioned_schema_on_postgresql_as_on_sqlite(
        tmp_path: Path, pg_database: str) -> None:
    index = SqlIndex(PostgresDatabase(pg_database))
    assert index.migrate() == 0  # an empty database: created from version 0
    assert index.migrate() == SCHEMA_VERSION  # then found up to date, changed no further
    lite = SqlIndex(SqliteDatabase(tmp_path / "index.sqlite3"))
    lite.migrate()
    assert pg_columns(pg_database) == sqlite_columns(tmp_path / "index.sqlite3")
    assert len(index.ticket_secret()) == 32


def test_a_version_2_postgresql_database_is_migrated_for_repacking(pg_database: str) -> None:
    db = PostgresDatabase(pg_database)
    seed_version_2(db)
    index = SqlIndex(db)
    assert index.migrate() == 2
    repo = index.repo("ada", "song")
    assert repo is not None and index.pack_rows(repo) == {"p1": (10, ())}
    assert index.take_lease(repo, "me", 100.0, 60) is None
    assert index.take_lease(repo, "you", 120.0, 60) == "me"
    assert index.migrate() == SCHEMA_VERSION


def test_replicas_starting_together_migrate_once(pg_database: str) -> None:
    found: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(6)

    def replica() -> None:
        try:
            index = SqlIndex(PostgresDatabase(pg_database))
            start.wait()
            found.append(index.migrate())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert sorted(found) == [0] + [SCHEMA_VERSION] * 5
    secrets = {SqlIndex(PostgresDatabase(pg_database)).ticket_secret() for _ in range(2)}
    assert len(secrets) == 1  # one ticket key for every replica


def test_a_database_from_a_newer_muse_is_refused_and_left_alone(pg_database: str) -> None:
    index = SqlIndex(PostgresDatabase(pg_database))
    index.migrate()
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("UPDATE hub_meta SET value = %s WHERE key = 'schema_version'",
                     (str(SCHEMA_VERSION + 1),))
    before = pg_columns(pg_database)
    with pytest.raises(UsageError, match="schema version"):
        index.migrate()
    assert pg_columns(pg_database) == before
    with psycopg.connect(pg_database) as conn:
        (value,) = conn.execute("SELECT value FROM hub_meta WHERE key = 'schema_version'"
                                ).fetchone() or ("",)
    assert value == str(SCHEMA_VERSION + 1)


def test_bulk_insert_copies_rows_and_skips_those_already_there(pg_database: str) -> None:
    db = PostgresDatabase(pg_database)
    SqlIndex(db).migrate()
    columns = ("repo_id", "oid", "pack_id", "pos", "size", "kind")
    first = [("r", f"{i:064x}", "p1", i * 10, 10, "blob") for i in range(1000)]
    again = [("r", f"{i:064x}", "p2", 0, 1, "blob") for i in range(500, 1500)]
    for rows in (first, again):
        with db.cursor() as cur:
            db.begin_write(cur)
            db.bulk_insert(cur, "objects", columns, rows)
            cur.execute("COMMIT")
    with db.cursor() as cur:
        cur.execute("SELECT pack_id, count(*) FROM objects GROUP BY pack_id ORDER BY pack_id")
        assert cur.fetchall() == [("p1", 1000), ("p2", 500)]  # the first row of an id stays


def test_a_failed_transaction_leaves_nothing_and_the_pool_stays_usable(pg_database: str) -> None:
    db = PostgresDatabase(pg_database, pool_size=1)
    SqlIndex(db).migrate()
    columns = ("repo_id", "oid", "pack_id", "pos", "size", "kind")
    with pytest.raises(RuntimeError), db.cursor() as cur:
        db.begin_write(cur)
        db.bulk_insert(cur, "objects", columns, [("r", "a" * 64, "p", 0, 1, "blob")])
        try:
            raise RuntimeError("a push refused half-way")
        finally:
            cur.execute("ROLLBACK")
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM objects")
        assert cur.fetchone() == (0,)


def test_the_password_never_appears_in_messages(pg_server: PgServer) -> None:
    dsn = pg_server.dsn()
    assert pg_server.password in dsn
    assert pg_server.password not in redact_url(dsn) and "***" in redact_url(dsn)
    assert PostgresDatabase(dsn).url == redact_url(dsn)


@pytest.mark.parametrize("problem", ["password", "password-parameter", "scheme", "port"])
def test_a_bad_database_url_is_one_clear_line(tmp_path: Path, muse: MuseRunner,
                                              pg_server: PgServer, problem: str) -> None:
    good = pg_server.new_database()
    if problem == "password":
        bad, code = good.replace(pg_server.password, "wrong-password"), 7
    elif problem == "password-parameter":  # libpq's other place for it
        bad, code = good.replace(f":{pg_server.password}@", "@") + "?password=wrong-password", 7
    elif problem == "scheme":
        bad, code = good.replace("postgresql://", "postgresq://"), 2
    else:
        bad, code = good.replace(f":{pg_server.port}/", ":1/"), 6
    done = muse("hub", "user", "add", "ada", "--database", bad, "--blobs",
                str(tmp_path / "blobs"), cwd=tmp_path)
    assert done.exit_code == code, done.stderr
    assert "Traceback" not in done.stderr and "hub database" in done.stderr
    assert "***@" in done.stderr or "password=***" in done.stderr
    assert pg_server.password not in done.stderr and "wrong-password" not in done.stderr
    assert done.stderr.startswith("error: ") and "hint: " in done.stderr
    assert pg_columns(good) == {}  # nothing was created


# -- the S3 blob store, through the live hub ----------------------------------------------


@pytest.fixture
def prod_repo(hub_prod_server: HubServer) -> NewRepo:
    return hub_prod_server.new_repo()


def s3_endpoint(server: HubServer) -> str:
    return server.storage.env["AWS_ENDPOINT_URL_S3"]


def bucket_of(server: HubServer) -> Any:
    from remotes.hub.s3_blobs import S3Blobs

    blobs = server.admin().blobs
    assert isinstance(blobs, S3Blobs)
    return blobs.bucket


def presign(repo: NewRepo, bundle_id: str, size: int) -> dict[str, Any]:
    answer = httpx.post(f"{repo.api}/push/bundle/presign",
                        headers={"Authorization": f"Bearer {repo.write_token}"},
                        json={"bundle_id": bundle_id, "size_bytes": size})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def confirm(repo: NewRepo, bundle_id: str, new: str) -> httpx.Response:
    return httpx.post(f"{repo.api}/push/bundle/confirm",
                      headers={"Authorization": f"Bearer {repo.write_token}"},
                      json={"bundle_id": bundle_id,
                            "updates": [{"name": MAIN, "old": None, "new": new}]})


def index_state(server: HubServer, repo: NewRepo) -> tuple[object, ...]:
    hub = server.admin()
    found = hub.index.repo(repo.owner, repo.name)
    assert found is not None
    return hub.index.refs(found), hub.index.pack_rows(found), hub.index.commit_graph(found)


def test_presign_answers_a_bucket_url_bound_to_the_bundle(tmp_path: Path,
                                                          hub_prod_server: HubServer,
                                                          prod_repo: NewRepo,
                                                          seeded_local: Repository) -> None:
    head = seeded_local.head()
    assert head is not None
    bundle = write_push_bundle(seeded_local, tmp_path / "b.bundle", head, None)
    target = presign(prod_repo, bundle.sha256, bundle.size)
    assert target["url"].startswith(s3_endpoint(hub_prod_server) + "/")
    assert bundle_key(bundle.sha256) in target["url"]
    assert target["headers"] == {
        "Content-Length": str(bundle.size),
        "x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(bundle.sha256)).decode()}
    # The bytes go to the bucket, not through the hub; then confirm indexes them.
    assert httpx.put(target["url"], content=bundle.path.read_bytes(),
                     headers=target["headers"]).status_code == 200
    assert confirm(prod_repo, bundle.sha256, head).status_code == 200
    assert bucket_of(hub_prod_server).get(bundle_key(bundle.sha256)).data == \
        bundle.path.read_bytes()
    assert presign(prod_repo, bundle.sha256, bundle.size) == {"exists": True}


def test_fetch_answers_presigned_gets_and_a_clone_reads_the_bucket(
        tmp_path: Path, hub_prod_server: HubServer, prod_repo: NewRepo,
        seeded_local: Repository) -> None:
    push(seeded_local, hub_remote(prod_repo, inline=0), [(MAIN, MAIN)])
    answer = httpx.post(f"{prod_repo.api}/fetch",
                        headers={"Authorization": f"Bearer {prod_repo.read_token}"},
                        json={"wants": [seeded_local.head()], "haves": []}).json()
    (pack,) = answer["bundles"]
    assert pack["url"].startswith(s3_endpoint(hub_prod_server) + "/")
    assert "X-Amz-Signature=" in pack["url"]
    counting = CountingTransport()
    remote = hub_remote(prod_repo, token=prod_repo.read_token, transport=counting)
    copy = clone(prod_repo.url, tmp_path / "copy", remote=remote)
    assert copy.head() == seeded_local.head()
    # The pack came straight from the bucket: the hub answered the refs and the fetch only.
    assert counting.take() == {"GET refs": 1, "POST fetch": 1,
                               f"GET {bundle_key(pack['id']).rsplit('/', 1)[-1]}": 1}


def large_local(tmp_path: Path) -> Repository:
    local = new_repo(tmp_path / "large")
    commit_files(local, {f"stems/{i}.wav": blob(700 + i, 1 << 20) for i in range(12)},
                 "twelve stems")
    return local


def large_push(tmp_path: Path) -> tuple[Repository, str, OutgoingBundle]:
    """The large repository, its head, and the bundle a fresh push of it sends."""
    local = large_local(tmp_path)
    head = local.head()
    assert head is not None
    return local, head, write_push_bundle(local, tmp_path / "big.bundle", head, None)


def test_a_large_push_goes_in_parts_and_resumes_where_it_stopped(
        tmp_path: Path, hub_prod_server: HubServer, prod_repo: NewRepo,
        muse_home: Path) -> None:
    local, head, bundle = large_push(tmp_path)
    target = presign(prod_repo, bundle.sha256, bundle.size)
    parts = target["parts"]
    assert [p["size"] for p in parts[:-1]] == [PART_SIZE] * (len(parts) - 1)
    assert sum(p["size"] for p in parts) == bundle.size and not any(p["done"] for p in parts)
    data = bundle.path.read_bytes()
    first = parts[0]
    assert httpx.put(first["url"], content=data[:first["size"]]).status_code == 200

    # The pusher stopped there; a push of the same bundle sends only the parts not there.
    again = presign(prod_repo, bundle.sha256, bundle.size)
    assert again["upload_id"] == target["upload_id"]
    assert [p["done"] for p in again["parts"]] == [True] + [False] * (len(parts) - 1)
    counting = CountingTransport()
    report = push(local, hub_remote(prod_repo, inline=0, transport=counting), [(MAIN, MAIN)])
    assert [o.status for o in report.refs] == ["created"]
    assert counting.take() == {"GET refs": 1, "POST presign": 1,
                               "PUT upload": len(parts) - 1, "POST confirm": 1}
    assert bucket_of(hub_prod_server).get(bundle_key(bundle.sha256)).data == data
    copy = clone(prod_repo.url, tmp_path / "copy",
                 remote=hub_remote(prod_repo, token=prod_repo.read_token))
    assert copy.head() == head


def test_confirm_of_an_upload_missing_parts_is_a_409_and_changes_nothing(
        tmp_path: Path, hub_prod_server: HubServer, prod_repo: NewRepo,
        muse_home: Path) -> None:
    local, head, bundle = large_push(tmp_path)
    parts = presign(prod_repo, bundle.sha256, bundle.size)["parts"]
    assert len(parts) >= 3
    data = bundle.path.read_bytes()
    for part in (parts[0], parts[-1]):  # a gap: the parts between are missing
        piece = data[part["offset"]:part["offset"] + part["size"]]
        assert httpx.put(part["url"], content=piece).status_code == 200
    before = index_state(hub_prod_server, prod_repo)
    answer = confirm(prod_repo, bundle.sha256, head)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "upload-incomplete"
    assert index_state(hub_prod_server, prod_repo) == before
    assert not bucket_of(hub_prod_server).exists(bundle_key(bundle.sha256))
    counting = CountingTransport()
    push(local, hub_remote(prod_repo, inline=0, transport=counting), [(MAIN, MAIN)])
    assert counting.take()["PUT upload"] == len(parts) - 2  # the parts kept were not resent
    assert hub_remote(prod_repo).list_refs() == {MAIN: head}


def test_confirm_of_a_prefix_of_the_parts_is_refused_and_the_next_push_lands(
        tmp_path: Path, hub_prod_server: HubServer, prod_repo: NewRepo,
        muse_home: Path) -> None:
    local, head, bundle = large_push(tmp_path)
    first = presign(prod_repo, bundle.sha256, bundle.size)["parts"][0]
    data = bundle.path.read_bytes()
    assert httpx.put(first["url"], content=data[:first["size"]]).status_code == 200
    before = index_state(hub_prod_server, prod_repo)
    # The store cannot tell a prefix from a whole: the hub's verification can.
    answer = confirm(prod_repo, bundle.sha256, head)
    message = answer.json()["error"]["message"]
    assert answer.status_code == 422 and ("truncated" in message or "at least" in message)
    assert index_state(hub_prod_server, prod_repo) == before
    assert not bucket_of(hub_prod_server).exists(bundle_key(bundle.sha256))
    push(local, hub_remote(prod_repo, inline=0), [(MAIN, MAIN)])
    assert hub_remote(prod_repo).list_refs() == {MAIN: head}


def test_parts_holding_other_bytes_are_refused_at_confirm_and_dropped(
        tmp_path: Path, hub_prod_server: HubServer, prod_repo: NewRepo,
        muse_home: Path) -> None:
    local, head, bundle = large_push(tmp_path)
    # Someone with a write token uploads bytes of the right lengths under this bundle's id.
    for part in presign(prod_repo, bundle.sha256, bundle.size)["parts"]:
        junk = blob(part["number"], part["size"])
        assert httpx.put(part["url"], content=junk).status_code == 200
    before = index_state(hub_prod_server, prod_repo)
    answer = confirm(prod_repo, bundle.sha256, head)
    assert answer.status_code == 422, answer.text
    assert index_state(hub_prod_server, prod_repo) == before
    # Not left to pass for the bundle: the real one is pushed next, at once.
    assert not bucket_of(hub_prod_server).exists(bundle_key(bundle.sha256))
    push(local, hub_remote(prod_repo, inline=0), [(MAIN, MAIN)])
    refs = assert_no_ghost_refs(hub_remote(prod_repo), tmp_path / "probe")
    assert refs == {MAIN: head}


def test_urls_are_signed_for_the_public_endpoint_when_one_is_set(
        tmp_path: Path, hub_prod_server: HubServer, seeded_local: Repository) -> None:
    # The clients' name for the bucket (here `localhost`) is not the hub's (127.0.0.1).
    public = s3_endpoint(hub_prod_server).replace("127.0.0.1", "localhost")
    replica = HubServer.start(hub_prod_server.storage, tmp_path / "replica",
                              env={"MUSE_HUB_S3_PUBLIC_ENDPOINT": public})
    try:
        repo = replica.new_repo()
        head = seeded_local.head()
        assert head is not None
        bundle = write_push_bundle(seeded_local, tmp_path / "b.bundle", head, None)
        assert presign(repo, bundle.sha256, bundle.size)["url"].startswith(public + "/")
        push(seeded_local, hub_remote(repo, inline=0), [(MAIN, MAIN)])
        answer = httpx.post(f"{repo.api}/fetch",
                            headers={"Authorization": f"Bearer {repo.read_token}"},
                            json={"wants": [head], "haves": []}).json()
        assert all(b["url"].startswith(public + "/") for b in answer["bundles"])
        copy = clone(repo.url, tmp_path / "copy",
                     remote=hub_remote(repo, token=repo.read_token))
        assert copy.head() == head
    finally:
        replica.stop()
