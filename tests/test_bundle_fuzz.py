"""Property: a mutated bundle is either accepted whole or refused with a MuseError, nothing else."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from muse.bundle import BundleReader
from muse.errors import BundleError, MuseError
from muse.receive import receive_bundle
from tests.bundle_craft import parse_frames
from tests.bundle_repos import bundle_bytes, history, make_repo
from tests.conftest import tree_state


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A full bundle (signed and unsigned commits) and an incremental one."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    mp.setenv("MUSE_CONFIG_DIR", str(home))
    try:
        from muse.config import user_config
        from muse.keys import generate_key

        user_config().set("user.name", "Fuzz")
        user_config().set("user.email", "fuzz@example.org")
        generate_key()
        repo = make_repo(tmp_path_factory.mktemp("src"))
        ids = history(repo)
        full, _ = bundle_bytes(repo, [ids[-1]])
        incremental, _ = bundle_bytes(repo, [ids[-1]], [ids[0]])
    finally:
        mp.undo()
    return [full, incremental]


def mutate(data: bytes, op: str, pos: int, arg: int, blob: bytes) -> bytes:
    pos %= len(data) + 1
    if op == "flip":
        pos = min(pos, len(data) - 1)
        return data[:pos] + bytes([data[pos] ^ (arg % 255 + 1)]) + data[pos + 1 :]
    if op == "insert":
        return data[:pos] + blob + data[pos:]
    if op == "delete":
        return data[:pos] + data[pos + 1 + arg % 64 :]
    if op == "truncate":
        return data[:pos]
    if op == "frame-splice":
        # Move a whole frame elsewhere, or drop it: structurally plausible damage.
        frames = parse_frames(data, strict=False)
        if not frames:
            return data[: pos // 2]
        f = frames[arg % len(frames)]
        piece = data[f.offset : f.end]
        rest = data[: f.offset] + data[f.end :]
        at = pos % (len(rest) + 1)
        return rest[:at] + (piece if blob else b"") + rest[at:]
    # splice: a slice of the bundle copied over another place
    length = 1 + arg % 128
    src = (pos * 7 + arg) % max(1, len(data) - length)
    return data[:pos] + data[src : src + length] + data[pos + length :]


OPS = st.sampled_from(["flip", "insert", "delete", "truncate", "splice", "frame-splice"])


def check(data: bytes) -> None:
    try:
        summary = BundleReader(io.BytesIO(data)).verify()
    except MuseError as exc:
        assert isinstance(exc, BundleError), repr(exc)
        assert exc.exit_code == 5 and str(exc)
        return
    # Accepted: it must then be a bundle whose checksum seals every byte.
    assert summary.size == len(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 1), op=OPS, pos=st.integers(0, 1 << 16),
       arg=st.integers(0, 1 << 16), blob=st.binary(max_size=40))
def test_mutated_bundles_raise_only_muse_errors(bundles: list[bytes], which: int, op: str,
                                                pos: int, arg: int, blob: bytes) -> None:
    check(mutate(bundles[which], op, pos, arg, blob))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.tuples(OPS, st.integers(0, 1 << 16), st.integers(0, 1 << 16),
                              st.binary(max_size=12)), min_size=2, max_size=5))
def test_stacked_mutations(bundles: list[bytes], ops: list[tuple[str, int, int, bytes]]) -> None:
    data = bundles[0]
    for op, pos, arg, blob in ops:
        if not data:
            break
        data = mutate(data, op, pos, arg, blob)
    check(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(op=OPS, pos=st.integers(0, 1 << 16), arg=st.integers(0, 1 << 16),
       blob=st.binary(max_size=40))
def test_receiving_a_mutated_bundle_is_all_or_nothing(
        bundles: list[bytes], tmp_path: Path, op: str, pos: int, arg: int,
        blob: bytes) -> None:
    dest = tmp_path / f"dest-{op}-{pos}-{arg}-{len(blob)}"
    repo = make_repo(dest) if not dest.exists() else None
    if repo is None:
        return  # the same example again: already checked
    before = tree_state(dest)
    data = mutate(bundles[0], op, pos, arg, blob)
    try:
        received = receive_bundle(repo.store, io.BytesIO(data))
    except MuseError:
        assert tree_state(dest) == before
        return
    assert received.summary.size == len(data)
