"""Verified signatures remembered by commit id: `log` skips the crypto library, nothing else.

What may be cached is only what the commit's own bytes decide (its id binds
them all); which signer is trusted is read afresh on every run, and `verify`
checks every signature itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from muse.sigcache import ID_BYTES, VerifiedSignatures, cache_path
from tests.branching_support import commit, repo, write
from tests.remote_support import ok

LOADS_CRYPTO = """
import sys
from muse.cli import cli
try:
    cli.main(["log"], prog_name="muse", standalone_mode=False)
except SystemExit:
    pass
print("CRYPTO=" + str(any(m.startswith("cryptography") for m in sys.modules)))
"""


def _log_loads_crypto(muse, cwd: Path) -> bool:
    done = subprocess.run([sys.executable, "-c", LOADS_CRYPTO], cwd=cwd, env=muse.env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Signature: good" in done.stdout
    return "CRYPTO=True" in done.stdout


def test_a_second_log_does_not_load_the_crypto_library(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first")
    write(repo_dir, "song.mid", "chorus")
    second = commit(muse, repo_dir, "second")
    assert _log_loads_crypto(muse, repo_dir)  # verified once…
    data = cache_path().read_bytes()
    assert len(data) == 2 * ID_BYTES and bytes.fromhex(second) in data
    assert not _log_loads_crypto(muse, repo_dir)  # …and remembered
    assert cache_path().read_bytes() == data  # nothing new to remember


def test_trust_is_decided_afresh_even_for_a_cached_signature(muse, repo_dir, muse_home):
    write(repo_dir, "song.mid", "verse")
    head = commit(muse, repo_dir, "first")
    ok(muse("log", cwd=repo_dir))
    assert bytes.fromhex(head) in cache_path().read_bytes()
    # Another user's view: same cache, but this key is not among theirs.
    for key in (muse_home / "keys").glob("*"):
        key.rename(key.with_name(key.name + ".away"))
    record = json.loads(ok(muse("log", "--json", cwd=repo_dir)).stdout)[0]
    assert record["signature"]["status"] == "untrusted"


def test_a_bad_signature_is_never_remembered(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    head = commit(muse, repo_dir, "first")
    repository = repo(repo_dir)
    good = repository.graph.commit(head)
    assert good.signature is not None
    evil = replace(good, signature=bytes([good.signature[0] ^ 0x80]) + good.signature[1:])
    with repository.store.batch() as batch:
        batch.add_bytes(evil.encode())
    record = json.loads(ok(muse("show", evil.id, "--json", cwd=repo_dir)).stdout)["commit"]
    assert record["signature"]["status"] == "bad"
    assert bytes.fromhex(evil.id) not in (cache_path().read_bytes()
                                          if cache_path().exists() else b"")


def test_verify_checks_every_signature_itself(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    head = commit(muse, repo_dir, "first")
    repository = repo(repo_dir)
    good = repository.graph.commit(head)
    assert good.signature is not None
    evil = replace(good, signature=bytes([good.signature[0] ^ 0x80]) + good.signature[1:])
    with repository.store.batch() as batch:
        batch.add_bytes(evil.encode())
    repository.refs.update("refs/heads/evil", None, evil.id, "test")
    cache_path().parent.mkdir(parents=True, exist_ok=True)
    cache_path().write_bytes(bytes.fromhex(evil.id))  # a cache claiming it verified
    result = muse("verify", cwd=repo_dir)
    assert result.exit_code == 1 and f"commit {evil.id} has a bad signature" in result.stderr


def test_a_torn_or_missing_cache_is_only_a_cost(tmp_path, muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    head = commit(muse, repo_dir, "first")
    good = repo(repo_dir).graph.commit(head)
    path = tmp_path / "cache"
    path.write_bytes(bytes.fromhex(head)[:20])  # a torn append
    signatures = VerifiedSignatures(path)
    assert signatures.check(head, good)
    signatures.save()
    assert VerifiedSignatures(path)._load() == {bytes.fromhex(head)}  # the torn bytes ignored
    unwritable = VerifiedSignatures(tmp_path / "missing-dir" / "x" / "cache")
    (tmp_path / "missing-dir").write_text("a file where a folder should be")
    assert unwritable.check(head, good)
    unwritable.save()  # not kept, no error
