"""Branches and moving between them: branch, switch, tag, merge, reset."""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict
from typing import Any

import click

from ..display import printable, printable_lines
from ..errors import UsageError
from .base import emit_json, json_option, open_repo, quiet_option, say, short, warn

COMMANDS: list[click.Command] = []


def _command(command: click.Command) -> click.Command:
    """Register a command with the CLI (muse/cli/__init__.py adds every one in COMMANDS)."""
    COMMANDS.append(command)
    return command


def _subject(repo: Any, oid: str) -> str:
    return printable(str(repo.graph.commit(oid).subject))


def _resolve(repo: Any, revision: str) -> str:
    from ..revisions import resolve

    return resolve(repo, revision)


# -- branch -------------------------------------------------------------------------


def _listing_options(func: Any) -> Any:
    """`--list` (the positional words are then patterns), `--contains`, `--merged`,
    `--no-merged`: the listing filters `branch` and `tag` share, as git's."""
    func = click.option("--no-merged", "not_merged", metavar="REV", is_flag=False,
                        flag_value="HEAD", help="List only those REV (default HEAD) does not "
                        "reach.")(func)
    func = click.option("--merged", metavar="REV", is_flag=False, flag_value="HEAD",
                        help="List only those REV (default HEAD) reaches.")(func)
    func = click.option("--contains", metavar="REV",
                        help="List only those whose history holds REV.")(func)
    func = click.option("-l", "--list", "as_list", is_flag=True,
                        help="List; the words given are shell patterns the names match "
                        "(`muse branch --list 'takes/*'`).")(func)
    return func


def _ref_filter(repo: Any, words: tuple[str | None, ...], contains: str | None,
                merged: str | None, not_merged: str | None) -> Any:
    from ..reffilter import RefFilter

    revs = [None if r is None else _resolve(repo, r) for r in (contains, merged, not_merged)]
    return RefFilter(tuple(w for w in words if w is not None), *revs)


@_command
@click.command()
@click.argument("name", required=False)
@click.argument("start", required=False)
@click.option("-d", "--delete", is_flag=True, help="Delete branch NAME (only if merged).")
@click.option("-D", "force_delete", is_flag=True,
              help="Delete branch NAME even if it is not merged (-d -f).")
@click.option("-m", "--move", is_flag=True,
              help="Rename: `-m NEW` renames the current branch, `-m OLD NEW` branch OLD.")
@click.option("-f", "--force", is_flag=True,
              help="Move NAME if it exists; with -d, delete even if not merged.")
@click.option("-r", "--remotes", is_flag=True, help="List remote-tracking branches.")
@click.option("-a", "--all", "list_all", is_flag=True,
              help="List local and remote-tracking branches.")
@click.option("-v", "--verbose", is_flag=True, help="List each branch's commit and subject too.")
@click.option("--show-current", is_flag=True,
              help="Print the current branch's name (nothing when HEAD is detached).")
