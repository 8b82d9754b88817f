"""What every command shares: the error boundary, opening the repository, and output."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

import click

from ..display import printable
from ..errors import INTERNAL_ERROR_EXIT, MuseError, system_refusal
from ..startup import release_collector


class MuseGroup(click.Group):
    """Translates Muse's error tree into one line, a hint, and the documented exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta.setdefault(ARGUMENTS, list(args))  # the outermost group's: every word typed
        return super().parse_args(ctx, args)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            if parent is not None:
                raise  # the group above reports it (its `invoke`)
            # The outermost group's own options (`muse --bogus`): nothing above it.
            root = exc.ctx if exc.ctx is not None else click.Context(self, info_name=info_name)
            root.meta.setdefault(ARGUMENTS, list(args))
            report_error(_usage_error(exc, root), as_json=_json_typed(root))
            raise click.exceptions.Exit(exc.exit_code) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            _run_auto_gc(ctx)
            return result
        except MuseError as exc:
            report_error(exc, as_json=ctx.meta.get(JSON_ERRORS, False))
            ctx.exit(exc.exit_code)
        except click.exceptions.NoArgsIsHelpError:
            raise  # a bare group (`muse bundle`): its help, as click prints it
        except click.UsageError as exc:
            # Found while parsing a command's words: one line (JSON with `--json`, even
            # before it took effect), never click's usage block.
            report_error(_usage_error(exc, ctx), as_json=_json_typed(ctx))
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
            report_error(refusal, as_json=ctx.meta.get(JSON_ERRORS, False))
            ctx.exit(refusal.exit_code)
        except Exception as exc:
            if _caused_by_interrupt(exc):
                # Python wraps a Ctrl-C landing in some import machinery (a class being
                # built, a `__set_name__`) in a RuntimeError: still an interrupt, not a bug.
                click.echo("interrupted", err=True)
                ctx.exit(130)
            _internal_error()
            ctx.exit(INTERNAL_ERROR_EXIT)


# The words given to the outermost group (in the context's shared `meta`).
ARGUMENTS = "muse.arguments"


def _json_typed(ctx: click.Context) -> bool:
    """Whether `--json` was among the options typed (before any `--`)."""
    words = ctx.meta.get(ARGUMENTS, [])
    return "--json" in words[:words.index("--")] if "--" in words else "--json" in words


def _usage_error(exc: click.UsageError, ctx: click.Context) -> MuseError:
    """click's own usage error (an unknown option, a missing argument) in Muse's tree: the
    one translation of every parse error, for the `error:` line and for `--json` alike."""
    from ..errors import UsageError

    if exc.ctx is not None:
        where = ["muse", *exc.ctx.command_path.split()[1:]]
    else:  # raised before its command's context existed: the commands typed
        where, command = ["muse"], ctx.command
        for word in ctx.meta.get(ARGUMENTS, []):
            found = command.get_command(ctx, word) if isinstance(command, click.Group) else None
            if found is None:
                break
            where.append(word)
            command = found
    message, near = _parse_error_words(exc)
    see = f"see `{' '.join(where)} --help`"
    hint = getattr(exc, "advice", None)
    if hint is None and near:
        names = [f"`{n}`" for n in near]
        either = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        hint = f"did you mean {either}? ({see})"
    return UsageError(message, hint=hint or see)


# click's wording of its parse errors, as Muse words an error: lower case, no full stop,
# names unquoted after a colon ("No such option '--bogus'." -> "no such option: --bogus").
_CLICK_WORDING = [
    (re.compile(r"No such (option|command) '(.*)'\.?"), r"no such \1: \2"),
    (re.compile(r"Option '(.*)' requires an argument\.?"), r"option \1 requires an argument"),
    (re.compile(r"Got unexpected extra (arguments?) \((.*)\)"), r"unexpected extra \1: \2"),
    (re.compile(r"Missing (argument|option|parameter) '(.*)'\.?"), r"missing \1: \2"),
]


def _parse_error_words(exc: click.UsageError) -> tuple[str, list[str]]:
    """The message of a click parse error in Muse's words, and the near names click found
    (its "Did you mean …?"), which become the hint."""
    near: list[str] = []
    if isinstance(exc, click.NoSuchOption):
        text = f"no such option: {exc.option_name}"
        near = sorted(exc.possibilities or ())
    elif isinstance(exc, click.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "parameter")
        text = f"missing {kind}"
        if exc.param is not None:
            text += f": {_param_names(exc.param)}"
        extra = exc.param.type.get_missing_message(param=exc.param, ctx=exc.ctx) \
            if exc.param is not None else None
        detail = "; ".join(d for d in (exc.message, extra) if d)
        if detail:
            text += f" ({_lowered(detail)})"
    elif isinstance(exc, click.BadParameter) and exc.param is not None:
        text = f"invalid value for {_param_names(exc.param)}: {_lowered(exc.message)}"
    else:
        text = exc.message
        for pattern, words in _CLICK_WORDING:
            text = pattern.sub(words, text)
        text = _lowered(text)  # an unknown command's advice is Muse's own (`resolve_command`)
    return text, near


