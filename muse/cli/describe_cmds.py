"""Naming a commit by the nearest tag: describe."""

from __future__ import annotations

from typing import Any

import click

from ..describe import BROKEN_MARK, DIRTY_MARK
from .base import emit_json, json_option, open_repo, warn

COMMANDS: list[click.Command] = []


class _DescribeCommand(click.Command):
    """`--dirty` alone means `--dirty=-dirty` (`--broken`: `=-broken`): as in git, a mark
    is only ever given with `=`, so the word after a bare flag is never taken for one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        cut = args.index("--") if "--" in args else len(args)
        words = [f"{a}={_MARKS[a]}" if a in _MARKS else a for a in args[:cut]]
        return super().parse_args(ctx, words + args[cut:])


_MARKS = {"--dirty": DIRTY_MARK, "--broken": BROKEN_MARK}


@click.command(cls=_DescribeCommand)
@click.argument("revisions", nargs=-1)
@click.option("--tags", is_flag=True, help="Use lightweight tags too, not only annotated ones.")
@click.option("--all", "all_refs", is_flag=True,
              help="Use every ref: branches (heads/…), remote-tracking ones, tags (tags/…).")
@click.option("--long", "long_format", is_flag=True,
              help="Always TAG-N-gID, even on the tagged commit itself (N is 0).")
@click.option("--abbrev", type=click.IntRange(0, 64), default=12, show_default=True,
              metavar="N", help="Digits of the id (more if needed to be unique); 0: the tag "
              "name alone.")
@click.option("--always", is_flag=True, help="With no tag to use, print the abbreviated id.")
@click.option("--dirty", metavar="[=MARK]",
              help="Append MARK (default -dirty) when the working tree differs from HEAD.")
@click.option("--broken", metavar="[=MARK]",
              help="As --dirty, but when the repository cannot be read cleanly to compare, "
              "append MARK (default -broken) instead of failing.")
@click.option("--match", "match", multiple=True, metavar="PATTERN",
              help="Only tags matching the glob PATTERN (several: any of them).")
@click.option("--exclude", multiple=True, metavar="PATTERN",
              help="Never tags matching the glob PATTERN.")
@click.option("--first-parent", is_flag=True, help="Follow only the first parent of merges.")
@click.option("--candidates", type=click.IntRange(0, 1000), default=10, show_default=True,
              metavar="N", help="Stop after N tags met; 0: only a tag on the commit itself.")
@json_option("One JSON object on stdout (a list of them for several revisions).")
def describe(revisions: tuple[str, ...], tags: bool, all_refs: bool, long_format: bool,
             abbrev: int, always: bool, dirty: str | None, broken: str | None,
             match: tuple[str, ...], exclude: tuple[str, ...], first_parent: bool,
             candidates: int, as_json: bool) -> None:
    """Name REV (default HEAD) by the nearest tag it comes from: TAG-N-gID.

    TAG itself when REV is tagged; otherwise N commits since TAG and REV's id.
    Only annotated tags by default (see --tags, --all). Deterministic: the
    tag with the fewest commits between wins; of several, the one whose
    commit the walk meets first (the newest); see docs/branching-and-merging.md.
    """
    from ..describe import Options
    from ..describe import describe as describe_revisions

    options = Options(tags=tags, all_refs=all_refs, long=long_format, abbrev=abbrev,
                      always=always, match=match, exclude=exclude, first_parent=first_parent,
                      candidates=candidates)
    repo = open_repo()
    found = describe_revisions(repo, revisions, options, dirty_mark=dirty, broken_mark=broken)
    if as_json:
        records: Any = [d.as_json() for d in found]
        emit_json(records if len(revisions) > 1 else records[0])
        return
    # Each once, before the descriptions, as git warns about a misnamed tag.
    for warning in dict.fromkeys(d.warning for d in found if d.warning):
        warn(warning)
    for description in found:
        click.echo(description.description)


COMMANDS.append(describe)
