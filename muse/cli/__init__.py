"""The `muse` command line: a thin layer over the core, one module per command group."""

from __future__ import annotations

import click

from .base import LazyGroup

# Every command, as "module:attribute" under muse.cli: a command's module (and what it
# imports) is loaded only when that command runs, or when --help lists them all.
LAZY_COMMANDS = {
    "init": "repo_cmds:init", "status": "repo_cmds:status", "commit": "repo_cmds:commit",
    "log": "repo_cmds:log", "keys": "config_cmds:keys", "config": "config_cmds:config",
    "show": "inspect_cmds:show", "diff": "inspect_cmds:diff",
    "rev-parse": "inspect_cmds:rev_parse", "cat-object": "inspect_cmds:cat_object",
    "verify": "inspect_cmds:verify", "branch": "branch_cmds:branch", "tag": "branch_cmds:tag",
    "switch": "branch_cmds:switch", "merge": "branch_cmds:merge", "reset": "branch_cmds:reset",
    "bundle": "bundle_cmds:bundle", "remote": "remote_cmds:remote", "push": "remote_cmds:push",
    "fetch": "remote_cmds:fetch", "pull": "remote_cmds:pull", "clone": "remote_cmds:clone",
    "ls-remote": "remote_cmds:ls_remote",
}


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="muse-vcs", prog_name="muse")
def cli() -> None:
    """Muse: version control for music sessions, stems and code.

    Exit codes: 0 ok; 1 problems found; 2 usage; 3 repository; 4 conflict;
    5 integrity; 6 remote; 7 config; 8 system refused (disk full, permissions);
    70 internal error (docs/exit-codes.md).
    """


def main() -> None:
    cli(prog_name="muse")
