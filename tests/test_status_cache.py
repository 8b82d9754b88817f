"""`muse status` answers from the stat cache: an unchanged tree's files are never opened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.testkit import MuseRunner

# Runs `muse status --json` in a fresh process and lists every working-tree file
# it opened, as Python's audit hook for `open` sees them (builtins.open and os.open).
OPEN_TRACE = """
import json, os, sys
from muse.cli import cli
root = os.getcwd() + os.sep
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], str):
        path = os.path.abspath(args[0])
        if path.startswith(root) and os.sep + ".muse" + os.sep not in path:
            opened.append(os.path.relpath(path, root))
sys.addaudithook(hook)
try:
    cli.main(["status", "--json"], prog_name="muse", standalone_mode=False)
except SystemExit:
    pass
print("OPENED=" + json.dumps(sorted(set(opened))))
"""


def _opened_by_status(muse: MuseRunner, repo: Path) -> tuple[list[str], dict[str, object]]:
    done = subprocess.run([sys.executable, "-c", OPEN_TRACE], cwd=repo, env=muse.env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    status, _, opened = done.stdout.rpartition("OPENED=")
    # .museignore holds the rules, read on every scan; it is no tracked content.
    return [p for p in json.loads(opened) if p != ".museignore"], json.loads(status)


def test_status_reads_no_file_of_an_unchanged_tree(muse: MuseRunner, repo_dir: Path) -> None:
    past = time.time() - 60  # clear of the cache's same-tick ("racy") rule
    for i in range(300):
        path = repo_dir / f"stems/part{i % 7}/take{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(256))
        os.utime(path, (past, past))
    assert muse("commit", "-m", "session", cwd=repo_dir).exit_code == 0

    opened, status = _opened_by_status(muse, repo_dir)
    assert opened == []
    assert status["changes"] == []

    # A same-size edit changes mtime and ctime: only that file is read again.
    edited = repo_dir / "stems/part3/take10.wav"
    edited.write_bytes(os.urandom(256))
    opened, status = _opened_by_status(muse, repo_dir)
    assert opened == ["stems/part3/take10.wav"]
    assert [c["path"] for c in status["changes"]] == ["stems/part3/take10.wav"]


def test_a_damaged_cache_entry_is_ignored_not_trusted(muse: MuseRunner, repo_dir: Path) -> None:
    import msgpack

    take = repo_dir / "take.wav"
    take.write_bytes(os.urandom(512))
    past = time.time() - 60
    os.utime(take, (past, past))
    assert muse("commit", "-m", "take", cwd=repo_dir).exit_code == 0
    index = repo_dir / ".muse" / "index"
    version, written, entries = msgpack.unpackb(index.read_bytes(), raw=False)
    key, _ = entries["take.wav"]
    entries["take.wav"] = [key, "not-an-object-id"]  # the key still matches the file
    index.write_bytes(msgpack.packb([version, written, entries], use_bin_type=True))

    opened, status = _opened_by_status(muse, repo_dir)
    assert opened == ["take.wav"]  # re-hashed instead of trusting the damaged id
    assert status["changes"] == []
