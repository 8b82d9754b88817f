"""Offline transfer: `muse bundle create | verify | list-heads | unbundle`."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
