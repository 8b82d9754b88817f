"""Opening a hub deployment from its storage options: `--data DIR`, or `--database` + `--blobs`."""

from __future__ import annotations

from pathlib import Path

from muse.errors import UsageError
from muse.remote_registry import redact_url

from .blobs import BlobStore, DirBlobs
from .service import Hub, Limits
from .sql_index import Database, SqlIndex


def open_database(url: str) -> Database:
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres_db import PostgresDatabase

        return PostgresDatabase(url)
    if url.startswith("sqlite:///"):
        from .sqlite_db import SqliteDatabase

        return SqliteDatabase(Path(url.removeprefix("sqlite:///")))
    raise UsageError(f"unsupported hub database {redact_url(url)!r}",
                     hint="use postgresql://… or sqlite:///PATH (or --data DIR)")


def open_blobs(url: str) -> BlobStore:
    if url.startswith("s3://"):
        from .s3_blobs import S3Blobs

        return S3Blobs.from_url(url)
    if url.startswith("file://") or url.startswith("/"):
        return DirBlobs(Path(url.removeprefix("file://")))
    raise UsageError(f"unsupported hub blob store {redact_url(url)!r}",
                     hint="use s3://BUCKET/PREFIX or a path")


def open_hub(data: Path | None = None, database: str | None = None, blobs: str | None = None,
             limits: Limits | None = None) -> Hub:
    """The deployment the options name, its schema created or migrated as needed.

    `data` alone is the embedded default (SQLite at DATA/index.sqlite3, bundles under
    DATA/blobs); `database` and `blobs` each override their half.
    """
    if data is None and (database is None or blobs is None):
        raise UsageError("no hub storage given",
                         hint="pass --data DIR (embedded), or --database and --blobs")
    if data is not None:
        data = data.resolve()
        data.mkdir(parents=True, exist_ok=True)
    if database is None:
        assert data is not None
        database = f"sqlite:///{data / 'index.sqlite3'}"
    if blobs is None:
        assert data is not None
        blobs = str(data / "blobs")
    db = open_database(database)
    store = open_blobs(blobs)
    index = SqlIndex(db)
    index.migrate()
    return Hub(index, store, limits or Limits())
