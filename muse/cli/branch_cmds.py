"""Branches and moving between them: branch, switch, tag, merge, reset."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
