"""`muse remote`, `muse ls-remote`, and how every transfer command reports a bad remote."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from muse.errors import RemoteError, RepositoryError
from tests.branching_support import commit, ref, repo, write
from tests.remote_support import bare, ok, published
from tests.testkit import changes_nothing, tree_state

# -- add / list / remove / rename ---------------------------------------------------------


def test_add_then_list_plain_verbose_and_json(muse, repo_dir, tmp_path):
    ok(muse("remote", "add", "origin", str(tmp_path / "a.muse"), cwd=repo_dir))
    ok(muse("remote", "add", "backup", "file:///srv/b.muse", cwd=repo_dir))
    assert muse("remote", cwd=repo_dir).stdout == "backup\norigin\n"
    assert muse("remote", "list", cwd=repo_dir).stdout == "backup\norigin\n"
    verbose = muse("remote", "list", "-v", cwd=repo_dir).stdout
    assert verbose == f"backup\tfile:///srv/b.muse\norigin\t{tmp_path / 'a.muse'}\n"
    data = json.loads(muse("remote", "list", "--json", cwd=repo_dir).stdout)
    assert data == {"remotes": [{"name": "backup", "url": "file:///srv/b.muse"},
                                {"name": "origin", "url": str(tmp_path / "a.muse")}]}
    assert json.loads(muse("remote", "--json", cwd=repo_dir).stdout) == data  # the group too


def test_add_stores_a_relative_path_as_absolute(muse, repo_dir, tmp_path):
    ok(muse("remote", "add", "origin", "../shared/song.muse", cwd=repo_dir))
    assert repo(repo_dir).config.get("remote.origin.url") == str(tmp_path / "shared/song.muse")


def test_add_refuses_an_existing_name_and_changes_nothing(muse, repo_dir):
    ok(muse("remote", "add", "origin", "/srv/a", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "remote", "add", "origin", "/srv/other", exit_code=4)
    assert "error: a remote named 'origin' already exists" in result.stderr
    assert "hint:" in result.stderr


@pytest.mark.parametrize("name", ["a/b", "..x", ".hidden", "has space", "-x", "x.lock",
                                  "a:b", 'q"uote', "HEAD"])
def test_add_refuses_a_name_that_cannot_be_a_ref_component(muse, repo_dir, name):
    result = changes_nothing(muse, repo_dir, "remote", "add", "--", name, "/srv/a", exit_code=2)
    assert f"error: invalid remote name {name!r}" in result.stderr


def test_remove_drops_config_tracking_refs_and_upstream(muse, repo_dir, tmp_path):
    published(muse, repo_dir, tmp_path)
    r = repo(repo_dir)
    assert r.refs.list("refs/remotes/origin/") != {}
    assert r.config.get("branch.main.remote") == "origin"
    result = ok(muse("remote", "remove", "origin", cwd=repo_dir))
    assert "Removed remote origin (1 remote-tracking ref)" in result.stdout
    r = repo(repo_dir)
    assert r.config.get("remote.origin.url") is None
    assert r.refs.list("refs/remotes/") == {}
    assert r.config.get("branch.main.remote") is None
    assert r.config.get("branch.main.merge") is None
    assert ref(repo_dir, "refs/heads/main") is not None  # local branches stay


def test_remove_unknown_names_the_known_ones(muse, repo_dir):
    ok(muse("remote", "add", "origin", "/srv/a", cwd=repo_dir))
    before = tree_state(repo_dir)
    result = muse("remote", "remove", "nosuch", cwd=repo_dir)
    assert result.exit_code == RemoteError.exit_code == 6
    assert "error: no remote named 'nosuch'" in result.stderr
    assert "hint: known remotes: origin" in result.stderr
    assert tree_state(repo_dir) == before


def test_rename_moves_config_tracking_refs_and_upstream(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    ok(muse("remote", "rename", "origin", "studio", cwd=repo_dir))
    r = repo(repo_dir)
    assert r.config.get("remote.studio.url") == str(remote)
    assert r.config.get("remote.origin.url") is None
    assert r.refs.list("refs/remotes/") == {"refs/remotes/studio/main": head}
    assert r.config.get("branch.main.remote") == "studio"
    # and the renamed upstream is what a plain push now uses
    write(repo_dir, "song.mid", "chorus")
    second = commit(muse, repo_dir, "second take")
    ok(muse("push", cwd=repo_dir))
    assert repo(repo_dir).refs.read("refs/remotes/studio/main") == second


def test_rename_refuses_an_existing_target_and_changes_nothing(muse, repo_dir, tmp_path):
    published(muse, repo_dir, tmp_path)
    ok(muse("remote", "add", "backup", "/srv/b", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "remote", "rename", "origin", "backup", exit_code=4)
    assert "error: a remote named 'backup' already exists" in result.stderr


def test_rename_onto_its_own_name_is_a_usage_error(muse, repo_dir, tmp_path):
    published(muse, repo_dir, tmp_path)
    result = changes_nothing(muse, repo_dir, "remote", "rename", "origin", "origin", exit_code=2)
    assert "error: remote 'origin' already has that name" in result.stderr
    assert "remove" not in result.stderr


def test_remote_commands_need_a_repository(muse, tmp_path):
    result = muse("remote", "add", "origin", "/srv/a", cwd=tmp_path)
    assert result.exit_code == RepositoryError.exit_code
    assert "not a Muse repository" in result.stderr


# -- show ------------------------------------------------------------------------------------


def test_show_reports_branches_tags_and_upstream_status(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    ok(muse("branch", "drums", cwd=repo_dir))
    ok(muse("tag", "v1", cwd=repo_dir))
    ok(muse("push", "origin", "drums", "v1", cwd=repo_dir))
    # a branch only the remote knows about, pushed from a second clone
    other = tmp_path / "other"
    ok(muse("clone", str(remote), str(other), cwd=tmp_path))
    ok(muse("switch", "-c", "keys", cwd=other))
    ok(muse("push", "origin", "keys", cwd=other))
    write(repo_dir, "song.mid", "bridge")
    ahead = commit(muse, repo_dir, "local only")

    data = json.loads(ok(muse("remote", "show", "origin", "--json", cwd=repo_dir)).stdout)
    assert data["name"] == "origin" and data["url"] == str(remote)
    assert data["branches"] == [
        {"name": "drums", "id": head, "tracking": "tracked"},
        {"name": "keys", "id": head, "tracking": "new (the next fetch stores it)"},
        {"name": "main", "id": head, "tracking": "tracked"},
    ]
    assert data["tags"] == [{"name": "v1", "id": head}]
    assert data["upstreams"] == [{"branch": "main", "merge": "main",
                                  "status": "ahead: push will fast-forward"}]
    text = ok(muse("remote", "show", "origin", cwd=repo_dir)).stdout
    assert f"URL: {remote}" in text
    assert "keys" in text and "new (the next fetch stores it)" in text
    assert ahead  # the local commit is what makes main "ahead"


def test_show_marks_tracking_refs_of_deleted_branches_stale(muse, repo_dir, tmp_path):
    published(muse, repo_dir, tmp_path)
    ok(muse("branch", "old", cwd=repo_dir))
    ok(muse("push", "origin", "old", cwd=repo_dir))
    ok(muse("push", "origin", ":old", cwd=repo_dir))
    r = repo(repo_dir)
    assert "refs/remotes/origin/old" not in r.refs.list()  # push removed it itself
    head = r.head()
    assert head is not None
    r.refs.update("refs/remotes/origin/old", None, head, "test: a tracking ref left behind")
    data = json.loads(ok(muse("remote", "show", "origin", "--json", cwd=repo_dir)).stdout)
    assert {"name": "old", "id": head, "tracking": "stale (gone from the remote)"} \
        in data["branches"]


# -- ls-remote -----------------------------------------------------------------------------


def test_ls_remote_lists_heads_and_tags_with_filters(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    ok(muse("tag", "v1", cwd=repo_dir))
    ok(muse("push", "--tags", cwd=repo_dir))
    everything = ok(muse("ls-remote", cwd=repo_dir)).stdout
    assert everything == f"{head}\trefs/heads/main\n{head}\trefs/tags/v1\n"
    assert ok(muse("ls-remote", "origin", "--heads", cwd=repo_dir)).stdout == \
        f"{head}\trefs/heads/main\n"
    assert ok(muse("ls-remote", "origin", "--tags", cwd=repo_dir)).stdout == \
        f"{head}\trefs/tags/v1\n"
    data = json.loads(ok(muse("ls-remote", "origin", "--json", cwd=repo_dir)).stdout)
    assert data == {"remote": "origin", "url": str(remote),
                    "refs": [{"name": "refs/heads/main", "id": head},
                             {"name": "refs/tags/v1", "id": head}]}


def test_ls_remote_takes_a_url_outside_any_repository(muse, repo_dir, tmp_path):
    remote, head = published(muse, repo_dir, tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    data = json.loads(ok(muse("ls-remote", f"file://{remote}", "--json", cwd=outside)).stdout)
    assert data["remote"] is None
    assert data["refs"] == [{"name": "refs/heads/main", "id": head}]


def test_ls_remote_of_an_empty_remote_prints_nothing(muse, tmp_path):
    remote = bare(muse, tmp_path)
    assert ok(muse("ls-remote", str(remote), cwd=tmp_path)).stdout == ""


# -- bad remotes: every transfer command, one clear error, nothing changed ------------------

# Each case: (what to put in remote.bad.url, given tmp_path and the published remote)
# and the message the user must see.
BadCase = Callable[[Path, Path], str]


def _missing(tmp: Path, remote: Path) -> str:
    return str(tmp / "no" / "such" / "place")


def _unknown_scheme(tmp: Path, remote: Path) -> str:
    return "ftp://example.org/song"


def _not_a_remote(tmp: Path, remote: Path) -> str:
    stuff = tmp / "photos"
    stuff.mkdir()
    (stuff / "holiday.jpg").write_bytes(b"\xff\xd8 not a remote")
    return str(stuff)


def _corrupt_refs(tmp: Path, remote: Path) -> str:
    doc = remote / "refs.json"
    doc.write_text(doc.read_text().replace('"refs"', '"refz"'))
    return str(remote)


def _beneath_a_file(tmp: Path, remote: Path) -> str:
    # Fails the same way for root as for anyone: a file cannot hold a directory.
    (tmp / "a-file").write_text("plain")
    return str(tmp / "a-file" / "remote")


BAD = {
    "unreachable path": (_missing, "no Muse remote at {url}",
                         "create one with `muse init --bare"),
    "unknown scheme": (_unknown_scheme, "unknown remote scheme 'ftp' in ftp://example.org/song",
                       "known schemes: file"),
    "not a Muse remote": (_not_a_remote, "{url} is not a Muse remote",
                          "create one with `muse init --bare"),
    "corrupt refs document": (_corrupt_refs, "refs document {url}/refs.json is corrupt",
                              "no ref was changed"),
    "path beneath a file": (_beneath_a_file, "no Muse remote at {url}", "check the path"),
}
COMMANDS = {
    "push": ["push", "bad", "main"],
    "push --force --json": ["push", "bad", "main", "--force", "--json"],
    "fetch": ["fetch", "bad"],
    "pull": ["pull", "bad", "main"],
    "ls-remote": ["ls-remote", "bad"],
    "remote show": ["remote", "show", "bad"],
}


def _snapshot(*paths: Path) -> list[dict[str, bytes]]:
    return [tree_state(p) if p.is_dir() else {} for p in paths]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", BAD)
def test_bad_remote_is_one_clear_error_and_changes_nothing(muse, repo_dir, tmp_path, case,
                                                           command):
    remote, _ = published(muse, repo_dir, tmp_path)
    make, message, hint = BAD[case]
    url = make(tmp_path, remote)
    repo(repo_dir).config.set("remote.bad.url", url)
    before = _snapshot(repo_dir, remote, Path(url))
    result = muse(*COMMANDS[command], cwd=repo_dir)
    assert result.exit_code == 6, result.output
    if "--json" in COMMANDS[command]:
        error = json.loads(result.stderr)["error"]  # one object, with the stable code
        assert error["code"] in ("remote", "remote-corrupt") and error["exit_code"] == 6
        assert error["message"].startswith(message.format(url=url))
        assert hint in error["hint"]
    else:
        assert f"error: {message.format(url=url)}" in result.stderr
        assert hint in result.stderr
    assert "Traceback" not in result.output
    assert _snapshot(repo_dir, remote, Path(url)) == before


@pytest.mark.parametrize("case", BAD)
def test_clone_from_a_bad_remote_leaves_no_directory(muse, repo_dir, tmp_path, case):
    remote, _ = published(muse, repo_dir, tmp_path)
    make, message, hint = BAD[case]
    url = make(tmp_path, remote)
    before = _snapshot(remote, Path(url))
    result = muse("clone", url, str(tmp_path / "copy"), cwd=tmp_path)
    assert result.exit_code == 6, result.output
    assert f"error: {message.format(url=url)}" in result.stderr
    assert hint in result.stderr
    assert not (tmp_path / "copy").exists()
    assert _snapshot(remote, Path(url)) == before


@pytest.mark.parametrize("command", [["push", "nosuch", "main"], ["fetch", "nosuch"],
                                     ["pull", "nosuch", "main"], ["ls-remote", "nosuch"],
                                     ["remote", "show", "nosuch"],
                                     ["remote", "rename", "nosuch", "x"]])
def test_unknown_remote_name_is_refused_before_anything_happens(muse, repo_dir, tmp_path,
                                                                command):
    remote, _ = published(muse, repo_dir, tmp_path)
    before = _snapshot(repo_dir, remote)
    result = muse(*command, cwd=repo_dir)
    assert result.exit_code == 6
    assert "error: no remote named 'nosuch'" in result.stderr
    assert "hint: known remotes: origin" in result.stderr
    assert _snapshot(repo_dir, remote) == before


def test_no_remote_configured_says_how_to_add_one(muse, repo_dir):
    write(repo_dir, "a.mid", "x")
    commit(muse, repo_dir, "one")
    result = changes_nothing(muse, repo_dir, "push", exit_code=6)
    assert "error: no remote named 'origin'" in result.stderr
    assert "muse remote add NAME URL" in result.stderr


def test_permission_denied_on_the_remote_is_a_remote_error(muse, repo_dir, tmp_path,
                                                           monkeypatch):
    # Root ignores file modes, so the denial is injected where the driver reads the remote.
    remote, _ = published(muse, repo_dir, tmp_path)
    import remotes.fs

    def denied(self: object, key: str) -> None:
        raise PermissionError(13, "Permission denied", str(remote / key))

    monkeypatch.setattr(remotes.fs.DirBucket, "get", denied)
    before = _snapshot(repo_dir, remote)
    for command in (["push", "origin", "main", "--force"], ["fetch"], ["ls-remote"]):
        result = muse(*command, cwd=repo_dir)
        assert result.exit_code == 6, result.output
        assert f"error: permission denied on the remote at {remote}" in result.stderr
        assert "hint: check that you may read this directory" in result.stderr
    assert _snapshot(repo_dir, remote) == before


def test_a_driver_is_opened_with_the_remotes_settings_timeout_and_token(muse, repo_dir):
    from muse.errors import ConfigError
    from muse.remote import RemoteOptions
    from muse.remotes_config import remote_options, token_variable
    from muse.repo import Repository

    ok(muse("remote", "add", "my-hub", "https://hub.example/ada/song", cwd=repo_dir))
    repo = Repository.find(repo_dir)
    repo.config.set("remote.my-hub.timeout", "12.5")
    repo.config.set("remote.my-hub.path-style", "true")
    repo.config.set("remote.my-hub.x.y", "not this remote's")  # remote "my-hub.x"
    env = {"MUSE_TOKEN": "any", token_variable("my-hub"): "mine"}
    assert token_variable("my-hub") == "MUSE_TOKEN_MY_HUB"
    assert remote_options(repo, "my-hub", env) == RemoteOptions(
        token="mine", timeout=12.5, settings={"path-style": "true"})
    assert remote_options(repo, "my-hub", {"MUSE_TOKEN": "any"}).token == "any"
    assert remote_options(None, None, {}) == RemoteOptions()
    for bad in ("soon", "-1", "inf", "0"):
        repo.config.set("remote.my-hub.timeout", bad)
        with pytest.raises(ConfigError, match=r"remote\.my-hub\.timeout") as caught:
            remote_options(repo, "my-hub", env)
        assert caught.value.exit_code == 7


# -- set-url / get-url, and URLs written through `muse config` ------------------------------


def test_set_url_stores_a_path_as_add_does_and_get_url_prints_it(muse, repo_dir, tmp_path):
    ok(muse("remote", "add", "origin", "/srv/a.muse", cwd=repo_dir))
    (repo_dir / "sub").mkdir()
    changed = ok(muse("remote", "set-url", "origin", "../../moved.muse", cwd=repo_dir / "sub"))
    assert changed.stdout == f"Remote origin → {tmp_path / 'moved.muse'}\n"
    assert ok(muse("remote", "get-url", "origin", cwd=repo_dir)).stdout == \
        f"{tmp_path / 'moved.muse'}\n"


def test_set_url_of_an_unknown_remote_creates_nothing(muse, repo_dir):
    ok(muse("remote", "add", "origin", "/srv/a.muse", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "remote", "set-url", "orign", "/srv/b",
                             exit_code=6)
    assert "error: no remote named 'orign'" in result.stderr
    assert "hint: known remotes: origin" in result.stderr
    assert changes_nothing(muse, repo_dir, "remote", "get-url", "orign", exit_code=6).stderr


def test_a_url_set_with_config_is_checked_and_stored_as_add_stores_it(muse, repo_dir,
                                                                      tmp_path):
    """`muse config remote.NAME.url ../x` kept the relative path: it then meant another
    place from every other directory. It is stored absolute now, and a URL no remote
    could have is refused."""
    ok(muse("config", "remote.origin.url", "../shared/song.muse", cwd=repo_dir))
    assert repo(repo_dir).config.get("remote.origin.url") == str(tmp_path / "shared/song.muse")
    for name, value, code in (("has space", "/srv/x", 2), ("origin", "", 2)):
        result = changes_nothing(muse, repo_dir, "config", f"remote.{name}.url", value,
                                 exit_code=code)
        assert result.stderr.startswith("error: invalid remote ")
    ok(muse("config", "remote.origin.timeout", "60", cwd=repo_dir))  # other keys as given


def test_the_hint_for_a_name_in_use_names_set_url(muse, repo_dir):
    ok(muse("remote", "add", "origin", "/srv/a", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "remote", "add", "origin", "/srv/b", exit_code=4)
    assert "hint: change its URL with `muse remote set-url origin URL`" in result.stderr


# -- URLs that would keep a secret, and URLs that lost a slash ------------------------------

SECRET = "muse_s3cr3tT0kenThatMustNeverBePrinted"


@pytest.mark.parametrize("url, shown", [
    (f"http://ada:{SECRET}@127.0.0.1:9/ada/song", "http://***@127.0.0.1:9/ada/song"),
    (f"https://{SECRET}@hub.example.org/ada/song", "https://***@hub.example.org/ada/song"),
    (f"s3://AKIAEXAMPLE:{SECRET}@studio/songs", "s3://***@studio/songs"),
])
def test_a_url_with_credentials_is_refused_everywhere_and_never_echoed(muse, repo_dir,
                                                                        tmp_path, url, shown):
    """A token typed into a URL was stored in .muse/config (which clones share), sent as
    Basic auth, and echoed in every error and in --json."""
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first take")
    attempts = [("remote", "add", "hub", url), ("ls-remote", url), ("push", url, "main"),
                ("ls-remote", "--json", url), ("clone", url, str(tmp_path / "copy")),
                ("config", "remote.hub.url", url)]
    for args in attempts:
        result = changes_nothing(muse, repo_dir, *args, exit_code=6, root=tmp_path)
        assert SECRET not in result.output, args
        assert shown in result.output, args
        assert "MUSE_TOKEN" in result.output, args  # the hint says where a token goes
    assert not (tmp_path / "copy").exists()


def test_a_url_with_credentials_written_by_hand_is_refused_before_it_is_sent(muse, repo_dir):
    write(repo_dir, "song.mid", "verse")
    commit(muse, repo_dir, "first take")
    repo(repo_dir).config.set("remote.hub.url", f"http://ada:{SECRET}@127.0.0.1:9/ada/song")
    for command in (["push", "hub", "main"], ["fetch", "hub"], ["ls-remote", "hub"],
                    ["push", "--json", "hub", "main"]):
        result = changes_nothing(muse, repo_dir, *command, exit_code=6)
        assert SECRET not in result.output and "http://***@127.0.0.1:9" in result.output


@pytest.mark.parametrize("typo, meant", [
    ("http:/127.0.0.1:8470/ada/song", "http://127.0.0.1:8470/ada/song"),
    ("https:hub.example.org/ada/song", "https://hub.example.org/ada/song"),
    ("s3:/studio/songs", "s3://studio/songs"),
    ("file:/srv/song.muse", "file:///srv/song.muse"),
])
def test_a_url_missing_a_slash_is_refused_not_taken_for_a_folder(muse, repo_dir, tmp_path,
                                                                 typo, meant):
    """`http:/host/…` was stored as the path ./http:/host/… and failed far from the typo."""
    for args in (("remote", "add", "hub", typo), ("ls-remote", typo), ("push", typo, "main"),
                 ("clone", typo, str(tmp_path / "copy"))):
        result = changes_nothing(muse, repo_dir, *args, exit_code=2, root=tmp_path)
        assert f"error: {typo!r} looks like a URL with a '/' missing" in result.stderr
        assert f"hint: did you mean {meant}?" in result.stderr
    # Written as a path on purpose, it is one.
    ok(muse("remote", "add", "odd", f"./{typo}", cwd=repo_dir))
    assert repo(repo_dir).config.get("remote.odd.url") == str(repo_dir / typo)


def test_ls_remote_takes_a_bare_relative_path_outside_any_repository(muse, repo_dir,
                                                                    tmp_path):
    """`muse ls-remote song.muse` (no slash) said "not a Muse repository" outside one."""
    remote, head = published(muse, repo_dir, tmp_path)
    assert ok(muse("ls-remote", remote.name, cwd=tmp_path)).stdout == \
        f"{head}\trefs/heads/main\n"
    missing = changes_nothing(muse, tmp_path, "ls-remote", "nosuch", exit_code=3)
    assert "not a Muse repository" in missing.stderr  # a name still needs a repository


@pytest.mark.parametrize("url, message", [
    ("s3://b/songs", "invalid S3 bucket name 'b'"),
    ("s3://My-Bucket/songs", "invalid S3 bucket name 'My-Bucket'"),
    ("http://127.0.0.1:9/only-one-part", "not a hub repository URL"),
])
def test_add_refuses_a_url_its_driver_could_never_open(muse, repo_dir, url, message):
    """Accepted before, the mistake surfaced only at the first push, far from the typo."""
    for args in (("remote", "add", "cloud", url), ("config", "remote.cloud.url", url)):
        result = changes_nothing(muse, repo_dir, *args, exit_code=2)
        assert message in result.stderr and "hint:" in result.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("https://ada:s3cret@hub.example/x", "https://***@hub.example/x"),
    ("postgresql://muse:s3cret@[::1]:5432/hub", "postgresql://***@[::1]:5432/hub"),
    ("postgresql://muse@h/db?sslmode=require&password=s3cret",
     "postgresql://***@h/db?sslmode=require&password=***"),
    ("postgresql://h/db?PASSWORD=s3cret", "postgresql://h/db?password=***"),
    ("s3://bucket/prefix?region=x", "s3://bucket/prefix?region=x"),
    ("/plain/path:with@signs", "/plain/path:with@signs"),
])
def test_a_redacted_url_keeps_everything_but_the_secret(url: str, shown: str) -> None:
    from muse.remote_registry import redact_url

    assert redact_url(url) == shown