def _param_names(param: click.Parameter) -> str:
    """How an option is typed (`-n/--max-count`), or an argument's metavar (`PATH`)."""
    if isinstance(param, click.Option):
        return "/".join(param.opts)
    return param.human_readable_name


def _lowered(text: str) -> str:
    """A sentence of click's as the rest of a Muse line: lower-case start, no full stop."""
    text = text.strip().removesuffix(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


class LazyGroup(MuseGroup):
    """A group whose commands are imported on first use, from a name → "module:attr" table.

    Start-up time is most of what a quick command costs: `muse status` should
    not pay for importing every other command's module.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = self.commands.get(cmd_name)
        if found is None and cmd_name in self.lazy_commands:
            import importlib

            module, attribute = self.lazy_commands[cmd_name].split(":")
            found = getattr(importlib.import_module(module), attribute)
            self.add_command(found, cmd_name)
            release_collector()  # the command's modules are in: it runs collected
        return found

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            advice = _command_advice(args[0], self.list_commands(ctx),
                                     top=ctx.parent is None) if args else None
            if advice is None:
                raise
            raise AdvisedUsageError(exc.message, ctx, advice) from None

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:  # while parsing (click would say "Aborted!", exit 1)
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(130) from None


class AdvisedUsageError(click.UsageError):
    """click's usage error with Muse's advice, the `hint:` line `_usage_error` gives it."""

    def __init__(self, message: str, ctx: click.Context, advice: str) -> None:
        super().__init__(message, ctx)
        self.advice = advice


# git's commands that Muse spells otherwise, or has no need of: what to type instead.
GIT_WORDS = {
    "add": "Muse has no staging area: `muse commit -m MESSAGE` records every file not "
           "ignored (`muse status` lists them)",
    "stage": "Muse has no staging area: `muse commit -m MESSAGE` records every file not "
             "ignored",
    "checkout": "`muse switch BRANCH` changes branch; `muse restore PATH` puts a file back",
    "cat-file": "`muse cat-object` prints stored objects",
    "fsck": "`muse verify` checks every object, signature and ref",
    "ls-tree": "`muse show REV:FOLDER` lists a folder; `muse cat-object -p REV:` a snapshot",
    "annotate": "`muse blame PATH` shows who wrote each line",
    "rebase": "Muse has no rebase: `muse cherry-pick REV` replays one commit; `muse merge` "
              "joins histories",
    "grep": "`muse ls-files -z | xargs -0 grep PATTERN` searches the tracked files",
    "unstage": "Muse has no staging area: `muse rm --cached PATH` stops tracking a file",
}


def _command_advice(word: str, known: list[str], *, top: bool) -> str | None:
    """What to try instead of an unknown command: git's own word, or a near spelling."""
    import difflib

    if top and word in GIT_WORDS:
        return GIT_WORDS[word]
    near = difflib.get_close_matches(word, known, n=1, cutoff=0.75)
    if not near:
        return None
    return f"did you mean `{'muse ' if top else ''}{near[0]}`?"


# Set (in the context's shared `meta`) by a command that added objects: the repository.
AUTO_GC = "muse.auto-gc"


def request_auto_gc(repo: Any) -> None:
    """Ask for `gc --auto` once the command has succeeded (commit, fetch, unbundle, …)."""
    click.get_current_context().meta[AUTO_GC] = repo


def _run_auto_gc(ctx: click.Context) -> None:
    """`gc --auto` after a command that added objects: packs and prunes only above the
    thresholds (docs/gc.md); a failure is a warning, never the command's own failure."""
    repo = ctx.meta.pop(AUTO_GC, None)
    if repo is None:
        return
    from ..gc import collect_auto, configured_cutoff
    from ..reflog_expire import configured_cutoffs

    try:
        collect_auto(repo, cutoff=configured_cutoff(repo), reflogs=configured_cutoffs(repo))
    except MuseError as exc:
        click.echo(f"warning: gc --auto did not run: {printable(exc.message)}", err=True)


def _internal_error() -> None:
    import traceback  # only a bug needs it: not loaded by every command's start-up

    click.echo("muse: internal error (this is a bug; please report it):", err=True)
    traceback.print_exc()


# Set (in the context's shared `meta`) by a command running with --json.
JSON_ERRORS = "muse.json-errors"


def _json_requested(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_ERRORS] = True
    return value


def json_option(help: str = "Machine-readable output.") -> Any:
    """The `--json` flag every command shares. Asking for JSON output also asks for
    JSON errors, so a script parsing the output never meets an `error:` line instead:
    set while the arguments are parsed (eagerly), before anything can fail."""
    return click.option("--json", "as_json", is_flag=True, is_eager=True,
                        callback=_json_requested, help=help)


# Set (in the context's shared `meta`) by a command given -q/--quiet.
QUIET = "muse.quiet"


def _quiet_requested(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[QUIET] = True


def quiet_option(help: str = "Print nothing but errors and warnings.") -> Any:
    """The `-q/--quiet` flag of the commands git gives one: it silences what `say`
    prints and any progress bar; data (--json, listings), warnings and errors stay."""
    return click.option("-q", "--quiet", is_flag=True, is_eager=True, expose_value=False,
                        callback=_quiet_requested, help=help)


def is_quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    return ctx is not None and bool(ctx.meta.get(QUIET))


def warn(message: str) -> None:
    """A `warning:` line on stderr (shown under -q too: it is not chatter)."""
    click.echo(f"warning: {printable(message)}", err=True)


def say(message: str, *, err: bool = False) -> None:
    """A line telling a person what happened ("Switched to branch …"): not under -q."""
    if not is_quiet():
        click.echo(message, err=err)


def error_json(exc: MuseError) -> dict[str, Any]:
    """An error as data: its stable `code` (docs/exit-codes.md), exit code, message, hint."""
    return {"code": exc.code, "exit_code": exc.exit_code, "message": exc.message,
            "hint": exc.hint}


def report_error(exc: MuseError, *, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps({"error": error_json(exc)}), err=True)
        return
    # Messages quote names, paths and remote replies: never let them draw extra lines.
    click.echo(f"error: {printable(exc.message)}", err=True)
    if exc.hint:
        click.echo(f"hint: {printable(exc.hint)}", err=True)


def open_repo() -> Any:
    """The repository here; first, cheaply, the work files killed commands left are swept."""
    from ..repo import Repository
    from ..workfiles import sweep

    repo = Repository.find()
    sweep(repo.muse_dir / "tmp")
    return repository_view(repo)


def repository_view(repo: Any) -> Any:
    """A bare filesystem remote as a read-only repository over its refs document and
    packs (remotes.bare); any other repository as it is."""
    if repo.is_bare:
        from remotes.bare import RemoteRepository, is_bare_remote

        if is_bare_remote(repo.muse_dir):
            return RemoteRepository(repo.muse_dir)
    return repo


class _Count(click.IntRange):
    """A count (`-n`): 0 or more. Any more than a list could ever hold means "all" (a
    larger one would overflow the slicing that applies it)."""

    name = "count"

    def __init__(self) -> None:
        super().__init__(min=0)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        return min(super().convert(value, param, ctx), sys.maxsize)


COUNT = _Count()


def emit_json(value: Any, *, err: bool = False) -> None:
    """Indented JSON; on stderr with `err` (when stdout carries data, as `bundle create -`)."""
    click.echo(json.dumps(value, indent=2, sort_keys=False), err=err)


def emit_json_array(items: Iterable[Any]) -> None:
    """The text `emit_json(list(items))` prints, written one element at a time: memory
    holds one element, however many there are (`log --json -p` over a long history)."""
    opened = False
    for item in items:
        text = json.dumps(item, indent=2, sort_keys=False).replace("\n", "\n  ")
        click.echo((",\n  " if opened else "[\n  ") + text, nl=False)
        opened = True
    click.echo("\n]" if opened else "[]")


def short(oid: str | None, n: int = 12) -> str:
    return oid[:n] if oid else "(none)"


REQUIRE_SIGNATURES = click.option(
    "--require-signatures", is_flag=True,
    help="Refuse any new commit not signed by a trusted key (`muse keys trust`).")


def receive_policy_for(repo: Any, require_signatures: bool) -> Any:
    """The ReceivePolicy for a receiving command: the flag, else `receive.signatures`."""
    from ..trust import RULE_KEY, receive_policy

    return receive_policy(repo.config_value(RULE_KEY), require=require_signatures)
