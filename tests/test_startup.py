"""Start-up: `muse --version` from the one version constant; the collector held, then released."""

from __future__ import annotations

import gc
import importlib.metadata
import subprocess
import sys
from collections.abc import Iterator

import pytest

from muse import startup
from muse.version import VERSION


def test_version_is_the_packages(muse, tmp_path) -> None:
    result = muse("--version", cwd=tmp_path)
    assert result.exit_code == 0
    assert result.stdout == f"muse, version {VERSION}\n"
    # One source: the packaging metadata is read from the same constant.
    assert importlib.metadata.version("muse-vcs") == VERSION


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """Whatever a test does to the collector, the suite's process gets it back as it was."""
    was_enabled = gc.isenabled()
    yield
    startup._held = False
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def test_release_without_hold_changes_nothing(collector_restored) -> None:
    # A test process running commands through click never froze its objects.
    frozen = gc.get_freeze_count()
    startup.release_collector()
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_hold_then_release_freezes_the_imports(collector_restored) -> None:
    startup.hold_collector()
    assert not gc.isenabled()
    startup.release_collector()
    assert gc.isenabled() and gc.get_freeze_count() > 0
    startup.release_collector()  # a second release (another lazy group) is a no-op
    assert gc.isenabled()


def test_hold_leaves_a_disabled_collector_alone(collector_restored) -> None:
    gc.disable()
    startup.hold_collector()
    startup.release_collector()
    assert not gc.isenabled()  # whoever disabled it keeps it so


COLLECTOR_PROBE = """
import gc, sys
import muse.cli.repo_cmds as cmds
real = cmds.status.callback
def probe(*args, **kwargs):
    print("collecting" if gc.isenabled() else "held", file=sys.stderr)
    return real(*args, **kwargs)
cmds.status.callback = probe
sys.argv = ["muse", "status"]
from muse.__main__ import run
run()
"""


def test_the_command_itself_runs_collected(tmp_path, muse) -> None:
    assert muse("init", cwd=tmp_path).exit_code == 0
    done = subprocess.run([sys.executable, "-c", COLLECTOR_PROBE], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == "collecting"
