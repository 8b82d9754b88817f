"""`muse help [COMMAND…]`: the help of a command, as `muse COMMAND --help` shows it."""

from __future__ import annotations

import click

from ..errors import UsageError

COMMANDS: list[click.Command] = []


@click.command("help")
@click.argument("words", nargs=-1)
def help_command(words: tuple[str, ...]) -> None:
    """Show the help of COMMAND (`muse help log`, `muse help hub token`); all commands
    without one."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    command: click.Command = root.command
    shown = click.Context(command, info_name="muse")
    for word in words:
        found = (command.get_command(shown, word)
                 if isinstance(command, click.Group) else None)
        if found is None:
            typed = " ".join(["muse", *shown.command_path.split()[1:], word])
            raise UsageError(f"no such command: {typed!r}", hint="see `muse help`")
        command = found
        shown = click.Context(command, info_name=word, parent=shown)
    click.echo(command.get_help(shown))


COMMANDS.append(help_command)
