"""`muse bundle create | verify | list-heads | unbundle` end to end, bad input included."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from muse.frames import KIND_COMMIT, KIND_HEADER, KIND_SNAPSHOT
from muse.keys import sign_commit
from muse.objects import Commit, hash_bytes
from tests.bundle_craft import (
    Crafted,
    frame,
    header,
    object_frames,
    parse_frames,
    plain_commit,
    seal,
    valid_parts,
    with_snapshot_rows,
)
from tests.conftest import MuseRunner, tree_state


def write(root: Path, files: dict[str, str | None]) -> None:
    for name, text in files.items():
        if text is None:
            (root / name).unlink()
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)


def commit(muse: MuseRunner, root: Path, files: dict[str, str | None], message: str) -> str:
    write(root, files)
    assert muse("commit", "-m", message, cwd=root).exit_code == 0
    out = muse("rev-parse", "HEAD", cwd=root)
    assert out.exit_code == 0, out.output
    return out.stdout.strip()


def fresh_repo(muse: MuseRunner, path: Path) -> Path:
    path.mkdir()
    assert muse("init", cwd=path).exit_code == 0
    return path


@pytest.fixture
def src(repo_dir: Path, muse: MuseRunner) -> tuple[Path, list[str]]:
    ids = [commit(muse, repo_dir, {"song.mid": "v1", "stems/bass.wav": "b" * 500}, "one")]
    ids.append(commit(muse, repo_dir, {"song.mid": "v2"}, "two"))
    ids.append(commit(muse, repo_dir, {"notes.txt": "n"}, "three"))
    return repo_dir, ids


def tag(root: Path, name: str, oid: str) -> None:
    ref = root / ".muse" / "refs" / "tags" / name
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(oid + "\n")


def create_json(muse: MuseRunner, root: Path, target: Path, *revs: str) -> dict[str, object]:
    out = muse("bundle", "create", str(target), *revs, "--json", cwd=root)
    assert out.exit_code == 0, out.output
    data: dict[str, object] = json.loads(out.stdout)
    return data


# -- create, list-heads, verify, unbundle --------------------------------------------------


def test_round_trip_through_the_cli(src: tuple[Path, list[str]], muse: MuseRunner,
                                    tmp_path: Path) -> None:
    root, ids = src
    target = tmp_path / "all.bundle"
    made = create_json(muse, root, target, "main")
    assert made["commits"] == 3 and made["objects"] == 4
    assert made["refs"] == {"refs/heads/main": ids[-1]}
    assert made["bundle_id"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert made["bytes"] == target.stat().st_size
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []

    heads = muse("bundle", "list-heads", str(target), cwd=tmp_path)
    assert heads.exit_code == 0 and heads.stdout == f"{ids[-1]} refs/heads/main\n"

    checked = muse("bundle", "verify", str(target), "--json", cwd=tmp_path)
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["ok"] and report["commits"] == 3 and report["objects"] == 4
    assert report["signatures"] == {"good": 3, "unsigned": 0}
    assert report["bundle_id"] == made["bundle_id"]
    assert report["checked_against_repository"] is False

    dest = fresh_repo(muse, tmp_path / "dest")
    done = muse("bundle", "unbundle", str(target), "--json", cwd=dest)
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["refs"] == [{"name": "refs/heads/main", "old": None, "new": ids[-1],
                               "status": "created"}]
    assert result["worktree_updated"] is True
    assert (dest / "song.mid").read_text() == "v2"
    assert (dest / "notes.txt").read_text() == "n"
    log = muse("log", "--oneline", cwd=dest)
    assert log.exit_code == 0 and len(log.stdout.splitlines()) == 3
    full = muse("verify", cwd=dest)
    assert full.exit_code == 0, full.output
    assert muse("status", "--short", cwd=dest).stdout == ""
    again = muse("bundle", "unbundle", str(target), cwd=dest)
    assert again.exit_code == 0 and "up to date" in again.stdout


def test_ranges_and_prerequisites(src: tuple[Path, list[str]], muse: MuseRunner,
                                  tmp_path: Path) -> None:
    root, ids = src
    tag(root, "v1", ids[0])
    dotted = create_json(muse, root, tmp_path / "a.bundle", "v1..main")
    caret = create_json(muse, root, tmp_path / "b.bundle", "^v1", "main")
    assert dotted["prerequisites"] == caret["prerequisites"] == [ids[0]]
    assert dotted["commits"] == 2 and dotted["refs"] == {"refs/heads/main": ids[-1]}
    assert dotted["bundle_id"] == caret["bundle_id"]
    head = create_json(muse, root, tmp_path / "c.bundle", "HEAD")
    assert head["refs"] == {"refs/heads/main": ids[-1]}
    everything = create_json(muse, root, tmp_path / "d.bundle", "--all")
    assert everything["refs"] == {"refs/heads/main": ids[-1], "refs/tags/v1": ids[0]}

    # Outside a repository, verify reports what relies on the prerequisites.
    outside = muse("bundle", "verify", str(tmp_path / "a.bundle"), cwd=tmp_path)
    assert outside.exit_code == 0
    assert "not checked (outside a repository)" in outside.stdout
    # In a repository that lacks them, it is a specific failure.
    dest = fresh_repo(muse, tmp_path / "dest")
    before = tree_state(dest)
    lacking = muse("bundle", "unbundle", str(tmp_path / "a.bundle"), cwd=dest)
    assert lacking.exit_code == 5
    assert f"this repository lacks prerequisite commit {ids[0]}" in lacking.stderr
    assert tree_state(dest) == before
    # With the base first, the incremental bundle fast-forwards main.
    base = create_json(muse, root, tmp_path / "base.bundle", "v1")
    assert base["refs"] == {"refs/tags/v1": ids[0]}
    assert muse("bundle", "unbundle", str(tmp_path / "base.bundle"), cwd=dest).exit_code == 0
    inside = muse("bundle", "verify", str(tmp_path / "a.bundle"), "--json", cwd=dest)
    assert inside.exit_code == 0 and json.loads(inside.stdout)["checked_against_repository"]
    # main is not checked out yet here (HEAD → unborn main), the tag was created.
    done = json.loads(muse("bundle", "unbundle", str(tmp_path / "a.bundle"), "--json",
                           cwd=dest).stdout)
    assert done["refs"][0]["status"] == "created"
    assert muse("verify", cwd=dest).exit_code == 0


def test_empty_bundle_is_refused(src: tuple[Path, list[str]], muse: MuseRunner,
                                 tmp_path: Path) -> None:
    root, _ = src
    target = tmp_path / "empty.bundle"
    out = muse("bundle", "create", str(target), "main..main", cwd=root)
    assert out.exit_code == 2
    assert "refusing to create an empty bundle" in out.stderr
    assert not target.exists()
    none = muse("bundle", "create", str(target), cwd=root)
    assert none.exit_code == 2 and "no revision" in none.stderr


def test_revision_without_a_ref_is_refused(src: tuple[Path, list[str]], muse: MuseRunner,
                                           tmp_path: Path) -> None:
    root, ids = src
    out = muse("bundle", "create", str(tmp_path / "x"), ids[-1][:12], cwd=root)
    assert out.exit_code == 2 and "would carry no ref" in out.stderr
    unknown = muse("bundle", "create", str(tmp_path / "x"), "nope", cwd=root)
    assert unknown.exit_code == 2 and "unknown revision 'nope'" in unknown.stderr


def test_create_to_stdout_and_verify_from_stdin(src: tuple[Path, list[str]], muse: MuseRunner,
                                                tmp_path: Path) -> None:
    root, _ = src
    target = tmp_path / "f.bundle"
    create_json(muse, root, target, "main")
    piped = muse.proc("bundle", "create", "-", "main", cwd=root)
    assert piped.exit_code == 0, piped.stderr
    streamed = muse.proc("bundle", "create", "-", "main", cwd=root)
    assert "bundle id" in streamed.stderr
    import subprocess
    import sys

    raw = subprocess.run([sys.executable, "-m", "muse", "bundle", "create", "-", "main"],
                         cwd=root, env=muse.env(), capture_output=True, check=True).stdout
    assert raw == target.read_bytes()
    checked = muse.proc("bundle", "verify", "-", cwd=tmp_path, input=raw)
    assert checked.exit_code == 0 and "ok" in checked.stdout
    bad = muse.proc("bundle", "verify", "-", cwd=tmp_path, input=raw[:-1])
    assert bad.exit_code == 5 and "truncated" in bad.stderr


def test_create_failure_leaves_no_file(src: tuple[Path, list[str]], muse: MuseRunner,
                                       tmp_path: Path) -> None:
    root, _ = src
    oid = hash_bytes(b"b" * 500)
    loose = root / ".muse" / "objects" / oid[:2] / oid[2:]
    os.chmod(loose, 0o644)
    loose.write_bytes(b"c" * 500)  # damaged in the store: same size, other bytes
    target = tmp_path / "out.bundle"
    out = muse("bundle", "create", str(target), "main", cwd=root)
    assert out.exit_code == 5
    assert f"object {oid} is corrupt" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != root.name) == ["muse-config"]


# -- unbundle: refs and the working tree -------------------------------------------------


def clone_of(muse: MuseRunner, src_root: Path, tmp_path: Path, name: str = "dest") -> Path:
    target = tmp_path / f"{name}.bundle"
    create_json(muse, src_root, target, "main")
    dest = fresh_repo(muse, tmp_path / name)
    assert muse("bundle", "unbundle", str(target), cwd=dest).exit_code == 0
    return dest


def test_fast_forward_updates_clean_tree(src: tuple[Path, list[str]], muse: MuseRunner,
                                         tmp_path: Path) -> None:
    root, ids = src
    dest = clone_of(muse, root, tmp_path)
    new = commit(muse, root, {"song.mid": "v3", "notes.txt": None}, "four")
    create_json(muse, root, tmp_path / "ff.bundle", f"{ids[-1]}..main")
    out = muse("bundle", "unbundle", str(tmp_path / "ff.bundle"), cwd=dest)
    assert out.exit_code == 0, out.output
    assert f"fast-forward refs/heads/main {ids[-1][:12]}..{new[:12]}" in out.stdout
    assert (dest / "song.mid").read_text() == "v3"
    assert not (dest / "notes.txt").exists()


def test_non_fast_forward_is_refused_then_forced(src: tuple[Path, list[str]], muse: MuseRunner,
                                                 tmp_path: Path) -> None:
    root, ids = src
    dest = clone_of(muse, root, tmp_path)
    local = commit(muse, dest, {"local.txt": "mine"}, "local work")
    theirs = commit(muse, root, {"song.mid": "theirs"}, "their work")
    create_json(muse, root, tmp_path / "div.bundle", f"{ids[-1]}..main")
    before = tree_state(dest)
    out = muse("bundle", "unbundle", str(tmp_path / "div.bundle"), cwd=dest)
    assert out.exit_code == 4
    assert "not a fast-forward: refs/heads/main would lose commits" in out.stderr
    assert tree_state(dest) == before
    forced = muse("bundle", "unbundle", str(tmp_path / "div.bundle"), "--force", "--json",
                  cwd=dest)
    assert forced.exit_code == 0, forced.output
    change = json.loads(forced.stdout)["refs"][0]
    assert (change["status"], change["old"], change["new"]) == ("forced", local, theirs)
    assert (dest / "song.mid").read_text() == "theirs"
    assert not (dest / "local.txt").exists()


def test_dirty_tree_blocks_moving_the_checked_out_branch(
        src: tuple[Path, list[str]], muse: MuseRunner, tmp_path: Path) -> None:
    root, ids = src
    dest = clone_of(muse, root, tmp_path)
    commit(muse, root, {"song.mid": "v3"}, "four")
    create_json(muse, root, tmp_path / "ff.bundle", f"{ids[-1]}..main")
    (dest / "song.mid").write_text("edited, not committed")
    before = tree_state(dest)
    out = muse("bundle", "unbundle", str(tmp_path / "ff.bundle"), cwd=dest)
    assert out.exit_code == 4
    assert "it would overwrite local changes: song.mid (modified)" in out.stderr
    assert tree_state(dest) == before


def test_untracked_file_in_the_way(src: tuple[Path, list[str]], muse: MuseRunner,
                                   tmp_path: Path) -> None:
    root, ids = src
    dest = clone_of(muse, root, tmp_path)
    commit(muse, root, {"new.txt": "theirs"}, "four")
    create_json(muse, root, tmp_path / "ff.bundle", f"{ids[-1]}..main")
    (dest / "new.txt").write_text("my untracked file")
    (dest / "other.txt").write_text("untouched")
    before = tree_state(dest)
    out = muse("bundle", "unbundle", str(tmp_path / "ff.bundle"), cwd=dest)
    assert out.exit_code == 4 and "local changes: new.txt (untracked)" in out.stderr
    assert tree_state(dest) == before  # not even the verified pack was kept
    (dest / "new.txt").unlink()
    assert muse("bundle", "unbundle", str(tmp_path / "ff.bundle"), cwd=dest).exit_code == 0
    assert (dest / "new.txt").read_text() == "theirs"
    assert (dest / "other.txt").read_text() == "untouched"


def test_other_branches_move_without_touching_the_tree(
        src: tuple[Path, list[str]], muse: MuseRunner, tmp_path: Path) -> None:
    root, ids = src
    dest = clone_of(muse, root, tmp_path)
    (dest / "song.mid").write_text("dirty is fine: main does not move")
    tag(root, "v9", ids[-1])
    create_json(muse, root, tmp_path / "t.bundle", "v9")
    out = muse("bundle", "unbundle", str(tmp_path / "t.bundle"), "--json", cwd=dest)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["refs"][0]["name"] == "refs/tags/v9" and data["worktree_updated"] is False
    assert (dest / "song.mid").read_text() == "dirty is fine: main does not move"


# -- bad input: specific error, exit 5, receiving repository unchanged -------------------


@pytest.fixture
def good_bundle(src: tuple[Path, list[str]], muse: MuseRunner, tmp_path: Path) -> bytes:
    root, _ = src
    target = tmp_path / "good.bundle"
    create_json(muse, root, target, "main")
    return target.read_bytes()


def refused(muse: MuseRunner, dest: Path, data: bytes, tmp_path: Path, message: str) -> None:
    """Unbundling `data` fails with exit 5 and `message`, and `dest` is byte-for-byte unchanged."""
    path = tmp_path / "bad.bundle"
    path.write_bytes(data)
    before = tree_state(dest)
    out = muse("bundle", "unbundle", str(path), cwd=dest)
    assert out.exit_code == 5, (out.output, message)
    assert message in out.stderr, (out.stderr, message)
    assert out.stderr.startswith("error: ")
    assert tree_state(dest) == before


def test_truncation_at_every_frame_boundary_and_mid_frame(
        good_bundle: bytes, muse: MuseRunner, tmp_path: Path) -> None:
    dest = fresh_repo(muse, tmp_path / "dest")
    cuts = {0, 4, 9}
    for f in parse_frames(good_bundle):
        cuts.update({f.offset, f.offset + 1, f.offset + 4, f.offset + 5 + f.length // 2,
                     f.end - 1})
    cuts.discard(len(good_bundle))
    assert len(cuts) > 50
    for cut in sorted(cuts):
        refused(muse, dest, good_bundle[:cut], tmp_path, "bundle is truncated")


def test_every_flipped_byte_is_caught(good_bundle: bytes, muse: MuseRunner,
                                      tmp_path: Path) -> None:
    dest = fresh_repo(muse, tmp_path / "dest")
    step = max(1, len(good_bundle) // 400)  # a dense sample through every frame
    positions = set(range(0, len(good_bundle), step))
    for f in parse_frames(good_bundle):
        positions.update({f.offset, f.offset + 1, f.offset + 4, f.offset + 5})
    positions.update(range(len(good_bundle) - 45, len(good_bundle)))  # the trailer
    for pos in sorted(p for p in positions if p < len(good_bundle)):
        data = bytearray(good_bundle)
        data[pos] ^= 0x01
        refused(muse, dest, bytes(data), tmp_path, "")


def test_flip_in_object_data_names_the_object(good_bundle: bytes, muse: MuseRunner,
                                              tmp_path: Path) -> None:
    dest = fresh_repo(muse, tmp_path / "dest")
    data_frame = next(f for f in parse_frames(good_bundle) if f.kind == ord("D"))
    damaged = bytearray(good_bundle)
    damaged[data_frame.offset + 6] ^= 0xFF
    refused(muse, dest, bytes(damaged), tmp_path, "its bytes do not match its id")


def test_wrong_magic_future_version_unknown_capability(
        good_bundle: bytes, muse: MuseRunner, tmp_path: Path) -> None:
    dest = fresh_repo(muse, tmp_path / "dest")
    refused(muse, dest, b"GITBUNDL" + good_bundle[8:], tmp_path,
            "not a Muse bundle (wrong magic bytes)")
    refused(muse, dest, good_bundle[:8] + b"\x00\x07" + good_bundle[10:], tmp_path,
            "bundle format version 7 is not supported")
    blob, snap, c = valid_parts()
    needs = Crafted([blob], [snap], [c.encode()], {"refs/heads/main": c.id},
                    mandatory=["sha256", "delta-v9"]).build()
    refused(muse, dest, needs, tmp_path, "bundle needs capabilities this Muse lacks: delta-v9")


def test_hostile_contents_with_valid_trailers(muse: MuseRunner, tmp_path: Path,
                                              muse_home: Path) -> None:
    dest = fresh_repo(muse, tmp_path / "dest")
    blob, snap, c = valid_parts()
    raw = bytes.fromhex(hash_bytes(blob))
    for path in ("../x", "/abs", "a/../../b", "a\0b", ".muse/config"):
        refused(muse, dest, with_snapshot_rows([(path, raw, 6, False)]), tmp_path,
                "snapshot holds an unsafe path")
    refused(muse, dest, with_snapshot_rows([("a", raw, 6, False), ("a", raw, 6, False)]),
            tmp_path, "snapshot has duplicate path 'a'")
    # An object whose bytes do not match its id.
    body = frame(KIND_HEADER, header(refs={"refs/heads/main": c.id}, objects=1, object_bytes=6,
                                     snapshots=1, commits=1))
    body += object_frames(b"HELLO\n", oid=hash_bytes(blob))
    body += frame(KIND_SNAPSHOT, snap) + frame(KIND_COMMIT, c.encode())
    refused(muse, dest, seal(body), tmp_path, "its bytes do not match its id")
    # A parent neither in the bundle nor a prerequisite.
    orphan = plain_commit(c.snapshot, parents=("ab" * 32,))
    refused(muse, dest, Crafted([blob], [snap], [orphan.encode()],
                                {"refs/heads/main": orphan.id}).build(),
            tmp_path, "is neither earlier in the bundle nor a prerequisite")
    # A parent that only comes later (the one way to spell a cycle).
    later = plain_commit(c.snapshot, message="later")
    loop = plain_commit(c.snapshot, parents=(later.id,))
    refused(muse, dest, Crafted([blob], [snap], [loop.encode(), later.encode()],
                                {"refs/heads/main": loop.id}).build(),
            tmp_path, "(missing, self-parented or cyclic)")
    # A bad signature.
    signed = sign_commit(c)
    forged = Commit(**{**signed.__dict__, "author_name": "Mallory"})
    refused(muse, dest, Crafted([blob], [snap], [forged.encode()],
                                {"refs/heads/main": forged.id}).build(),
            tmp_path, f"commit {forged.id} has a bad signature")
    # Declared sizes far beyond the data.
    huge = 1 << 40
    body = frame(KIND_HEADER, header(refs={"refs/heads/main": c.id}, objects=1,
                                     object_bytes=huge, snapshots=1, commits=1))
    body += object_frames(blob, size=huge) + frame(KIND_SNAPSHOT, snap)
    body += frame(KIND_COMMIT, c.encode())
    refused(muse, dest, seal(body), tmp_path, "cut short")
    # Absurd counts in the header.
    refused(muse, dest, seal(frame(KIND_HEADER, header(objects=1 << 50))), tmp_path,
            "bundle header declares absurd counts")


def test_list_heads_reads_only_the_header(src: tuple[Path, list[str]], muse: MuseRunner,
                                          tmp_path: Path) -> None:
    root, ids = src
    tag(root, "v1", ids[0])
    target = tmp_path / "inc.bundle"
    create_json(muse, root, target, "v1..main")
    header_frame = parse_frames(target.read_bytes())[0]
    cut = tmp_path / "header-only.bundle"
    cut.write_bytes(target.read_bytes()[: header_frame.end])  # everything else missing
    out = muse("bundle", "list-heads", str(cut), "--json", cwd=tmp_path)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["refs"] == {"refs/heads/main": ids[-1]}
    assert data["prerequisites"] == [ids[0]]
    assert data["capabilities"] == {"mandatory": ["sha256"], "optional": []}
    assert data["counts"]["commits"] == 2
    text = muse("bundle", "list-heads", str(cut), cwd=tmp_path).stdout
    assert text == f"{ids[-1]} refs/heads/main\nprerequisite {ids[0]}\n"
    assert muse("bundle", "verify", str(cut), cwd=tmp_path).exit_code == 5


def test_unbundle_stores_one_pack_and_no_loose_objects(
        src: tuple[Path, list[str]], muse: MuseRunner, tmp_path: Path) -> None:
    root, _ = src
    target = tmp_path / "all.bundle"
    made = create_json(muse, root, target, "main")
    dest = fresh_repo(muse, tmp_path / "dest")
    assert muse("bundle", "unbundle", str(target), cwd=dest).exit_code == 0
    packs = sorted(p.name for p in (dest / ".muse" / "packs").glob("pack-*"))
    assert packs == [f"pack-{made['bundle_id']}.bundle", f"pack-{made['bundle_id']}.idx"]
    assert (dest / ".muse" / "packs" / packs[0]).read_bytes() == target.read_bytes()
    loose = [p for p in (dest / ".muse" / "objects").rglob("*") if p.is_file()]
    assert loose == []


def test_missing_bundle_file_is_a_usage_error(repo_dir: Path, muse: MuseRunner) -> None:
    out = muse("bundle", "verify", "no-such.bundle", cwd=repo_dir)
    assert out.exit_code == 2 and "cannot open bundle no-such.bundle" in out.stderr


# -- the working tree under unbundle: the same rule as switch ------------------------------


def test_unbundle_never_destroys_an_untracked_folder_or_an_ignored_file(
        src: tuple[Path, list[str]], muse: MuseRunner, tmp_path: Path) -> None:
    root, ids = src
    dest = clone_of(muse, root, tmp_path)
    commit(muse, root, {"d": "a file named d", "build.log": "theirs"}, "four")
    create_json(muse, root, tmp_path / "ff.bundle", f"{ids[-1]}..main")
    write(dest, {"d/notes.txt": "my untracked notes", ".museignore": "build.log\n",
                 "build.log": "my ignored log"})
    before = tree_state(dest)
    out = muse("bundle", "unbundle", str(tmp_path / "ff.bundle"), cwd=dest)
    assert out.exit_code == 4, out.output
    assert "build.log (untracked), d/notes.txt (untracked)" in out.stderr
    assert tree_state(dest) == before


def test_unbundle_carries_local_changes_it_does_not_touch(
        src: tuple[Path, list[str]], muse: MuseRunner, tmp_path: Path) -> None:
    root, ids = src
    dest = clone_of(muse, root, tmp_path)
    commit(muse, root, {"song.mid": "v3"}, "four")
    create_json(muse, root, tmp_path / "ff.bundle", f"{ids[-1]}..main")
    write(dest, {"notes.txt": "edited here", "scratch.txt": "untracked"})
    out = muse("bundle", "unbundle", str(tmp_path / "ff.bundle"), cwd=dest)
    assert out.exit_code == 0, out.output
    assert (dest / "song.mid").read_text() == "v3"
    assert (dest / "notes.txt").read_text() == "edited here"
    assert muse("status", "--short", cwd=dest).stdout == "M notes.txt\nA scratch.txt\n"


def test_names_no_filesystem_can_hold_are_refused_at_verify(muse: MuseRunner, tmp_path: Path,
                                                            muse_home: Path) -> None:
    dest = fresh_repo(muse, tmp_path / "dest")
    raw = bytes.fromhex(hash_bytes(b"hello\n"))
    for path in ("n" * 256, "d/" + "é" * 128, ".muse-tmp-1", "a/.MUSE-TMP-x"):
        refused(muse, dest, with_snapshot_rows([(path, raw, 6, False)]), tmp_path,
                "snapshot holds an unsafe path")


def test_a_failed_ref_move_puts_the_tree_back(tmp_path: Path, muse_home: Path) -> None:
    import io

    from muse.bundle_ops import unbundle
    from muse.errors import RefConflictError
    from tests.bundle_repos import bundle_bytes, commit_files, history, make_repo

    source = make_repo(tmp_path / "src")
    ids = history(source)
    dest = make_repo(tmp_path / "dest")
    unbundle(dest, io.BytesIO(bundle_bytes(source, [ids[1]])[0]))
    assert dest.root is not None
    before = tree_state(dest.root)
    newer = commit_files(source, {"a.mid": b"newer", "new/one.txt": b"1"}, "four")

    def moved_meanwhile(*_args: object, **_kw: object) -> None:
        raise RefConflictError("refs/heads/main moved meanwhile")

    dest.refs.transaction = moved_meanwhile  # type: ignore[method-assign]
    with pytest.raises(RefConflictError):
        unbundle(dest, io.BytesIO(bundle_bytes(source, [newer], [ids[1]])[0]))
    assert dest.refs.read("refs/heads/main") == ids[1]
    after = {k: v for k, v in tree_state(dest.root).items() if not k.startswith(".muse")}
    assert after == {k: v for k, v in before.items() if not k.startswith(".muse")}
