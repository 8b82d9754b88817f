"""Remotes and transfer: remote, push, fetch, pull, clone, ls-remote."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import MuseError, UsageError
from ..units import counted, human_size
from .base import (
    REQUIRE_SIGNATURES,
    emit_json,
    error_json,
    is_quiet,
    json_option,
    open_repo,
    quiet_option,
    receive_policy_for,
    request_auto_gc,
    say,
    short,
)

COMMANDS: list[click.Command] = []
C = TypeVar("C", bound=click.Command)

def _command(command: C) -> C:
    """Register a command with the CLI (muse/cli/__init__.py adds every one in COMMANDS)."""
    COMMANDS.append(command)
    return command


@contextlib.contextmanager
def _connected(url: str, repo: Any = None, name: str | None = None) -> Iterator[Any]:
    from ..remote_wrappers import connect
    from ..remotes_config import remote_options

    remote = connect(url, remote_options(repo, name, url=url))
    try:
        yield remote
    finally:
        with contextlib.suppress(MuseError, OSError):
            remote.close()


def _progress(as_json: bool) -> Any:
    from .progress import make_progress

    return make_progress(as_json=as_json or is_quiet())


def _display(ref: str) -> str:
    """`main` for refs/heads/main, `v1` for refs/tags/v1, `origin/main` for tracking refs."""
    for prefix in ("refs/heads/", "refs/tags/", "refs/remotes/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _outcome_line(outcome: Any) -> tuple[str, str, str]:
    """(flag, summary, trailer) for one ref, as git prints them."""
    o = outcome
    if o.status == "up-to-date":
        return "=", "[up to date]", ""
    if o.status == "created":
        kind = "tag" if o.name.startswith("refs/tags/") else (
            "branch" if o.name.startswith(("refs/heads/", "refs/remotes/")) else "reference")
        return "*", f"[new {kind}]", ""
    if o.status == "fast-forward":
        return " ", f"{short(o.old)}..{short(o.new)}", ""
    if o.status == "forced":
        return "+", f"{short(o.old)}...{short(o.new)}", " (forced update)"
    if o.status == "deleted":
        return "-", "[deleted]", ""
    reason = f" ({o.reason})" if o.reason else ""
    return "!", f"[{o.status}]", reason


def _echo_outcomes(outcomes: list[Any], labels: Callable[[Any], str],
                   echo: Callable[[str], None] = say) -> None:
    rows = [(*_outcome_line(o), labels(o)) for o in outcomes]
    width = max((len(summary) for _, summary, _, _ in rows), default=0)
    for flag, summary, trailer, label in rows:
        echo(f" {flag} {summary:<{width}}  {label}{trailer}")


def _refs_json(outcomes: list[Any]) -> list[dict[str, Any]]:
    return [asdict(o) for o in outcomes]


# -- remote ---------------------------------------------------------------------------


@_command
@click.group(invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="Show each remote's URL.")
@json_option("Machine-readable output (with no subcommand).")
@click.pass_context
def remote(ctx: click.Context, verbose: bool, as_json: bool) -> None:
    """Manage the named remotes this repository pushes to and fetches from.

    With no subcommand, lists them (like `muse remote list`).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(remote_list, verbose=verbose, as_json=as_json)


def _setting_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE",
                        help=f"Record remote.NAME.KEY for {what} (repeatable): an S3 "
                        "`endpoint`, `region`, `path-style`, a `timeout`… (docs/remotes.md).")


@remote.command("add")
@click.argument("name")
@click.argument("url")
@_setting_option("the new remote")
def remote_add(name: str, url: str, settings: tuple[str, ...]) -> None:
    """Remember URL under NAME (a plain path is stored as an absolute path)."""
    from ..remotes_config import add_remote, parse_settings

    added = add_remote(open_repo(), name, url, parse_settings(name, settings))
    click.echo(f"Added remote {added.name} → {added.url}")


