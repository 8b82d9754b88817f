"""`muse config`: keys and values that read back as what was set, and git's reach outside
a repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.testkit import MuseRunner, changes_nothing, tree_state

BAD_KEYS = ["x.a=b", "x]y.z", "[x].y", "a b.c", "x.1a", "x.a:b", "ü.name", "a.b\nc.d",
            "x.\udcff", "remote.a\x1bb.url"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_key_that_would_read_back_as_another_is_refused(muse: MuseRunner, repo_dir: Path,
                                                          key: str) -> None:
    res = changes_nothing(muse, repo_dir, "config", key, "v", exit_code=7)
    assert res.stderr.startswith("error: invalid config key '")
    assert "\n" not in res.stderr.splitlines()[0] and "hint: keys look like" in res.stderr
    assert muse("config", "--list", cwd=repo_dir).exit_code == 0  # the file still parses


@pytest.mark.parametrize("value", ["two\nlines", "bell\x07", "\udcff", "sep\u2028"])
def test_a_value_that_is_not_one_line_of_text_is_refused(muse: MuseRunner, repo_dir: Path,
                                                         value: str) -> None:
    res = changes_nothing(muse, repo_dir, "config", "core.editor", value, exit_code=7)
    assert res.stderr.startswith("error: invalid value for core.editor: '")
    assert "hint: a value is one line of UTF-8 text" in res.stderr


@pytest.mark.parametrize("key, value", [("remote.my-box.url", "/srv/a b.muse"),
                                        ("branch.release-1.0.merge", "refs/heads/release-1.0"),
                                        ("core.editor", "vim\t-n")])
def test_keys_and_values_read_back_as_set(muse: MuseRunner, repo_dir: Path, key: str,
                                          value: str) -> None:
    assert muse("config", key, value, cwd=repo_dir).exit_code == 0
    assert muse("config", key, cwd=repo_dir).stdout == value + "\n"
    assert f"{key}={value}" in muse("config", "--list", cwd=repo_dir).stdout.splitlines()


def test_outside_a_repository_reading_shows_your_own_settings(muse: MuseRunner,
                                                             tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    got = changes_nothing(muse, outside, "config", "user.name", exit_code=0)
    assert got.stdout == "Test Musician\n"
    listed = changes_nothing(muse, outside, "config", "--list", exit_code=0).stdout
    assert "user.email=test@example.org" in listed.splitlines()
    assert changes_nothing(muse, outside, "config", "core.editor", exit_code=2).stderr \
        == "error: core.editor is not set\n"


@pytest.mark.parametrize("args", [("core.editor", "nano"), ("--unset", "user.name")])
def test_outside_a_repository_a_change_needs_global(muse: MuseRunner, tmp_path: Path,
                                                    args: tuple[str, ...]) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    user_file = muse.home / "config"
    before = tree_state(muse.home)
    res = changes_nothing(muse, outside, "config", *args, exit_code=3)
    assert res.stderr.startswith("error: not a Muse repository")
    assert "hint: to change your own setting, add --global" in res.stderr
    assert tree_state(muse.home) == before and user_file.is_file()


# -- values read back exactly, in git's syntax --------------------------------------------

ODD_VALUES = ["  lead and trail  ", " ", "", 'say "hi"', '"', "back\\slash", "\\", "C:\\Users\\ada",
              "a # not a comment", "a ; nor this", "#", "two  spaces", "\tlead tab",
              "trail tab\t", "\\n stays two characters", "é ünï", "=", "[x]", "'single'"]


def _git_config(path: Path, *args: str) -> str:
    """`git config -f PATH ARGS`: what git makes of a config file (its value keeps every
    byte: only the one line ending is dropped)."""
    done = subprocess.run(["git", "config", "-f", str(path), *args], capture_output=True,
                          text=True, check=False, env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1"))
    assert done.returncode == 0, done.stderr
    return done.stdout.removesuffix("\n")


@pytest.mark.parametrize("value", ODD_VALUES)
def test_every_value_reads_back_exactly_in_muse_and_in_git(muse: MuseRunner, repo_dir: Path,
                                                           value: str) -> None:
    assert muse("config", "core.editor", value, cwd=repo_dir).exit_code == 0
    assert muse("config", "core.editor", cwd=repo_dir).stdout == value + "\n"
    assert f"core.editor={value}" in muse("config", "--list", cwd=repo_dir).stdout.split("\n")
    config = repo_dir / ".muse" / "config"
    assert _git_config(config, "core.editor") == value
    # And what git writes, Muse reads.
    _git_config(config, "core.pager", value)
    assert muse("config", "core.pager", cwd=repo_dir).stdout == value + "\n"


def test_a_subsection_with_quotes_and_backslashes_is_written_as_git_writes_it(
        muse: MuseRunner, repo_dir: Path) -> None:
    # (A remote's name may hold neither: `remote.NAME.url` is checked as `remote add`.)
    assert muse("config", 'notes.we"ird\\name.path', "/srv/a b",
                cwd=repo_dir).exit_code == 0
    config = repo_dir / ".muse" / "config"
    assert '[notes "we\\"ird\\\\name"]\n' in config.read_text()
    assert _git_config(config, 'notes.we"ird\\name.path') == "/srv/a b"
    _git_config(config, 'notes.x"y.path', "u")
    assert muse("config", 'notes.x"y.path', cwd=repo_dir).stdout == "u\n"


GIT_STYLE = """\
# a comment git and Muse keep
[user]
\tname = "  Ada  "  ; the quotes keep the spaces, this is a comment
\temail = ada@example.org # so is this
[core]
\teditor = vim \\
\t  -n
\tpager = "less\\t-R"
\tquiet
[remote "my \\"box\\""]
\turl = /srv/a"  "b
[legacy.Sub]
\tkey = v\r
"""


def test_a_file_in_git_syntax_is_read_as_git_reads_it(muse: MuseRunner, repo_dir: Path) -> None:
    config = repo_dir / ".muse" / "config"
    config.write_text(config.read_text() + GIT_STYLE)
    wanted = {"user.name": "  Ada  ", "user.email": "ada@example.org",
              "core.editor": "vim    -n", "core.pager": "less\t-R", "core.quiet": "true",
              'remote.my "box".url': "/srv/a  b", "legacy.sub.key": "v"}
    for key, value in wanted.items():
        assert muse("config", key, cwd=repo_dir).stdout == value + "\n", key
        if key != "core.quiet":  # git prints a bare key's value as empty: it is `true`
            assert _git_config(config, key) == value, key
    assert muse("remote", cwd=repo_dir).stdout.splitlines() == ['my "box"']


def test_a_change_rewrites_only_its_own_lines(muse: MuseRunner, repo_dir: Path) -> None:
    config = repo_dir / ".muse" / "config"
    config.write_text(config.read_text() + GIT_STYLE)
    before = config.read_text()
    assert muse("config", "core.pager", "more", cwd=repo_dir).exit_code == 0
    assert muse("config", "user.signingkey", "ab12", cwd=repo_dir).exit_code == 0
    after = config.read_text()
    assert after == before.replace('\tpager = "less\\t-R"\n', "\tpager = more\n").replace(
        "\temail = ada@example.org # so is this\n",
        "\temail = ada@example.org # so is this\n\tsigningkey = ab12\n")
    assert muse("config", "--unset", "core.editor", cwd=repo_dir).exit_code == 0
    assert "editor" not in config.read_text() and "# a comment git" in config.read_text()


@pytest.mark.parametrize("text, line, problem", [
    ("[t]\n\ta = x\\q\n", 2, "an unknown escape \\q in a value"),
    ('[t]\n\ta = "open\n', 2, 'a value whose " is never closed'),
    ("[t]\n\ta = 1\n\ta = 2\n", 3, "t.a is set again (first on line 2)"),
    ("[t]\n\ta = 1\n[t]\n\ta = 2\n", 4, "t.a is set again (first on line 2)"),
    ("a = 1\n", 1, "a setting before any [section]"),
    ("[t] a = 1\n", 1, "a setting on the line of its [section]"),
    ("[t]\n\t1a = 1\n", 2, "neither [section] nor key = value"),
    ("[t]\n\tflag # a comment\n", 2, "neither [section] nor key = value"),  # git's too
    ('[t "x]\n', 1, "neither [section] nor key = value"),
])
def test_a_file_git_would_refuse_is_one_error_naming_the_line(
        muse: MuseRunner, repo_dir: Path, text: str, line: int, problem: str) -> None:
    config = repo_dir / ".muse" / "config"
    config.write_text(text + config.read_text())
    res = changes_nothing(muse, repo_dir, "config", "core.editor", "nano", exit_code=7)
    first = res.stderr.splitlines()[0]
    assert first.startswith(f"error: cannot parse {config}: line {line}: "), first
    assert problem in first and "hint: fix that line" in res.stderr


def test_an_empty_repository_value_wins_over_yours(muse: MuseRunner, repo_dir: Path) -> None:
    from muse.repo import Repository

    assert muse("config", "--global", "core.editor", "vim", cwd=repo_dir).exit_code == 0
    assert muse("config", "core.editor", "", cwd=repo_dir).exit_code == 0
    assert muse("config", "core.editor", cwd=repo_dir).stdout == "\n"  # as git: set, empty
    assert Repository.find(repo_dir).config_value("core.editor") == ""
    assert muse("config", "--unset", "core.editor", cwd=repo_dir).exit_code == 0
    assert Repository.find(repo_dir).config_value("core.editor") == "vim"


@pytest.mark.parametrize("text", ["[core]\n\tpager = less", "# the end, unended"])
def test_a_last_line_without_its_ending_stays_whole(muse: MuseRunner, repo_dir: Path,
                                                    text: str) -> None:
    config = repo_dir / ".muse" / "config"
    config.write_text(config.read_text() + text)
    assert muse("config", "core.editor", "nano", cwd=repo_dir).exit_code == 0
    assert muse("config", "remote.x.url", "/srv/x", cwd=repo_dir).exit_code == 0
    assert config.read_text().startswith(config.read_text().split(text)[0] + text + "\n")
    assert _git_config(config, "core.editor") == "nano"
    assert _git_config(config, "remote.x.url") == "/srv/x"
    if "pager" in text:
        assert muse("config", "core.pager", cwd=repo_dir).stdout == "less\n"


def test_get_is_a_scripts_quiet_lookup(muse: MuseRunner, repo_dir: Path) -> None:
    assert muse("config", "core.note", "take two", cwd=repo_dir).exit_code == 0
    found = muse("config", "--get", "core.note", cwd=repo_dir)
    assert found.exit_code == 0 and found.stdout == "take two\n"
    missing = changes_nothing(muse, repo_dir, "config", "--get", "core.nothing", exit_code=1)
    assert missing.stdout == "" and missing.stderr == ""
    for args in (("--get",), ("--get", "core.note", "x"), ("--get", "--unset", "core.note"),
                 ("--get", "--list")):
        refused = changes_nothing(muse, repo_dir, "config", *args, exit_code=2)
        assert "--get reads one KEY" in refused.stderr


@pytest.mark.parametrize("typed", ["user.name", "User.Name", "USER.name", "user.NAME"])
def test_section_and_setting_names_are_read_in_any_case(muse: MuseRunner, repo_dir: Path,
                                                        typed: str) -> None:
    """As git: `User.Name` is `user.name`, in every verb, and is written in lower case."""
    config = repo_dir / ".muse" / "config"
    assert muse("config", typed, "Ada", cwd=repo_dir).exit_code == 0
    assert config.read_text().count("[user]\n\tname = Ada\n") == 1
    for key in ("user.name", "User.Name", "USER.NAME"):
        assert muse("config", key, cwd=repo_dir).stdout == "Ada\n"
        assert muse("config", "--get", key, cwd=repo_dir).stdout == "Ada\n"
    assert "user.name=Ada" in muse("config", "--list", cwd=repo_dir).stdout.splitlines()
    assert muse("config", "User.Email", "ada@example.org", cwd=repo_dir).exit_code == 0
    assert muse("config", "USER.NAME", "Bea", cwd=repo_dir).exit_code == 0  # replaced
    assert "[user]\n\tname = Bea\n\temail = ada@example.org\n" in config.read_text()
    assert config.read_text().count("name") == 1
    assert muse("config", "--unset", typed, cwd=repo_dir).exit_code == 0
    assert "name" not in config.read_text()
    assert muse("config", "user.name", cwd=repo_dir).stdout == "Test Musician\n"  # yours


def test_a_subsection_keeps_its_case(muse: MuseRunner, repo_dir: Path) -> None:
    """`remote.Origin.url` and `remote.origin.url` are two remotes, as in git; the
    section and the setting's name still fold (`Remote.Origin.URL`)."""
    config = repo_dir / ".muse" / "config"
    assert muse("config", "Remote.Origin.URL", "/srv/a", cwd=repo_dir).exit_code == 0
    assert '[remote "Origin"]\n\turl = /srv/a\n' in config.read_text()
    assert muse("config", "remote.Origin.url", cwd=repo_dir).stdout == "/srv/a\n"
    changes_nothing(muse, repo_dir, "config", "--get", "remote.origin.url", exit_code=1)
    assert muse("remote", cwd=repo_dir).stdout == "Origin\n"
    # A remote's URL set in any case is still checked as `remote add` checks it.
    res = changes_nothing(muse, repo_dir, "config", "REMOTE.Origin.Url",
                          "https://u:hunter2@example.org/x", exit_code=6)
    assert "holds credentials" in res.stderr and "hunter2" not in res.stderr


