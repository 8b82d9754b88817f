"""Ctrl-C at many points of switch, commit, push and clone: a prompt exit 130, nothing left over.

Each test first times the command uninterrupted, then sends SIGINT to real
processes at evenly spread fractions of that time, and after each one checks
what a user would: the command ended within seconds, `status` shows no work
file and nothing half-done, `.muse/tmp` is empty, and `verify` is clean.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.branching_support import commit, ref, repo, write
from tests.remote_support import bare, ok, remote_refs
from tests.testkit import MuseRunner

PROMPT_SECONDS = 10.0  # an interrupted command must be gone well within this
POINTS = 8             # interrupts spread over one uninterrupted run
# Exit statuses an interrupted command may end with: done before the signal (0), stopped
# by it (130), or killed by it before Python's handler was in place / after it was removed.
ENDED = {0, 130, -signal.SIGINT}


def _default_sigint() -> None:
    # A child of a process that ignores SIGINT (a background job) would ignore it too.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def python_sigint_handler() -> Iterator[None]:
    """Python's own Ctrl-C handler for each test, even when the suite runs as a background
    job (which starts with SIGINT ignored, and Python then leaves it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _timed(muse: MuseRunner, args: list[str], cwd: Path) -> float:
    started = time.monotonic()
    result = muse.proc(*args, cwd=cwd)
    assert result.exit_code == 0, result.output
    return time.monotonic() - started


def _interrupt(muse: MuseRunner, args: list[str], cwd: Path, delay: float) -> int:
    """Run `muse ARGS`, send SIGINT after `delay` s; the exit status, once it ended promptly."""
    child = muse.popen(*args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=_default_sigint)
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        _out, err = child.communicate(timeout=PROMPT_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"`muse {' '.join(args)}` still ran {PROMPT_SECONDS} s after Ctrl-C "
                    f"(sent at {delay:.2f} s)")
    assert child.returncode in ENDED, err.decode(errors="replace")
    assert b"Traceback" not in err
    assert time.monotonic() - sent < PROMPT_SECONDS
    return child.returncode


def _python_start() -> float:
    """How long the interpreter takes to start (site included), before any Muse code runs:
    an interrupt in there is Python's to report, so the points start after it."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - started


def _delays(full: float) -> list[float]:
    first = min(2 * _python_start(), full / 2)
    return [first + (full - first) * i / (POINTS - 1) for i in range(POINTS)]


def _status(muse: MuseRunner, cwd: Path) -> dict:
    result = muse.proc("status", "--json", cwd=cwd)
    assert result.exit_code == 0, result.output
    data: dict = json.loads(result.stdout)
    assert not any(".muse-tmp-" in c["path"] for c in data["changes"]), data
    return data


def _clean_afterwards(muse: MuseRunner, cwd: Path) -> dict:
    """status lists no work file, `.muse/tmp` is empty after it, verify finds nothing."""
    data = _status(muse, cwd)
    assert list((cwd / ".muse" / "tmp").glob("*")) == []
    checked = muse.proc("verify", cwd=cwd)
    assert checked.exit_code == 0, checked.output
    return data


def _no_work_files(root: Path) -> None:
    """No `.muse-tmp-` file is left in the working tree (the scan sweeps dead ones)."""
    left = [p for p in root.rglob(".muse-tmp-*") if ".muse" not in p.relative_to(root).parts[:1]]
    assert left == []


def _stems(root: Path, count: int, size: int, seed: int) -> None:
    for i in range(count):
        write(root, f"stems/take{i:03d}.wav", bytes([seed]) * 16 + os.urandom(size))


def test_interrupted_switch_leaves_one_side_whole_and_no_work_file(muse, repo_dir):
    _stems(repo_dir, 60, 400_000, 1)
    main = commit(muse, repo_dir, "main takes")
    ok(muse("switch", "-c", "other", cwd=repo_dir))
    _stems(repo_dir, 60, 400_000, 2)
    other = commit(muse, repo_dir, "other takes")
    full = _timed(muse, ["switch", "main"], repo_dir)
    interrupted = 0
    for delay in _delays(full):
        code = _interrupt(muse, ["switch", "other"], repo_dir, delay)
        interrupted += code != 0
        _no_work_files(repo_dir)
        data = _clean_afterwards(muse, repo_dir)
        # Either the switch happened or it was undone: never half of each side.
        assert data["changes"] == [], data
        assert data["head"] in (main, other)
        if data["head"] == other:
            ok(muse("switch", "main", cwd=repo_dir))
    assert interrupted, "no interrupt landed while the command ran"


def test_interrupted_commit_records_all_or_nothing_and_keeps_no_copy(muse, repo_dir):
    _stems(repo_dir, 40, 1_000_000, 3)
    commit(muse, repo_dir, "first takes")
    _stems(repo_dir, 40, 1_000_000, 3)
    full = _timed(muse, ["commit", "-m", "second takes"], repo_dir)
    interrupted = 0
    for i, delay in enumerate(_delays(full)):
        _stems(repo_dir, 40, 1_000_000, 3)  # new bytes: a commit has 40 MB to store again
        head = ref(repo_dir, "refs/heads/main")
        code = _interrupt(muse, ["commit", "-m", f"take {i}"], repo_dir, delay)
        interrupted += code != 0
        data = _clean_afterwards(muse, repo_dir)
        if data["head"] == head:  # not recorded: every change is still only in the tree
            assert len(data["changes"]) == 40
            assert {c["status"] for c in data["changes"]} == {"modified"}
        else:
            assert data["changes"] == []
    assert interrupted, "no interrupt landed while the command ran"


def test_interrupted_push_ends_promptly_and_a_second_push_completes(muse, repo_dir, tmp_path):
    _stems(repo_dir, 40, 1_500_000, 4)
    head = commit(muse, repo_dir, "takes")
    probe = bare(muse, tmp_path, "probe.muse")
    full = _timed(muse, ["push", str(probe), "main"], repo_dir)
    interrupted = 0
    for i, delay in enumerate(_delays(full)):
        remote = bare(muse, tmp_path, f"r{i}.muse")
        code = _interrupt(muse, ["push", str(remote), "main"], repo_dir, delay)
        interrupted += code != 0
        assert remote_refs(muse, remote, tmp_path) in ({}, {"refs/heads/main": head})
        _clean_afterwards(muse, repo_dir)
        ok(muse.proc("push", str(remote), "main", cwd=repo_dir))
        assert remote_refs(muse, remote, tmp_path) == {"refs/heads/main": head}
    assert interrupted, "no interrupt landed while the command ran"


def test_interrupted_clone_leaves_no_folder_or_a_whole_clone(muse, repo_dir, tmp_path):
    _stems(repo_dir, 40, 1_000_000, 5)
    head = commit(muse, repo_dir, "takes")
    remote = bare(muse, tmp_path)
    ok(muse.proc("push", str(remote), "main", cwd=repo_dir))
    full = _timed(muse, ["clone", str(remote), str(tmp_path / "probe")], tmp_path)
    for i, delay in enumerate(_delays(full)):
        dest = tmp_path / f"c{i}"
        _interrupt(muse, ["clone", str(remote), str(dest)], tmp_path, delay)
        # Gone, or whole: an interrupt after the clone's last step (while it prints, or
        # as Python exits) finds the work done.
        if dest.exists():
            assert _clean_afterwards(muse, dest)["head"] == head


def test_interrupted_fetch_moves_no_ref_it_has_not_stored(muse, repo_dir, tmp_path):
    _stems(repo_dir, 40, 1_000_000, 6)
    head = commit(muse, repo_dir, "takes")
    remote = bare(muse, tmp_path)
    ok(muse.proc("push", str(remote), "main", cwd=repo_dir))

    def fresh(name: str) -> Path:
        path = tmp_path / name
        path.mkdir()
        ok(muse("init", cwd=path))
        ok(muse("remote", "add", "origin", str(remote), cwd=path))
        return path

    full = _timed(muse, ["fetch", "origin"], fresh("probe"))
    for i, delay in enumerate(_delays(full)):
        local = fresh(f"f{i}")
        _interrupt(muse, ["fetch", "origin"], local, delay)
        assert ref(local, "refs/remotes/origin/main") in (None, head)
        _clean_afterwards(muse, local)


# The bundle writer's thread hand-over, interrupted thousands of times: before Ctrl-C was
# deferred there, one landing inside the queue's lock left it held and both threads waited.
_PESTER = textwrap.dedent("""
    import io, random, signal, threading, time
    import muse.bundle as bundle
    bundle.WRITE_BATCH = 1   # every write is a hand-over: the most chances to land inside one
    bundle.WRITE_QUEUE = 1

    class Sink(io.RawIOBase):
        def writable(self): return True
        def fileno(self): raise OSError("in memory")
        def write(self, data): return len(data)

    def inside_the_writer(signum, frame):
        # Only the writer's code is the target: an interrupt in this script's own loop or
        # `except` clause would end the script, not test the writer.
        if frame is not None and frame.f_code.co_name != "<module>":
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, inside_the_writer)
    main = threading.get_ident()
    pestering = True
    def pester():
        while pestering:
            time.sleep(random.uniform(0.0001, 0.002))
            signal.pthread_kill(main, signal.SIGINT)
    threading.Thread(target=pester, daemon=True).start()
    interrupted = 0
    for _ in range(ROUNDS):
        try:
            writer = bundle._HashingWriter(Sink(), None)
            try:
                for _ in range(200):
                    writer.write(b"x" * 100)
                writer.digest()
            except BaseException:
                writer.close(discard=True)
                raise
            writer.close()
        except KeyboardInterrupt:
            interrupted += 1
    pestering = False
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # one still in flight must not end the exit
    print(interrupted)
