"""Fuzzing the commands that move the working tree: random trees with symlinks, long names,
case variants and file/folder swaps, moved by switch, reset --hard, merge and unbundle.

Whatever happens, nothing outside the repository is touched (a sentinel folder the
planted links point into stays byte-for-byte the same), no untracked file or link is
lost, a command that keeps local work keeps it, and no command crashes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.testkit import MuseRunner

LONG = "n" * 250 + ".mid"  # a 254-byte name: the work-file name must still fit beside it
NAMES = ["a", "A", "b", "d", "x.mid", LONG]
OPS = ["switch", "switch --force", "reset --hard", "merge", "unbundle"]
KEEPS_LOCAL_EDITS = {"switch", "merge", "unbundle"}
DISTURBANCES = ["untracked", "ignored", "link-folder", "link-file", "swap"]

paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)
trees = st.dictionaries(paths, st.sampled_from([b"1", b"2", b"3"]), min_size=1, max_size=5)


def valid_tree(files: dict[str, bytes]) -> dict[str, bytes]:
    """Drop the paths that would need a file and a folder of the same name."""
    kept: dict[str, bytes] = {}
    for path in sorted(files, key=lambda p: (p.count("/"), p)):
        parts = path.split("/")
        if any("/".join(parts[:i]) in kept for i in range(1, len(parts))):
            continue
        if any(other.startswith(path + "/") for other in kept):
            continue
        kept[path] = files[path]
    return kept


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for child in root.iterdir():
        if child.name != ".muse":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


def ok(muse: MuseRunner, root: Path, *args: str) -> None:
    result = muse(*args, cwd=root)
    assert result.exit_code == 0, (args, result.output)


def setup_repo(muse: MuseRunner, root: Path, first: dict[str, bytes],
               second: dict[str, bytes], op: str) -> None:
    """HEAD at a commit of `first`; the op's target (`other`, or a bundle) holds `second`."""
    root.mkdir()
    ok(muse, root, "init")
    write_tree(root, first)
    ok(muse, root, "commit", "-m", "first")
    ok(muse, root, "switch", "-c", "other")
    write_tree(root, second)
    ok(muse, root, "commit", "-m", "second", "--allow-empty")
    if op == "unbundle":
        ok(muse, root, "bundle", "create", str(root.parent / "move.bundle"), "other")
        ok(muse, root, "switch", "main")
        ok(muse, root, "branch", "-d", "-f", "other")
        ok(muse, root, "switch", "-c", "other")  # checked out at `first`: the bundle moves it
    else:
        ok(muse, root, "switch", "main")


def disturb(root: Path, outside: Path, kind: str, path: str) -> None:
    """Make one local change; one the tree cannot take (a file in the way) is skipped."""
    target = root / path
    try:
        if target.is_dir() and not target.is_symlink() and kind in ("link-folder", "swap"):
            shutil.rmtree(target)
            kind = "untracked" if kind == "swap" else kind
        elif target.is_file() and kind == "swap":
            target.unlink()
            target = target / "inside.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):
            return
        if kind == "link-folder":
            target.symlink_to(outside, target_is_directory=True)
        elif kind == "link-file":
            target.symlink_to(outside / "f")
        else:
            target.write_bytes(f"local {kind} {path}".encode())
            if kind == "ignored":
                with open(root / ".museignore", "a") as rules:
                    rules.write(f"/{path}\n")
    except OSError:
        return


@dataclass
class Local:
    """What the working tree holds that Muse must not lose."""

    untracked: dict[str, bytes]
    edited: dict[str, bytes]
    links: dict[str, str]


def local_state(root: Path, head: dict[str, bytes]) -> Local:
    untracked, edited, links = {}, {}, {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not (dirpath == str(root) and d == ".muse")]
        for name in [*files, *dirs]:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                links[rel] = os.readlink(full)
            elif full.is_file():
                data = full.read_bytes()
                if rel not in head:
                    untracked[rel] = data
                elif data != head[rel]:
                    edited[rel] = data
    return Local(untracked, edited, links)


def make_sentinel(outside: Path, *trees: dict[str, bytes]) -> Path:
    """A folder holding a file at every tail of the trees' paths (`x` for `d/x`), so a
    write or unlink through a link planted at any of their folders would hit one."""
    outside.mkdir()
    (outside / "f").write_bytes(b"sentinel")
    for tree in trees:
        for rel in tree:
            parts = rel.split("/")
            for start in range(len(parts)):
                _plant(outside, parts[start:])
    return outside


