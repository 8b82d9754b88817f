"""`muse log --format`: git's placeholders, checked against `git log --format` on one history."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.testkit import changes_nothing
from tests.twin_history import Twin

# Placeholders whose text does not depend on how ids are hashed: compared with git's.
SAME_AS_GIT = "%s|%an|%ae|%at|%aI|%as|%n%b|%B|%%|%x41"


@pytest.fixture
def twin(muse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Twin:
    made = Twin(muse, tmp_path, monkeypatch)
    made.commit("First take", {"song.txt": "verse\n"})
    made.commit("Chorus\n\nRecorded at home.\nTwo passes.", {"song.txt": "verse\nchorus\n"})
    made.branch("bridge")
    made.switch("bridge")
    made.commit("Bridge idea", {"bridge.txt": "bridge\n"})
    made.switch("main")
    made.merge("bridge", "Merge the bridge")
    return made


def muse_log(twin: Twin, *args: str) -> str:
    return twin.ok("log", *args)


def test_text_placeholders_match_git(twin):
    ours = muse_log(twin, f"--format={SAME_AS_GIT}")
    theirs = twin.git("log", f"--format=tformat:{SAME_AS_GIT}")
    assert ours.rstrip("\n") == theirs


def test_id_placeholders(twin):
    head = twin.muse_id["Merge the bridge"]
    parents = [twin.muse_id["Chorus\n\nRecorded at home.\nTwo passes."],
               twin.muse_id["Bridge idea"]]
    out = muse_log(twin, "-1", "--format=%H %h|%P|%p")
    assert out == f"{head} {head[:12]}|{' '.join(parents)}|{' '.join(p[:12] for p in parents)}\n"
    snapshot = json.loads(twin.ok("show", "--json"))["commit"]["snapshot"]
    assert muse_log(twin, "-1", "--format=%T|%t") == f"{snapshot}|{snapshot[:12]}\n"


def test_decorations_and_signatures(twin, muse):
    twin.tag("v1", annotated=False)
    out = muse_log(twin, "-2", "--format=%h%d|%D|%G?|%GK")
    first, second = out.splitlines()
    assert first.endswith("(HEAD -> main, tag: v1)|HEAD -> main, tag: v1|N|")
    assert second.endswith(" (bridge)|bridge|N|")  # unsigned (--unsigned)
    # A signed commit: G for a trusted key (the user's own), and its key's fingerprint.
    (twin.m / "new.txt").write_text("signed\n")
    twin.ok("commit", "-m", "signed")
    signed = muse_log(twin, "-1", "--format=%G? %GK").split()
    assert signed[0] == "G" and len(signed[1]) == 16


def test_pretty_forms_and_graph(twin):
    head = twin.muse_id["Merge the bridge"]
    # git's --pretty=oneline prints the whole id; --oneline abbreviates it.
    assert muse_log(twin, "-1", "--pretty=oneline") == f"{head} Merge the bridge\n"
    assert muse_log(twin, "-1", "--oneline", "--no-decorate") == f"{head[:12]} Merge the bridge\n"
    assert muse_log(twin, "-1", "--pretty=format:%s") == "Merge the bridge\n"
    assert muse_log(twin, "-1", "--pretty=tformat:%s") == "Merge the bridge\n"
    # The same rows as git draws for the same history.
    for form in ("--format=%s", "--format=%s%n%b", "--oneline"):
        ours = without_ids(muse_log(twin, "--graph", form, "--no-decorate"))
        assert ours == without_ids(twin.git_run("log", "--graph", form).stdout), form
    drawn = muse_log(twin, "--graph", "--format=%s").splitlines()
    assert drawn[0].startswith("*") and drawn[0].endswith(" Merge the bridge")
    assert any(line.endswith(" Bridge idea") for line in drawn)
    # The same lanes as --oneline draws, with the subject alone beside each commit.
    oneline = muse_log(twin, "--graph", "--oneline", "--no-decorate").splitlines()
    assert drawn == [re.sub(r"[0-9a-f]{12} ", "", line) for line in oneline]


@pytest.mark.parametrize("args, message", [
    (("--format=%q",), "unknown placeholder '%q' in --format"),
    (("--format=%",), "unknown placeholder '%' in --format"),
    (("--format=%s", "--json"), "--format cannot be combined with --json"),
    (("--format=%s", "--oneline"), "--format cannot be combined with --oneline"),
    (("--pretty=blah",), "invalid --pretty format: blah"),
    (("--format=subject",), "invalid --pretty format: subject"),  # git's rule: no % → a name
])
def test_bad_formats_change_nothing(twin, muse, args, message):
    result = changes_nothing(muse, twin.m, "log", *args, exit_code=2)
    assert message in result.stderr


def test_show_takes_the_same_formats(twin, muse):
    head = twin.muse_id["Merge the bridge"]
    assert twin.ok("show", "-s", "--format=%H %s") == f"{head} Merge the bridge\n"
    assert twin.ok("show", "-s", "--format=%an|%aI") == twin.ok("log", "-1", "--format=%an|%aI")
    with_stat = twin.ok("show", "--format=%h", "--stat", "HEAD~1").splitlines()
    assert with_stat[0] == twin.muse_id["Chorus\n\nRecorded at home.\nTwo passes."][:12]
    assert with_stat[1] == "" and "song.txt" in with_stat[2]  # git's blank line between
    assert twin.ok("show", "-s", "HEAD").startswith(f"commit {head}\n")
    assert "diff" not in twin.ok("show", "-s", "HEAD")
    result = changes_nothing(muse, twin.m, "show", "--format=%s", "--json", exit_code=2)
    assert "--format cannot be combined with --json" in result.stderr


def without_ids(text: str) -> str:
    return re.sub(r"\b[0-9a-f]{7,64}\b", "ID", text)


@pytest.mark.parametrize("name", ["oneline", "short", "reference"])
def test_named_formats_print_what_git_prints(twin, name):
    ours = without_ids(muse_log(twin, f"--pretty={name}"))
    theirs = without_ids(twin.git("log", f"--pretty={name}"))
    # Muse ends every multi-line entry with the blank line its default layout ends in.
    assert ours.rstrip("\n") == theirs.rstrip("\n")


@pytest.mark.parametrize("name", ["medium", "full", "fuller"])
def test_the_default_layout_answers_to_its_names(twin, name):
    # Muse records one author and no separate committer: full and fuller add nothing.
    assert muse_log(twin, f"--pretty={name}") == muse_log(twin)
    merge_line = muse_log(twin, "-1").splitlines()[1]
    assert without_ids(merge_line) == without_ids(twin.git("log", "-1").splitlines()[1])
    assert twin.ok("show", f"--pretty={name}", "HEAD~1") == twin.ok("show", "HEAD~1")


def test_show_oneline_is_the_short_id_and_subject_then_the_changes(twin, muse):
    chorus = twin.muse_id["Chorus\n\nRecorded at home.\nTwo passes."]
    shown = twin.ok("show", "--oneline", "--stat", "HEAD~1").splitlines()
    assert shown[0] == f"{chorus[:12]} Chorus" and "song.txt" in shown[1]
    assert twin.ok("show", "--oneline", "-s") == twin.ok("log", "-1", "--oneline", "--no-decorate")
    for args, message in ((("--oneline", "--format=%h"), "--oneline cannot be combined"),
                          (("--pretty=blah",), "invalid --pretty format: blah")):
        assert message in changes_nothing(muse, twin.m, "show", *args, exit_code=2).stderr