@remote.command("set-url")
@click.argument("name")
@click.argument("url")
def remote_set_url(name: str, url: str) -> None:
    """Point remote NAME at URL (a plain path is stored as an absolute path)."""
    from ..remotes_config import set_remote_url

    changed = set_remote_url(open_repo(), name, url)
    click.echo(f"Remote {changed.name} → {changed.url}")


@remote.command("get-url")
@click.argument("name")
def remote_get_url(name: str) -> None:
    """Print the URL of remote NAME."""
    from ..remotes_config import remote_url

    click.echo(remote_url(open_repo(), name))


@remote.command("set-token")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="read the token from standard input")
def remote_set_token(name: str, from_stdin: bool) -> None:
    """Keep a token for remote NAME in your config dir (mode 0600), never in the repository."""
    from ..credentials import store_token
    from ..remotes_config import remote_url

    url = remote_url(open_repo(), name)
    if from_stdin or not sys.stdin.isatty():
        token = sys.stdin.readline()
    else:
        token = click.prompt(f"token for {url}", hide_input=True)
    store_token(url, token)
    click.echo(f"Stored a token for {name} ({url})")


@remote.command("forget-token")
@click.argument("name")
def remote_forget_token(name: str) -> None:
    """Drop the token kept for remote NAME."""
    from ..credentials import forget_token
    from ..remotes_config import remote_url

    url = remote_url(open_repo(), name)
    if not forget_token(url):
        raise UsageError(f"no token is stored for {name} ({url})")
    click.echo(f"Forgot the token for {name}")


@remote.command("remove")
@click.argument("name")
def remote_remove(name: str) -> None:
    """Forget remote NAME, its remote-tracking refs and the upstreams that named it."""
    from ..remotes_config import remove_remote

    dropped = remove_remote(open_repo(), name)
    click.echo(f"Removed remote {name} ({counted(len(dropped), 'remote-tracking ref')})")


@remote.command("rename")
@click.argument("old")
@click.argument("new")
def remote_rename(old: str, new: str) -> None:
    """Rename remote OLD to NEW, with its remote-tracking refs and upstreams."""
    from ..remotes_config import rename_remote

    moved = rename_remote(open_repo(), old, new)
    click.echo(f"Renamed remote {old} to {new} ({counted(len(moved), 'remote-tracking ref')})")


@remote.command("list")
@click.option("-v", "--verbose", is_flag=True, help="Show each remote's URL.")
@json_option("Machine-readable output.")
def remote_list(verbose: bool, as_json: bool) -> None:
    """List the configured remotes."""
    from ..remotes_config import list_remotes

    remotes = list_remotes(open_repo())
    if as_json:
        emit_json({"remotes": [{"name": r.name, "url": r.url} for r in remotes]})
        return
    for r in remotes:
        click.echo(f"{r.name}\t{r.url}" if verbose else r.name)


@remote.command("show")
@click.argument("name")
@json_option("Machine-readable output.")
def remote_show(name: str, as_json: bool) -> None:
    """Show remote NAME: its URL, its branches and how local branches relate to them."""
    from ..remotes_config import remote_url

    repo = open_repo()
    url = remote_url(repo, name)
    with _connected(url, repo, name) as conn:
        remote_refs = conn.list_refs()
    data = _show_data(repo, name, url, remote_refs)
    if as_json:
        emit_json(data)
        return
    click.echo(f"* remote {name}")
    click.echo(f"  URL: {url}")
    click.echo("  Remote branches:" if data["branches"] else "  Remote branches: (none)")
    for b in data["branches"]:
        click.echo(f"    {b['name']:<20} {b['tracking']}")
    if data["tags"]:
        click.echo(f"  Tags: {', '.join(t['name'] for t in data['tags'])}")
    if data["upstreams"]:
        click.echo("  Local branches tracking it (`muse pull` / `muse push`):")
    for u in data["upstreams"]:
        click.echo(f"    {u['branch']:<20} ↔ {u['merge']} ({u['status']})")