def _plant(outside: Path, parts: list[str]) -> None:
    for depth in range(1, len(parts) + 1):
        here = outside.joinpath(*parts[:depth])
        if depth == len(parts):
            if not os.path.lexists(here):
                here.write_bytes(b"sentinel " + "/".join(parts).encode())
        elif not os.path.lexists(here):
            here.mkdir()
        elif not here.is_dir():
            return  # a folder of one path is a file of another: the first one wins


def folders(*trees: dict[str, bytes]) -> list[str]:
    """Every folder of the trees: where a planted link does the most harm."""
    found = set()
    for tree in trees:
        for rel in tree:
            parts = rel.split("/")
            found.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return sorted(found)


def local_changes(first: dict[str, bytes], second: dict[str, bytes]
                  ) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Mostly aimed at the trees' own paths and folders, sometimes anywhere."""
    aimed = sorted(set(first) | set(second) | set(folders(first, second)))
    where = st.one_of(st.sampled_from(aimed), paths)
    change = st.tuples(st.sampled_from(DISTURBANCES), where)
    links = [st.tuples(st.just("link-folder"), st.sampled_from(f))
             for f in [folders(first, second)] if f]
    return st.lists(st.one_of(change, *links), min_size=1, max_size=5)


def sentinel_state(outside: Path) -> list[tuple[str, bytes | None]]:
    found: list[tuple[str, bytes | None]] = []
    for dirpath, dirs, files in os.walk(outside):
        for name in sorted(dirs):
            found.append((os.path.join(dirpath, name), None))
        for name in sorted(files):
            found.append((os.path.join(dirpath, name), Path(dirpath, name).read_bytes()))
    return sorted(found)


def run_op(muse: MuseRunner, root: Path, op: str) -> tuple[int, str]:
    if op == "unbundle":
        args = ["bundle", "unbundle", str(root.parent / "move.bundle")]
    else:
        args = [*op.split(), "other"]
    result = muse(*args, cwd=root)
    return result.exit_code, result.output


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=trees, second=trees, op=st.sampled_from(OPS), data=st.data())
def test_moving_the_tree_never_loses_or_escapes(muse: MuseRunner, first: dict[str, bytes],
                                                second: dict[str, bytes], op: str,
                                                data: st.DataObject) -> None:
    first, second = valid_tree(first), valid_tree(second)
    changes = data.draw(local_changes(first, second), label="local changes")
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        outside = make_sentinel(base / "outside", first, second)
        root = base / "work"
        setup_repo(muse, root, first, second, op)
        for kind, path in changes:
            disturb(root, outside, kind, path)
        before_outside = sentinel_state(outside)
        local = local_state(root, first)

        code, output = run_op(muse, root, op)

        assert "Traceback" not in output and code in (0, 4), (op, code, output)
        assert sentinel_state(outside) == before_outside, output
        for rel, data in local.untracked.items():
            full = root / rel
            assert full.is_file() and not full.is_symlink(), (rel, output)
            assert full.read_bytes() == data, (rel, output)
        for rel, link in local.links.items():
            assert os.readlink(root / rel) == link, (rel, output)
        if op in KEEPS_LOCAL_EDITS:
            for rel, data in local.edited.items():
                assert (root / rel).read_bytes() == data, (rel, output)
        if code == 0:
            for rel, data in second.items():
                if first.get(rel) != data and rel not in local.edited:
                    assert (root / rel).read_bytes() == data, (rel, output)


@pytest.mark.parametrize("op", OPS)
def test_a_clean_move_between_swapped_trees(muse: MuseRunner, tmp_path: Path, op: str) -> None:
    # The fixed case the fuzzer grows from: a file becomes a folder, a name its case variant.
    first = {"d": b"1", "a": b"2", LONG: b"3"}
    second = {"d/" + LONG: b"1", "A": b"2", "a/b": b"3"}
    root = tmp_path / "work"
    setup_repo(muse, root, first, second, op)
    code, output = run_op(muse, root, op)
    assert code == 0, output
    for rel, data in second.items():
        assert (root / rel).read_bytes() == data
    assert not (root / LONG).exists()
