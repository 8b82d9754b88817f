"""Crafted bundles that once got past Muse (issue 12): each is refused, and nothing changes.

Every case is checked twice: by the reader alone (what `bundle verify` runs)
and through `muse bundle unbundle`, which must exit 5 with the reason and
leave the receiving repository byte for byte as it was.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from muse.bundle import MAX_HEADER_BYTES, BundleReader
from muse.errors import BundleError
from muse.frames import MAX_FRAME_PAYLOAD
from muse.objects import MAX_TIMESTAMP, MIN_TIMESTAMP
from remotes.bucket import encode_refs_doc
from tests import hostile_inputs as h
from tests.remote_support import clone_of, published
from tests.testkit import MuseRunner, changes_nothing

CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    # 4: identity fields that draw lines of their own
    "fake signature line": (lambda: h.commit_bundle(author_name=h.FAKE_SIGNATURE_NAME),
                            "author name holds a control character U+000A"),
    "escape in email": (lambda: h.commit_bundle(author_email="a@e\x1b[2K"),
                        "author email holds a control character U+001B"),
    "carriage return in message": (lambda: h.commit_bundle(message="ok\rSignature: good"),
                                   "message holds a control character U+000D"),
    "bidi override in name": (lambda: h.commit_bundle(author_name="Ada \u202eevil"),
                              "author name holds a control character U+202E"),
    # 6: rows equal to the previous snapshot's in Python, but of other types
    "exec=0": (lambda: h.typed_alike_row(6, 0), "malformed snapshot entry"),
    "size=true": (lambda: h.typed_alike_row(True, False), "malformed snapshot entry"),
    "size=1.0": (lambda: h.typed_alike_row(6.0, False), "malformed snapshot entry"),
    # 8: a file that is also a folder, with and without a path sorting between them
    "a and a/b": (lambda: h.file_and_folder(["a", "a/b"]), "holds both 'a' and 'a/b'"),
    "a, a-x and a/b": (lambda: h.file_and_folder(["a", "a-x", "a/b"]),
                       "holds both 'a' and 'a/b'"),
    "new a under unchanged a/b": (lambda: h.file_and_folder(["a", "a/b"], ["a/b"]),
                                  "holds both 'a' and 'a/b'"),
    "new a/b under unchanged a": (lambda: h.file_and_folder(["a", "a/b"], ["a"]),
                                  "holds both 'a' and 'a/b'"),
    # 9: timestamps no calendar can show
    "timestamp 1e13": (lambda: h.commit_bundle(timestamp=10**13), "timestamp out of range"),
    "timestamp 2**64-1": (lambda: h.commit_bundle(timestamp=2**64 - 1),
                          "timestamp out of range"),
    "timestamp -2**63": (lambda: h.commit_bundle(timestamp=-(2**63)),
                         "timestamp out of range"),
    # 10: ref names the command line refuses, or that are not branches and tags
    "refs/heads/HEAD": (lambda: h.with_refs(["refs/heads/HEAD"]), "invalid ref name"),
    "refs/heads/-x": (lambda: h.with_refs(["refs/heads/-x"]), "invalid ref name"),
    "refs/heads/@": (lambda: h.with_refs(["refs/heads/@"]), "invalid ref name"),
    "refs/tags/-x": (lambda: h.with_refs(["refs/tags/-x"]), "invalid ref name"),
    "refs/x": (lambda: h.with_refs(["refs/x"]), "invalid ref name"),
    "remote-tracking ref": (lambda: h.with_refs(["refs/remotes/origin/main"]),
                            "invalid ref name"),
    "stale lock name": (lambda: h.with_refs(["refs/heads/x.lock.stale-12"]),
                        "invalid ref name"),
    # 10 and 11: two refs that cannot both exist
    "refs a and a/b": (lambda: h.with_refs(["refs/heads/a", "refs/heads/a/b"]),
                       "refs refs/heads/a and refs/heads/a/b"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_reader_refuses(case: str) -> None:
    build, message = CASES[case]
    with pytest.raises(BundleError) as caught:
        BundleReader(io.BytesIO(build())).verify()
    assert message in caught.value.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_unbundle_refuses_and_changes_nothing(case: str, muse: MuseRunner, repo_dir: Path,
                                              tmp_path: Path) -> None:
    build, message = CASES[case]
    path = tmp_path / "hostile.bundle"
    path.write_bytes(build())
    result = changes_nothing(muse, repo_dir, "bundle", "unbundle", str(path), exit_code=5)
    assert message in result.stderr
    assert result.stderr.startswith("error: ")


def test_verify_refuses_outside_a_repository(muse: MuseRunner, tmp_path: Path) -> None:
    path = tmp_path / "hostile.bundle"
    path.write_bytes(h.typed_alike_row(6, 0))
    result = changes_nothing(muse, tmp_path, "bundle", "verify", str(path), exit_code=5)
    assert "malformed snapshot entry" in result.stderr


def test_the_timestamp_bounds_themselves_are_accepted_and_shown(
        muse: MuseRunner, repo_dir: Path, tmp_path: Path) -> None:
    for when, zone, year in ((MIN_TIMESTAMP, -1439, "0001-01-01"),
                             (MAX_TIMESTAMP, 1439, "9999-12-31")):
        path = tmp_path / f"edge{when}.bundle"
        path.write_bytes(h.commit_bundle(timestamp=when, tz_offset_minutes=zone))
        BundleReader(io.BytesIO(path.read_bytes())).verify()
        assert muse("bundle", "unbundle", "--force", str(path), cwd=repo_dir).exit_code == 0
        shown = muse("log", cwd=repo_dir)
        assert shown.exit_code == 0, shown.output
        assert f"Date:   {year}" in shown.stdout


# -- 7: memory is bounded whatever a frame holds ---------------------------------------


def _peak_while_refusing(data: bytes, message: str) -> int:
    """tracemalloc's peak while the reader refuses `data`, above what `data` itself holds."""
    tracemalloc.start()
    try:
        with pytest.raises(BundleError) as caught:
            BundleReader(io.BytesIO(data)).verify()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message in caught.value.message
    return peak