@_listing_options
@quiet_option("Do not say what was created, renamed or deleted.")
@json_option("Machine-readable list.")
def branch(name: str | None, start: str | None, delete: bool, force_delete: bool, move: bool,
           force: bool, remotes: bool, list_all: bool, verbose: bool, show_current: bool,
           as_list: bool, contains: str | None, merged: str | None, not_merged: str | None,
           as_json: bool) -> None:
    """List branches, create NAME at START (default HEAD), rename (-m) or delete (-d, -D).

    Listing takes --list PATTERN…, --contains REV, --merged [REV] and --no-merged [REV].
    """
    from .. import branches

    repo = open_repo()
    if show_current:
        _show_current(repo, name, delete, force_delete, move, force, remotes, list_all,
                      verbose, as_list, contains, merged, not_merged, as_json)
        return
    delete, force = delete or force_delete, force or force_delete
    filtering = as_list or contains or merged or not_merged
    if sum((delete, move, bool(remotes or list_all or filtering or verbose))) > 1:
        raise UsageError("-d/-D, -m and listing (-r/-a/-v/--list/--contains/--merged) "
                         "cannot be combined")
    if remotes or list_all or filtering or verbose:
        if (name is not None or start is not None) and not as_list:
            raise UsageError("listing takes no NAME; patterns need --list",
                             hint="muse branch --list 'takes/*'")
        keep = _ref_filter(repo, (name, start), contains, merged, not_merged)
        _list_all(repo, as_json, local=list_all or not remotes, remote=remotes or list_all,
                  keep=keep, verbose=verbose)
        return
    if name is None:
        if delete or move or start:
            raise UsageError("which branch?", hint="give a NAME")
        _list_refs(repo, branches.list_branches(repo), as_json, show_detached=True)
        return
    if as_json:
        raise UsageError("--json only applies to listing branches")
    if move:
        if force:
            raise UsageError("-m does not replace an existing branch",
                             hint="delete it first with `muse branch -d NAME`")
        old, new = (None, name) if start is None else (name, start)
        done = branches.rename_branch(repo, old, new)
        say(f"Renamed branch {printable(done.old)} to {printable(done.new)}")
        return
    if delete:
        if start is not None:
            raise UsageError("-d takes one branch name", hint="muse branch -d NAME")
        gone = branches.delete_branch(repo, name, force=force)
        say(f"Deleted branch {name} (was {short(gone.old)})")
        return
    commit = _resolve(repo, start or "HEAD")
    made = branches.create_branch(repo, name, commit, force=force, start_label=start or "HEAD")
    verb = "Moved" if made.old is not None else "Created"
    say(f"{verb} branch {name} at {short(commit)}")


def _show_current(repo: Any, *others: Any) -> None:
    """`branch --show-current`, which takes no other argument or option (as git)."""
    if any(o not in (None, False) for o in others):
        raise UsageError("--show-current takes no other argument or option")
    current = repo.current_branch()
    if current is not None:
        click.echo(current)


def _list_all(repo: Any, as_json: bool, *, local: bool, remote: bool = True,
              keep: Any = None, verbose: bool = False) -> None:
    """-r: the remote-tracking branches (`origin/main`); -a: the local ones first, too;
    only those `keep` (a RefFilter) keeps."""
    from .. import branches

    def kept(refs: list[Any]) -> list[Any]:
        return [r for r in refs if keep is None or keep.keeps(repo, r.name, r.commit)]

    mine = kept(branches.list_branches(repo)) if local else []
    theirs = kept(branches.list_remote_branches(repo)) if remote else []
    if as_json:
        emit_json([{"name": r.name, "commit": r.commit, "current": r.current, "remote": False}
                   for r in mine] +
                  [{"name": r.name, "commit": r.commit, "current": False, "remote": True}
                   for r in theirs])
        return
    prefix = "remotes/" if local and remote else ""
    width = max((len(r.name) for r in mine), default=0)
    width = max([width, *(len(prefix + r.name) for r in theirs)])
    if local:
        _list_refs(repo, mine, False, show_detached=keep is None or not keep.patterns,
                   verbose=verbose, width=width)
    for ref in theirs:
        line = f"  {printable(prefix + ref.name)}"
        click.echo(_with_subject(repo, line, ref, width) if verbose else line)


def _with_subject(repo: Any, line: str, ref: Any, width: int) -> str:
    """`-v`: the name padded, then the short id and the commit's subject."""
    subject = printable(repo.graph.commit(ref.commit).subject)
    return f"{line}{' ' * (2 + width - len(line))} {short(ref.commit)} {subject}"


def _list_refs(repo: Any, refs: list[Any], as_json: bool, *, show_detached: bool,
               verbose: bool = False, width: int = 0) -> None:
    if as_json:
        emit_json([{"name": r.name, "commit": r.commit, "current": r.current} for r in refs])
        return
    head = repo.head()
    if show_detached and repo.current_branch() is None and head is not None:
        click.echo(f"* (HEAD detached at {short(head)})")
    for ref in refs:
        marker = "*" if ref.current else " "
        line = f"{marker} {printable(ref.name)}"
        click.echo(_with_subject(repo, line, ref, width) if verbose else line)


