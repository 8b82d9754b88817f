"""Time-to-error of `muse ls-remote` against a silent S3 endpoint (it accepts, never answers).

    python benchmarks/bench_s3_silent.py [TIMEOUT_SECONDS]

Counts the connections the endpoint takes: one per request sent, retries included.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def main() -> None:
    timeout = sys.argv[1] if len(sys.argv) > 1 else "2"
    muse = [sys.executable, "-m", "muse"]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    taken: list[socket.socket] = []

    def take() -> None:
        while True:
            try:
                taken.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=take, daemon=True).start()
    work = tempfile.mkdtemp()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
           "MUSE_CONFIG_DIR": os.path.join(work, "config"),
           "MUSE_CACHE_DIR": os.path.join(work, "cache")}
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_MAX_ATTEMPTS"):
        env.pop(name, None)
    repo = os.path.join(work, "repo")
    subprocess.run([*muse, "init", repo], env=env, check=True, capture_output=True)
    subprocess.run([*muse, "remote", "add", "origin", "s3://muse-silent/repo",
                    "--setting", f"endpoint=http://127.0.0.1:{server.getsockname()[1]}",
                    "--setting", "path-style=true", "--setting", f"timeout={timeout}"],
                   env=env, cwd=repo, check=True, capture_output=True)
    started = time.monotonic()
    done = subprocess.run([*muse, "ls-remote", "origin"], env=env, cwd=repo,
                          capture_output=True, text=True)
    took = time.monotonic() - started
    print(f"timeout {timeout} s: exit {done.returncode} after {took:.1f} s, "
          f"{len(taken)} requests")
    server.close()


if __name__ == "__main__":
    main()
