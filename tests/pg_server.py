"""A real PostgreSQL for the tests: a private throwaway cluster (initdb + pg_ctl) on loopback.

`PgServer.start` makes a cluster in a temporary directory (as the `postgres`
user when the tests run as root, since initdb refuses root), binds it to
127.0.0.1 on a free port with a random superuser password, waits until it takes
connections, and `stop` shuts that one cluster down (`pg_ctl stop`, by its data
directory) and removes it. `new_database` gives every test an empty database.
No system cluster is ever touched.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
SUPERUSER = "muse"
# A throwaway cluster: durability buys nothing, and fsync on a shared test box costs seconds.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def find_pg_bin() -> Path | None:
    """The folder holding initdb/pg_ctl: $MUSE_TEST_PG_BIN, PATH, else the newest Debian one."""
    chosen = os.environ.get("MUSE_TEST_PG_BIN")
    if chosen:
        return Path(chosen) if (Path(chosen) / "initdb").is_file() else None
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _as_cluster_owner(args: list[str], owner: str | None) -> list[str]:
    """`args` run as `owner` (root may not run initdb or postgres), or as they are."""
    if owner is None:
        return args
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", owner, "--", *args]
    return ["su", owner, "-s", "/bin/sh", "-c", shlex.join(args)]


@dataclass
class PgServer:
    """One private PostgreSQL cluster: its folder, port and superuser password."""

    bin: Path
    base: Path
    port: int
    password: str
    owner: str | None  # the OS user running the cluster, when not the current one

    @property
    def data(self) -> Path:
        return self.base / "data"

    durable: bool = False  # fsync as a real deployment does (benchmarks), not as tests may

    @classmethod
    def start(cls, pg_bin: Path, *, durable: bool = False) -> PgServer:
        owner = "postgres" if os.geteuid() == 0 else None
        # Not under pytest's tmp dir: that is private to root, and the cluster's user
        # must own its folder.
        base = Path(tempfile.mkdtemp(prefix="muse-pg-"))
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        server = cls(pg_bin, base, _free_port(), secrets.token_hex(16), owner, durable)
        try:
            server._init()
            server._run(["pg_ctl", "start", "-D", str(server.data), "-w",
                         "-t", str(int(START_TIMEOUT)), "-l", str(base / "postgres.log"),
                         "-o", server._options()])
            server._wait_until_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _init(self) -> None:
        secret = self.base / "pwfile"
        secret.write_text(self.password + "\n", "utf-8")
        if self.owner is not None:
            entry = pwd.getpwnam(self.owner)
            os.chown(secret, entry.pw_uid, entry.pw_gid)
        try:
            self._run(["initdb", "-D", str(self.data), "-U", SUPERUSER,
                       f"--pwfile={secret}", "--auth=scram-sha-256", "-E", "UTF8",
                       "--locale=C", "--no-sync"])
        finally:
            secret.unlink(missing_ok=True)

    def _options(self) -> str:
        settings = [f"listen_addresses={HOST}", f"port={self.port}",
                    f"unix_socket_directories={self.base}", "max_connections=300",
                    *(() if self.durable else FAST_SETTINGS)]
        return " ".join(f"-c {s}" for s in settings)

    def _run(self, args: list[str]) -> None:
        command = _as_cluster_owner([str(self.bin / args[0]), *args[1:]], self.owner)
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              cwd=self.base, timeout=START_TIMEOUT + 30)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-2000:]} {self.tail()}")

    def _wait_until_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error as exc:
                last = exc
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not answer within {START_TIMEOUT:.0f}s ({last}): "
                           f"{self.tail()}")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@{HOST}:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database (from template0); its DSN."""
        import psycopg

        name = f"muse_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.dsn(name)

    def connect(self, dsn: str, **options: Any) -> Any:
        """A psycopg connection to `dsn` (for tests that look inside the database)."""
        import psycopg

        return psycopg.connect(dsn, autocommit=True, **options)

    def tail(self, lines: int = 15) -> str:
        try:
            text = (self.base / "postgres.log").read_text("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Shut this cluster down (fast: its sessions are cut) and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run(["pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w"])
        shutil.rmtree(self.base, ignore_errors=True)