# -- tag ----------------------------------------------------------------------------


class _LineCount(click.IntRange):
    """`tag -n`'s optional count (`-n3`): a word after a bare `-n` is taken for it, as click
    reads options, so a pattern there is told to go after --list. `-n0` is git's plain
    listing (names only)."""

    name = "lines"

    def __init__(self) -> None:
        super().__init__(min=0)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.isdigit():
            self.fail(f"-n takes a number of lines (-n3), not {value!r}; a tag pattern goes "
                      "after --list: muse tag -n --list 'v1.*'", param, ctx)
        return super().convert(value, param, ctx)


@_command
@click.command()
@click.argument("name", required=False)
@click.argument("revision", required=False)
@click.option("-a", "--annotate", is_flag=True,
              help="Make an annotated tag: a tag object, signed like a commit.")
@click.option("-m", "--message", help="The annotated tag's message (implies -a).")
@click.option("-F", "--file", "message_file", type=click.File("r", encoding="utf-8"),
              help="Read the annotated tag's message from FILE (`-` for stdin; implies -a).")
@click.option("--unsigned", is_flag=True, help="Do not sign the annotated tag.")
@click.option("-v", "--verify", is_flag=True,
              help="Show tag NAME: its commit, tagger, message and the signature of every "
              "tag object along its chain (fails if one is bad).")
@click.option("-d", "--delete", is_flag=True, help="Delete tag NAME.")
@click.option("-f", "--force", is_flag=True, help="Move NAME if it already exists.")
@click.option("-n", "lines", type=_LineCount(), is_flag=False, flag_value=1,
              default=None, metavar="[N]",
              help="List each tag with N lines (default 1) of its message, or its commit's.")
@_listing_options
@json_option("Machine-readable list (or -v).")
def tag(name: str | None, revision: str | None, annotate: bool, message: str | None,
        message_file: Any, unsigned: bool, verify: bool, delete: bool, force: bool,
        lines: int | None, as_list: bool, contains: str | None, merged: str | None,
        not_merged: str | None, as_json: bool) -> None:
    """List tags, create tag NAME at REVISION (default HEAD), show one (-v) or delete it (-d).

    With -a, -m or -F the tag is annotated: a tag object naming the commit, with
    tagger, date and message, signed with your key as commits are (--unsigned not to).
    Given an annotated tag as REVISION, the new tag names that tag object, as in git
    (annotated: a tag of a tag, signed over its signature; lightweight: a second ref to
    it); REVISION^{} tags its commit instead.
    """
    from .. import branches

    repo = open_repo()
    annotated = annotate or message is not None or message_file is not None
    if lines is not None and not (as_list or name is None):
        raise UsageError("-n lists tags: it takes no NAME (patterns need --list)")
    if as_list or contains or merged or not_merged:
        if delete or annotated or verify:
            raise UsageError("listing (--list/--contains/--merged) cannot be combined with "
                             "-a, -m, -F, -v or -d")
        if (name is not None or revision is not None) and not as_list:
            raise UsageError("listing takes no NAME; patterns need --list",
                             hint="muse tag --list 'v1.*'")
        _list_tags(repo, as_json, _ref_filter(repo, (name, revision), contains, merged,
                                              not_merged), lines=lines)
        return
    if name is None:
        if delete or revision or annotated or verify:
            raise UsageError("which tag?", hint="give a NAME")
        _list_tags(repo, as_json, lines=lines)
        return
    if verify:
        if delete or annotated or revision is not None:
            raise UsageError("-v shows one tag; it takes no other option",
                             hint="muse tag -v NAME")
        _show_tag(repo, name, as_json)
        return
    if as_json:
        raise UsageError("--json only applies to listing or showing tags")
    if delete:
        if revision is not None or annotated:
            raise UsageError("-d takes one tag name", hint="muse tag -d NAME")
        gone = branches.delete_tag(repo, name)
        click.echo(f"Deleted tag {name} (was {short(gone.old)})")
        return
    if unsigned and not annotated:
        raise UsageError("--unsigned applies to annotated tags only", hint="add -a -m MESSAGE")
    from ..revisions import named_tag_object

    commit = _resolve(repo, revision or "HEAD")
    # Like git, a tag of an annotated tag (by name or id) names its tag object, not the
    # commit beneath it: an annotated one signs over the other's signature, a lightweight
    # one is a second ref to it. REVISION^{} names the commit.
    target = (revision and named_tag_object(repo, revision)) or commit
    if annotated:
        _create_annotated(repo, name, target, _tag_message(repo, name, message, message_file),
                          sign=not unsigned, force=force)
        return
    made = branches.create_tag(repo, name, target, force=force)
    verb = "Moved" if made.old is not None else "Created"
    over = "" if target == commit else (
        f", naming tag object {short(target)} "
        f"({printable(repo.store.read_tag(target).name)})")
    click.echo(f"{verb} tag {name} at {short(commit)}{over}")


