"""Annotated tags: the tag object, `muse tag -a/-v`, signatures, peeling, bundles and gc."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from muse import gc
from muse.bundle import TAGS_CAPABILITY, BundleReader
from muse.errors import CorruptObjectError
from muse.fsck import verify_repository
from muse.keys import signature_status
from muse.objects import Tag, canonical_pack, decode_tag, object_kind
from muse.repo import Repository
from muse.revisions import resolve
from muse.tags import peel
from tests.branching_support import commit, unbundled, write
from tests.bundle_craft import parse_frames, seal
from tests.testkit import changes_nothing, tree_state

TARGET = "ab" * 32


def _tag(**changes: object) -> Tag:
    base = Tag(target=TARGET, name="v1", tagger_name="Ada", tagger_email="ada@example.org",
               timestamp=1700000000, tz_offset_minutes=60, message="one\n")
    return replace(base, **changes)  # type: ignore[arg-type]


def _fields(tag: Tag) -> list[object]:
    return [*tag._fields(), tag.signature]


@pytest.fixture
def two_commits(muse, repo_dir: Path) -> tuple[str, str]:
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "a.mid", "two")
    second = commit(muse, repo_dir, "second")
    return first, second


def _annotate(muse, repo_dir: Path, name: str, *args: str) -> str:
    made = muse("tag", "-a", name, *args, cwd=repo_dir)
    assert made.exit_code == 0, made.output
    value = Repository.find(repo_dir).refs.read(f"refs/tags/{name}")
    assert value is not None
    return value


# -- the object -------------------------------------------------------------------------


def test_tag_round_trips_and_is_told_apart() -> None:
    tag = _tag()
    assert decode_tag(tag.encode()) == tag
    assert object_kind(tag.encode()) == "tag"
    assert tag.id == Tag(**{**tag.__dict__}).id
    assert signature_status(tag) == "unsigned"


@pytest.mark.parametrize(("index", "value", "why"), [
    (1, 2, "unsupported tag version"),
    (1, True, "unsupported tag version"),
    (2, b"\x01" * 31, "32 bytes"),
    (3, "snapshot", "neither 'commit' nor 'tag'"),
    (3, b"commit", "neither 'commit' nor 'tag'"),
    (4, "", "empty name"),
    (4, "v1\nSignature: good", "control character"),
    (4, "x" * 1025, "over 1024 bytes"),
    (5, "Ada\x1b[2J", "control character"),
    (6, 7, "not text"),
    (7, True, "not an integer"),
    (7, 1 << 40, "out of range"),
    (8, 24 * 60, "timezone"),
    (9, "a\x07", "control character"),
    (10, b"\x01" * 32, "signer without a signature"),
])
def test_malformed_tags_are_corrupt(index: int, value: object, why: str) -> None:
    fields = _fields(_tag())
    fields[index] = value
    data = canonical_pack(fields)
    with pytest.raises(CorruptObjectError, match=why):
        decode_tag(data)
    assert object_kind(data) == "blob"


def test_non_canonical_and_extra_fields_are_refused() -> None:
    fields = _fields(_tag())
    with pytest.raises(CorruptObjectError, match="not a tag"):
        decode_tag(canonical_pack([*fields, None]))
    # 60 as a uint16 instead of a positive fixint: same value, not the canonical bytes.
    data = bytearray(_tag().encode())
    at = data.index(b"\x3c\xa4one")
    with pytest.raises(CorruptObjectError, match="canonical"):
        decode_tag(bytes(data[:at] + b"\xcd\x00\x3c" + data[at + 1:]))
    with pytest.raises(CorruptObjectError, match="max_map_len"):
        decode_tag(canonical_pack(["tag", 1, {"a": 1}]))


# -- muse tag -a / -v ---------------------------------------------------------------------


def test_annotated_tag_is_signed_listed_and_shown(muse, repo_dir: Path, two_commits) -> None:
    first, second = two_commits
    made = muse("tag", "-a", "v1", first, "-m", "Release one", cwd=repo_dir)
    assert made.exit_code == 0, made.output
    assert "signed" in made.stdout and "annotated" in made.stdout
    repo = Repository.find(repo_dir)
    oid = repo.refs.read("refs/tags/v1")
    assert oid is not None and repo.store.kind(oid) == "tag"
    tag = repo.store.read_tag(oid)
    assert (tag.target, tag.name, tag.message) == (first, "v1", "Release one\n")
    assert tag.tagger_name == "Test Musician" and tag.is_signed
    assert muse("tag", "light", cwd=repo_dir).exit_code == 0
    assert muse("tag", cwd=repo_dir).stdout == "light\nv1\n"
    listed = json.loads(muse("tag", "--json", cwd=repo_dir).stdout)
    assert listed == [
        {"name": "light", "commit": second, "annotated": False, "tag_object": None},
        {"name": "v1", "commit": first, "annotated": True, "tag_object": oid}]
    shown = muse("tag", "-v", "v1", cwd=repo_dir)
    assert shown.exit_code == 0
    assert "Signature: good" in shown.stdout and "Release one" in shown.stdout
    assert "Tagger: Test Musician <test@example.org>" in shown.stdout
    record = json.loads(muse("tag", "-v", "v1", "--json", cwd=repo_dir).stdout)
    assert record["signature"] == "good" and record["tag_object"] == oid
    pretty = muse("cat-object", "-p", oid, cwd=repo_dir)
    assert pretty.exit_code == 0 and f"object {first}" in pretty.stdout
    assert "signature good" in pretty.stdout
    assert muse("cat-object", "-t", oid, cwd=repo_dir).stdout.strip() == "tag"
    as_data = json.loads(muse("cat-object", "-p", "--json", oid, cwd=repo_dir).stdout)
    assert as_data["type"] == "tag" and as_data["target"] == first
    light = muse("tag", "-v", "light", cwd=repo_dir)
    assert light.exit_code == 0 and "lightweight" in light.stdout
    assert verify_repository(repo).ok


def test_unsigned_file_message_and_forced_move(muse, repo_dir: Path, two_commits,
                                               tmp_path: Path) -> None:
    first, second = two_commits
    note = tmp_path / "note.txt"
    note.write_text("From a file\n\nwith a body\n", encoding="utf-8")
    oid = _annotate(muse, repo_dir, "v1", first, "-F", str(note), "--unsigned")
    repo = Repository.find(repo_dir)
    assert repo.store.read_tag(oid).message == "From a file\n\nwith a body\n"
    shown = json.loads(muse("tag", "-v", "v1", "--json", cwd=repo_dir).stdout)
    assert shown["signature"] == "unsigned"
    changes_nothing(muse, repo_dir, "tag", "-a", "v1", second, "-m", "again", exit_code=4)
    moved = _annotate(muse, repo_dir, "v1", second, "-m", "again", "-f")
    assert moved != oid and repo.store.read_tag(moved).target == second


def test_untrusted_and_forged_signatures_are_reported(muse, repo_dir: Path,
                                                      two_commits) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    first, _ = two_commits
    repo = Repository.find(repo_dir)
    stranger = Ed25519PrivateKey.generate()
    public = stranger.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    unsigned = _tag(target=first, signer=public)
    signed = replace(unsigned, signature=stranger.sign(unsigned.signed_payload()))
    forged = replace(signed, message="not what was signed\n")
    for name, made in (("theirs", signed), ("forged", forged)):
        with repo.store.batch() as batch:
            batch.add_bytes(made.encode())
        repo.refs.update(f"refs/tags/{name}", None, made.id, "test")
    theirs = json.loads(muse("tag", "-v", "theirs", "--json", cwd=repo_dir).stdout)
    assert theirs["signature"] == "untrusted"
    bad = muse("tag", "-v", "forged", cwd=repo_dir)
    assert "Signature: bad" in bad.stdout
    assert "calls itself 'v1'" in bad.stdout  # the signed name is not the ref's
    report = verify_repository(Repository.find(repo_dir))
    assert any("bad signature" in p.message and p.subject == forged.id
               for p in report.problems)


@pytest.mark.parametrize("args", [
    ("tag", "-a", "v1"),                              # no message
    ("tag", "-a", "v1", "-m", "   "),                 # an empty one
    ("tag", "-a", "v1", "-m", "a\x1bb"),              # a control character
    ("tag", "-a", "bad name", "-m", "x"),             # an invalid name
    ("tag", "-a", "-x", "-m", "x"),
    ("tag", "-a", "v1", "nope", "-m", "x"),           # an unknown revision
    ("tag", "-a", "v1", "-m", "x", "-F", "/dev/null"),
    ("tag", "v1", "--unsigned"),                      # --unsigned without -a
    ("tag", "-v"),
    ("tag", "-v", "v1", "-a"),
    ("tag", "-d", "v1", "-m", "x"),
])
def test_bad_tag_commands_change_nothing(muse, repo_dir: Path, two_commits,
                                         args: tuple[str, ...]) -> None:
    changes_nothing(muse, repo_dir, *args, exit_code=2)


def test_show_of_a_missing_tag_is_a_usage_error(muse, repo_dir: Path, two_commits) -> None:
    result = changes_nothing(muse, repo_dir, "tag", "-v", "nope", exit_code=2)
    assert "no tag named" in result.output


def test_show_of_an_annotated_tag_shows_the_tag_then_its_commit(muse, repo_dir: Path,
                                                                two_commits) -> None:
    first, second = two_commits
    oid = _annotate(muse, repo_dir, "v1", first, "-m", "Release one")
    shown = muse("show", "v1", cwd=repo_dir)
    assert shown.exit_code == 0, shown.output
    tag_part, commit_line, _ = shown.stdout.partition(f"\ncommit {first}\nAuthor:")
    assert commit_line, shown.stdout  # the commit follows the tag
    assert tag_part.startswith("tag v1\n") and f"object {oid}" in tag_part
    assert "Signature: good" in tag_part and "    Release one" in tag_part
    assert json.loads(muse("show", "v1", "--json", cwd=repo_dir).stdout)["tag"]["tag_object"] \
        == oid
    by_id = json.loads(muse("show", oid, "--json", cwd=repo_dir).stdout)
    assert by_id["tag"]["name"] == "v1" and by_id["commit"]["id"] == first
    # A suffix names the commit, not the tag; a lightweight tag and a branch show no tag.
    for revision in ("v1^{}", "v1~0", "main"):
        data = json.loads(muse("show", revision, "--json", cwd=repo_dir).stdout)
        assert "tag" not in data, revision
    assert muse("tag", "light", first, cwd=repo_dir).exit_code == 0
    assert "tag" not in json.loads(muse("show", "light", "--json", cwd=repo_dir).stdout)
    assert not muse("show", "light", cwd=repo_dir).stdout.startswith("tag ")
    assert json.loads(muse("show", "main", "--json", cwd=repo_dir).stdout)["commit"]["id"] \
        == second


# -- peeling ------------------------------------------------------------------------------


def test_a_tag_peels_to_its_commit_everywhere(muse, repo_dir: Path, two_commits) -> None:
    first, _ = two_commits
    oid = _annotate(muse, repo_dir, "v1", first, "-m", "one")
    repo = Repository.find(repo_dir)
    for text in ("v1", "refs/tags/v1", "v1^{commit}", "v1^{}", "v1~0", oid, oid[:10],
                 f"{oid[:10]}^{{commit}}"):
        assert resolve(repo, text) == first, text
    assert resolve(repo, "main^{commit}~1") == first
    assert peel(repo.store, oid) == first and peel(repo.store, first) == first
    log = muse("log", "--oneline", "v1", cwd=repo_dir)
    assert log.exit_code == 0 and log.stdout.startswith(first[:12])
    assert "tag: v1" in muse("log", "--oneline", "--decorate", cwd=repo_dir).stdout
    assert muse("diff", "v1", "main", cwd=repo_dir).exit_code == 0
    detached = muse("switch", "--detach", "v1", cwd=repo_dir)
    assert detached.exit_code == 0, detached.output
    assert Repository.find(repo_dir).head() == first
    assert (repo_dir / "a.mid").read_text() == "one"
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    assert muse("reset", "--hard", "v1", cwd=repo_dir).exit_code == 0
    assert Repository.find(repo_dir).head() == first
    assert muse("restore", "--source", "v1", "a.mid", cwd=repo_dir).exit_code == 0
    changes_nothing(muse, repo_dir, "switch", "v1", exit_code=2)  # not a branch


# -- bundles --------------------------------------------------------------------------------


def _bundle_with_tag(muse, repo_dir: Path, tmp_path: Path) -> tuple[Path, str, str]:
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "first")
    oid = _annotate(muse, repo_dir, "v1", "-m", "Release one")
    path = tmp_path / "tagged.bundle"
    made = muse("bundle", "create", str(path), "main", "v1", cwd=repo_dir)
    assert made.exit_code == 0, made.output
    return path, first, oid


def test_bundle_carries_and_unbundle_installs_the_tag(muse, repo_dir: Path,
                                                      tmp_path: Path) -> None:
    path, first, oid = _bundle_with_tag(muse, repo_dir, tmp_path)
    with open(path, "rb") as stream:
        header = BundleReader(stream).read_header()
    assert header.refs == {"refs/heads/main": first, "refs/tags/v1": oid}
    assert header.tags == 1 and TAGS_CAPABILITY in header.mandatory
    assert [f.kind for f in parse_frames(path.read_bytes())][-3:-1] == [ord("C"), ord("G")]
    received = unbundled(muse, tmp_path, path)
    assert received.refs.read("refs/tags/v1") == oid
    assert received.store.read_tag(oid).target == first
    assert verify_repository(received).ok


def test_a_tag_alone_bundles_on_its_commit(muse, repo_dir: Path, tmp_path: Path) -> None:
    path, first, _ = _bundle_with_tag(muse, repo_dir, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    muse("init", cwd=other)
    muse("bundle", "unbundle", str(path), cwd=other)
    later = _annotate(muse, repo_dir, "v1-final", "main", "-m", "same commit, new tag")
    only = tmp_path / "only-tag.bundle"
    made = muse("bundle", "create", str(only), "main..v1-final", cwd=repo_dir)
    assert made.exit_code == 0, made.output
    with open(only, "rb") as stream:
        header = BundleReader(stream).read_header()
    assert header.prerequisites == [first] and header.commits == 0 and header.tags == 1
    assert muse("bundle", "unbundle", str(only), cwd=other).exit_code == 0
    assert Repository.find(other).refs.read("refs/tags/v1-final") == later


def _reseal(data: bytes, old: bytes, new: bytes) -> bytes:
    """`data` with one run of bytes replaced and the trailer made valid again."""
    frames = parse_frames(data)
    body = data[10:frames[-1].offset]
    assert body.count(old) == 1
    return seal(body.replace(old, new))


def test_a_tampered_tag_is_refused_and_nothing_changes(muse, repo_dir: Path,
                                                       tmp_path: Path) -> None:
    path, _, _ = _bundle_with_tag(muse, repo_dir, tmp_path)
    forged = tmp_path / "forged.bundle"
    forged.write_bytes(_reseal(path.read_bytes(), b"Release one", b"Release two"))
    other = tmp_path / "other"
    other.mkdir()
    muse("init", cwd=other)
    result = changes_nothing(muse, other, "bundle", "unbundle", str(forged), exit_code=5)
    assert "bad signature" in result.output
    assert muse("bundle", "verify", str(forged), cwd=tmp_path).exit_code == 5


def test_a_branch_naming_a_tag_object_is_refused(muse, repo_dir: Path,
                                                 tmp_path: Path) -> None:
    path, _, _ = _bundle_with_tag(muse, repo_dir, tmp_path)
    # The same bundle, its tag's ref renamed to a branch (names sort the same way).
    evil = tmp_path / "evil.bundle"
    evil.write_bytes(_reseal(path.read_bytes(), b"refs/tags/v1", b"refs/heads/v"))
    other = tmp_path / "other"
    other.mkdir()
    muse("init", cwd=other)
    result = changes_nothing(muse, other, "bundle", "unbundle", str(evil), exit_code=5)
    assert "a branch must name a commit" in result.output


def test_a_tag_frame_without_the_capability_is_refused(muse, repo_dir: Path,
                                                       tmp_path: Path) -> None:
    path, _, _ = _bundle_with_tag(muse, repo_dir, tmp_path)
    data = path.read_bytes()
    # An older writer's header: no "tags" capability, so no tag may follow.
    old = _reseal(data, b"\x92\xa6sha256\xa4tags", b"\x91\xa6sha256\xa4tags")
    stripped = tmp_path / "stripped.bundle"
    stripped.write_bytes(old)
    result = muse("bundle", "verify", str(stripped), cwd=tmp_path)
    assert result.exit_code == 5, result.output


def test_a_tag_whose_commit_is_absent_is_refused(muse, repo_dir: Path,
                                                 tmp_path: Path) -> None:
    write(repo_dir, "a.mid", "one")
    commit(muse, repo_dir, "first")
    _annotate(muse, repo_dir, "v1", "-m", "Release one")
    path = tmp_path / "only.bundle"
    # A tag on a commit the receiver lacks: the bundle builds on it, and a fresh
    # repository cannot take it.
    write(repo_dir, "a.mid", "two")
    commit(muse, repo_dir, "second")
    _annotate(muse, repo_dir, "v2", "main~1", "-m", "old commit")
    assert muse("bundle", "create", str(path), "main..v2", cwd=repo_dir).exit_code == 0
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    muse("init", cwd=fresh)
    result = changes_nothing(muse, fresh, "bundle", "unbundle", str(path), exit_code=5)
    assert "prerequisite" in result.output


# -- gc -----------------------------------------------------------------------------------


def test_gc_keeps_tag_objects_and_their_commits(muse, repo_dir: Path, two_commits) -> None:
    first, _ = two_commits
    assert muse("branch", "side", first, cwd=repo_dir).exit_code == 0
    oid = _annotate(muse, repo_dir, "v1", "side", "-m", "only the tag keeps it")
    assert muse("reset", "--hard", "side", cwd=repo_dir).exit_code == 0
    write(repo_dir, "a.mid", "elsewhere")
    commit(muse, repo_dir, "other history")
    assert muse("branch", "-D", "side", cwd=repo_dir).exit_code == 0
    # Without reflogs, only the tag object still leads to the first commit.
    shutil.rmtree(repo_dir / ".muse" / "logs")
    repo = Repository.find(repo_dir)
    report = gc.collect(repo, cutoff=gc.prune_cutoff("now"))
    fresh = Repository.find(repo_dir)
    assert fresh.store.list_packs() == [report.pack]
    assert fresh.store.kind(oid) == "tag" and fresh.store.kind(first) == "commit"
    assert fresh.store.read_tag(oid).target == first
    assert verify_repository(fresh).ok
    before = tree_state(repo_dir)
    gc.collect(fresh, cutoff=gc.prune_cutoff("now"))
    assert Repository.find(repo_dir).store.kind(oid) == "tag"
    assert set(tree_state(repo_dir)) == set(before)


# -- end to end: a bare filesystem remote ---------------------------------------------------


def test_push_clone_verify_and_gc_of_a_bare_remote(muse, repo_dir: Path, two_commits,
                                                   tmp_path: Path) -> None:
    first, _ = two_commits
    oid = _annotate(muse, repo_dir, "v1", first, "-m", "Release one")
    remote = tmp_path / "remote.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    pushed = muse("push", str(remote), "main", "refs/tags/v1", cwd=repo_dir)
    assert pushed.exit_code == 0, pushed.output
    assert json.loads((remote / "refs.json").read_text())["refs"]["refs/tags/v1"] == oid
    inside = muse("verify", cwd=remote)
    assert inside.exit_code == 0, inside.output
    folded = muse("gc", "--remote", str(remote), "--json", cwd=tmp_path)
    assert folded.exit_code == 0, folded.output
    assert muse("verify", cwd=remote).exit_code == 0
    clone = tmp_path / "clone"
    cloned = muse("clone", str(remote), str(clone), cwd=tmp_path)
    assert cloned.exit_code == 0, cloned.output
    shown = json.loads(muse("tag", "-v", "v1", "--json", cwd=clone).stdout)
    assert shown["tag_object"] == oid and shown["commit"] == first
    assert shown["signature"] == "good"
    assert muse("log", "--oneline", "v1", cwd=clone).stdout.startswith(first[:12])


def test_tag_n_lists_message_lines_as_git_does(muse, repo_dir):
    from tests.branching_support import commit, write

    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first take")
    assert muse("tag", "-a", "v1", "-m", "Album master\n\nsecond paragraph",
                cwd=repo_dir).exit_code == 0
    assert muse("tag", "lt", cwd=repo_dir).exit_code == 0
    one = muse("tag", "-n", cwd=repo_dir)
    assert one.exit_code == 0
    assert one.stdout == "lt              first take\nv1              Album master\n"
    three = muse("tag", "-n3", cwd=repo_dir).stdout
    assert three.endswith("v1              Album master\n    \n    second paragraph\n")
    assert muse("tag", "-n", "--list", "v*", cwd=repo_dir).stdout == \
        "v1              Album master\n"
    word = muse("tag", "-n", "v1", cwd=repo_dir)
    assert word.exit_code == 2 and "a tag pattern goes after --list" in word.stderr
    named = muse("tag", "-n3", "v1", cwd=repo_dir)
    assert named.exit_code == 2 and "-n lists tags" in named.stderr


def test_tag_n_prints_what_git_prints(muse, tmp_path, monkeypatch):
    """The same tags, annotated and lightweight, on commits with a body: `tag -nN`
    byte for byte as git's, names longer than the 15 columns included."""
    from tests.twin_history import Twin

    twin = Twin(muse, tmp_path, monkeypatch)
    twin.commit("First take\n\nrecorded live\nin one go", {"song.txt": "verse\n"})
    twin.tag("a-name-longer-than-fifteen", annotated=False)
    twin.commit("Second take", {"song.txt": "verse\nchorus\n"})
    twin.tag("v1")
    twin.tag("light", annotated=False)
    for option in ("-n", "-n0", "-n1", "-n2", "-n3", "-n9"):
        ours = twin.ok("tag", option)
        assert ours == twin.git_run("tag", option).stdout, option
    assert twin.ok("tag", "-n0") == twin.ok("tag")
