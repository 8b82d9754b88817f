"""The `muse` command line: a thin layer over the core, one module per command group."""

from __future__ import annotations

import click

from . import (
    branch_cmds,
    bundle_cmds,
    gc_cmds,
    history_cmds,
    inspect_cmds,
    pick_cmds,
    remote_cmds,
    worktree_cmds,
)
from .base import MuseGroup
from .config_cmds import config, keys
from .repo_cmds import commit, init, log, status


class MuseCli(MuseGroup):
    """The top-level group; commands from optional extras load only when called."""

    # name → "module:attribute"; the hub server's dependencies load only for `muse hub`.
    LAZY = {"hub": "remotes.hub.cli:hub"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY:
            import importlib

            module, _, attribute = self.LAZY[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attribute)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=MuseCli, context_settings={"help_option_names": ["-h", "--help"]})
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
for module in (inspect_cmds, branch_cmds, history_cmds, pick_cmds, bundle_cmds, remote_cmds,
               gc_cmds, worktree_cmds):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli(prog_name="muse")
