"""The `muse` command line: a thin layer over the core, one module per command group."""

from __future__ import annotations

import click

from ..version import VERSION
from .base import LazyGroup

# Every command, as "module:attribute": a command's module (and what it imports) is
# loaded only when that command runs, or when --help lists them all. The hub server's
# dependencies load only for `muse hub`. A new command is one line here
# (tests/test_cli_errors.py checks every module's COMMANDS are all listed).
LAZY_COMMANDS = {
    "init": "muse.cli.repo_cmds:init",
    "status": "muse.cli.repo_cmds:status",
    "commit": "muse.cli.repo_cmds:commit",
    "log": "muse.cli.log_cmds:log",
    "keys": "muse.cli.config_cmds:keys",
    "config": "muse.cli.config_cmds:config",
    "show": "muse.cli.inspect_cmds:show",
    "diff": "muse.cli.inspect_cmds:diff",
    "rev-parse": "muse.cli.inspect_cmds:rev_parse",
    "cat-object": "muse.cli.inspect_cmds:cat_object",
    "verify": "muse.cli.inspect_cmds:verify",
    "branch": "muse.cli.branch_cmds:branch",
    "tag": "muse.cli.branch_cmds:tag",
    "switch": "muse.cli.branch_cmds:switch",
    "merge": "muse.cli.branch_cmds:merge",
    "reset": "muse.cli.branch_cmds:reset",
    "reflog": "muse.cli.history_cmds:reflog",
    "describe": "muse.cli.describe_cmds:describe",
    "blame": "muse.cli.blame_cmds:blame",
    "cherry-pick": "muse.cli.pick_cmds:cherry_pick",
    "revert": "muse.cli.pick_cmds:revert",
    "resolve": "muse.cli.pick_cmds:resolve",
    "bundle": "muse.cli.bundle_cmds:bundle",
    "remote": "muse.cli.remote_cmds:remote",
    "push": "muse.cli.remote_cmds:push",
    "fetch": "muse.cli.remote_cmds:fetch",
    "pull": "muse.cli.remote_cmds:pull",
    "clone": "muse.cli.remote_cmds:clone",
    "ls-remote": "muse.cli.remote_cmds:ls_remote",
    "gc": "muse.cli.gc_cmds:gc",
    "count-objects": "muse.cli.gc_cmds:count_objects",
    "restore": "muse.cli.worktree_cmds:restore",
    "rm": "muse.cli.worktree_cmds:rm",
    "mv": "muse.cli.worktree_cmds:mv",
    "stash": "muse.cli.worktree_cmds:stash",
    "clean": "muse.cli.worktree_cmds:clean",
    "ls-files": "muse.cli.worktree_cmds:ls_files",
    "hub": "remotes.hub.cli:hub",
    "help": "muse.cli.help_cmds:help_command",
}


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=VERSION, prog_name="muse")
def cli() -> None:
    """Muse: version control for music sessions, stems and code.

    Exit codes: 0 ok; 1 problems found; 2 usage; 3 repository; 4 conflict;
    5 integrity; 6 remote; 7 config; 8 system refused (disk full, permissions);
    70 internal error (docs/exit-codes.md).
    """


def main() -> None:
    _open_closed_std_streams()
    cli(prog_name="muse")


def _open_closed_std_streams() -> None:
    """Give a closed stdin, stdout or stderr (`muse log >&-`) /dev/null, as git does.

    Python then has no sys.stdout at all (None, and `isatty()` on it crashed), and
    the first file Muse opened would take descriptor 1: a print could land in a
    pack. With /dev/null there, output to a closed stream is simply discarded.
    """
    import os
    import sys

    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:  # closed: the lowest free descriptor is this one
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
        # The stream lives as long as the process, as Python's own would have.
        stream = open(fd, mode, encoding="utf-8", closefd=False)  # noqa: SIM115
        setattr(sys, name, stream)