def _tag_message(repo: Any, name: str, message: str | None, message_file: Any) -> str:
    """-m or -F; with neither, the message written in the editor, as git asks for it."""
    from .editor import chosen_editor, commented, edit_message

    if message is not None and message_file is not None:
        raise UsageError("-m and -F cannot be combined")
    if message_file is not None:
        try:
            message = message_file.read()
        except UnicodeDecodeError:
            raise UsageError("the message file is not UTF-8 text") from None
    editor = chosen_editor(repo) if message is None else None
    if editor is not None:
        template = commented(["", "Write a message for tag:", f"  {name}",
                              "Lines starting with '#' will be ignored."])
        message = edit_message(repo, editor, "\n" + template, "TAG_EDITMSG")
    if not message or not message.strip():
        raise UsageError("an annotated tag needs a message",
                         hint="muse tag -a NAME -m MESSAGE; on a terminal Muse opens your "
                         "editor")
    return message if message.endswith("\n") else message + "\n"


def _create_annotated(repo: Any, name: str, target: str, message: str, *, sign: bool,
                      force: bool) -> None:
    from ..tags import create_annotated_tag, peel

    made, change = create_annotated_tag(repo, name, target, message, sign=sign, force=force)
    verb = "Moved" if change.old is not None else "Created"
    signed = "signed" if made.is_signed else "unsigned"
    over = f", over tag object {short(target)}" if made.target_kind == "tag" else ""
    click.echo(f"{verb} annotated tag {name} at {short(peel(repo.store, target))}{over} "
               f"({signed}, tag object {short(made.id)})")


def _list_tags(repo: Any, as_json: bool, keep: Any = None, *,
               lines: int | None = None) -> None:
    from ..tags import list_entries

    entries = [t for t in list_entries(repo)
               if keep is None or keep.keeps(repo, t.name, t.commit)]
    if as_json:
        emit_json([{"name": t.name, "commit": t.commit, "annotated": t.annotated,
                    "tag_object": t.tag_object} for t in entries])
        return
    for found in entries:
        if not lines:  # None, or git's -n0: the names alone
            click.echo(printable(found.name))
        else:
            _echo_annotation(repo, found, lines)


def _echo_annotation(repo: Any, entry: Any, lines: int) -> None:
    """`tag -n`: the name in 15 columns, then the first lines of its message (a
    lightweight tag's: its commit's), further lines indented, as git prints them."""
    text = entry.tag.message if entry.tag is not None else repo.graph.commit(entry.commit).message
    shown = printable_lines(text.strip("\n"))[:lines] or [""]
    click.echo(f"{printable(entry.name):<15} {shown[0]}".rstrip())
    for line in shown[1:]:
        click.echo(f"    {line}".rstrip() if line else "    ")


def _show_tag(repo: Any, name: str, as_json: bool) -> None:
    from ..branches import tag_ref_name
    from ..errors import RevisionError
    from ..tags import read_entry

    value = repo.refs.read(tag_ref_name(name))
    if value is None:
        raise RevisionError(f"no tag named {name!r}", hint="see `muse tag` for the list")
    record = tag_record(read_entry(repo, name, value))
    if as_json:
        emit_json(record)
    else:
        print_tag(record)
    _refuse_bad_signatures(record)


