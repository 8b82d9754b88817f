"""Looking inside: show, diff, rev-parse, cat-object, verify."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
