"""User mistakes get one clear line, a hint and the documented exit code — and change nothing."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.testkit import MuseRunner, changes_nothing, tree_state

OUTSIDE_COMMANDS = [
    ("status",), ("commit", "-m", "x"), ("log",), ("diff",), ("show",), ("verify",),
    ("rev-parse", "HEAD"), ("cat-object", "HEAD"), ("diff", "HEAD", "HEAD~1"),
]


@pytest.mark.parametrize("args", OUTSIDE_COMMANDS)
def test_commands_outside_a_repository(muse: MuseRunner, tmp_path: Path,
                                       args: tuple[str, ...]) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    (outside / "song.mid").write_bytes(b"MThd")
    res = changes_nothing(muse, outside, *args, exit_code=3)
    assert res.stderr.startswith(f"error: not a Muse repository (or any parent up to /): "
                                 f"{outside.resolve()}")
    assert "hint: run `muse init`" in res.stderr
    assert "Traceback" not in res.output
    assert not (outside / ".muse").exists()


def test_outside_a_repository_in_a_real_process(muse: MuseRunner, tmp_path: Path) -> None:
    res = muse.proc("status", cwd=tmp_path)
    assert res.exit_code == 3 and "not a Muse repository" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.fixture
def committed(muse: MuseRunner, repo_dir: Path) -> Path:
    (repo_dir / "song.mid").write_bytes(b"MThd one")
    assert muse("commit", "-m", "one", cwd=repo_dir).exit_code == 0
    return repo_dir


@pytest.mark.parametrize("args, message", [
    (("log", "nope"), "unknown revision 'nope'"),
    (("show", "nope"), "unknown revision 'nope'"),
    (("diff", "nope"), "unknown revision 'nope'"),
    (("diff", "HEAD", "nope"), "unknown revision 'nope'"),
    (("rev-parse", "nope"), "unknown revision 'nope'"),
    (("cat-object", "nope"), "unknown revision 'nope'"),
    (("cat-object", "HEAD:absent.wav"), "'absent.wav' is not in HEAD"),
    (("cat-object", "ffff"), "unknown object 'ffff'"),
    (("show", "HEAD~5"), "goes past the first commit"),
    (("log", "HEAD^2"), "has no parent number 2"),
    (("diff", "a", "b", "c"), "diff takes at most two revisions"),
    (("cat-object", "-t", "-s", "HEAD"), "-t, -s and -p are exclusive"),
])
def test_bad_revisions_exit_2_and_change_nothing(muse: MuseRunner, committed: Path,
                                                 args: tuple[str, ...], message: str) -> None:
    before = tree_state(committed)
    res = muse(*args, cwd=committed)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: ") and message in res.stderr.splitlines()[0]
    assert res.stdout == ""
    assert tree_state(committed) == before


def test_unborn_branch_revisions(muse: MuseRunner, repo_dir: Path) -> None:
    before = tree_state(repo_dir)
    for args in (("show",), ("rev-parse", "HEAD"), ("diff", "HEAD")):
        res = muse(*args, cwd=repo_dir)
        assert res.exit_code == 2
        assert "HEAD does not point at a commit yet" in res.stderr
        assert "hint: make the first commit" in res.stderr
    assert tree_state(repo_dir) == before
    log = muse("log", cwd=repo_dir)
    assert log.exit_code == 0 and "no commits yet" in log.stdout
    assert json.loads(muse("log", "--json", cwd=repo_dir).stdout) == []


def test_init_twice_reinitialises_and_changes_nothing(muse: MuseRunner,
                                                     committed: Path) -> None:
    # As git: not an error (tests/test_init.py has the rest).
    res = changes_nothing(muse, committed, "init", exit_code=0)
    assert res.stdout.startswith("Reinitialised existing Muse repository in ")


@pytest.mark.parametrize("name", ["bad..name", "HEAD", "@", "-x"])
def test_bad_branch_name_at_init(muse: MuseRunner, tmp_path: Path, name: str) -> None:
    res = muse("init", "-b", name, cwd=tmp_path)
    assert res.exit_code == 2 and f"invalid branch name {name!r}" in res.stderr
    assert not (tmp_path / ".muse").exists()


def test_missing_object_on_read_is_integrity_error(muse: MuseRunner, committed: Path) -> None:
    blob = muse("cat-object", "-p", "HEAD:", cwd=committed).stdout.split()[1]
    (committed / ".muse/objects" / blob[:2] / blob[2:]).unlink()
    before = tree_state(committed)
    res = muse("cat-object", blob, cwd=committed)
    assert res.exit_code == 2 and "unknown object" in res.stderr  # no longer stored at all
    res = muse("diff", cwd=committed)  # the tree matches HEAD: nothing needs the blob
    assert res.exit_code == 0
    (committed / "song.mid").write_bytes(b"MThd two")
    res = muse("diff", cwd=committed)
    assert res.exit_code == 5
    assert f"error: object {blob} is missing" in res.stderr
    assert tree_state(committed) == {**before, "song.mid": b"MThd two"}


def test_corrupt_object_on_read_is_integrity_error(muse: MuseRunner, committed: Path) -> None:
    blob = muse("cat-object", "-p", "HEAD:", cwd=committed).stdout.split()[1]
    (committed / ".muse/objects" / blob[:2] / blob[2:]).write_bytes(b"MThd 0ne")
    res = muse("cat-object", "HEAD:song.mid", cwd=committed)
    assert res.exit_code == 5
    assert f"error: object {blob} is corrupt" in res.stderr
    assert "hint: run `muse verify`" in res.stderr


def test_unknown_command_and_option(muse: MuseRunner, committed: Path) -> None:
    assert muse("frobnicate", cwd=committed).exit_code == 2
    res = muse("verify", "--no-such-flag", cwd=committed)
    assert res.exit_code == 2 and res.stderr == ("error: no such option: --no-such-flag\n"
                                                 "hint: see `muse verify --help`\n")


LIGHT_IMPORT_CHECK = """
import sys
from muse.cli import cli
for args in (["--help"], ["status"]):
    try:
        cli.main(args, prog_name="muse", standalone_mode=False)
    except SystemExit:
        pass
heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in ("boto3", "botocore", "psycopg", "httpx"))
print("HEAVY=" + ",".join(heavy))
print("STATUS_OK=" + str("muse.worktree" in sys.modules))
"""


def test_help_and_status_stay_light(muse: MuseRunner, committed: Path) -> None:
    done = subprocess.run([sys.executable, "-c", LIGHT_IMPORT_CHECK], cwd=committed,
                          env=muse.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage: muse" in done.stdout  # --help really ran
    assert "nothing to commit" in done.stdout  # and so did status
    assert "HEAVY=\n" in done.stdout, done.stdout
    assert "STATUS_OK=True" in done.stdout


def _disk_fills_after(files: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the disk is full once `files` new objects have been written."""
    from muse.store import ObjectBatch

    real = ObjectBatch.add_stream
    written = []

    def add_stream(self: ObjectBatch, source: object) -> tuple[str, int]:
        if len(written) >= files:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/fake/.muse/tmp/object")
        written.append(source)
        return real(self, source)  # type: ignore[arg-type]

    monkeypatch.setattr(ObjectBatch, "add_stream", add_stream)


def test_a_full_disk_during_commit_is_one_line_and_changes_nothing(
        muse: MuseRunner, committed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        (committed / f"stem{i}.wav").write_bytes(os.urandom(3000))
    before = tree_state(committed)
    _disk_fills_after(2, monkeypatch)
    res = muse("commit", "-m", "five stems", cwd=committed)
    assert res.exit_code == 8
    assert res.stderr.splitlines() == [
        "error: No space left on device: /fake/.muse/tmp/object",
        "hint: free some space and run it again; nothing half-written was kept",
    ]
    assert tree_state(committed) == before  # no object, no ref, no leftovers in tmp/
    monkeypatch.undo()
    assert muse("verify", cwd=committed).exit_code == 0


def test_an_unexpected_os_error_is_reported_as_a_bug(
        muse: MuseRunner, committed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from muse.store import ObjectBatch

    def add_stream(self: ObjectBatch, source: object) -> tuple[str, int]:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    (committed / "new.wav").write_bytes(b"RIFF")
    monkeypatch.setattr(ObjectBatch, "add_stream", add_stream)
    res = muse("commit", "-m", "x", cwd=committed)
    assert res.exit_code == 70
    assert "internal error (this is a bug" in res.stderr and "Traceback" in res.stderr


# -- where a bundle or a bare remote would land ---------------------------------------


def test_bundle_create_into_a_missing_folder_is_refused(muse: MuseRunner, committed: Path,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "typo" / "deeper" / "song.bundle"
    result = changes_nothing(muse, committed, "bundle", "create", str(target), "main",
                             exit_code=2)
    assert "does not exist" in result.stderr
    assert not (tmp_path / "typo").exists()  # no folder made on the way


def test_bundle_create_onto_a_full_disk_is_exit_8_and_leaves_nothing(
        muse: MuseRunner, committed: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import muse.bundle_ops as ops

    def full(*args: object, **kw: object) -> object:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "out"))

    monkeypatch.setattr(ops, "write_bundle", full)
    out = tmp_path / "out"
    out.mkdir()
    result = muse("bundle", "create", str(out / "song.bundle"), "main", cwd=committed)
    assert result.exit_code == 8, result.output
    assert "No space left on device" in result.stderr
    assert list(out.iterdir()) == []  # neither the bundle nor its temporary file


def test_bundle_create_to_a_pipe_closed_early_fails(muse: MuseRunner, committed: Path) -> None:
    (committed / "stem.wav").write_bytes(os.urandom(3 << 20))
    assert muse("commit", "-m", "stem", cwd=committed).exit_code == 0
    writer = muse.popen("bundle", "create", "-", "main", cwd=committed,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout is not None and writer.stderr is not None
    writer.stdout.read(100)
    writer.stdout.close()  # as `| head -c 100` does
    code = writer.wait(timeout=60)
    err = writer.stderr.read().decode()
    writer.stderr.close()
    assert code == 8, err
    assert "cut short" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [("log",), ("log", "--json"), ("status",), ("show",)])
def test_a_closed_stdout_is_not_a_crash(muse: MuseRunner, committed: Path,
                                        args: tuple[str, ...]) -> None:
    """`muse log >&-`: Python has no sys.stdout at all; it used to crash (exit 70)."""
    done = subprocess.run([sys.executable, "-m", "muse", *args], cwd=committed,
                          env=muse.env(), stderr=subprocess.PIPE, timeout=60,
                          preexec_fn=lambda: os.close(1))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""


def test_with_every_stream_closed_output_never_lands_in_a_file(muse: MuseRunner,
                                                               committed: Path) -> None:
    """With 0, 1 and 2 closed, the first files a command opens would take them: what it
    prints would be written into the repository's own files."""
    (committed / "song.mid").write_bytes(b"MThd two")

    def close_all() -> None:
        for fd in (0, 1, 2):
            os.close(fd)

    done = subprocess.run([sys.executable, "-m", "muse", "commit", "-m", "two"],
                          cwd=committed, env=muse.env(), timeout=60, preexec_fn=close_all)
    assert done.returncode == 0
    checked = muse("verify", cwd=committed)
    assert checked.exit_code == 0, checked.output
    assert muse("log", "--oneline", cwd=committed).stdout.splitlines()[0].endswith(" two")


def test_init_bare_into_a_folder_of_other_files_is_refused(muse: MuseRunner,
                                                           tmp_path: Path) -> None:
    busy = tmp_path / "session"
    busy.mkdir()
    (busy / "drums.wav").write_bytes(b"RIFF")
    result = changes_nothing(muse, busy, "init", "--bare", exit_code=2)
    assert "needs a folder" in result.stderr
    empty = tmp_path / "remote.muse"
    empty.mkdir()
    assert muse("init", "--bare", cwd=empty).exit_code == 0
    assert (empty / "HEAD").is_file()


def test_a_config_parse_error_is_one_line_naming_the_line(muse: MuseRunner,
                                                         committed: Path) -> None:
    config = committed / ".muse" / "config"
    config.write_text(config.read_text() + "[unclosed\n")
    result = changes_nothing(muse, committed, "status", exit_code=7)
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: cannot parse {config}: line ")
    assert "neither [section] nor key = value" in lines[0]
    assert "\\x0a" not in result.stderr and "PosixPath" not in result.stderr
    assert lines[1].startswith("hint: fix that line")


def test_clone_of_an_empty_url_says_nothing_about_cloning(muse: MuseRunner,
                                                          tmp_path: Path) -> None:
    result = changes_nothing(muse, tmp_path, "clone", "", "x", exit_code=2)
    assert "Cloning into" not in result.output
    assert "invalid remote URL" in result.stderr


def test_a_damaged_head_is_called_damaged_not_detached(muse: MuseRunner, committed: Path,
                                                       tmp_path: Path) -> None:
    (committed / ".muse" / "HEAD").write_text("garbage\x1b[2J\n")
    for args in (("push", str(tmp_path / "remote.muse")), ("status",), ("log",)):
        result = changes_nothing(muse, committed, *args, exit_code=3)
        assert "HEAD is damaged: 'garbage\\x1b[2J'" in result.stderr, args
        assert "detached" not in result.stderr


def test_the_lazy_command_table_lists_every_command() -> None:
    """Commands load on first use from muse/cli/__init__.py's table: none may be missing,
    and each entry must name the command its module contributes under that name."""
    import importlib
    import pkgutil

    import muse.cli as cli_package
    from muse.cli import LAZY_COMMANDS

    contributed = {}
    for info in pkgutil.iter_modules(cli_package.__path__):
        module = importlib.import_module(f"muse.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            contributed[command.name] = command
    for name, command in contributed.items():
        assert name in LAZY_COMMANDS, f"`muse {name}` is not in LAZY_COMMANDS"
        module, attribute = LAZY_COMMANDS[name].split(":")
        assert getattr(importlib.import_module(module), attribute) is command


def _json_commands() -> list[tuple[str, ...]]:
    """Every command that takes --json (the hub's own administration aside), as the
    words that name it, with a placeholder for each argument it requires."""
    import click

    from muse.cli import LAZY_COMMANDS, cli

    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, words: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, (*words, name))
            return
        if any(p.name == "as_json" for p in command.params):
            required = [p for p in command.params
                        if isinstance(p, click.Argument) and p.required]
            found.append((*words, *("nowhere" for _ in required)))

    ctx = click.Context(cli)
    for name in sorted(LAZY_COMMANDS):
        if name != "hub":
            walk(cli.get_command(ctx, name), (name,))  # type: ignore[arg-type]
    return found


JSON_COMMANDS = _json_commands()


def test_every_json_command_is_found() -> None:
    names = {words[0] for words in JSON_COMMANDS}
    assert {"status", "log", "branch", "tag", "diff", "show", "verify", "bundle",
            "push", "stash", "gc", "reflog"} <= names


@pytest.mark.parametrize("words", JSON_COMMANDS, ids=" ".join)
def test_every_json_command_fails_as_one_json_object(muse: MuseRunner, tmp_path: Path,
                                                     words: tuple[str, ...]) -> None:
    """Outside a repository (and with placeholder arguments), a command asked for --json
    answers its error as one JSON object on stderr, never an `error:` line, and prints
    nothing else on stdout."""
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    before = tree_state(outside)
    res = muse(*words, "--json", cwd=outside)
    assert tree_state(outside) == before
    if res.exit_code == 0:
        json.loads(res.stdout)  # it had nothing to refuse: its output is still JSON
        return
    assert res.stdout == "" and "Traceback" not in res.stderr
    error = json.loads(res.stderr)["error"]
    assert error["exit_code"] == res.exit_code
    assert error["message"] and error["code"]


# Bytes that are not UTF-8 reach Python as lone surrogates ('\udcff' for 0xff).
NOT_UTF8_ARGUMENTS = [
    (("commit", "-m", "take \udcff"), "commit message holds bytes that are not valid UTF-8"),
    (("tag", "-a", "v1", "-m", "\udcff"), "tag message holds bytes that are not valid UTF-8"),
    (("stash", "push", "-m", "\udcff"), "commit message holds bytes that are not valid UTF-8"),
    (("branch", "b\udcff"), "invalid branch name"),
    (("switch", "-c", "b\udcff"), "invalid branch name"),
    (("tag", "t\udcff"), "invalid tag name"),
    (("remote", "add", "o\udcff", "/srv/song.muse"), "invalid remote name"),
    (("remote", "add", "origin", "/srv/song\udcff.muse"), "invalid remote URL"),
    (("clone", "/srv/song\udcff.muse", "copy"), "invalid remote URL"),
]


@pytest.mark.parametrize("args, message", NOT_UTF8_ARGUMENTS, ids=lambda a: " ".join(a[:2]))
def test_arguments_that_are_not_utf8_are_refused_not_a_crash(
        muse: MuseRunner, committed: Path, args: tuple[str, ...], message: str) -> None:
    (committed / "song.mid").write_bytes(b"MThd two")  # something to commit or stash
    res = changes_nothing(muse, committed, *args, exit_code=2)
    assert res.stderr.startswith(f"error: {message}"), res.stderr
    assert "hint: " in res.stderr


def test_an_identity_that_is_not_utf8_is_a_config_error(muse: MuseRunner, committed: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSE_AUTHOR_NAME", "Ada \udcff")
    (committed / "song.mid").write_bytes(b"MThd two")
    res = changes_nothing(muse, committed, "commit", "-m", "two", exit_code=7)
    assert "error: user.name holds bytes that are not valid UTF-8" in res.stderr


@pytest.mark.parametrize("args", [("log", "-n", "9" * 30), ("log", "--graph", "-n", "9" * 30),
                                  ("log", "--oneline", "--max-count", str(2 ** 64)),
                                  ("reflog", "show", "-n", "9" * 30)])
def test_a_count_larger_than_any_history_means_all(muse: MuseRunner, committed: Path,
                                                   args: tuple[str, ...]) -> None:
    """`-n` past sys.maxsize overflowed the slice applying it (a traceback, exit 70)."""
    res = changes_nothing(muse, committed, *args, exit_code=0)
    assert res.stdout and res.stdout == muse(*args[:-2], cwd=committed).stdout  # all of it


def test_a_negative_count_is_a_usage_error(muse: MuseRunner, committed: Path) -> None:
    res = changes_nothing(muse, committed, "log", "-n", "-1", exit_code=2)
    assert "-1 is not in the range x>=0" in res.stderr


def test_hub_serve_refuses_a_port_out_of_range(muse: MuseRunner, tmp_path: Path) -> None:
    res = changes_nothing(muse, tmp_path, "hub", "serve", "--data", str(tmp_path / "hub"),
                          "--port", "99999999999", exit_code=2)
    assert "is not in the range 0<=x<=65535" in res.stderr
    assert not (tmp_path / "hub").exists()


def test_hub_serve_on_a_port_in_use_is_one_line_and_creates_nothing(muse: MuseRunner,
                                                                    tmp_path: Path) -> None:
    """It printed "muse hub serving on …", then uvicorn's own error, and exited 3 (Muse's
    "repository" code); the hub's folder was created all the same."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = changes_nothing(muse, tmp_path, "hub", "serve", "--data", str(tmp_path / "hub"),
                              "--host", "127.0.0.1", "--port", str(port), exit_code=8)
    assert res.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use",
        "hint: another process (another hub?) holds that port: stop it, or pick another "
        "with --port"]
    assert not (tmp_path / "hub").exists()


def test_hub_serve_on_an_address_of_another_machine_is_a_usage_error(
        muse: MuseRunner, tmp_path: Path) -> None:
    res = changes_nothing(muse, tmp_path, "hub", "serve", "--data", str(tmp_path / "hub"),
                          "--host", "192.0.2.1", "--port", "8470", exit_code=2)
    assert res.stderr.startswith("error: cannot listen on 192.0.2.1:8470: ")
    assert "hint: give --host an address of this machine" in res.stderr


@pytest.mark.parametrize("args, message, hint", [
    (("log", "--bogus", "--json"), "no such option: --bogus", "see `muse log --help`"),
    (("--bogus", "status", "--json"), "no such option: --bogus", "see `muse --help`"),
    (("nosuch", "--json"), "no such command: nosuch", "see `muse --help`"),
    (("tag", "--json", "-m"), "option -m requires an argument", "see `muse tag --help`"),
    (("reflog", "expire", "--json", "--expire"), "option --expire requires an argument",
     "see `muse reflog expire --help`"),
    (("status", "--jsn", "--json"), "no such option: --jsn",
     "did you mean `--json`? (see `muse status --help`)"),
])
def test_parse_errors_under_json_are_json(muse: MuseRunner, committed: Path,
                                          args: tuple[str, ...], message: str,
                                          hint: str) -> None:
    res = changes_nothing(muse, committed, *args, exit_code=2)
    assert res.stdout == ""
    error = json.loads(res.stderr)["error"]
    assert error["code"] == "usage" and error["exit_code"] == 2
    assert error["message"] == message and error["hint"] == hint
    # The same words, as two lines, without --json: one translation for both.
    plain = changes_nothing(muse, committed, *[a for a in args if a != "--json"],
                            exit_code=2)
    assert plain.stderr == f"error: {message}\nhint: {hint}\n" and plain.stdout == ""


@pytest.mark.parametrize("args, message, hint", [
    (("status", "--bogus"), "no such option: --bogus", "see `muse status --help`"),
    (("status", "--jsn"), "no such option: --jsn",
     "did you mean `--json`? (see `muse status --help`)"),
    (("--bogus",), "no such option: --bogus", "see `muse --help`"),
    (("bundle", "--bogus"), "no such option: --bogus", "see `muse bundle --help`"),
    (("reflog", "expire", "--bogus"), "no such option: --bogus",
     "see `muse reflog expire --help`"),
    (("log", "-n", "x"), "invalid value for -n/--max-count: 'x' is not a valid count",
     "see `muse log --help`"),
    (("log", "-n"), "option -n requires an argument", "see `muse log --help`"),
    (("show", "HEAD", "b", "c"), "unexpected extra arguments: b c", "see `muse show --help`"),
    (("rev-parse", "HEAD", "HEAD", "--bogus"), "no such option: --bogus",
     "see `muse rev-parse --help`"),
    (("keys", "default"), "missing argument: FINGERPRINT", "see `muse keys default --help`"),
    (("bundle", "create"), "missing argument: FILE", "see `muse bundle create --help`"),
    (("xyzzy",), "no such command: xyzzy", "see `muse --help`"),
])
def test_parse_errors_are_one_line_and_a_hint(muse: MuseRunner, committed: Path,
                                              args: tuple[str, ...], message: str,
                                              hint: str) -> None:
    """As every Muse error: `error:` and `hint:`, exit 2; never click's usage block."""
    res = changes_nothing(muse, committed, *args, exit_code=2)
    assert res.stderr == f"error: {message}\nhint: {hint}\n" and res.stdout == ""
    assert "Usage:" not in res.output and "Try '" not in res.output


def test_parse_errors_after_double_dash_json_stay_plain(muse: MuseRunner,
                                                        committed: Path) -> None:
    # After `--`, `--json` is a path, not a request for JSON.
    res = changes_nothing(muse, committed, "diff", "--bogus", "--", "--json", exit_code=2)
    assert res.stderr.startswith("error: no such option: --bogus\n")


@pytest.mark.parametrize("args", [("--help",), ("status", "--help"), ("status", "-h"),
                                  ("bundle", "create", "--help"), ("help", "log"),
                                  ("--version",)])
def test_help_still_prints_and_succeeds(muse: MuseRunner, committed: Path,
                                        args: tuple[str, ...]) -> None:
    res = changes_nothing(muse, committed, *args, exit_code=0)
    assert res.stdout and "error:" not in res.output


@pytest.mark.parametrize("args", [(), ("bundle",)])
def test_a_bare_group_prints_its_help(muse: MuseRunner, committed: Path,
                                      args: tuple[str, ...]) -> None:
    """As click prints it (exit 2, as before): the help, no `error:` line."""
    res = changes_nothing(muse, committed, *args, exit_code=2)
    assert res.output.startswith("Usage: ") and "Commands:" in res.output
    assert "error:" not in res.output


@pytest.mark.parametrize("word, advice", [
    ("add", "Muse has no staging area"),
    ("checkout", "`muse switch BRANCH` changes branch"),
    ("fsck", "`muse verify`"),
    ("pul", "did you mean `muse pull`?"),
    ("comit", "did you mean `muse commit`?"),
])
def test_an_unknown_command_says_what_to_type(muse: MuseRunner, committed: Path, word: str,
                                              advice: str) -> None:
    res = changes_nothing(muse, committed, word, ".", exit_code=2)
    assert res.stderr.startswith(f"error: no such command: {word}\nhint: {advice}")
    as_json = json.loads(changes_nothing(muse, committed, word, "--json",
                                         exit_code=2).stderr)["error"]
    assert as_json["message"] == f"no such command: {word}" and advice in as_json["hint"]


def test_an_unknown_command_with_no_near_spelling_points_at_help(muse: MuseRunner,
                                                               committed: Path) -> None:
    res = changes_nothing(muse, committed, "xyzzy", exit_code=2)
    assert res.stderr == "error: no such command: xyzzy\nhint: see `muse --help`\n"
