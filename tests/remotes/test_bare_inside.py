"""A bare filesystem remote seen from inside: log, branch and verify see its refs document and
check its packs; gc drops packs no ref relies on and folds the rest."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from remotes.bucket import decode_pack_index, encode_refs_doc
from tests.testkit import MuseRunner, Result, tree_state

WEEKS = 7 * 86400


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def pushed(muse: MuseRunner, tmp_path: Path) -> tuple[Path, Path]:
    """A working repository with three commits, each pushed on its own to a bare remote."""
    work = tmp_path / "work"
    work.mkdir()
    ok(muse("init", cwd=work))
    remote = tmp_path / "remote.muse"
    ok(muse("init", "--bare", str(remote), cwd=tmp_path))
    for i in range(3):
        (work / f"take{i}.mid").write_text(f"take {i}\n")
        ok(muse("commit", "-m", f"take {i}", cwd=work))
        ok(muse("push", str(remote), "main", cwd=work))
    return work, remote


def packs_of(remote: Path) -> list[str]:
    return sorted(p.name[5:-7] for p in (remote / "packs").glob("pack-*.bundle"))


def test_log_and_branch_inside_see_the_refs_document(muse: MuseRunner,
                                                     pushed: tuple[Path, Path]) -> None:
    work, remote = pushed
    inside = ok(muse("log", "--oneline", cwd=remote)).stdout
    assert inside == ok(muse("log", "--oneline", cwd=work)).stdout
    assert ok(muse("branch", cwd=remote)).stdout == "* main\n"


def test_verify_inside_checks_every_pack(muse: MuseRunner, pushed: tuple[Path, Path]) -> None:
    _, remote = pushed
    res = muse("verify", "--json", cwd=remote)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["checked"]["refs"] == 1 and data["checked"]["commits"] == 3
    assert data["checked"]["objects"] == 3


def test_verify_inside_finds_a_flipped_byte(muse: MuseRunner, pushed: tuple[Path, Path]) -> None:
    _, remote = pushed
    pack = remote / "packs" / f"pack-{packs_of(remote)[0]}.bundle"
    os.chmod(pack, 0o644)
    data = bytearray(pack.read_bytes())
    data[-40] ^= 1  # inside the trailer's checksum
    pack.write_bytes(bytes(data))
    before = tree_state(remote)
    res = muse("verify", cwd=remote)
    assert res.exit_code == 1 and "does not verify as a bundle" in res.stderr
    assert tree_state(remote) == before


def test_verify_inside_finds_index_rows_that_disagree(muse: MuseRunner,
                                                      pushed: tuple[Path, Path]) -> None:
    _, remote = pushed
    index = remote / "packs" / f"pack-{packs_of(remote)[-1]}.index"
    doc = json.loads(index.read_text())
    doc["objects"][0][1] += 1  # an offset one byte off
    os.chmod(index, 0o644)
    index.write_text(json.dumps(doc))
    decode_pack_index(index.read_bytes(), "x")  # still well-formed: only verify can tell
    res = muse("verify", "--json", cwd=remote)
    assert res.exit_code == 1
    messages = [p["message"] for p in json.loads(res.stdout)["problems"]]
    assert any("index rows disagree" in m for m in messages)


def test_verify_inside_finds_a_ref_no_pack_provides(muse: MuseRunner,
                                                    pushed: tuple[Path, Path]) -> None:
    _, remote = pushed
    doc = json.loads((remote / "refs.json").read_text())
    refs = dict(doc["refs"], **{"refs/heads/ghost": "ab" * 32})
    (remote / "refs.json").write_bytes(encode_refs_doc(refs, doc["packs"]))
    res = muse("verify", cwd=remote)
    assert res.exit_code == 1 and "ghost names commit" in res.stderr


def test_verify_inside_reports_a_damaged_refs_document(muse: MuseRunner,
                                                       pushed: tuple[Path, Path]) -> None:
    _, remote = pushed
    (remote / "refs.json").write_text("{not json")
    res = muse("verify", cwd=remote)
    assert res.exit_code == 1 and "refs document" in res.stderr
    assert "Traceback" not in res.output


def test_refs_cannot_be_moved_inside(muse: MuseRunner, pushed: tuple[Path, Path]) -> None:
    _, remote = pushed
    before = tree_state(remote)
    res = muse("branch", "other", cwd=remote)
    assert res.exit_code == 3 and "bare remote" in res.stderr and "push" in res.stderr
    assert tree_state(remote) == before


def stray_pack(remote: Path, pushed_from: Path, muse: MuseRunner, tmp_path: Path) -> str:
    """The pack of a push the remote never named (a refused push): a pack pushed to a second
    remote, copied in without touching refs.json."""
    other = tmp_path / "other.muse"
    ok(muse("init", "--bare", str(other), cwd=tmp_path))
    (pushed_from / "side.wav").write_bytes(b"RIFF" + bytes(4000))
    ok(muse("commit", "-m", "side", cwd=pushed_from))
    ok(muse("push", str(other), "main", cwd=pushed_from))
    pack = packs_of(other)[0]
    for suffix in (".bundle", ".index"):
        shutil.copy2(other / "packs" / f"pack-{pack}{suffix}", remote / "packs")
    return pack


def make_old(remote: Path, pack: str, seconds: float) -> None:
    when = time.time() - seconds
    for suffix in (".bundle", ".index", ".replaced"):  # the marker, when a fold replaced it
        with contextlib.suppress(FileNotFoundError):
            os.utime(remote / "packs" / f"pack-{pack}{suffix}", (when, when))


def test_gc_inside_drops_unnamed_packs_after_the_grace_period(
        muse: MuseRunner, pushed: tuple[Path, Path], tmp_path: Path) -> None:
    work, remote = pushed
    stray = stray_pack(remote, work, muse, tmp_path)
    counts = json.loads(ok(muse("count-objects", "--json", cwd=remote)).stdout)
    assert counts["packs"]["unnamed"] == 1 and counts["prunable"]["packs"] == 0
    # Fresh: kept even with --prune=now (a push names its pack only after storing it).
    kept = json.loads(ok(muse("gc", "--prune=now", "--json", cwd=remote)).stdout)
    assert kept["folded_packs"] == 3  # the three pushed packs, folded, wait their turn
    assert kept["kept_unnamed"] == 1 + 3 and stray in packs_of(remote)
    make_old(remote, stray, 3 * WEEKS)
    counts = json.loads(ok(muse("count-objects", "--json", cwd=remote)).stdout)
    assert counts["prunable"]["packs"] == 1 and counts["reclaimable_bytes"] > 4000
    done = json.loads(ok(muse("gc", "--json", cwd=remote)).stdout)
    assert done["dropped_packs"] == 1 and stray not in packs_of(remote)
    ok(muse("verify", cwd=remote))


def test_gc_remote_folds_packs_and_the_remote_still_serves(
        muse: MuseRunner, pushed: tuple[Path, Path], tmp_path: Path) -> None:
    work, remote = pushed
    before_log = ok(muse("log", "--oneline", cwd=work)).stdout
    assert len(packs_of(remote)) == 3
    done = json.loads(ok(muse("gc", "--remote", str(remote), "--json",
                              cwd=tmp_path)).stdout)
    assert done["folded_packs"] == 3 and done["folded_into"] in packs_of(remote)
    doc = json.loads((remote / "refs.json").read_text())
    assert list(doc["packs"]) == [done["folded_into"]]
    ok(muse("verify", cwd=remote))
    ok(muse("clone", str(remote), str(tmp_path / "clone"), cwd=tmp_path))
    assert ok(muse("log", "--oneline", cwd=tmp_path / "clone")).stdout == before_log
    # The replaced packs stay for fetches in flight until they are past the grace period.
    for pack in packs_of(remote):
        if pack != done["folded_into"]:
            make_old(remote, pack, 3 * WEEKS)
    again = json.loads(ok(muse("gc", "--remote", str(remote), "--json",
                               cwd=tmp_path)).stdout)
    assert again["dropped_packs"] == 3 and packs_of(remote) == [done["folded_into"]]
    (work / "more.mid").write_text("more\n")
    ok(muse("commit", "-m", "more", cwd=work))
    ok(muse("push", str(remote), "main", cwd=work))
    ok(muse("verify", cwd=remote))


def test_gc_auto_on_a_remote_waits_for_the_threshold(
        muse: MuseRunner, pushed: tuple[Path, Path], tmp_path: Path) -> None:
    _, remote = pushed
    ok(muse("config", "gc.autoPacks", "3", cwd=remote))
    idle = json.loads(ok(muse("gc", "--auto", "--json", cwd=remote)).stdout)
    assert idle["ran"] is False and len(packs_of(remote)) == 3
    ok(muse("config", "gc.autoPacks", "2", cwd=remote))
    ran = json.loads(ok(muse("gc", "--auto", "--json", cwd=remote)).stdout)
    assert ran["ran"] is True and ran["folded_packs"] == 3


def test_gc_remote_refuses_a_folder_that_is_no_remote(muse: MuseRunner, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hi")
    before = tree_state(tmp_path / "plain")
    res = muse("gc", "--remote", str(tmp_path / "plain"), cwd=tmp_path)
    assert res.exit_code == 6 and "no bare filesystem remote" in res.stderr
    assert tree_state(tmp_path / "plain") == before


def test_a_push_runs_gc_auto_on_the_remote(muse: MuseRunner, pushed: tuple[Path, Path]) -> None:
    work, remote = pushed
    ok(muse("config", "gc.autoPacks", "3", cwd=remote))
    (work / "four.mid").write_text("four\n")
    ok(muse("commit", "-m", "four", cwd=work))
    ok(muse("push", str(remote), "main", cwd=work))
    doc = json.loads((remote / "refs.json").read_text())
    assert len(doc["packs"]) == 1 and len(packs_of(remote)) == 5  # 4 replaced wait their turn
    ok(muse("verify", cwd=remote))
    assert ok(muse("log", "--oneline", cwd=remote)).stdout == \
        ok(muse("log", "--oneline", cwd=work)).stdout


@pytest.mark.parametrize(("key", "value", "args"), [("gc.autoPacks", "many", ("--auto",)),
                                                     ("gc.pruneExpire", "whenever", ())])
def test_gc_inside_refuses_a_bad_setting(muse: MuseRunner, pushed: tuple[Path, Path],
                                         key: str, value: str, args: tuple[str, ...]) -> None:
    _, remote = pushed
    ok(muse("config", key, value, cwd=remote))
    before = tree_state(remote)
    res = muse("gc", *args, cwd=remote)
    assert res.exit_code == 7 and key in res.stderr and "Traceback" not in res.output
    assert tree_state(remote) == before


def test_gc_inside_refuses_a_damaged_refs_document(muse: MuseRunner,
                                                   pushed: tuple[Path, Path]) -> None:
    _, remote = pushed
    (remote / "refs.json").write_text('{"format": "muse-remote-refs"}')
    before = tree_state(remote)
    res = muse("gc", "--prune=now", cwd=remote)
    assert res.exit_code == 6 and "refs.json is corrupt" in res.stderr
    assert tree_state(remote) == before


def test_count_objects_inside_a_remote(muse: MuseRunner, pushed: tuple[Path, Path],
                                       tmp_path: Path) -> None:
    work, remote = pushed
    stray = stray_pack(remote, work, muse, tmp_path)
    make_old(remote, stray, 3 * WEEKS)
    out = ok(muse("count-objects", "--remote", str(remote), cwd=tmp_path)).stdout
    assert "packs named by refs: 3" in out
    assert "packs no ref relies on: 1" in out and "1 past the grace period" in out


def test_a_fetch_runs_gc_auto_here(muse: MuseRunner, pushed: tuple[Path, Path],
                                   tmp_path: Path) -> None:
    work, remote = pushed
    clone = tmp_path / "clone"
    ok(muse("clone", str(remote), str(clone), cwd=tmp_path))
    packs = clone / ".muse" / "packs"
    assert len(list(packs.glob("*.idx"))) == 3  # one per pushed pack, as fetched
    ok(muse("config", "gc.autoPacks", "3", cwd=clone))
    (work / "four.mid").write_text("four\n")
    ok(muse("commit", "-m", "four", cwd=work))
    ok(muse("push", str(remote), "main", cwd=work))
    ok(muse("fetch", "origin", cwd=clone))
    assert len(list(packs.glob("*.idx"))) == 1
    ok(muse("verify", cwd=clone))


def test_log_inside_says_the_refs_document_is_damaged(muse: MuseRunner,
                                                     pushed: tuple[Path, Path]) -> None:
    _, remote = pushed
    (remote / "refs.json").write_text("{not json")
    before = tree_state(remote)
    res = muse("log", cwd=remote)
    assert res.exit_code == 3 and "refs.json is corrupt" in res.stderr
    assert "Traceback" not in res.output and tree_state(remote) == before


@pytest.mark.parametrize("args", [("tag", "-a", "v1", "-m", "Album master"),
                                  ("tag", "-a", "v1", "-m", "unsigned", "--unsigned"),
                                  ("tag", "v1"), ("branch", "other")])
def test_refs_inside_are_refused_before_anything_is_stored(
        muse: MuseRunner, pushed: tuple[Path, Path], args: tuple[str, ...]) -> None:
    """`tag -a` inside used to store its tag object under objects/ and only then find
    the refs read-only: a loose file nothing names, reported by `verify` ever after."""
    _, remote = pushed
    before = tree_state(remote)
    res = muse(*args, cwd=remote)
    assert res.exit_code == 3, res.output
    assert res.stderr.startswith("error: this is a bare remote: ")
    assert "hint: a remote's refs move only by push" in res.stderr
    assert tree_state(remote) == before
    data = json.loads(ok(muse("verify", "--json", cwd=remote)).stdout)
    assert data["checked"]["unreachable_objects"] == 0