def _refuse_bad_signatures(record: dict[str, Any]) -> None:
    """`tag -v` fails (after showing everything) when any tag of the chain is forged."""
    from ..errors import SignatureError

    bad = [link for link in record.get("chain", ()) if link["signature"] == "bad"]
    if bad:
        which = ", ".join(f"{printable(b['tag_name'])} ({b['tag_object']})" for b in bad)
        raise SignatureError(f"tag {printable(record['name'])}: bad signature on {which}",
                             hint="its bytes were changed after signing; do not trust it")


def tag_record(entry: Any) -> dict[str, Any]:
    """A tag as plain data, the shape `tag -v --json` and `show --json` print.

    An annotated tag's own fields sit at the top; `chain` lists every tag object from
    it to the commit (one for a tag of a commit), each with its signature's status.
    """
    from ..trust import trusted_set

    record: dict[str, Any] = {"name": entry.name, "commit": entry.commit,
                              "annotated": entry.annotated, "tag_object": entry.tag_object}
    if entry.tag is not None:
        trusted = trusted_set()
        chain = [_link_record(oid, made, trusted) for oid, made in entry.chain]
        record.update({k: v for k, v in chain[0].items() if k != "tag_object"})
        record["chain"] = chain
    return record


def _link_record(oid: str, made: Any, trusted: frozenset[bytes]) -> dict[str, Any]:
    from ..keys import fingerprint
    from ..trust import trust_status

    return {"tag_object": oid, "tag_name": made.name, "target": made.target,
            "target_kind": made.target_kind,
            "tagger": {"name": made.tagger_name, "email": made.tagger_email},
            "timestamp": made.timestamp, "tz_offset_minutes": made.tz_offset_minutes,
            "message": made.message, "signature": trust_status(made, trusted),
            "signer": made.signer.hex() if made.signer else None,
            "signer_fingerprint": fingerprint(made.signer) if made.signer else None}


def print_tag(record: dict[str, Any]) -> None:
    click.echo(f"tag {printable(record['name'])}")
    if record["tag_object"] is None:
        click.echo(f"commit {record['commit']} (lightweight: no tagger, message or signature)")
        return
    click.echo(f"object {record['tag_object']}")
    click.echo(f"commit {record['commit']}")
    if record["tag_name"] != record["name"]:
        # The name is signed: a ref that names someone's tag under another name says so.
        click.echo(f"warning: the tag object calls itself {printable(record['tag_name'])!r}")
    chain = record["chain"]
    _print_link(chain[0])
    for outer, inner in itertools.pairwise(chain):
        # Each tag a tag signs over, in turn, down to the commit.
        click.echo("")
        click.echo(f"tag {printable(inner['tag_name'])} (which "
                   f"{printable(outer['tag_name'])} signs over)")
        click.echo(f"object {inner['tag_object']}")
        _print_link(inner)


def _print_link(link: dict[str, Any]) -> None:
    from ..display import format_time

    tagger = link["tagger"]
    click.echo(f"Tagger: {printable(tagger['name'])} <{printable(tagger['email'])}>")
    click.echo(f"Date:   {format_time(link['timestamp'], link['tz_offset_minutes'])}")
    click.echo(f"Signature: {link['signature']}")
    if link["signer_fingerprint"] is not None:
        click.echo(f"Signed by: key {link['signer_fingerprint']}")
    click.echo("")
    for line in link["message"].splitlines():
        click.echo(f"    {printable(line)}")


# -- switch -------------------------------------------------------------------------


@_command
@click.command()
@click.argument("target", required=False)
@click.option("-c", "--create", "new_branch", metavar="NEW",
              help="Create branch NEW at TARGET (default HEAD) and switch to it.")
@click.option("-C", "--force-create", "reset_branch", metavar="NEW",
              help="As -c, but move NEW to TARGET if it exists (not the current branch).")