def _show_data(repo: Any, name: str, url: str, remote_refs: dict[str, str]) -> dict[str, Any]:
    from ..refs import HEADS, TAGS
    from ..remotes_config import branches_tracking, tracking_prefix, tracking_refs, upstream

    prefix = tracking_prefix(name)
    tracked = tracking_refs(repo, name)
    branches = []
    for ref, oid in remote_refs.items():
        if not ref.startswith(HEADS):
            continue
        mine = tracked.get(prefix + ref[len(HEADS):])
        status = ("tracked" if mine == oid else
                  "new (the next fetch stores it)" if mine is None else "changed (fetch to update)")
        branches.append({"name": ref[len(HEADS):], "id": oid, "tracking": status})
    for ref, oid in tracked.items():
        if HEADS + ref[len(prefix):] not in remote_refs:
            branches.append({"name": ref[len(prefix):], "id": oid,
                             "tracking": "stale (gone from the remote)"})
    branches.sort(key=lambda b: b["name"])
    tags = [{"name": ref[len(TAGS):], "id": oid} for ref, oid in remote_refs.items()
            if ref.startswith(TAGS)]
    upstreams = []
    for branch in branches_tracking(repo, name):
        up = upstream(repo, branch)
        if up is None:
            continue
        status = _relation(repo, repo.refs.read(HEADS + branch), remote_refs.get(up.merge))
        upstreams.append({"branch": branch, "merge": _display(up.merge), "status": status})
    return {"name": name, "url": url, "branches": branches, "tags": tags,
            "upstreams": upstreams}


def _relation(repo: Any, local: str | None, theirs: str | None) -> str:
    if theirs is None:
        return "not on the remote"
    if local is None:
        return "no local commits"
    if local == theirs:
        return "up to date"
    if not repo.store.has(theirs):
        return "remote has new commits (fetch to compare)"
    return {"ahead": "ahead: push will fast-forward",
            "behind": "behind: pull will fast-forward"}.get(
        repo.graph.relation(local, theirs), "diverged")


# -- push -----------------------------------------------------------------------------


def _location(repo: Any, word: str | None) -> Any:
    from ..remotes_config import default_remote, resolve_remote

    return resolve_remote(repo, word if word is not None else default_remote(repo))


def _push_refspecs(repo: Any, location: Any, specs: tuple[str, ...], push_all: bool,
                   tags: bool, remote_refs: Callable[[], dict[str, str]],
                   delete: bool = False) -> list[tuple[str | None, str]]:
    from .. import remotes_config as rc

    if delete:
        specs = _deletions(specs, push_all or tags)
    if push_all and specs:
        raise UsageError("--all pushes every branch: it takes no REFSPEC")
    wanted = [rc.parse_refspec(repo, spec, remote_refs) for spec in specs]
    if push_all:
        wanted += rc.all_branches(repo)
    if tags:
        wanted += [t for t in rc.all_tags(repo) if t not in wanted]
    if not specs and not push_all and not tags:
        wanted.append(rc.default_refspec(repo, location.name))
    return wanted


def _deletions(names: tuple[str, ...], whole_sets: bool) -> tuple[str, ...]:
    """`push --delete NAME…` as the refspecs `:NAME…` it stands for."""
    if whole_sets:
        raise UsageError("--delete names what to delete: not with --all or --tags")
    if not names:
        raise UsageError("--delete needs the names to delete",
                         hint="muse push --delete origin old-branch")
    if any(":" in name for name in names):
        raise UsageError("--delete takes names, not refspecs",
                         hint="muse push --delete origin NAME (or muse push origin :NAME)")
    return tuple(f":{name}" for name in names)


def _push_json(location: Any, report: Any, refs: list[Any], dry_run: bool,
               error: MuseError | None = None) -> dict[str, Any]:
    data = {
        "remote": location.name,
        "url": location.url,
        "refs": _refs_json(refs),
        "commits": report.commits if report else 0,
        "objects": report.objects if report else 0,
        "bytes": report.bundle_bytes if report else 0,
        "dry_run": dry_run,
    }
    if error is not None:
        data["error"] = error_json(error)
    return data