def test_a_hand_written_file_in_another_case_is_read_and_edited_in_place(
        muse: MuseRunner, repo_dir: Path) -> None:
    config = repo_dir / ".muse" / "config"
    config.write_text(config.read_text() + "[User]\n\tName = Ada\n[Merge]\n"
                      "\tconflictStyle = diff3\n")
    assert muse("config", "user.name", cwd=repo_dir).stdout == "Ada\n"
    assert muse("config", "merge.conflictstyle", cwd=repo_dir).stdout == "diff3\n"
    listed = muse("config", "--list", cwd=repo_dir).stdout.splitlines()
    assert "user.name=Ada" in listed and "merge.conflictstyle=diff3" in listed
    assert muse("config", "user.email", "ada@example.org", cwd=repo_dir).exit_code == 0
    assert "[User]\n\tName = Ada\n\temail = ada@example.org\n[Merge]" in config.read_text()
    assert _git_config(config, "user.email") == "ada@example.org"
    # The same key twice, in two spellings, is the same key set twice.
    config.write_text(config.read_text() + "[user]\n\tNAME = Bea\n")
    res = changes_nothing(muse, repo_dir, "config", "user.name", exit_code=7)
    assert "user.name is set again" in res.stderr


@pytest.mark.parametrize("env", [
    {"XDG_CONFIG_HOME": "/srv/conf", "HOME": "/home/ana"},
    {"XDG_CONFIG_HOME": "relative/conf", "HOME": "/home/ana"},  # a relative XDG is ignored
    {"XDG_CONFIG_HOME": "", "HOME": "/home/ana/"},
    {"HOME": "/"},
    {"HOME": "relative-home"},  # left to platformdirs (the password entry's home)
    {},
])
def test_the_user_config_dir_is_where_platformdirs_puts_it(monkeypatch: pytest.MonkeyPatch,
                                                           env: dict[str, str]) -> None:
    import platformdirs

    from muse.config import user_config_dir

    for name in ("MUSE_CONFIG_DIR", "XDG_CONFIG_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert user_config_dir() == Path(platformdirs.user_config_dir("muse"))


def test_log_does_not_load_platformdirs(muse: MuseRunner, repo_dir: Path,
                                        tmp_path: Path) -> None:
    # Its imports were a tenth of a small `muse log`: Linux's plain answer needs none.
    (repo_dir / "a.mid").write_bytes(b"MThd")
    assert muse("commit", "-m", "one", cwd=repo_dir).exit_code == 0
    env = {k: v for k, v in os.environ.items() if k != "MUSE_CONFIG_DIR"}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    probe = ("import sys, runpy; sys.argv = ['muse', 'log']\n"
             "try: runpy.run_module('muse', run_name='__main__')\n"
             "except SystemExit: pass\n"
             "print('platformdirs' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=repo_dir, env=env,
                          capture_output=True, text=True)
    assert "    one" in done.stdout.splitlines()
    assert done.stderr.splitlines()[-1] == ("True" if sys.platform != "linux" else "False")