@click.option("--detach", is_flag=True, help="Detach HEAD at commit TARGET (default HEAD).")
@click.option("-f", "--force", is_flag=True, help="Discard local changes that are in the way.")
@quiet_option()
def switch(target: str | None, new_branch: str | None, reset_branch: str | None,
           detach: bool, force: bool) -> None:
    """Switch to branch TARGET, bringing the working tree along.

    Local changes to files that differ between the two commits block the
    switch (unless --force); other local changes are carried across.
    `muse switch -` goes back to the branch switched away from last (`@{-N}`:
    N switches ago).
    """
    from .. import checkout

    repo = open_repo()
    if new_branch is not None and reset_branch is not None:
        raise UsageError("-c and -C cannot be combined")
    new_branch, reset = (reset_branch, True) if reset_branch is not None else (new_branch, False)
    if new_branch is not None and detach:
        raise UsageError("-c/-C and --detach cannot be combined")
    if new_branch is not None:
        start = _resolve(repo, target) if target else None
        result = checkout.switch_new_branch(repo, new_branch, start, force=force,
                                            start_label=target or "HEAD", reset=reset)
    elif detach:
        result = checkout.switch_detached(repo, _resolve(repo, target or "HEAD"), force=force)
    elif target is None:
        raise UsageError("switch to what?", hint="muse switch BRANCH, -c NEW, or --detach REV")
    elif target == "-" or _EARLIER_BRANCH.fullmatch(target):
        result = _switch_back(repo, target, force=force)
    else:
        _refuse_non_branch(repo, target)
        result = checkout.switch_branch(repo, target, force=force)
    _report_switch(repo, result)


_EARLIER_BRANCH = re.compile(r"@\{-[0-9]+\}")


def _switch_back(repo: Any, target: str, *, force: bool) -> Any:
    """`muse switch -` (= `@{-1}`) and `@{-N}`: back to the branch HEAD was on N switches
    ago, or to the commit it was at when it was detached there, as in git."""
    from .. import checkout
    from ..revisions import previous_checkout

    branch, commit = previous_checkout(repo, target, int(target[3:-1]) if target != "-" else 1)
    if branch is not None:
        return checkout.switch_branch(repo, branch, force=force)
    return checkout.switch_detached(repo, commit, force=force)


def _refuse_non_branch(repo: Any, target: str) -> None:
    """A revision that is not a branch needs --detach, as in git."""
    from ..refs import HEADS

    if repo.refs.read(HEADS + target) is not None or not _names_a_commit(repo, target):
        return
    raise UsageError(f"{target!r} is not a branch",
                     hint=f"use `muse switch --detach {target}` to look at that commit")


def _names_a_commit(repo: Any, text: str) -> bool:
    from ..errors import RevisionError

    try:
        _resolve(repo, text)
    except RevisionError:
        return False
    return True


def _report_switch(repo: Any, result: Any) -> None:
    for path in result.carried:
        say(f"kept local change: {printable(path)}")
    if result.unchanged:
        say(f"Already on '{result.branch}'")
    elif result.branch is None:
        say(f"HEAD is now at {short(result.commit)} {_subject(repo, result.commit)} (detached)")
    elif result.created:
        say(f"Switched to a new branch '{result.branch}'")
    elif result.moved:
        say(f"Switched to and reset branch '{result.branch}'")
    else:
        say(f"Switched to branch '{result.branch}'")


# -- merge --------------------------------------------------------------------------


@_command
@click.command()
@click.argument("revision", required=False)
@click.option("--abort", is_flag=True, help="Give up the merge in progress; restore HEAD.")
@click.option("--no-ff", is_flag=True, help="Make a merge commit even if fast-forward works.")
@click.option("--ff-only", is_flag=True, help="Refuse unless a fast-forward is possible.")
@click.option("-m", "--message", help="Merge commit message (default: Merge REV into BRANCH).")
@click.option("--unsigned", is_flag=True, help="Do not sign the merge commit.")
@click.option("--ours", "favour", flag_value="ours",
              help="Settle every conflict for our side (text: the conflicting lines only).")
