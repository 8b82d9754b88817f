"""What every command shares: the error boundary, opening the repository, and output."""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import click

from ..display import printable
from ..errors import INTERNAL_ERROR_EXIT, MuseError, system_refusal


class MuseGroup(click.Group):
    """Translates Muse's error tree into one line, a hint, and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MuseError as exc:
            report_error(exc)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # Output piped into `head` and closed: not an error worth a traceback.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except OSError as exc:
            refusal = system_refusal(exc)
            if refusal is None:
                _internal_error()
                ctx.exit(INTERNAL_ERROR_EXIT)
            report_error(refusal)
            ctx.exit(refusal.exit_code)
        except Exception:
            _internal_error()
            ctx.exit(INTERNAL_ERROR_EXIT)


def _internal_error() -> None:
    click.echo("muse: internal error (this is a bug; please report it):", err=True)
    traceback.print_exc()


def report_error(exc: MuseError) -> None:
    # Messages quote names, paths and remote replies: never let them draw extra lines.
    click.echo(f"error: {printable(exc.message)}", err=True)
    if exc.hint:
        click.echo(f"hint: {printable(exc.hint)}", err=True)


def open_repo() -> Any:
    from ..repo import Repository

    return Repository.find()


def emit_json(value: Any, *, err: bool = False) -> None:
    """Indented JSON; on stderr with `err` (when stdout carries data, as `bundle create -`)."""
    click.echo(json.dumps(value, indent=2, sort_keys=False), err=err)


def short(oid: str | None, n: int = 12) -> str:
    return oid[:n] if oid else "(none)"