def _set_upstreams(repo: Any, remote_name: str, refspecs: list[tuple[str | None, str]],
                   quiet: bool) -> None:
    from ..refs import HEADS
    from ..remotes_config import set_upstream

    for src, dst in refspecs:
        if src is None or not src.startswith(HEADS) or not dst.startswith(HEADS):
            continue
        branch = src[len(HEADS):]
        set_upstream(repo, branch, remote_name, dst)
        if not quiet:
            say(f"branch {branch} set up to track {remote_name}/{dst[len(HEADS):]}")


@_command
@click.command()
@click.argument("remote_word", metavar="[REMOTE]", required=False)
@click.argument("refspecs", metavar="[REFSPEC]...", nargs=-1)
@click.option("--all", "push_all", is_flag=True, help="Push every local branch.")
@click.option("--tags", is_flag=True, help="Also push every local tag.")
@click.option("-f", "--force", is_flag=True,
              help="Allow updates that drop commits on the remote (non-fast-forward).")
@click.option("-n", "--dry-run", is_flag=True, help="Show what would be pushed; send nothing.")
@click.option("-d", "--delete", is_flag=True,
              help="Delete each named branch or tag on the remote (as REFSPEC `:NAME`).")
@click.option("-u", "--set-upstream", is_flag=True,
              help="Make each pushed branch track its remote branch (for pull and push).")
@quiet_option()
@json_option("One JSON object on stdout.")
def push(remote_word: str | None, refspecs: tuple[str, ...], push_all: bool, tags: bool,
         force: bool, dry_run: bool, delete: bool, set_upstream: bool, as_json: bool) -> None:
    """Send commits to REMOTE (default: the branch's upstream remote, else origin).

    REFSPEC is `main`, `main:other`, `v1` (a tag), `refs/tags/v1`, or `:gone` to
    delete a remote branch. Default: the current branch. Exit 4 when the remote
    has commits this push would drop (fetch first, or --force).
    """
    from ..transfer import PushConflictError, PushNameClashError, PushNonFastForwardError
    from ..transfer import push as push_refs

    repo = open_repo()
    location = _location(repo, remote_word)
    if set_upstream and location.name is None:
        raise UsageError("--set-upstream needs a remote name, not a URL",
                         hint="add it first: muse remote add NAME URL")
    with contextlib.ExitStack() as stack:
        conn: list[Any] = []

        def connection() -> Any:
            if not conn:
                conn.append(stack.enter_context(_connected(location.url, repo, location.name)))
            return conn[0]

        listed: list[dict[str, str]] = []

        def remote_refs() -> dict[str, str]:
            # Asked once however many `:name` deletions need it.
            if not listed:
                listed.append(connection().list_refs())
            return listed[0]

        wanted = _push_refspecs(repo, location, refspecs, push_all, tags, remote_refs,
                                delete)
        if not wanted:
            raise UsageError("nothing to push: there are no branches or tags to send")
        sources = {dst: src for src, dst in wanted}
        try:
            with _progress(as_json) as progress:
                report = push_refs(repo, connection(), wanted, force=force, dry_run=dry_run,
                                   progress=progress, remote_name=location.name)
        except (PushNonFastForwardError, PushConflictError, PushNameClashError) as exc:
            _show_push(location, None, exc.refs, sources, as_json, dry_run, error=exc)
            raise
    _show_push(location, report, report.refs, sources, as_json, dry_run)
    if set_upstream and not dry_run:
        _set_upstreams(repo, location.name, wanted, as_json)


def _show_push(location: Any, report: Any, refs: list[Any], sources: dict[str, str | None],
               as_json: bool, dry_run: bool, error: MuseError | None = None) -> None:
    if as_json:
        emit_json(_push_json(location, report, refs, dry_run, error))
        return

    def label(o: Any) -> str:
        src = sources.get(o.name)
        return _display(o.name) if src is None else f"{_display(src)} -> {_display(o.name)}"

    # A refused push shows which refs were refused, -q or not (as git does).
    echo = say if error is None else click.echo
    echo(f"To {location.url}")
    _echo_outcomes(refs, label, echo)
    if report is None:
        return
    if all(o.status == "up-to-date" for o in report.refs):
        say("Everything up to date")
    elif report.dry_run:
        say(f"Would push {counted(report.commits, 'commit')}, "
                   f"{counted(report.objects, 'object')} (dry run: nothing was sent)")
    else:
        say(f"Pushed {counted(report.commits, 'commit')}, "
                   f"{counted(report.objects, 'object')} ({human_size(report.bundle_bytes)})")


