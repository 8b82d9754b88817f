"""The production hub for the tests: `muse hub serve` on the session's PostgreSQL and SeaweedFS.

`prod_storage` gives the storage options of a fresh deployment (a new database
on the private cluster of tests/pg_server.py, a new bucket on the S3 server of
tests/s3_server.py) with the environment a hub process needs to reach them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muse.remote import Remote
from tests.hub_server import HubHarness, HubServer, Storage
from tests.pg_server import PgServer
from tests.s3_server import S3Server

MIB = 1 << 20
# Small enough that a test can push a bundle in parts; S3 takes no part under 5 MiB.
MULTIPART_THRESHOLD = 8 * MIB
PART_SIZE = 5 * MIB


def prod_storage(pg: PgServer, s3: S3Server, base: Path) -> Storage:
    """A fresh, empty deployment on PostgreSQL + S3."""
    bucket = s3.new_bucket()
    env = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key,
           "AWS_ENDPOINT_URL_S3": s3.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
           "MUSE_CACHE_DIR": str(base / "cache"),  # the S3 conditional-write verdicts
           "MUSE_HUB_WORK_DIR": str(base / "work"),
           "MUSE_HUB_S3_MULTIPART_THRESHOLD": str(MULTIPART_THRESHOLD),
           "MUSE_HUB_S3_PART_SIZE": str(PART_SIZE)}
    return Storage(database=pg.new_database(), blobs=f"s3://{bucket}/hub", env=env)


class ReplicaHarness(HubHarness):
    """A fresh repository served by two hub processes on one PostgreSQL + bucket, for the
    conformance suite: each `open` takes the next replica, and each racing worker
    (`open_code`, run as `python -c CODE REPO …` on a clone named w0, w1, …) the replica its
    number picks, so pushes through one are read, raced and fetched through the other."""

    def __init__(self, first: HubServer, second: HubServer) -> None:
        super().__init__(first)
        self.replicas = (first, second)
        self._opened = 0

    def _url_on(self, server: HubServer) -> str:
        return f"{server.url}/{self.repo.owner}/{self.repo.name}"

    def open(self, hook: Any = None) -> Remote:
        from remotes.hub_client import HubRemote

        server = self.replicas[self._opened % 2]
        self._opened += 1
        return HubRemote(self._url_on(server), self.options(), hook=hook)

    def open_code(self) -> str:
        urls = [self._url_on(s) for s in self.replicas]
        return ("import re, sys\n"
                "from muse.remote import RemoteOptions\n"
                "from remotes.hub_client import HubRemote\n"
                f"urls = {urls!r}\n"
                "number = re.sub(r'\\D', '', sys.argv[1].rstrip('/').rsplit('/', 1)[-1]) "
                "if len(sys.argv) > 1 else ''\n"
                "remote = HubRemote(urls[int(number or 0) % 2], RemoteOptions(token="
                f"{self.repo.write_token!r}, settings={{'inline-max': '0'}}), hook=hook)\n")