@click.option("--theirs", "favour", flag_value="theirs",
              help="Settle every conflict for their side (text: the conflicting lines only).")
@quiet_option("Print nothing but conflicts, warnings and errors.")
@json_option("Machine-readable result.")
@click.pass_context
def merge(ctx: click.Context, revision: str | None, abort: bool, no_ff: bool, ff_only: bool,
          message: str | None, unsigned: bool, favour: str | None, as_json: bool) -> None:
    """Merge REVISION into the current branch.

    Text files merge line by line; overlapping changes get conflict markers
    (`merge.conflictStyle` merge or diff3). Renames since the merge base are
    followed, as git does (`merge.renames`, `merge.renameLimit`): an edit to a
    file the other side renamed lands at its new name. Exit code 1 means the merge
    stopped with conflicts: see docs/branching-and-merging.md (and `muse
    resolve`) for how to settle them.
    """
    from .. import merge as merging

    repo = open_repo()
    if abort:
        if revision or no_ff or ff_only or message or favour:
            raise UsageError("--abort takes no other arguments")
        removed = merging.abort_merge(repo)
        if as_json:
            emit_json({"result": "aborted", "head": repo.head(), "removed": removed})
            return
        for side in removed:
            say(f"removed {side}")
        say(f"Merge aborted; HEAD is at {short(repo.head())}")
        return
    if revision is None:
        raise UsageError("merge what?", hint="muse merge BRANCH (or --abort)")
    if no_ff and ff_only:
        raise UsageError("--no-ff and --ff-only cannot be combined")
    ff = merging.FF_NEVER if no_ff else merging.FF_ONLY if ff_only else merging.FF_AUTO
    other = _resolve(repo, revision)
    outcome = merging.merge(repo, other, label=revision, ff=ff, message=message,
                            sign=not unsigned, favour=favour)
    if as_json:
        emit_json({"result": outcome.kind, "head": outcome.head,
                   "conflicts": [asdict(r) for r in outcome.conflicts],
                   "warnings": list(outcome.warnings)})
        return _exit_on_conflicts(ctx, outcome)
    report_warnings(outcome.warnings)
    if outcome.kind == "up-to-date":
        say("Already up to date.")
    elif outcome.kind == "fast-forward":
        say(f"Fast-forward to {short(other)} {_subject(repo, other)}")
    elif outcome.kind == "merged" and outcome.commit is not None:
        echo_made(repo, outcome.commit)
    else:
        report_conflicts(outcome.conflicts, "merge")
    _exit_on_conflicts(ctx, outcome)


def _exit_on_conflicts(ctx: click.Context, outcome: Any) -> None:
    if outcome.kind == "conflicts":
        ctx.exit(1)


def report_warnings(warnings: Any) -> None:
    """A merge's warnings (inexact rename detection skipped), once each, on stderr."""
    for warning in warnings:
        warn(warning)


def echo_made(repo: Any, made: Any) -> None:
    """`[main 1a2b3c4d5e6f] subject (signed)`: the line every command that commits prints."""
    where = repo.current_branch() or "detached HEAD"
    signed = "signed" if made.is_signed else "unsigned"
    say(f"[{where} {short(made.id)}] {printable(made.subject)} ({signed})")


def rename_note(record: Any) -> str:
    """How a renamed file's conflict came about, in the words git's CONFLICT lines use."""
    from ..merge_state import RENAME_ADD, RENAME_DELETE, RENAME_RENAME

    renamed = record.renamed or {}
    base, ours, theirs = (renamed.get(k) for k in ("base", "ours", "theirs"))
    if record.kind == RENAME_RENAME:
        return f"{base} renamed to {ours} in ours and to {theirs} in theirs"
    if record.kind == RENAME_DELETE:
        side, other = ("ours", "theirs") if ours is not None else ("theirs", "ours")
        return f"renamed from {base} in {side}, deleted in {other}"
    if record.kind == RENAME_ADD:
        side, other = ("ours", "theirs") if ours == record.path else ("theirs", "ours")
        return f"renamed from {base} in {side}, added in {other}"
    sides = [s for s, p in (("ours", ours), ("theirs", theirs)) if p != base]
    if not sides:
        return ""
    return f"renamed from {base} in {' and '.join(sides) if len(sides) < 2 else 'both'}"


