"""Commands taking `[REVISION…] [-- PATH…]`: the arguments after `--` are pathspecs."""

from __future__ import annotations

import os
import re
from typing import Any

import click

PATHS = "muse.pathspecs"


class PathspecCommand(click.Command):
    """Keeps what follows the first `--` aside (click would take it as more arguments)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[PATHS] = tuple(args[cut + 1:])
            args = args[:cut]
        else:
            ctx.meta[PATHS] = None
        return super().parse_args(ctx, args)


_COUNT = re.compile(r"-[0-9]+")
_COUNT_OPTIONS = ("-n", "--max-count")


def expand_count_shorthand(args: list[str]) -> list[str]:
    """`-3` for `-n 3`, as git's log and reflog take it (before any `--`)."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        takes_value = bool(out) and out[-1] in _COUNT_OPTIONS
        out += ["-n", arg[1:]] if _COUNT.fullmatch(arg) and not takes_value else [arg]
    return out


class CountShorthand(click.Command):
    """A command whose `-n N` may be written `-N`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_count_shorthand(args))


class LogCommand(CountShorthand, PathspecCommand):
    """`muse log`: `-N` for `-n N`, and paths after `--`."""


def split_paths(repo: Any, words: tuple[str, ...]) -> tuple[list[str], list[Any]]:
    """(revision texts, resolved pathspecs) of a command's arguments.

    After `--` everything is a path. Without it, as git does, the words from the
    first one that names no revision but an existing file or folder are paths.
    """
    from ..errors import RevisionError, UsageError
    from ..logwalk import parse_range
    from ..pathspec import resolve_specs

    root = repo.worktree.root if not repo.is_bare else None
    after = click.get_current_context().meta.get(PATHS)
    revisions, paths = list(words), list(after or ())
    if after is None and root is not None:
        for i, word in enumerate(words):
            try:
                parse_range(repo, [word])
            except RevisionError as exc:
                if os.path.lexists(word):
                    revisions, paths = list(words[:i]), list(words[i:])
                    break
                if not exc.message.startswith("unknown revision"):
                    raise
                raise RevisionError(exc.message, hint="a path that is not in the working "
                                    f"tree goes after `--`: -- {word}") from None
            if os.path.lexists(word):
                # As git: a word that is both is never guessed at.
                raise UsageError(f"ambiguous argument {word!r}: both a revision and a file "
                                 "in the working tree", hint=f"use `--` to tell them apart: "
                                 f"`{word} --` for the revision, `-- {word}` for the file")
    if not paths:
        return revisions, []
    if root is None:
        raise UsageError("a bare repository has no working tree to name paths in",
                         hint="drop the paths, or run the command in a clone")
    return revisions, resolve_specs(root, paths)
