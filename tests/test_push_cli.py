"""`muse push`: refspecs, --json, --dry-run, non-ff, --force, --tags, --all, -u; progress."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from muse.cli.progress import NoProgress, RichProgress, ci_enabled, make_progress, should_show
from tests.branching_support import commit, ref, repo, write
from tests.remote_support import bare, clone_of, ok, published, remote_refs
from tests.testkit import changes_nothing, tree_state

PUSH_KEYS = ["remote", "url", "refs", "commits", "objects", "bytes", "dry_run"]


@pytest.fixture
def two_commits(muse, repo_dir: Path) -> tuple[str, str]:
    write(repo_dir, "song.mid", "verse")
    first = commit(muse, repo_dir, "first")
    write(repo_dir, "stems/bass.wav", b"\x00\x01" * 5000)
    second = commit(muse, repo_dir, "second")
    return first, second


# -- round trips and output --------------------------------------------------------------


def test_first_push_creates_the_branch_and_tracking_ref(muse, repo_dir, tmp_path, two_commits):
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    result = ok(muse("push", cwd=repo_dir))
    lines = result.stdout.splitlines()
    assert lines[0] == f"To {remote}"
    assert lines[1] == " * [new branch]  main -> main"
    assert lines[2].startswith("Pushed 2 commits, 2 objects (")
    assert remote_refs(muse, remote, tmp_path) == {"refs/heads/main": two_commits[1]}
    assert ref(repo_dir, "refs/remotes/origin/main") == two_commits[1]
    again = ok(muse("push", cwd=repo_dir))
    assert " = [up to date]  main -> main" in again.stdout
    assert "Everything up to date" in again.stdout


def test_fast_forward_line_shows_old_and_new(muse, repo_dir, tmp_path):
    _remote, first = published(muse, repo_dir, tmp_path)
    write(repo_dir, "song.mid", "chorus")
    second = commit(muse, repo_dir, "chorus")
    result = ok(muse("push", cwd=repo_dir))
    assert f"   {first[:12]}..{second[:12]}  main -> main" in result.stdout
    assert result.stdout.count("Pushed 1 commit, 1 object") == 1


def test_push_json_is_one_object_with_the_documented_shape(muse, repo_dir, tmp_path,
                                                           two_commits):
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    result = ok(muse("push", "--json", cwd=repo_dir))
    data = json.loads(result.stdout)
    assert list(data) == PUSH_KEYS
    assert data["remote"] == "origin" and data["url"] == str(remote)
    assert data["refs"] == [{"name": "refs/heads/main", "old": None, "new": two_commits[1],
                             "status": "created", "reason": None}]
    assert data["commits"] == 2 and data["objects"] == 2
    assert data["bytes"] > 10000  # the stem alone is 10 kB
    assert data["dry_run"] is False
    assert result.stderr == ""  # no progress, no chatter


def test_push_to_a_url_without_a_configured_remote(muse, repo_dir, tmp_path, two_commits):
    remote = bare(muse, tmp_path)
    data = json.loads(ok(muse("push", f"file://{remote}", "main", "--json",
                              cwd=repo_dir)).stdout)
    assert data["remote"] is None
    assert remote_refs(muse, remote, tmp_path) == {"refs/heads/main": two_commits[1]}
    assert repo(repo_dir).refs.list("refs/remotes/") == {}


@pytest.mark.parametrize("spelling", ["../remote.muse", "./../remote.muse",
                                      "{tmp}/work/../remote.muse", "remote-link"])
def test_a_path_works_wherever_a_remote_name_does(muse, repo_dir, tmp_path, two_commits,
                                                  spelling):
    # `..`, `./` and `/../` are never looked up as remote names (they cannot be one), and a
    # bare word that names an existing path is that path, as git takes it.
    remote = bare(muse, tmp_path)
    (repo_dir / "remote-link").symlink_to(remote)
    word = spelling.format(tmp=tmp_path)
    pushed = muse("push", word, "main", cwd=repo_dir)
    assert pushed.exit_code == 0, pushed.output
    assert remote_refs(muse, remote, tmp_path) == {"refs/heads/main": two_commits[1]}
    assert muse("ls-remote", word, cwd=repo_dir).exit_code == 0


def test_a_configured_remote_wins_over_a_path_of_the_same_name(muse, repo_dir, tmp_path,
                                                               two_commits):
    remote = bare(muse, tmp_path)
    (repo_dir / "origin").mkdir()  # a folder that happens to share the remote's name
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    ok(muse("push", "origin", "main", cwd=repo_dir))
    assert remote_refs(muse, remote, tmp_path) == {"refs/heads/main": two_commits[1]}


def test_dry_run_reports_and_changes_nothing(muse, repo_dir, tmp_path, two_commits):
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    before = (tree_state(repo_dir), tree_state(remote))
    data = json.loads(ok(muse("push", "--dry-run", "--json", cwd=repo_dir)).stdout)
    assert data["dry_run"] is True
    assert data["refs"][0]["status"] == "created"
    assert data["commits"] == 2 and data["objects"] == 2 and data["bytes"] == 0
    text = ok(muse("push", "-n", cwd=repo_dir)).stdout
    assert "Would push 2 commits, 2 objects (dry run: nothing was sent)" in text
    assert (tree_state(repo_dir), tree_state(remote)) == before


# -- refusals ----------------------------------------------------------------------------


def _diverge(muse, repo_dir: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """origin/main moved on from another clone; our main has a different new commit."""
    remote, _ = published(muse, repo_dir, tmp_path)
    other = clone_of(muse, remote, tmp_path, "other")
    write(other, "song.mid", "their verse")
    theirs = commit(muse, other, "theirs")
    ok(muse("push", cwd=other))
    write(repo_dir, "song.mid", "our verse")
    ours = commit(muse, repo_dir, "ours")
    return remote, theirs, ours


def test_non_fast_forward_is_refused_with_exit_4_and_a_hint(muse, repo_dir, tmp_path):
    remote, theirs, _ours = _diverge(muse, repo_dir, tmp_path)
    before = (tree_state(repo_dir), tree_state(remote))
    result = muse("push", cwd=repo_dir)
    assert result.exit_code == 4
    assert " ! [rejected]  main -> main (fetch first" in result.stdout
    assert "error: push refused, would drop commits on the remote: refs/heads/main" \
        in result.stderr
    assert "hint: fetch first" in result.stderr and "--force" in result.stderr
    assert (tree_state(repo_dir), tree_state(remote)) == before
    assert remote_refs(muse, remote, tmp_path)["refs/heads/main"] == theirs


def test_non_fast_forward_json_still_prints_the_refs(muse, repo_dir, tmp_path):
    _remote, theirs, ours = _diverge(muse, repo_dir, tmp_path)
    result = muse("push", "--json", cwd=repo_dir)
    assert result.exit_code == 4
    data = json.loads(result.stdout)
    assert data["refs"][0]["status"] == "rejected"
    assert data["refs"][0]["old"] == theirs and data["refs"][0]["new"] == ours
    assert data["commits"] == 0 and data["bytes"] == 0
    assert data["error"]["code"] == "non-fast-forward" and data["error"]["exit_code"] == 4
    # With --json the error itself is one JSON object on stderr too, with its stable code.
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "non-fast-forward" and "fetch first" in error["hint"]
    assert error["message"].startswith("push refused")


def test_json_errors_of_every_transfer_command_carry_the_stable_code(muse, repo_dir,
                                                                     tmp_path):
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first")
    missing = tmp_path / "nowhere"
    ok(muse("remote", "add", "origin", str(missing), cwd=repo_dir))
    before = tree_state(repo_dir)
    for command in (["push", "--json"], ["fetch", "--json"], ["pull", "--json"],
                    ["ls-remote", "--json"], ["remote", "show", "origin", "--json"]):
        result = muse(*command, cwd=repo_dir)
        assert result.exit_code == 6, (command, result.output)
        assert result.stdout == ""
        error = json.loads(result.stderr)["error"]
        assert error == {"code": "remote", "exit_code": 6,
                         "message": f"no Muse remote at {missing}",
                         "hint": f"create one with `muse init --bare {missing}`, or check the path"}
    clone = muse("clone", str(missing), str(tmp_path / "copy"), "--json", cwd=tmp_path)
    assert clone.exit_code == 6 and json.loads(clone.stderr)["error"]["code"] == "remote"
    plain = muse("fetch", cwd=repo_dir)  # without --json: the one line and a hint
    assert plain.stderr.startswith(f"error: no Muse remote at {missing}\nhint: ")
    assert tree_state(repo_dir) == before and not (tmp_path / "copy").exists()


def test_dry_run_of_a_refused_push_is_refused_the_same_way(muse, repo_dir, tmp_path):
    remote, _theirs, _ours = _diverge(muse, repo_dir, tmp_path)
    before = (tree_state(repo_dir), tree_state(remote))
    result = muse("push", "--dry-run", "--json", cwd=repo_dir)
    assert result.exit_code == 4
    data = json.loads(result.stdout)
    assert data["dry_run"] is True and data["refs"][0]["status"] == "rejected"
    assert (tree_state(repo_dir), tree_state(remote)) == before


def test_force_overwrites_and_says_so(muse, repo_dir, tmp_path):
    remote, theirs, ours = _diverge(muse, repo_dir, tmp_path)
    result = ok(muse("push", "--force", cwd=repo_dir))
    assert f" + {theirs[:12]}...{ours[:12]}  main -> main (forced update)" in result.stdout
    assert remote_refs(muse, remote, tmp_path)["refs/heads/main"] == ours


def test_unborn_branch_and_detached_head_have_nothing_to_push(muse, repo_dir, tmp_path):
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    before = tree_state(remote)
    unborn = muse("push", cwd=repo_dir)
    assert unborn.exit_code == 2
    assert "error: branch 'main' has no commits yet: nothing to push" in unborn.stderr
    write(repo_dir, "a.mid", "x")
    head = commit(muse, repo_dir, "one")
    ok(muse("switch", "--detach", head, cwd=repo_dir))
    detached = muse("push", cwd=repo_dir)
    assert detached.exit_code == 2
    assert "error: HEAD is detached: there is no branch to push" in detached.stderr
    missing = muse("push", "origin", "nosuch", cwd=repo_dir)
    assert missing.exit_code == 2
    assert "error: no local branch or tag named 'nosuch' to push" in missing.stderr
    assert tree_state(remote) == before


@pytest.mark.parametrize("args, message", [
    (["--all", "main"], "--all pushes every branch: it takes no REFSPEC"),
    (["main:"], "invalid refspec 'main:': nothing after ':'"),
    (["+main"], "per-ref forcing ('+main') is not supported"),
    (["main:bad..name"], "invalid ref name 'refs/heads/bad..name'"),
])
def test_malformed_push_requests_are_usage_errors(muse, repo_dir, tmp_path, two_commits,
                                                  args, message):
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    before = (tree_state(repo_dir), tree_state(remote))
    result = muse("push", "origin", *args, cwd=repo_dir)
    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr
    assert (tree_state(repo_dir), tree_state(remote)) == before


# -- refspecs, tags, --all -------------------------------------------------------------------


def test_refspec_forms_rename_tag_and_delete(muse, repo_dir, tmp_path, two_commits):
    first, second = two_commits
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    ok(muse("tag", "v1", first, cwd=repo_dir))
    ok(muse("tag", "v2", cwd=repo_dir))
    out = ok(muse("push", "origin", "main:release", "v1", "refs/tags/v2", cwd=repo_dir)).stdout
    assert " * [new branch]  main -> release" in out
    assert " * [new tag]     v1 -> v1" in out
    assert remote_refs(muse, remote, tmp_path) == {
        "refs/heads/release": second, "refs/tags/v1": first, "refs/tags/v2": second}
    assert ref(repo_dir, "refs/remotes/origin/release") == second
    gone = ok(muse("push", "origin", ":release", ":v1", cwd=repo_dir)).stdout
    assert " - [deleted]  release" in gone and " - [deleted]  v1" in gone
    assert remote_refs(muse, remote, tmp_path) == {"refs/tags/v2": second}
    assert ref(repo_dir, "refs/remotes/origin/release") is None


def test_deleting_what_the_remote_lacks_is_refused(muse, repo_dir, tmp_path, two_commits):
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    ok(muse("push", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "push", "origin", ":nothing", exit_code=2, root=remote)
    assert "error: the remote has no branch or tag named 'nothing' to delete" in result.stderr


def test_tags_pushes_every_tag_and_all_every_branch(muse, repo_dir, tmp_path, two_commits):
    first, second = two_commits
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    ok(muse("tag", "v1", first, cwd=repo_dir))
    ok(muse("tag", "v2", cwd=repo_dir))
    ok(muse("branch", "drums", first, cwd=repo_dir))
    ok(muse("push", "--tags", cwd=repo_dir))
    assert remote_refs(muse, remote, tmp_path) == {"refs/tags/v1": first, "refs/tags/v2": second}
    ok(muse("push", "--all", cwd=repo_dir))
    assert remote_refs(muse, remote, tmp_path) == {
        "refs/heads/drums": first, "refs/heads/main": second,
        "refs/tags/v1": first, "refs/tags/v2": second}


def test_a_moved_tag_is_refused_without_force(muse, repo_dir, tmp_path, two_commits):
    first, second = two_commits
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    ok(muse("tag", "v1", first, cwd=repo_dir))
    ok(muse("push", "origin", "v1", cwd=repo_dir))
    ok(muse("tag", "-f", "v1", second, cwd=repo_dir))
    refused = changes_nothing(muse, repo_dir, "push", "origin", "v1", exit_code=4,
                              root=tmp_path)
    assert "refs/tags/v1 already exists on the remote at another commit" in refused.stderr
    assert "would drop commits" not in refused.output and "pull" not in refused.output
    ok(muse("push", "origin", "v1", "--force", cwd=repo_dir))
    assert remote_refs(muse, remote, tmp_path)["refs/tags/v1"] == second


# -- upstreams ------------------------------------------------------------------------------


def test_set_upstream_then_plain_push_uses_it(muse, repo_dir, tmp_path, two_commits):
    first_remote = bare(muse, tmp_path, "first.muse")
    studio = bare(muse, tmp_path, "studio.muse")
    ok(muse("remote", "add", "origin", str(first_remote), cwd=repo_dir))
    ok(muse("remote", "add", "studio", str(studio), cwd=repo_dir))
    result = ok(muse("push", "-u", "studio", "main:mix", cwd=repo_dir))
    assert "branch main set up to track studio/mix" in result.stdout
    config = repo(repo_dir).config
    assert config.get("branch.main.remote") == "studio"
    assert config.get("branch.main.merge") == "refs/heads/mix"
    write(repo_dir, "song.mid", "outro")
    third = commit(muse, repo_dir, "third")
    ok(muse("push", cwd=repo_dir))  # to studio's mix, not origin's main
    assert remote_refs(muse, studio, tmp_path) == {"refs/heads/mix": third}
    assert remote_refs(muse, first_remote, tmp_path) == {}


def test_set_upstream_needs_a_name_and_dry_run_sets_nothing(muse, repo_dir, tmp_path,
                                                            two_commits):
    remote = bare(muse, tmp_path)
    url_only = muse("push", "-u", str(remote), "main", cwd=repo_dir)
    assert url_only.exit_code == 2
    assert "error: --set-upstream needs a remote name, not a URL" in url_only.stderr
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    ok(muse("push", "-u", "--dry-run", cwd=repo_dir))
    assert repo(repo_dir).config.get("branch.main.remote") is None


# -- progress ----------------------------------------------------------------------------------


class FakeStream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("as_json, tty, env, shown", [
    (False, True, {"TERM": "xterm"}, True),
    (False, True, {}, True),
    (True, True, {"TERM": "xterm"}, False),
    (False, False, {"TERM": "xterm"}, False),
    (False, True, {"TERM": "dumb"}, False),
    (False, True, {"CI": "true"}, False),
    (False, True, {"CI": "1"}, False),
    (False, True, {"CI": "yes"}, False),
    (False, True, {"CI": "false"}, True),
    (False, True, {"CI": "0"}, True),
    (False, True, {"CI": ""}, True),
])
def test_progress_is_shown_only_to_a_person_at_a_terminal(as_json, tty, env, shown):
    stream = FakeStream(tty)
    assert should_show(as_json=as_json, stream=stream, env=env) is shown  # type: ignore[arg-type]
    chosen = make_progress(as_json=as_json, stream=stream, env=env)  # type: ignore[arg-type]
    assert isinstance(chosen, RichProgress) is shown
    assert isinstance(chosen, NoProgress)


def test_ci_values():
    assert ci_enabled({"CI": "TRUE"}) and not ci_enabled({}) and not ci_enabled({"CI": "Off"})


def test_rich_progress_draws_bytes_and_files(tmp_path):
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bars = RichProgress(out)
    bars.phase("uploading", 2_000_000)
    bars.advance(1_000_000)
    bars.advance(1_000_000)
    bars.finish()
    bars.phase("checking out", 3)
    bars.advance(3)
    bars.finish()
    text = out.getvalue()
    assert "uploading" in text and "2.0 MB" in text
    assert "checking out" in text and "3 files" in text


LIGHT = """
import sys
from muse.cli import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
finally:
    print("RICH LOADED" if "rich" in sys.modules else "RICH NOT LOADED", file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["status"], ["push", "--json"], ["push"]])