# -- fetch ----------------------------------------------------------------------------


def _named(location: Any, command: str) -> str:
    if location.name is None:
        raise UsageError(f"{command} needs a configured remote, not a bare URL: "
                         "it keeps what it fetched under refs/remotes/NAME/",
                         hint=f"add it first: muse remote add NAME {location.url}")
    return str(location.name)


def _fetch_one(repo: Any, location: Any, as_json: bool, require_signatures: bool,
               prune: bool | None = None) -> tuple[Any, dict[str, Any]]:
    from ..remotes_config import prune_setting
    from ..transfer import fetch as fetch_refs

    name = _named(location, "fetch")
    policy = receive_policy_for(repo, require_signatures)
    pruning = prune_setting(repo, name) if prune is None else prune
    with _connected(location.url, repo, location.name) as conn, \
            _progress(as_json) as progress:
        report = fetch_refs(repo, conn, name, progress=progress, policy=policy, prune=pruning)
    request_auto_gc(repo)
    data = {"remote": name, "url": location.url, "refs": _refs_json(report.refs),
            "commits": report.commits, "bytes": report.bundle_bytes,
            "pruned": [o.name for o in report.refs if o.status == "deleted"]}
    return report, data


def _show_fetch(name: str, url: str, report: Any) -> None:
    if not report.refs:
        say(f"{name}: up to date")
        return

    from ..remotes_config import tracking_prefix

    def label(o: Any) -> str:
        prefix = tracking_prefix(name)
        theirs = o.name[len(prefix):] if o.name.startswith(prefix) else _display(o.name)
        if o.status == "deleted":
            theirs = "(none)"  # pruned: the remote has no such branch any more
        return f"{theirs} -> {_display(o.name)}"

    say(f"From {url}")
    _echo_outcomes(report.refs, label)
    if report.commits:
        say(f"Received {counted(report.commits, 'commit')} "
                   f"({human_size(report.bundle_bytes)})")


@_command
@click.command()
@click.argument("remote_word", metavar="[REMOTE]", required=False)
@click.option("--all", "fetch_all", is_flag=True, help="Fetch from every configured remote.")
@click.option("-p", "--prune/--no-prune", default=None,
              help="Delete remote-tracking refs whose branch is gone from the remote "
              "(default: remote.NAME.prune, else fetch.prune, else no).")
@REQUIRE_SIGNATURES
@quiet_option()
@json_option("One JSON object on stdout.")
def fetch(remote_word: str | None, fetch_all: bool, prune: bool | None,
          require_signatures: bool, as_json: bool) -> None:
    """Bring in REMOTE's new commits; update refs/remotes/REMOTE/* and add new tags.

    Your branches and working tree are not touched: see `muse pull` for that.
    """
    from ..remotes_config import Location, list_remotes

    repo = open_repo()
    if fetch_all:
        if remote_word is not None:
            raise UsageError("--all fetches every remote: it takes no REMOTE")
        locations = [Location(r.name, r.url) for r in list_remotes(repo)]
        if not locations:
            raise UsageError("no remotes are configured",
                             hint="add one with `muse remote add NAME URL`")
    else:
        locations = [_location(repo, remote_word)]
    results = [_fetch_one(repo, loc, as_json, require_signatures, prune)
               for loc in locations]
    if as_json:
        emit_json({"remotes": [d for _, d in results]} if fetch_all else results[0][1])
        return
    for report, data in results:
        _show_fetch(data["remote"], data["url"], report)


# -- pull -----------------------------------------------------------------------------


