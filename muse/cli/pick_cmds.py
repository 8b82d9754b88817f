"""Applying single commits and settling conflicts: cherry-pick, revert, resolve."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click

from ..display import printable
from ..errors import UsageError
from .base import emit_json, json_option, open_repo, short
from .branch_cmds import echo_made, report_conflicts, report_warnings

COMMANDS: list[click.Command] = []

_SIDE_OPTIONS = [
    click.option("--ours", "favour", flag_value="ours",
                 help="Settle every conflict for HEAD's side."),
    click.option("--theirs", "favour", flag_value="theirs",
                 help="Settle every conflict for the applied change's side."),
]


def _pick_command(action: str, summary: str) -> click.Command:
    """`muse cherry-pick` and `muse revert`: one shape, two directions."""

    @click.command(name=action, help=summary)
    @click.argument("revision", required=False)
    @click.option("-m", "--mainline", type=int, metavar="N",
                  help="For a merge commit: the change against its parent number N.")
    @click.option("--continue", "go_on", is_flag=True,
                  help="Commit once the conflicts are resolved.")
    @click.option("--abort", is_flag=True, help="Give up; put the tree back to HEAD.")
    @click.option("--unsigned", is_flag=True, help="Do not sign the new commit.")
    @_SIDE_OPTIONS[0]
    @_SIDE_OPTIONS[1]
    @json_option("Machine-readable result.")
    @click.pass_context
    def command(ctx: click.Context, revision: str | None, mainline: int | None, go_on: bool,
                abort: bool, unsigned: bool, favour: str | None, as_json: bool,
                **extra: Any) -> None:
        from .. import picking
        from ..revisions import resolve

        repo = open_repo()
        if go_on or abort:
            if go_on and abort:
                raise UsageError("--continue and --abort cannot be combined")
            if revision or mainline is not None or favour or extra.get("record_origin"):
                raise UsageError(f"--{'continue' if go_on else 'abort'} takes no revision "
                                 "or other options")
            if abort:
                removed = picking.abort_pick(repo, action)
                _report_abort(repo, action, removed, as_json)
            else:
                made = picking.continue_pick(repo, action, sign=not unsigned)
                _report_made(repo, action, made, as_json)
            return
        if revision is None:
            raise UsageError(f"{action} what?",
                             hint=f"muse {action} REV (or --continue / --abort)")
        commit = resolve(repo, revision)
        if action == picking.CHERRY_PICK:
            outcome = picking.cherry_pick(repo, commit, mainline=mainline, sign=not unsigned,
                                          favour=favour,
                                          record_origin=bool(extra.get("record_origin")))
        else:
            outcome = picking.revert(repo, commit, mainline=mainline, sign=not unsigned,
                                     favour=favour)
        _report(repo, outcome, as_json)
        if outcome.kind == "conflicts":
            ctx.exit(1)

    return command


def _report(repo: Any, outcome: Any, as_json: bool) -> None:
    if as_json:
        emit_json({"result": outcome.kind, "action": outcome.action, "picked": outcome.picked,
                   "commit": outcome.commit.id if outcome.commit else None,
                   "head": repo.head(),
                   "conflicts": [asdict(r) for r in outcome.conflicts],
                   "warnings": list(outcome.warnings)})
        return
    report_warnings(outcome.warnings)
    if outcome.kind == "committed":
        echo_made(repo, outcome.commit)
    elif outcome.kind == "empty":
        click.echo(f"Nothing to commit: HEAD already has the result of this {outcome.action} "
                   f"of {short(outcome.picked)}")
    else:
        report_conflicts(outcome.conflicts, outcome.action)


def _report_made(repo: Any, action: str, made: Any, as_json: bool) -> None:
    if as_json:
        emit_json({"result": "committed", "action": action, "commit": made.id,
                   "head": repo.head(), "conflicts": []})
    else:
        echo_made(repo, made)


def _report_abort(repo: Any, action: str, removed: list[str], as_json: bool) -> None:
    if as_json:
        emit_json({"result": "aborted", "action": action, "head": repo.head(),
                   "removed": removed})
        return
    for side in removed:
        click.echo(f"removed {printable(side)}")
    click.echo(f"{action.capitalize()} aborted; HEAD is at {short(repo.head())}")


cherry_pick = click.option(
    "-x", "record_origin", is_flag=True,
    help="Add '(cherry picked from commit ID)' to the message.",
)(_pick_command("cherry-pick", "Apply the change REVISION made as a new commit on HEAD."))
revert = _pick_command("revert", "Undo the change REVISION made, as a new commit on HEAD.")
COMMANDS += [cherry_pick, revert]


@click.command()
@click.argument("paths", nargs=-1)
@_SIDE_OPTIONS[0]
@_SIDE_OPTIONS[1]
@json_option("Machine-readable result.")
def resolve(paths: tuple[str, ...], favour: str | None, as_json: bool) -> None:
    """Mark conflicted PATHS resolved, taking --ours or --theirs if given.

    Without a side, each PATH is accepted as it is now; with one and no PATH,
    every conflict takes that side. Side files of a settled path are deleted.
    """
    from ..resolving import resolve as settle

    repo = open_repo()
    done = settle(repo, list(paths), favour)
    if as_json:
        emit_json([asdict(item) for item in done])
        return
    for item in done:
        how = "as it is" if item.took == "as-is" else f"{item.took} version"
        click.echo(printable(f"resolved {item.path} ({how})"))
        for side in item.removed:
            click.echo(f"removed {printable(side)}")


COMMANDS.append(resolve)