FRAME = MAX_FRAME_PAYLOAD - 64  # the largest frame a reader reads at all


@pytest.mark.parametrize("build, message", [
    (lambda: h.header_frame_of(h.array_bomb(FRAME)), "over the"),  # the 63 MiB header
    (lambda: h.header_frame_of(h.array_bomb(MAX_HEADER_BYTES)), "malformed"),
    (lambda: h.header_frame_of(h.map_bomb(MAX_HEADER_BYTES)), "malformed"),
    (lambda: h.header_frame_of(h.int_list(MAX_HEADER_BYTES)), "missing"),
    (lambda: h.snapshot_frame_bundle(h.snapshot_bomb(FRAME, b"\x90")), "malformed"),
    (lambda: h.snapshot_frame_bundle(h.snapshot_bomb(FRAME, b"\x91\x90")), "malformed"),
    (lambda: h.snapshot_frame_bundle(h.snapshot_bomb(FRAME, b"\x80")), "maps are not allowed"),
    (lambda: h.snapshot_frame_bundle(h.snapshot_bomb(FRAME, b"\xe0")), "malformed"),
    (lambda: h.snapshot_frame_bundle(h.snapshot_bomb(FRAME, b"\xa2ab")), "malformed"),
    (lambda: h.snapshot_frame_bundle(h.snapshot_bomb(FRAME, b"\x94\xa1a\xc4\x00\x00\xc2")),
     "snapshot has over 1048576 entries"),
    (lambda: h.snapshot_frame_bundle(h.snapshot_bomb(FRAME, b"\x92\xa1a\xc4\x00")),
     "malformed"),
], ids=["header-63MiB", "header-arrays", "header-maps", "header-ints", "snapshot-arrays",
        "snapshot-nested", "snapshot-maps", "snapshot-ints", "snapshot-strings",
        "snapshot-short-ids", "snapshot-pairs"])
def test_memory_stays_within_a_small_multiple_of_the_frame(
        build: Callable[[], bytes], message: str) -> None:
    data = build()
    peak = _peak_while_refusing(data, message)
    # The reader holds the frame it read, and decoding may add at most twice that.
    assert peak < len(data) + 2 * MAX_FRAME_PAYLOAD, (peak, len(data))


@pytest.mark.parametrize("name", ["refs/tags/-x", "refs/heads/HEAD", "refs/heads/a.lock.stale-1"])
def test_a_fetch_never_creates_a_ref_the_command_line_refuses(
        muse: MuseRunner, repo_dir: Path, tmp_path: Path, name: str) -> None:
    remote, head = published(muse, repo_dir, tmp_path)
    clone = clone_of(muse, remote, tmp_path, "clone")
    doc_path = remote / "refs.json"
    doc = json.loads(doc_path.read_text())
    doc["refs"][name] = head
    doc_path.write_bytes(encode_refs_doc(doc["refs"], doc["packs"]))  # well-formed, hostile
    result = changes_nothing(muse, clone, "fetch", exit_code=6)
    assert "invalid ref name" in result.stderr


def test_a_branch_named_like_a_lock_leftover_is_listed_and_reachable(
        muse: MuseRunner, repo_dir: Path) -> None:
    (repo_dir / "song.mid").write_text("v1")
    assert muse("commit", "-m", "one", cwd=repo_dir).exit_code == 0
    assert muse("branch", "take.stale-12", cwd=repo_dir).exit_code == 0
    assert "take.stale-12" in muse("branch", cwd=repo_dir).stdout
    report = json.loads(muse("verify", "--json", cwd=repo_dir).stdout)
    assert report["checked"]["refs"] == 2, report
    assert report["checked"]["unreachable_objects"] == 0, report
    refused = changes_nothing(muse, repo_dir, "branch", "take.lock.stale-12", exit_code=2)
    assert "invalid branch name" in refused.stderr
