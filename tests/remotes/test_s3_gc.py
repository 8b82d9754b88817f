"""`muse gc` and `muse count-objects` on an S3 remote, against a real S3 server (SeaweedFS):
fold, drop, count, a push and a refs move racing the fold, a tampered pack, bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from muse.errors import RemoteError
from muse.refs import RefUpdate
from muse.repo import Repository
from muse.transfer import clone
from remotes.bucket import REFS_KEY, BucketRemote, decode_refs_doc, index_key, pack_key
from remotes.maintenance import BucketMaintenance, marker_key
from remotes.s3 import ProbeVerdicts, S3Bucket
from tests.remotes.remote_support import PhaseBytes
from tests.remotes.test_s3_bucket import Faulty
from tests.s3_server import RequestLog, S3Harness, s3_harness
from tests.testkit import MuseRunner, Result

WEEKS = 7 * 86400


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def s3(request: pytest.FixtureRequest, tmp_path: Path, muse_home: Path) -> S3Harness:
    base = tmp_path / "remote"
    base.mkdir()
    return s3_harness(request, base)


@pytest.fixture
def work(muse: MuseRunner, tmp_path: Path, s3: S3Harness) -> Path:
    """A working repository whose three commits were each pushed on their own to `s3`."""
    work = tmp_path / "work"
    work.mkdir()
    ok(muse("init", cwd=work))
    for i in range(3):
        (work / f"take{i}.mid").write_text(f"take {i}\n")
        ok(muse("commit", "-m", f"take {i}", cwd=work))
        ok(muse("push", s3.url, "main", cwd=work))
    return work


def bucket_of(s3: S3Harness, client: Any = None) -> S3Bucket:
    return S3Bucket(client or s3.server.client(), s3.bucket, s3.prefix, url=s3.url,
                    endpoint=s3.server.endpoint, verdicts=ProbeVerdicts(s3.verdicts))


def upkeep(s3: S3Harness, client: Any = None, **options: Any) -> BucketMaintenance:
    return BucketMaintenance(bucket_of(s3, client), url=s3.url, **options)


def refs_doc(s3: S3Harness) -> Any:
    found = bucket_of(s3).get(REFS_KEY)
    assert found is not None
    return decode_refs_doc(found.data, REFS_KEY)


def pack_ids(s3: S3Harness) -> set[str]:
    start = len(s3.prefix + "packs/pack-")
    return {k[start:-7] for k in s3.state() if k.endswith(".bundle")}


def head(work: Path) -> str | None:
    return Repository.find(work).head()


def stray_pack(s3: S3Harness, work: Path, muse: MuseRunner) -> None:
    """The pack of a push killed after storing its pack and index, before its swap."""
    (work / "side.wav").write_bytes(b"RIFF" + bytes(4000))
    ok(muse("commit", "-m", "side", cwd=work))

    def die(step: str) -> None:
        if step == "indexed":
            raise KeyboardInterrupt

    from muse.transfer import push

    with pytest.raises(KeyboardInterrupt):
        push(Repository.find(work), BucketRemote(bucket_of(s3), url=s3.url, hook=die),
             [("refs/heads/main", "refs/heads/main")])


def clone_requests(s3: S3Harness, dest: Path) -> int:
    client = s3.server.client()
    log = RequestLog(client)
    clone(s3.url, dest, remote=BucketRemote(bucket_of(s3, client), url=s3.url))
    return sum(log.counts.values())


def test_gc_folds_the_packs_and_a_clone_after_it_costs_fewer_requests(
        muse: MuseRunner, s3: S3Harness, work: Path, tmp_path: Path) -> None:
    before = clone_requests(s3, tmp_path / "before")
    done = json.loads(ok(muse("gc", "--remote", s3.url, "--json", cwd=tmp_path)).stdout)
    assert done["ran"] and done["folded_packs"] == 3 and done["packs_before"] == 3
    assert done["packs_after"] == 4 and done["kept_unnamed"] == 3  # replaced: still readable
    assert list(refs_doc(s3).packs) == [done["folded_into"]]
    after = clone_requests(s3, tmp_path / "after")
    # A refs document, then an index and a pack per pack: 1 + 2 x 3 before, 1 + 2 after.
    assert (before, after) == (7, 3)
    log = ok(muse("log", "--oneline", cwd=work)).stdout
    assert ok(muse("log", "--oneline", cwd=tmp_path / "after")).stdout == log
    ok(muse("verify", cwd=tmp_path / "after"))


def test_replaced_and_unnamed_packs_go_once_past_the_cutoff_index_first(
        muse: MuseRunner, s3: S3Harness, work: Path, tmp_path: Path) -> None:
    stray_pack(s3, work, muse)
    pushed = pack_ids(s3)
    named = set(refs_doc(s3).packs)
    assert len(pushed) == 4 and len(named) == 3
    first = upkeep(s3).gc(prune="now")  # fresh: the floor keeps every unnamed pack
    assert first.folded_packs == 3 and first.dropped_packs == 0 and first.kept_unnamed == 4
    markers = {k for k in s3.state() if k.endswith(".replaced")}
    assert markers == {s3.prefix + marker_key(p) for p in named}  # not the stray one's
    deleted: list[str] = []
    client = Faulty(s3.server.client(), delete_object=lambda kw: deleted.append(kw["Key"]))
    later = upkeep(s3, client, clock=lambda: time.time() + 3 * WEEKS).gc()
    assert later.dropped_packs == 4 and later.kept_unnamed == 0 and later.folded_packs == 0
    assert later.dropped_bytes > 4000 and pack_ids(s3) == {first.folded_into}
    assert set(s3.state()) == {s3.prefix + REFS_KEY, s3.prefix + pack_key(first.folded_into),
                               s3.prefix + index_key(first.folded_into)}
    for pack_id in pushed - {first.folded_into}:
        assert deleted.index(s3.prefix + index_key(pack_id)) < \
            deleted.index(s3.prefix + pack_key(pack_id))
    ok(muse("clone", s3.url, str(tmp_path / "clone"), cwd=tmp_path))


def test_a_replaced_pack_is_kept_for_the_grace_period_after_its_replacement(
        s3: S3Harness, work: Path) -> None:
    """Its own write time is old; the marker the fold stored says when it was replaced."""
    first = upkeep(s3).gc(prune="now")
    replaced = pack_ids(s3) - {first.folded_into}
    # An hour after the fold (past the floor), with a week's grace: measured from the fold.
    later = upkeep(s3, clock=lambda: time.time() + 2 * 3600).gc(prune="1.week.ago")
    assert later.dropped_packs == 0 and later.kept_unnamed == 3
    assert pack_ids(s3) == replaced | {first.folded_into}


def test_count_objects_on_s3_text_and_json(muse: MuseRunner, s3: S3Harness, work: Path,
                                           tmp_path: Path) -> None:
    stray_pack(s3, work, muse)
    counts = json.loads(ok(muse("count-objects", "--json", "--remote", s3.url,
                                cwd=tmp_path)).stdout)
    assert counts["packs"]["named"] == 3 and counts["packs"]["unnamed"] == 1
    assert counts["packs"]["unnamed_bytes"] > 4000 and counts["prunable"]["packs"] == 0
    assert counts["work_files"]["entries"] == 0 and counts["reclaimable_bytes"] == 0
    text = ok(muse("count-objects", "-v", "--remote", s3.url, cwd=tmp_path)).stdout
    assert "packs named by refs: 3" in text
    assert "packs no ref relies on: 1" in text and "0 past the grace period" in text
    aged = upkeep(s3, clock=lambda: time.time() + 3 * WEEKS).count()
    assert aged.prunable_packs == 1 and aged.reclaimable_bytes == counts["packs"]["unnamed_bytes"]


def test_a_push_landing_between_fold_and_swap_stays_named(
        muse: MuseRunner, s3: S3Harness, work: Path, tmp_path: Path) -> None:
    def push_now(step: str) -> None:
        if step == "stored":  # the folded pack is stored, refs.json not swapped yet
            (work / "late.mid").write_text("late\n")
            ok(muse("commit", "-m", "late", cwd=work))
            ok(muse("push", s3.url, "main", cwd=work))

    report = upkeep(s3, hook=push_now).gc(prune="now")
    assert report.folded_packs == 3
    doc = refs_doc(s3)
    assert doc.refs["refs/heads/main"] == head(work)
    assert len(doc.packs) == 2 and report.folded_into in doc.packs  # and the late push's
    ok(muse("clone", s3.url, str(tmp_path / "clone"), cwd=tmp_path))
    assert head(tmp_path / "clone") == head(work)
    ok(muse("verify", cwd=tmp_path / "clone"))


def test_a_refs_move_to_a_commit_only_a_replaced_pack_holds_gives_up_the_fold(
        muse: MuseRunner, s3: S3Harness, work: Path, tmp_path: Path) -> None:
    ok(muse("switch", "-c", "side", cwd=work))
    (work / "side.mid").write_text("side\n")
    ok(muse("commit", "-m", "side", cwd=work))
    ok(muse("push", s3.url, "side", cwd=work))
    side = head(work)
    assert side is not None
    remote = BucketRemote(bucket_of(s3), url=s3.url)
    # The branch goes, its pack stays named: the fold will not carry its commit.
    assert remote.push(None, [RefUpdate("refs/heads/side", side, None)])[0].ok
    seen: dict[str, bytes] = {}

    def restore_side(step: str) -> None:
        if step == "stored":  # a push names the side commit again, from its own pack
            assert remote.push(None, [RefUpdate("refs/heads/side", None, side)])[0].ok
            seen.update(s3.state())

    report = upkeep(s3, hook=restore_side).gc(prune="now")
    assert report.folded_into is None and report.folded_packs == 0
    after = s3.state()
    assert after[s3.prefix + REFS_KEY] == seen[s3.prefix + REFS_KEY]  # as that push left it
    assert not [k for k in after if k.endswith(".replaced")]  # no pack was marked replaced
    assert set(after) == set(seen)
    assert len(refs_doc(s3).packs) == 4
    ok(muse("clone", s3.url, str(tmp_path / "clone"), cwd=tmp_path))
    cloned = Repository.find(tmp_path / "clone")
    assert cloned.refs.read("refs/remotes/origin/side") == side  # served, with its history
    ok(muse("verify", cwd=tmp_path / "clone"))


def test_a_tampered_pack_makes_gc_refuse_and_change_nothing(
        muse: MuseRunner, s3: S3Harness, work: Path, tmp_path: Path) -> None:
    s3.damage(b"take 1\n")
    before = s3.state()
    res = muse("gc", "--remote", s3.url, "--prune=now", cwd=tmp_path)
    assert res.exit_code == 6 and "does not verify" in res.stderr, res.output
    assert "gc changed nothing" in res.stderr and "Traceback" not in res.output
    assert s3.state() == before


@pytest.mark.parametrize("command", ["gc", "count-objects"])
@pytest.mark.parametrize(("url", "code", "says"), [
    ("s3://Bad_Bucket/x", 2, "invalid S3 bucket name"),
    ("s3://muse-no-such-bucket-anywhere/x", 6, "does not exist"),
    ("s3://{bucket}/empty", 6, "no Muse remote at"),
    ("http://127.0.0.1:9/owner/song", 2, "not a remote Muse maintains"),
])
def test_bad_input_is_one_clear_line_and_changes_nothing(
        muse: MuseRunner, s3: S3Harness, work: Path, tmp_path: Path, command: str,
        url: str, code: int, says: str) -> None:
    before = s3.state()
    res = muse(command, "--remote", url.format(bucket=s3.bucket), cwd=tmp_path)
    assert res.exit_code == code and says in res.stderr, res.output
    assert "hint:" in res.stderr and "Traceback" not in res.output
    assert s3.state() == before
    as_json = muse(command, "--json", "--remote", url.format(bucket=s3.bucket), cwd=tmp_path)
    assert as_json.exit_code == code and as_json.stdout == ""
    assert json.loads(as_json.stderr)["error"]["exit_code"] == code


def test_gc_remote_takes_a_configured_remote_by_name(muse: MuseRunner, s3: S3Harness,
                                                     work: Path) -> None:
    ok(muse("remote", "add", "cloud", s3.url, cwd=work))
    done = json.loads(ok(muse("gc", "--remote", "cloud", "--json", cwd=work)).stdout)
    assert done["folded_packs"] == 3
    counts = json.loads(ok(muse("count-objects", "--remote", "cloud", "--json",
                                cwd=work)).stdout)
    assert counts["packs"]["named"] == 1 and counts["packs"]["unnamed"] == 3


def test_gc_auto_on_s3_waits_for_the_threshold(muse: MuseRunner, s3: S3Harness, work: Path,
                                               tmp_path: Path) -> None:
    ok(muse("config", "--global", "gc.autoPacks", "3", cwd=work))
    idle = json.loads(ok(muse("gc", "--auto", "--json", "--remote", s3.url,
                              cwd=tmp_path)).stdout)
    assert idle["ran"] is False and len(refs_doc(s3).packs) == 3
    ok(muse("config", "--global", "gc.autoPacks", "2", cwd=work))
    ran = json.loads(ok(muse("gc", "--auto", "--json", "--remote", s3.url,
                             cwd=tmp_path)).stdout)
    assert ran["ran"] is True and ran["folded_packs"] == 3


def test_a_pack_whose_index_is_gone_is_refused_before_anything_is_written(
        s3: S3Harness, work: Path) -> None:
    doc = refs_doc(s3)
    bucket_of(s3).delete(index_key(sorted(doc.packs)[0]))
    before = s3.state()
    with pytest.raises(RemoteError, match="has no index; gc changed nothing"):
        upkeep(s3).gc(prune="now")
    assert s3.state() == before


def test_gc_auto_on_s3_folds_only_the_newest_small_packs(
        muse: MuseRunner, s3: S3Harness, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    ok(muse("init", cwd=work))
    (work / "stem.wav").write_bytes(bytes(range(256)) * 800)
    ok(muse("commit", "-m", "the session", cwd=work))
    ok(muse("push", s3.url, "main", cwd=work))
    big = set(refs_doc(s3).packs)
    for i in range(3):
        (work / f"take{i}.mid").write_text(f"take {i}\n")
        ok(muse("commit", "-m", f"take {i}", cwd=work))
        ok(muse("push", s3.url, "main", cwd=work))
    ok(muse("config", "--global", "gc.autoPacks", "3", cwd=work))
    done = json.loads(ok(muse("gc", "--auto", "--json", "--remote", s3.url,
                              cwd=tmp_path)).stdout)
    assert done["folded_packs"] == 3
    assert set(refs_doc(s3).packs) == big | {done["folded_into"]}
    ok(muse("clone", s3.url, str(tmp_path / "clone"), cwd=tmp_path))
    assert head(tmp_path / "clone") == head(work)
    ok(muse("verify", cwd=tmp_path / "clone"))


def test_a_fold_reports_its_downloads_and_its_upload(s3: S3Harness, work: Path) -> None:
    upkeep_ = upkeep(s3)
    named = set(refs_doc(s3).packs)
    upkeep_.progress = progress = PhaseBytes()
    done = upkeep_.gc(prune="now")
    assert list(progress.totals) == ["downloading", "uploading"]
    folded = refs_doc(s3).packs
    assert list(folded) == [done.folded_into]
    stored = s3.state()
    down = sum(len(stored[s3.prefix + pack_key(p)]) for p in named)
    up = len(stored[s3.prefix + pack_key(done.folded_into)])
    assert progress.moved == {"downloading": down, "uploading": up}
    assert progress.totals["uploading"] == up  # each byte counted once (not 200 %)