def _pull_source(repo: Any, remote_word: str | None, branch: str | None) -> tuple[Any, str]:
    """The remote and its branch to pull: given, else the current branch's upstream."""
    from ..remotes_config import upstream

    current = repo.current_branch()
    if current is None:
        raise UsageError("HEAD is detached: there is no branch to pull into",
                         hint="switch to a branch first (`muse switch NAME`)")
    location = _location(repo, remote_word)
    name = _named(location, "pull")
    if branch is None:
        up = upstream(repo, current)
        branch = up.branch if up is not None and up.remote == name else current
    return location, branch


@_command
@click.command()
@click.argument("remote_word", metavar="[REMOTE]", required=False)
@click.argument("branch", required=False)
@click.option("--merge", "allow_merge", is_flag=True,
              help="If the histories diverged, merge (three-way) instead of refusing.")
@REQUIRE_SIGNATURES
@quiet_option()
@json_option("One JSON object on stdout.")
@click.pass_context
def pull(ctx: click.Context, remote_word: str | None, branch: str | None, allow_merge: bool,
         require_signatures: bool, as_json: bool) -> None:
    """Fetch, then bring the current branch and working tree up to REMOTE's BRANCH.

    Default: the branch's upstream (set by `muse push -u` or `muse clone`). Only
    a fast-forward happens unless --merge; local edits stay unless the update
    rewrites those files (then nothing changes). Exit 1: the merge stopped with
    conflicts; exit 4: refused (diverged without --merge, or local edits in the way).
    """
    from ..errors import NonFastForwardError, RevisionError
    from ..remotes_config import fast_forward, tracking_prefix

    repo = open_repo()
    location, theirs = _pull_source(repo, remote_word, branch)
    report, fetched = _fetch_one(repo, location, as_json, require_signatures)
    tracking = tracking_prefix(location.name) + theirs
    label = f"{location.name}/{theirs}"
    target = repo.refs.read(tracking)
    if target is None:
        raise RevisionError(f"remote {location.name} has no branch {theirs!r}",
                            hint=f"see `muse ls-remote {location.name}` for its branches")
    if not as_json:
        _show_fetch(str(location.name), location.url, report)
    done = fast_forward(repo, target, label)
    result: dict[str, Any] = {"kind": done.kind, "old": done.old, "new": done.new,
                              "conflicts": []}
    if done.kind == "diverged":
        if not allow_merge:
            raise NonFastForwardError(
                f"cannot fast-forward {repo.current_branch()} to {label}: "
                "the histories have diverged",
                hint=f"run `muse pull --merge` to merge {label} into it, "
                f"or `muse reset --hard {label}` to take theirs and drop yours")
        result = _pull_merge(repo, target, label)
    payload = {"remote": location.name, "url": location.url, "branch": repo.current_branch(),
               "upstream": label, "fetch": fetched, "result": result}
    if as_json:
        emit_json(payload)
    else:
        _show_pull(repo, result, label)
    if result["kind"] == "conflicts":
        ctx.exit(1)


def _pull_merge(repo: Any, target: str, label: str) -> dict[str, Any]:
    from ..merge import merge

    old = repo.head()
    outcome = merge(repo, target, label=label)
    return {"kind": outcome.kind, "old": old, "new": outcome.head,
            "conflicts": [asdict(c) for c in outcome.conflicts],
            "warnings": list(outcome.warnings)}


def _show_pull(repo: Any, result: dict[str, Any], label: str) -> None:
    from .branch_cmds import report_warnings

    report_warnings(result.get("warnings", ()))
    kind = result["kind"]
    if kind == "up-to-date":
        say("Already up to date.")
    elif kind == "fast-forward":
        say(f"Fast-forward {short(result['old'])}..{short(result['new'])} to {label}")
    elif kind == "merged":
        say(f"Merged {label}: {short(result['new'])} "
                   f"{repo.graph.commit(result['new']).subject}")
    else:
        from ..merge_state import ConflictRecord
        from .branch_cmds import report_conflicts

        report_conflicts([ConflictRecord(**c) for c in result["conflicts"]], "merge")