""")


def test_bundle_writer_never_deadlocks_under_repeated_interrupts(tmp_path):
    script = tmp_path / "pester.py"
    script.write_text(_PESTER.replace("ROUNDS", "1500"))
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[1],
                              preexec_fn=_default_sigint)
    except subprocess.TimeoutExpired:
        pytest.fail("the bundle writer deadlocked under repeated interrupts")
    assert done.returncode == 0, done.stderr.decode()
    assert int(done.stdout) > 0  # the interrupts did land


# -- the pieces, in-process -------------------------------------------------------------


def test_an_interrupt_inside_a_deferred_block_arrives_just_after_it():
    from muse.interrupts import deferred_interrupts

    reached_end = False
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        signal.raise_signal(signal.SIGINT)
        reached_end = True  # not raised inside the block
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_deferred_block_without_interrupt_changes_nothing():
    from muse.interrupts import deferred_interrupts

    with deferred_interrupts():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_batch_interrupted_while_installing_leaves_no_work_folder(tmp_path, monkeypatch):
    from muse import store as store_module
    from muse.store import ObjectStore

    store = ObjectStore(tmp_path)
    batch = store.batch()
    for i in range(3):
        batch.add_bytes(b"take %d" % i)
    assert list(store.tmp_dir.iterdir())

    def interrupted(_paths: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module, "_make_durable", interrupted)
    with pytest.raises(KeyboardInterrupt):
        batch.commit()
    assert list(store.tmp_dir.iterdir()) == []


def test_an_interrupted_multipart_upload_does_not_send_every_queued_part(tmp_path,
                                                                        monkeypatch):
    import threading

    from remotes import s3

    sent: list[int] = []
    lock = threading.Lock()

    class SlowClient:
        def upload_part(self, **kw: object) -> dict[str, str]:
            time.sleep(0.05)
            with lock:
                sent.append(int(kw["PartNumber"]))  # type: ignore[call-overload]
            return {"ETag": '"x"'}

    def interrupted(_path: object) -> str:
        time.sleep(0.01)  # the first parts are under way
        raise KeyboardInterrupt

    monkeypatch.setattr(s3, "_file_sha256", interrupted)
    source = tmp_path / "bundle"
    source.write_bytes(b"x" * 64 * 1024)
    bucket = s3.S3Bucket(SlowClient(), "b", part_size=1024, workers=2,
                         verdicts=s3.ProbeVerdicts(tmp_path / "verdicts"))
    with pytest.raises(KeyboardInterrupt):
        bucket._send_parts("key", "upload", source, 64 * 1024, {})
    assert len(sent) <= 4  # the parts in flight, not all 64


def test_an_interrupt_wrapped_by_python_is_still_an_interrupt(muse, repo_dir, monkeypatch):
    """A Ctrl-C inside a class being built reaches Muse as a RuntimeError whose cause is the
    KeyboardInterrupt: exit 130 and one line, not an internal error."""
    from muse.cli import repo_cmds

    def wrapped(*_args: object, **_kw: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__") from exc

    monkeypatch.setattr(repo_cmds, "_status_data", wrapped)
    result = muse("status", cwd=repo_dir)
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"


# -- a tree move and its ref move, interrupted between the two -------------------------------


def _two_sides(muse: MuseRunner, root: Path) -> tuple[str, str]:
    """main and a later `other` that rewrites, adds and removes files."""
    write(root, "a.mid", b"main a")
    write(root, "gone.wav", b"main only")
    main = commit(muse, root, "main")
    ok(muse("switch", "-c", "other", cwd=root))
    write(root, "a.mid", b"other a")
    (root / "gone.wav").unlink()
    write(root, "new/b.wav", b"other b")
    other = commit(muse, root, "other")
    ok(muse("switch", "main", cwd=root))
    return main, other


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".muse" not in p.relative_to(root).parts}


def _interrupt_after_first_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C just after the files were moved (once): the moment before the ref is."""
    from muse.worktree import WorkTree

    original = WorkTree.apply
    calls: list[int] = []

    def apply(self: WorkTree, *args: object, **kw: object) -> None:
        original(self, *args, **kw)  # type: ignore[arg-type]
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(WorkTree, "apply", apply)


