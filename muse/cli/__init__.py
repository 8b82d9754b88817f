"""The `muse` command line: a thin layer over the core, one module per command group."""

from __future__ import annotations

import click

from . import branch_cmds, bundle_cmds, inspect_cmds, remote_cmds, worktree_cmds
from .base import MuseGroup
from .config_cmds import config, keys
from .repo_cmds import commit, init, log, status


@click.group(cls=MuseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="muse-vcs", prog_name="muse")
def cli() -> None:
    """Muse: version control for music sessions, stems and code.

    Exit codes: 0 ok; 1 problems found; 2 usage; 3 repository; 4 conflict;
    5 integrity; 6 remote; 7 config; 8 system refused (disk full, permissions);
    70 internal error (docs/exit-codes.md).
    """


for command in (init, status, commit, log, keys, config):
    cli.add_command(command)
# Each module lists the commands it contributes in COMMANDS.
for module in (inspect_cmds, branch_cmds, bundle_cmds, remote_cmds, worktree_cmds):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli(prog_name="muse")