# -- clone ----------------------------------------------------------------------------


@_command
@click.command()
@click.argument("url")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--origin", "remote_name", default="origin", show_default=True,
              help="Name for the remote cloned from.")
@click.option("-b", "--branch", metavar="NAME",
              help="Start on the remote's branch NAME (a tag: detached at its commit).")
@_setting_option("the remote cloned from, used to clone")
@REQUIRE_SIGNATURES
@quiet_option()
@json_option("One JSON object on stdout.")
def clone(url: str, directory: Path | None, remote_name: str, branch: str | None,
          settings: tuple[str, ...], require_signatures: bool, as_json: bool) -> None:
    """Copy the repository at URL into DIRECTORY (default: URL's last path component).

    The remote's settings (--setting, and an S3 endpoint or region taken from the
    environment) are recorded with it, so fetch and push reach what clone did.
    """
    from ..config import user_config
    from ..remotes_config import check_remote_name, normalise_url, parse_settings, url_basename
    from ..transfer import clone as clone_repo
    from ..trust import RULE_KEY, receive_policy

    # No repository yet: only the user's own config can ask for trusted signers.
    policy = receive_policy(user_config().get(RULE_KEY), require=require_signatures)

    check_remote_name(remote_name)
    normalise_url(url)  # a malformed URL is refused before "Cloning into" says otherwise
    chosen = parse_settings(remote_name, settings)
    if branch is not None:
        from ..branches import branch_ref_name

        branch_ref_name(branch)
    dest = directory if directory is not None else Path(url_basename(url))
    if not as_json:
        say(f"Cloning into {str(dest)!r}...", err=True)
    with _progress(as_json) as progress:
        repo = clone_repo(url, dest, remote_name=remote_name, progress=progress, policy=policy,
                          branch=branch, settings=chosen)
    branch, head = repo.current_branch(), repo.head()
    if as_json:
        emit_json({"url": repo.config.get(f"remote.{remote_name}.url"), "path": str(repo.root),
                   "remote": remote_name, "branch": branch if head else None, "head": head})
    elif head is None:
        say("Cloned an empty repository: it has no branches yet.")
    elif branch is None:  # -b TAG
        say(f"Cloned into {dest}: HEAD detached at {short(head)}")
    else:
        say(f"Cloned into {dest}: on branch {branch} at {short(head)}")


# -- ls-remote ------------------------------------------------------------------------


@_command
@click.command("ls-remote")
@click.argument("remote_word", metavar="[REMOTE|URL]", required=False)
@click.option("--heads", is_flag=True, help="Only branches.")
@click.option("--tags", is_flag=True, help="Only tags.")
@json_option("One JSON object on stdout.")
def ls_remote(remote_word: str | None, heads: bool, tags: bool, as_json: bool) -> None:
    """List the refs a remote has (works outside a repository when given a URL)."""
    from ..errors import RepositoryError
    from ..remotes_config import Location, is_url, normalise_url

    repo = None
    if remote_word is not None and is_url(remote_word):
        location = Location(None, normalise_url(remote_word))
    else:
        try:
            repo = open_repo()
        except RepositoryError:
            # Outside a repository no word names a remote: `song.muse` is a path, as
            # `muse ls-remote ./song.muse` is (a name there still needs a repository).
            if remote_word is None or not os.path.lexists(remote_word):
                raise
            location = Location(None, normalise_url(remote_word))
        else:
            location = _location(repo, remote_word)
    with _connected(location.url, repo, location.name) as conn:
        refs = conn.list_refs()
    prefixes = tuple(p for p, on in (("refs/heads/", heads), ("refs/tags/", tags)) if on)
    chosen = sorted((name, oid) for name, oid in refs.items()
                    if not prefixes or name.startswith(prefixes))
    if as_json:
        emit_json({"remote": location.name, "url": location.url,
                   "refs": [{"name": name, "id": oid} for name, oid in chosen]})
        return
    for name, oid in chosen:
        click.echo(f"{oid}\t{name}")