def test_a_switch_interrupted_before_head_moves_puts_the_files_back(muse, repo_dir,
                                                                   monkeypatch):
    from muse.checkout import switch_branch

    _main, _other = _two_sides(muse, repo_dir)
    before = _files(repo_dir)
    _interrupt_after_first_apply(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        switch_branch(repo(repo_dir), "other")
    assert _files(repo_dir) == before
    assert repo(repo_dir).current_branch() == "main"
    assert _status(muse, repo_dir)["changes"] == []


def test_an_interrupt_during_the_head_move_arrives_after_it_with_both_moved(muse, repo_dir,
                                                                           monkeypatch):
    from muse.checkout import switch_branch
    from muse.refs import RefStore

    _main, other = _two_sides(muse, repo_dir)
    original = RefStore.set_head

    def set_head(self: RefStore, *args: object) -> None:
        signal.raise_signal(signal.SIGINT)  # held back until HEAD's move is whole
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(RefStore, "set_head", set_head)
    with pytest.raises(KeyboardInterrupt):
        switch_branch(repo(repo_dir), "other")
    assert repo(repo_dir).head() == other
    assert _status(muse, repo_dir)["changes"] == []


@pytest.mark.parametrize("how", ["merge", "pull"])
def test_a_fast_forward_interrupted_after_its_files_puts_the_ref_and_files_back(
        muse, repo_dir, monkeypatch, how):
    from muse.merge import merge
    from muse.remotes_config import fast_forward

    main, other = _two_sides(muse, repo_dir)
    before = _files(repo_dir)
    _interrupt_after_first_apply(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        if how == "merge":
            merge(repo(repo_dir), other, label="other")
        else:
            fast_forward(repo(repo_dir), other, "origin/other")
    assert _files(repo_dir) == before
    assert ref(repo_dir, "refs/heads/main") == main
    assert _status(muse, repo_dir)["changes"] == []


def test_a_merge_commit_interrupted_after_its_files_puts_the_ref_and_files_back(
        muse, repo_dir, monkeypatch):
    from muse.merge import merge

    write(repo_dir, "a.mid", b"base")
    write(repo_dir, "b.mid", b"base")
    commit(muse, repo_dir, "base")
    ok(muse("switch", "-c", "other", cwd=repo_dir))
    write(repo_dir, "b.mid", b"other")
    other = commit(muse, repo_dir, "other")
    ok(muse("switch", "main", cwd=repo_dir))
    write(repo_dir, "a.mid", b"main")
    main = commit(muse, repo_dir, "main")
    before = _files(repo_dir)
    _interrupt_after_first_apply(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        merge(repo(repo_dir), other, label="other", sign=False)
    assert _files(repo_dir) == before
    assert ref(repo_dir, "refs/heads/main") == main
    assert _status(muse, repo_dir)["changes"] == []
