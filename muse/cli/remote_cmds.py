"""Remotes and transfer: remote, push, fetch, pull, clone, ls-remote."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