def test_rich_is_not_imported_unless_a_bar_is_shown(muse, repo_dir, tmp_path, args):
    published(muse, repo_dir, tmp_path)
    done = subprocess.run([sys.executable, "-c", LIGHT, *args], cwd=repo_dir, env=muse.env(),
                          capture_output=True, text=True, timeout=60)
    assert "RICH NOT LOADED" in done.stderr, done.stderr


def _run_on_a_pty(muse, args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run muse with stderr on a real pseudo-terminal; return (code, stdout, terminal text)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = muse.env()
    env.pop("CI", None)
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([sys.executable, "-m", "muse", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError("muse on a pty produced nothing for 60 s")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    return proc.wait(timeout=60), stdout, seen.decode(errors="replace")


def test_a_bar_appears_on_a_real_terminal_and_not_with_json(muse, repo_dir, tmp_path):
    remote = bare(muse, tmp_path)
    ok(muse("remote", "add", "origin", str(remote), cwd=repo_dir))
    write(repo_dir, "stems/pad.wav", os.urandom(300_000))
    commit(muse, repo_dir, "pad")
    code, stdout, terminal = _run_on_a_pty(muse, ["push"], repo_dir)
    assert code == 0, terminal
    assert "uploading" in terminal and "━" in terminal  # rich's bar
    assert "kB" in terminal  # bytes, not a bare count
    assert stdout.startswith(f"To {remote}")  # the result stays on stdout

    write(repo_dir, "stems/pad.wav", os.urandom(300_000))
    commit(muse, repo_dir, "pad 2")
    code, stdout, terminal = _run_on_a_pty(muse, ["push", "--json"], repo_dir)
    assert code == 0
    assert terminal == ""
    assert json.loads(stdout)["refs"][0]["status"] == "fast-forward"