def report_conflicts(records: list[Any], action: str) -> None:
    """One CONFLICT line per path on stdout; on stderr, how to settle each kind."""
    from ..merge_state import RENAME_RENAME

    for record in records:
        notes = [rename_note(record)] if record.renamed else []
        if record.markers:
            both = record.kind == RENAME_RENAME
            notes.append(f"conflict markers in {'both files' if both else 'the file'}")
        elif record.side_files:
            notes.append(f"see {', '.join(record.side_files)}")
        details = f" ({'; '.join(n for n in notes if n)})" if any(notes) else ""
        click.echo(printable(f"CONFLICT ({record.kind}): {record.path}{details}"))
    click.echo(f"Automatic {action} stopped: fix the conflicts, then commit the result.")
    if any(r.markers for r in records):
        click.echo("hint: edit each file with conflict markers (<<<<<<< ours … >>>>>>> "
                   "theirs) to the text you want", err=True)
    if any(r.kind == RENAME_RENAME for r in records):
        click.echo("hint: a file renamed both ways is at both names: delete the one you do "
                   "not want (or `muse resolve --ours PATH` keeps our name, --theirs theirs)",
                   err=True)
    whole = [r.path for r in records if not r.markers and r.kind != RENAME_RENAME]
    if whole:
        example = printable(whole[0])
        click.echo(f"hint: for a file that cannot be merged line by line, keep one side with "
                   f"`muse resolve --ours {example}` (or --theirs), or put the version you "
                   "want at the path and delete its ~theirs/~base files", err=True)
    finish = ("run `muse commit -m MESSAGE`; or run `muse merge --abort`" if action == "merge"
              else f"run `muse {action} --continue`; or run `muse {action} --abort`")
    click.echo(f"hint: then {finish}", err=True)


# -- reset --------------------------------------------------------------------------


@_command
@click.command()
@click.argument("revision", required=False, default="HEAD")
@click.option("--hard", is_flag=True,
              help="Also make the tracked files match REVISION (discards local changes).")
@click.option("--mixed", is_flag=True,
              help="Move only the branch; a merge in progress is given up, files kept "
              "(the default).")
@click.option("--soft", is_flag=True,
              help="Move only the branch; refused while a merge is in progress.")
@quiet_option()
def reset(revision: str, hard: bool, mixed: bool, soft: bool) -> None:
    """Move the current branch (or detached HEAD) to REVISION: --soft, --mixed (the
    default, as in git) or --hard.

    Muse has no staging area: --soft and --mixed leave every file as it is, so
    what differs from REVISION shows in `muse status` and goes into the next
    commit. --hard also makes tracked files match REVISION (untracked files are
    left alone) and gives up a merge in progress.
    """
    from ..checkout import reset_branch, reset_hard

    modes = [name for name, on in (("soft", soft), ("mixed", mixed), ("hard", hard)) if on]
    if len(modes) > 1:
        raise UsageError(f"--{modes[0]} and --{modes[1]} cannot be combined")
    mode = modes[0] if modes else "mixed"  # git's default: files are never touched
    repo = open_repo()
    commit = _resolve(repo, revision)
    if mode == "hard":
        reset_hard(repo, commit, revision)
    else:
        removed = reset_branch(repo, commit, revision, mode=mode)
    say(f"HEAD is now at {short(commit)} {_subject(repo, commit)}")
    if mode != "hard" and removed:
        say("Removed the conflict's side files (copies of stored versions): "
            + ", ".join(printable(name) for name in removed), err=True)
        say("The rest of the working tree was not touched: `muse status` shows how "
            "it differs.", err=True)
    elif mode != "hard":
        say("The working tree was not touched: `muse status` shows how it differs.", err=True)
