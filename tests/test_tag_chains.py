"""Tags of tags: making a chain, peeling it, verifying every signature, bundles and gc."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from muse import gc
from muse.bundle import BundlePlan, plan_bundle, write_bundle
from muse.errors import BundleError, CorruptObjectError, UsageError
from muse.frames import KIND_TAG
from muse.fsck import verify_repository
from muse.objects import MAX_TAG_DEPTH, Tag
from muse.receive import receive_bundle
from muse.repo import Repository
from muse.revisions import resolve
from muse.tags import create_annotated_tag, peel
from tests.branching_support import commit, unbundled, write
from tests.bundle_craft import parse_frames
from tests.testkit import changes_nothing, tree_state
from tests.twin_history import Twin


@pytest.fixture
def chained(muse, repo_dir: Path) -> tuple[str, str, str]:
    """A commit, a signed tag v1 on it, and a signed tag `release` of v1: their ids."""
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    assert muse("tag", "-a", "v1", "-m", "Musician's take", cwd=repo_dir).exit_code == 0
    made = muse("tag", "-a", "release", "v1", "-m", "Approved", cwd=repo_dir)
    assert made.exit_code == 0, made.output
    assert "over tag object" in made.stdout
    refs = Repository.find(repo_dir).refs
    inner, outer = refs.read("refs/tags/v1"), refs.read("refs/tags/release")
    assert inner is not None and outer is not None
    return first, inner, outer


def _stored(repo: Repository, *tags: Tag) -> None:
    with repo.store.batch() as batch:
        for tag in tags:
            batch.add_bytes(tag.encode())


def _hand_tag(target: str, kind: str, name: str) -> Tag:
    return Tag(target=target, target_kind=kind, name=name, tagger_name="Ada",
               tagger_email="ada@example.org", timestamp=1700000000, tz_offset_minutes=0,
               message=f"{name}\n")


def _hand_chain(repo: Repository, commit_id: str, length: int) -> list[Tag]:
    """`length` unsigned tags, each naming the one before, the first naming `commit_id`."""
    tags = [_hand_tag(commit_id, "commit", "t0")]
    for n in range(1, length):
        tags.append(_hand_tag(tags[-1].id, "tag", f"t{n}"))
    _stored(repo, *tags)
    return tags


# -- making and peeling -----------------------------------------------------------------


def test_a_tag_of_a_tag_names_the_tag_object_and_peels_to_the_commit(
        muse, repo_dir: Path, chained: tuple[str, str, str]) -> None:
    first, inner, outer = chained
    repo = Repository.find(repo_dir)
    made = repo.store.read_tag(outer)
    assert (made.target, made.target_kind, made.name) == (inner, "tag", "release")
    assert repo.store.read_tag(inner).target_kind == "commit"
    for text in ("release", "release^{}", "release^{commit}", "release~0", outer):
        assert resolve(repo, text) == first, text
    assert peel(repo.store, outer) == first
    assert muse("log", "--oneline", "release", cwd=repo_dir).stdout.startswith(first[:12])
    assert "tag: release" in muse("log", "--oneline", "--decorate", cwd=repo_dir).stdout
    # A suffix peels first: this tag names the commit, as `v1^{}` does.
    muse("tag", "-a", "direct", "v1^{}", "-m", "on the commit", cwd=repo_dir)
    direct = Repository.find(repo_dir).refs.read("refs/tags/direct")
    assert direct is not None and repo.store.read_tag(direct).target == first
    listed = {t["name"]: t for t in json.loads(muse("tag", "--json", cwd=repo_dir).stdout)}
    assert listed["release"] == {"name": "release", "commit": first, "annotated": True,
                                 "tag_object": outer}
    assert verify_repository(repo).ok


def test_tag_v_and_show_give_every_tag_of_the_chain(muse, repo_dir: Path,
                                                    chained: tuple[str, str, str]) -> None:
    first, inner, outer = chained
    shown = muse("tag", "-v", "release", cwd=repo_dir)
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert out.startswith(f"tag release\nobject {outer}\ncommit {first}\n")
    assert f"tag v1 (which release signs over)\nobject {inner}\n" in out
    assert out.count("Signature: good") == 2 and out.count("Signed by: key ") == 2
    assert out.index("Approved") < out.index("Musician's take")
    record = json.loads(muse("tag", "-v", "release", "--json", cwd=repo_dir).stdout)
    assert record["target"] == inner and record["target_kind"] == "tag"
    assert [(c["tag_object"], c["target"], c["target_kind"], c["signature"])
            for c in record["chain"]] == [(outer, inner, "tag", "good"),
                                          (inner, first, "commit", "good")]
    page = muse("show", "release", cwd=repo_dir)
    assert page.exit_code == 0, page.output
    tags_part, found, _ = page.stdout.partition(f"\ncommit {first}\nAuthor:")
    assert found and tags_part.index("tag release") < tags_part.index("tag v1 (which")
    data = json.loads(muse("show", "release", "--json", cwd=repo_dir).stdout)
    assert [c["tag_name"] for c in data["tag"]["chain"]] == ["release", "v1"]
    assert data["commit"]["id"] == first
    raw = muse("cat-object", "-p", outer, cwd=repo_dir).stdout
    assert raw.startswith(f"object {inner}\ntype tag\ntag release\n")


def test_a_bad_inner_signature_fails_tag_v_and_verify(muse, repo_dir: Path) -> None:
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    repo = Repository.find(repo_dir)
    stranger = Ed25519PrivateKey.generate()
    public = stranger.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    genuine = replace(_hand_tag(first, "commit", "v1"), signer=public)
    signed = replace(genuine, signature=stranger.sign(genuine.signed_payload()))
    forged = replace(signed, message="not what was signed\n")
    _stored(repo, forged)
    repo.refs.update("refs/tags/v1", None, forged.id, "test")
    # A good outer signature over a forged inner tag.
    outer, _ = create_annotated_tag(repo, "release", forged.id, "Approved\n", sign=True)
    assert outer.is_signed and outer.target_kind == "tag"
    result = muse("tag", "-v", "release", cwd=repo_dir)
    assert result.exit_code == 5, result.output
    assert "Signature: good" in result.stdout and "Signature: bad" in result.stdout
    assert f"bad signature on v1 ({forged.id})" in result.stderr
    assert "Traceback" not in result.output
    report = verify_repository(Repository.find(repo_dir))
    assert [p.subject for p in report.problems if "bad signature" in p.message] == [forged.id]


def test_a_chain_over_the_depth_limit_is_refused(muse, repo_dir: Path) -> None:
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    repo = Repository.find(repo_dir)
    tip = first
    for n in range(MAX_TAG_DEPTH):
        tip = create_annotated_tag(repo, f"t{n}", tip, "link\n", sign=False)[0].id
    assert resolve(repo, f"t{MAX_TAG_DEPTH - 1}") == first  # the longest chain allowed
    with pytest.raises(UsageError, match="chain of 16 tag objects already"):
        create_annotated_tag(repo, "one-more", tip, "link\n", sign=False)
    result = changes_nothing(muse, repo_dir, "tag", "-a", "one-more", f"t{MAX_TAG_DEPTH - 1}",
                             "-m", "x", exit_code=2)
    assert "at most 16 deep" in result.output
    # One longer, made by hand: peeling refuses to walk it.
    too_deep = _hand_chain(repo, first, MAX_TAG_DEPTH + 1)
    with pytest.raises(CorruptObjectError, match="over 16 tag objects"):
        peel(repo.store, too_deep[-1].id)
    repo.refs.update("refs/tags/deep", None, too_deep[-1].id, "test")
    assert any("over 16" in p.message for p in verify_repository(repo).problems)


def test_a_wrong_kind_target_is_refused_when_peeling(muse, repo_dir: Path) -> None:
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    repo = Repository.find(repo_dir)
    liar = _hand_tag(first, "tag", "liar")  # says it names a tag; names a commit
    _stored(repo, liar)
    with pytest.raises(CorruptObjectError, match="as a tag, but it is a commit"):
        peel(repo.store, liar.id)
    repo.refs.update("refs/tags/liar", None, liar.id, "test")
    assert any("as a tag, but it is a commit" in p.message
               for p in verify_repository(repo).problems)


# -- bundles ------------------------------------------------------------------------------


def test_a_tag_of_a_tag_bundles_and_unbundles(muse, repo_dir: Path, tmp_path: Path,
                                              chained: tuple[str, str, str]) -> None:
    first, inner, outer = chained
    path = tmp_path / "release.bundle"
    # Only the outer tag's ref: its whole chain travels.
    made = muse("bundle", "create", str(path), "release", cwd=repo_dir)
    assert made.exit_code == 0, made.output
    data = path.read_bytes()
    tag_frames = [f for f in parse_frames(data) if f.kind == KIND_TAG]
    assert len(tag_frames) == 2
    assert data.index(bytes.fromhex(first), tag_frames[0].offset) < tag_frames[0].end  # v1
    assert data.index(bytes.fromhex(inner), tag_frames[1].offset) < tag_frames[1].end
    received = unbundled(muse, tmp_path, path)
    other = received.root
    assert received.refs.read("refs/tags/release") == outer
    assert received.store.kind(inner) == "tag" and resolve(received, "release") == first
    assert verify_repository(received).ok
    shown = json.loads(muse("tag", "-v", "release", "--json", cwd=other).stdout)
    assert [c["signature"] for c in shown["chain"]] == ["good", "good"]


def _bundle(repo: Repository, path: Path, plan: BundlePlan) -> Path:
    with open(path, "wb") as out:
        write_bundle(repo.store, plan, out)
    return path


def _refused(muse, tmp_path: Path, path: Path, why: str) -> None:
    other = tmp_path / f"fresh-{path.stem}"
    other.mkdir()
    assert muse("init", cwd=other).exit_code == 0
    result = changes_nothing(muse, other, "bundle", "unbundle", str(path), exit_code=5)
    assert why in result.output, result.output
    assert muse("bundle", "verify", str(path), cwd=tmp_path).exit_code == 5
    repo = Repository.find(other)
    with open(path, "rb") as source, pytest.raises(BundleError, match=why):
        receive_bundle(repo.store, source)
    assert repo.store.list_packs() == []


def test_a_bundle_with_a_misplaced_missing_or_wrong_kind_target_is_refused(
        muse, repo_dir: Path, tmp_path: Path, chained: tuple[str, str, str]) -> None:
    first, inner, outer = chained
    repo = Repository.find(repo_dir)
    plan = plan_bundle(repo.graph, {"refs/tags/release": outer}, [outer], [])
    assert plan.tags == [inner, outer] and plan.tag_targets == {inner: first, outer: inner}
    # The outer tag before the tag it names.
    swapped = _bundle(repo, tmp_path / "swapped.bundle", replace(plan, tags=[outer, inner]))
    _refused(muse, tmp_path, swapped, f"names tag {inner}, which is not earlier")
    # The tag it names left out.
    alone = _bundle(repo, tmp_path / "alone.bundle", replace(plan, tags=[outer]))
    _refused(muse, tmp_path, alone, f"names tag {inner}, which is not earlier")
    # A tag that says it names a tag, naming the commit.
    liar = _hand_tag(first, "tag", "liar")
    _stored(repo, liar)
    lying = _bundle(repo, tmp_path / "lying.bundle",
                    replace(plan, refs={"refs/tags/liar": liar.id}, tags=[liar.id]))
    _refused(muse, tmp_path, lying, "as a tag, but the bundle carries it as a commit")
    # A tag that says it names a commit, naming a tag.
    other_liar = _hand_tag(inner, "commit", "other-liar")
    _stored(repo, other_liar)
    lying = _bundle(repo, tmp_path / "lying2.bundle",
                    replace(plan, refs={"refs/tags/other-liar": other_liar.id},
                            tags=[inner, other_liar.id]))
    _refused(muse, tmp_path, lying, "as a commit, but the bundle carries it as a tag")


def test_a_bundle_with_an_over_deep_chain_is_refused(muse, repo_dir: Path,
                                                     tmp_path: Path) -> None:
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    repo = Repository.find(repo_dir)
    chain = _hand_chain(repo, first, MAX_TAG_DEPTH + 1)
    plan = plan_bundle(repo.graph, {"refs/heads/main": first}, [first], [])
    ok = replace(plan, refs={**plan.refs, "refs/tags/deepest-allowed": chain[-2].id},
                 tags=[t.id for t in chain[:-1]])
    fine = _bundle(repo, tmp_path / "ok.bundle", ok)
    assert muse("bundle", "verify", str(fine), cwd=tmp_path).exit_code == 0
    deep = _bundle(repo, tmp_path / "deep.bundle",
                   replace(plan, refs={**plan.refs, "refs/tags/deep": chain[-1].id},
                           tags=[t.id for t in chain]))
    _refused(muse, tmp_path, deep, "chain of over 16 tag objects")


# -- gc -----------------------------------------------------------------------------------


def test_gc_keeps_the_whole_chain_of_a_tag_ref(muse, repo_dir: Path,
                                               chained: tuple[str, str, str]) -> None:
    first, inner, outer = chained
    assert muse("tag", "-d", "v1", cwd=repo_dir).exit_code == 0  # only `release` leads to v1
    write(repo_dir, "a.mid", "two")
    commit(muse, repo_dir, "second")
    assert muse("reset", "--hard", "main~1", cwd=repo_dir).exit_code == 0
    shutil.rmtree(repo_dir / ".muse" / "logs")
    report = gc.collect(Repository.find(repo_dir), cutoff=gc.prune_cutoff("now"))
    fresh = Repository.find(repo_dir)
    assert fresh.store.list_packs() == [report.pack]
    assert fresh.store.kind(inner) == "tag" and fresh.store.kind(outer) == "tag"
    assert resolve(fresh, "release") == first
    assert verify_repository(fresh).ok
    before = tree_state(repo_dir)
    gc.collect(fresh, cutoff=gc.prune_cutoff("now"))
    assert Repository.find(repo_dir).store.kind(inner) == "tag"
    assert set(tree_state(repo_dir)) == set(before)


def test_a_chain_pushed_to_a_bare_remote_survives_its_gc_and_clones(
        muse, repo_dir: Path, tmp_path: Path, chained: tuple[str, str, str]) -> None:
    first, inner, outer = chained
    remote = tmp_path / "remote.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    pushed = muse("push", str(remote), "main", "refs/tags/release", cwd=repo_dir)
    assert pushed.exit_code == 0, pushed.output
    folded = muse("gc", "--remote", str(remote), "--json", cwd=tmp_path)
    assert folded.exit_code == 0, folded.output
    assert muse("verify", cwd=remote).exit_code == 0
    clone = tmp_path / "clone"
    assert muse("clone", str(remote), str(clone), cwd=tmp_path).exit_code == 0
    shown = json.loads(muse("tag", "-v", "release", "--json", cwd=clone).stdout)
    assert [c["tag_object"] for c in shown["chain"]] == [outer, inner]
    assert shown["commit"] == first


# -- a lightweight tag of an annotated tag ------------------------------------------------


@pytest.fixture
def twin(muse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Twin:
    return Twin(muse, tmp_path, monkeypatch)


def test_a_lightweight_tag_of_an_annotated_tag_names_its_tag_object_as_git_does(
        muse, twin: Twin) -> None:
    twin.commit("one", {"a.txt": "1\n"})
    twin.tag("v1")
    twin.tag("release", target="v1")  # a tag of a tag
    git_v1 = twin.git("rev-parse", "v1")
    muse_v1 = Repository.find(twin.m).refs.read("refs/tags/v1")
    assert muse_v1 is not None
    by_id = {"lid": (muse_v1, git_v1), "lshort": (muse_v1[:10], git_v1[:10])}
    for name, target in (("lt", "v1"), ("lr", "release"), ("lc", "v1^{}"),
                         ("lref", "refs/tags/v1")):
        made = twin.ok("tag", name, target)
        twin.git("tag", name, target)
        if name != "lc":
            assert ", naming tag object " in made, made
    assert "(v1)" in twin.ok("tag", "lid", by_id["lid"][0])
    twin.git("tag", "lid", by_id["lid"][1])
    twin.ok("tag", "lshort", by_id["lshort"][0])
    twin.git("tag", "lshort", by_id["lshort"][1])
    refs = Repository.find(twin.m).refs.list("refs/tags/")
    store = Repository.find(twin.m).store
    for name in ("lt", "lr", "lc", "lref", "lid", "lshort"):
        ours = refs[f"refs/tags/{name}"]
        theirs = twin.git("rev-parse", name)
        # Which other name (or the commit) each one's value is, on both sides.
        ours_is = sorted(n for n, v in refs.items() if v == ours and not n.endswith(name))
        theirs_is = sorted(f"refs/tags/{n}" for n in twin.git("tag").split()
                           if n != name and twin.git("rev-parse", n) == theirs)
        assert ours_is == theirs_is, name
        assert (store.kind(ours) or "missing") == twin.git("cat-file", "-t", name), name
    assert refs["refs/tags/lc"] == twin.muse_id["one"]
    # A lightweight tag moved with -f onto another tag object, as git's `tag -f`.
    moved = twin.ok("tag", "-f", "lt", "release")
    assert moved.startswith("Moved tag lt at ") and "(release)" in moved
    assert Repository.find(twin.m).refs.read("refs/tags/lt") == refs["refs/tags/release"]


def test_every_reader_copes_with_a_lightweight_ref_to_a_tag_object(
        muse, repo_dir: Path, tmp_path: Path, chained: tuple[str, str, str]) -> None:
    first, inner, _ = chained
    assert muse("tag", "lt", "v1", cwd=repo_dir).exit_code == 0
    assert muse("tag", "-d", "v1", cwd=repo_dir).exit_code == 0  # only lt names v1 now
    assert muse("log", "--oneline", "lt", cwd=repo_dir).stdout.startswith(first[:12])
    assert "tag: lt" in muse("log", "--oneline", "--decorate", cwd=repo_dir).stdout
    shown = muse("show", "lt", cwd=repo_dir)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"tag lt\nobject {inner}\ncommit {first}\n"
                                   "warning: the tag object calls itself 'v1'\n")
    assert json.loads(muse("show", "lt", "--json", cwd=repo_dir).stdout)["tag"]["tag_name"] \
        == "v1"
    verified = muse("tag", "-v", "lt", cwd=repo_dir)
    assert verified.exit_code == 0 and "Signature: good" in verified.stdout
    assert "lt" in muse("tag", "--contains", first, cwd=repo_dir).stdout.split()
    listed = {t["name"]: t for t in json.loads(muse("tag", "--json", cwd=repo_dir).stdout)}
    assert listed["lt"] == {"name": "lt", "commit": first, "annotated": True,
                            "tag_object": inner}
    described = muse("describe", "--exclude", "release", cwd=repo_dir)
    assert described.stdout == f"v1-0-g{first[:12]}\n"
    assert described.stderr == "warning: tag 'lt' is externally known as 'v1'\n"
    detached = muse("switch", "--detach", "lt", cwd=repo_dir)
    assert detached.exit_code == 0, detached.output
    assert Repository.find(repo_dir).head() == first
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    assert verify_repository(Repository.find(repo_dir)).ok
    # gc keeps the tag object lt names; a bundle of lt alone carries it and its commit.
    gc.collect(Repository.find(repo_dir), cutoff=gc.prune_cutoff("now"))
    kept = Repository.find(repo_dir)
    assert kept.store.kind(inner) == "tag" and verify_repository(kept).ok
    path = tmp_path / "lt.bundle"
    made = muse("bundle", "create", str(path), "lt", cwd=repo_dir)
    assert made.exit_code == 0, made.output
    received = unbundled(muse, tmp_path, path)
    assert received.refs.read("refs/tags/lt") == inner and resolve(received, "lt") == first
    assert verify_repository(received).ok


def test_a_bad_lightweight_tag_of_a_tag_changes_nothing(muse, repo_dir: Path,
                                                        chained: tuple[str, str, str]) -> None:
    assert muse("tag", "lt", "v1", cwd=repo_dir).exit_code == 0
    taken = changes_nothing(muse, repo_dir, "tag", "lt", "release", exit_code=4)
    assert "a tag named 'lt' already exists" in taken.stderr
    assert "unknown revision 'nope'" in changes_nothing(
        muse, repo_dir, "tag", "lt2", "nope", exit_code=2).stderr
    repo = Repository.find(repo_dir)
    # A tag object naming a tag that is not stored: no ref may lead to it (no ghost refs).
    orphan = _hand_tag("cd" * 32, "tag", "orphan")
    _stored(repo, orphan)
    gone = changes_nothing(muse, repo_dir, "tag", "lt2", orphan.id, exit_code=5)
    assert "which is missing" in gone.stderr
    assert repo.refs.read("refs/tags/lt2") is None
