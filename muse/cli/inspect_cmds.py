"""Looking inside: show, diff, rev-parse, cat-object, verify."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..display import printable, printable_lines
from ..errors import MissingObjectError, RepositoryError, RevisionError, UsageError
from .base import emit_json, json_option, open_repo, short, warn
from .pathargs import PathspecCommand
from .repo_cmds import commit_record, echo_commit

if TYPE_CHECKING:
    from ..diff import FileDiff, Reader
    from ..objects import Snapshot, SnapshotEntry
    from ..renames import RenameSettings
    from ..repo import Repository



# -- shared helpers -------------------------------------------------------------


def _store_reader(repo: Repository) -> Reader:
    return lambda entry: repo.store.read(entry.oid)


def _worktree_reader(repo: Repository, cap: int) -> Reader:
    """A working-tree file's bytes, never past `cap` (the file may have grown since it was
    scanned): the text cap for a diff, rename detection's own larger one for it."""
    root = repo.root
    assert root is not None

    def read(entry: SnapshotEntry) -> bytes:
        with open(root / entry.path, "rb") as handle:
            return handle.read(cap + 1)

    return read


def rename_settings_for(repo: Repository, no_renames: bool) -> RenameSettings:
    """`diff.renames` / `diff.renameLimit`, read (and a bad value refused, exit 7) before
    anything is printed, whether or not `--no-renames` turns detection off."""
    from dataclasses import replace

    from ..renames import rename_settings

    settings = rename_settings(repo, "diff")
    return replace(settings, enabled=False) if no_renames else settings


def diffs_between(old: Snapshot | None, new: Snapshot | None, read_old: Reader,
                  read_new: Reader, settings: RenameSettings, *,
                  whole_new: Reader | None = None) -> list[FileDiff]:
    """The changes from `old` to `new` with their content diffs, renames paired as
    `settings` say (`whole_new` reads the new side whole, if `read_new` stops short),
    and the one warning on stderr when the similarity step was skipped."""
    from ..changes import compare
    from ..diff import diff_changes

    changes, skipped = settings.pair(compare(old, new), read_old, whole_new or read_new)
    if skipped:
        warn(settings.skipped_warning(skipped))
    return diff_changes(changes, read_old, read_new)


def _snapshot_of(repo: Repository, revision: str) -> tuple[str, Snapshot]:
    from ..revisions import resolve

    oid = resolve(repo, revision)
    return oid, repo.commit_snapshot(oid)


def _print_diffs(diffs: list[FileDiff], *, stat: bool, name_status: bool,
                 name_only: bool = False) -> None:
    from ..diff import render_diffs

    lines = render_diffs(diffs, name_only=name_only, name_status=name_status, stat=stat,
                         patch=not stat)
    for line in lines:
        click.echo(printable(line))  # paths and text content from any commit


def _diff_options(func: Any) -> Any:
    func = json_option("Machine-readable output.")(func)
    func = click.option("--stat", is_flag=True, help="Per-file line counts and sizes.")(func)
    func = click.option("--name-status", is_flag=True,
                        help="Only a status letter (A/M/D; R and the old path for a "
                        "rename) and path per file.")(func)
    func = click.option("--name-only", is_flag=True, help="Only the path of each file.")(func)
    func = click.option("--no-renames", is_flag=True,
                        help="A renamed file as a deletion and an addition (diff.renames "
                        "false does the same by default).")(func)
    return func


# -- show -----------------------------------------------------------------------


@click.command()
@click.argument("revision", required=False, default="HEAD")
@_diff_options
@click.option("-s", "--no-patch", "no_patch", is_flag=True,
              help="The commit alone, without what it changed.")
@click.option("--format", "--pretty", "format_text", metavar="FORMAT",
              help="The commit as FORMAT (the placeholders of `muse log --format`, or a "
              "name: oneline, short, medium, reference).")
@click.option("--oneline", is_flag=True, help="The commit as its short id and subject.")
def show(revision: str, name_only: bool, name_status: bool, stat: bool, as_json: bool,
         no_patch: bool, format_text: str | None, oneline: bool, no_renames: bool) -> None:
    """Show a commit (default: HEAD) and what it changed against its first parent.

    An annotated tag is shown first (tagger, date, signature, message), then its commit.
    """
    from ..revisions import resolve

    if ":" in revision:
        if name_only or name_status or stat or as_json or no_patch or format_text or oneline \
                or no_renames:
            raise UsageError("REV:PATH shows a file's content: it takes no other option")
        _show_path(open_repo(), revision)
        return
    pieces = None
    if oneline:
        if format_text is not None:
            raise UsageError("--oneline cannot be combined with --format")
        format_text = "%h %s"  # git's --oneline: --pretty=oneline, the id abbreviated
    if format_text is not None:
        from .log_format import format_pieces

        if as_json:
            raise UsageError("--format cannot be combined with --json")
        pieces = format_pieces(format_text)
    repo = open_repo()
    settings = rename_settings_for(repo, no_renames)
    oid = resolve(repo, revision)
    tag = _tag_shown(repo, revision) if pieces is None else None
    commit = repo.graph.commit(oid)
    new = repo.store.read_snapshot(commit.snapshot)
    old = None
    if commit.parents:
        old = repo.commit_snapshot(commit.parents[0])
    reader = _store_reader(repo)
    diffs = diffs_between(old, new, reader, reader, settings) if not no_patch or as_json \
        else []
    from ..sigcache import VerifiedSignatures
    from ..trust import trusted_set

    signatures = VerifiedSignatures()
    record = commit_record(oid, commit, trusted_set(), signatures)
    signatures.save()
    if as_json:
        emit_json({**({"tag": tag} if tag is not None else {}), "commit": record,
                   "changes": [fd.as_dict() for fd in diffs]})
        return
    if pieces is not None:
        text = _echo_formatted(repo, pieces, oid, commit, record)
        # As git: a blank line parts a formatted commit from its changes (none after
        # --oneline, nor after a format that ended in one).
        if (diffs and not no_patch and not oneline and format_text != "oneline" and text
                and not text.endswith("\n")):
            click.echo("")
    else:
        if tag is not None:
            from .branch_cmds import print_tag

            print_tag(tag)
            click.echo("")
        echo_commit(record)
    if not no_patch:
        _print_diffs(diffs, stat=stat, name_status=name_status, name_only=name_only)


def _echo_formatted(repo: Any, pieces: Any, oid: str, commit: Any,
                    record: dict[str, Any]) -> str:
    """Print the commit as `pieces` format it; the text printed."""
    from ..decorate import decorations
    from .log_format import render, shown_commit, uses

    names = decorations(repo).get(oid) if uses(pieces, "d", "D") else None
    text = render(pieces, shown_commit(oid, commit, lambda: record["signature"], names,
                                       repo.current_branch()))
    click.echo(text)
    return text


def _tag_shown(repo: Any, revision: str) -> dict[str, Any] | None:
    """The annotated tag `revision` names as it stands, as `tag -v` shows it; else None."""
    from ..refs import TAGS
    from ..revisions import named_tag_object, resolve_ref_name
    from ..tags import read_entry
    from .branch_cmds import tag_record

    tag_id = named_tag_object(repo, revision)
    if tag_id is None:
        return None
    ref = resolve_ref_name(repo, revision) or ""
    # Named by its ref, the ref's name (a tag object filed under another name is warned
    # about); named by its id, its own.
    name = ref[len(TAGS):] if ref.startswith(TAGS) else repo.store.read_tag(tag_id).name
    return tag_record(read_entry(repo, name, tag_id))


# -- diff -----------------------------------------------------------------------


@click.command(cls=PathspecCommand)
@click.argument("words", nargs=-1)
@_diff_options
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are differences, else 0.")
@click.option("--quiet", is_flag=True, help="Print nothing; implies --exit-code.")
def diff(words: tuple[str, ...], name_only: bool, name_status: bool, stat: bool,
         as_json: bool, exit_code: bool, quiet: bool, no_renames: bool) -> None:
    """Show changes: working tree vs HEAD, working tree vs REV, or between two commits A B.

    `A..B` is the same as `A B`. After `--`, PATHS limit the diff to those files and folders.
    With --exit-code (or --quiet) the exit code says whether anything differs: 1 yes, 0 no.
    """
    import itertools
    import os

    from ..pathspec import restrict_to
    from .pathargs import PATHS, split_paths

    # Counted before any name is resolved: too many is a usage mistake, whatever they name.
    explicit = click.get_current_context().meta.get(PATHS) is not None
    leading = words if explicit else tuple(
        itertools.takewhile(lambda word: not os.path.lexists(word), words))
    if len(leading) > 2:
        raise UsageError("diff takes at most two revisions",
                         hint="muse diff [REV] or muse diff A B, then -- PATH… to limit it")
    repo = open_repo()
    # --quiet asks only whether anything differs: pairing renames cannot change that.
    settings = rename_settings_for(repo, no_renames or quiet)
    texts, specs = split_paths(repo, words)
    revisions = _two_sides(repo, texts)
    old: Snapshot | None
    if len(revisions) == 2:
        _, old = _snapshot_of(repo, revisions[0])
        _, new = _snapshot_of(repo, revisions[1])
        old, new = restrict_to(old, specs), restrict_to(new, specs)
        diffs = diffs_between(old, new, _store_reader(repo), _store_reader(repo), settings)
    else:
        if revisions:
            _, old = _snapshot_of(repo, revisions[0])
        else:
            old = repo.head_snapshot()
        worktree = repo.worktree
        new = worktree.snapshot()
        worktree.cache.save()
        old, new = restrict_to(old, specs), restrict_to(new, specs)
        from ..diff import TEXT_CAP
        from ..renames import SIMILARITY_CAP

        diffs = diffs_between(old, new, _store_reader(repo), _worktree_reader(repo, TEXT_CAP),
                              settings, whole_new=_worktree_reader(repo, SIMILARITY_CAP))
    if as_json:
        emit_json([fd.as_dict() for fd in diffs])
    elif not quiet:
        _print_diffs(diffs, stat=stat, name_status=name_status, name_only=name_only)
    if (exit_code or quiet) and diffs:
        click.get_current_context().exit(1)  # git's convention: 1 means "they differ"


def _two_sides(repo: Repository, texts: list[str]) -> list[str]:
    """At most two revisions; `A..B` stands for `A B`, `A...B` for B against the merge
    base of A and B (what B changed since the two diverged)."""
    from ..revisions import resolve

    if len(texts) == 1 and "..." in texts[0]:
        left, _, right = texts[0].partition("...")
        a, b = resolve(repo, left or "HEAD"), resolve(repo, right or "HEAD")
        base = repo.graph.merge_base(a, b)
        if base is None:
            raise RevisionError(f"{texts[0]!r}: the two sides share no history")
        texts = [base, b]
    elif len(texts) == 1 and ".." in texts[0]:
        left, _, right = texts[0].partition("..")
        texts = [left or "HEAD", right or "HEAD"]
    if len(texts) > 2:
        raise UsageError("diff takes at most two revisions",
                         hint="muse diff [REV] or muse diff A B, then -- PATH… to limit it")
    return texts


# -- rev-parse --------------------------------------------------------------------


@click.command("rev-parse")
@click.argument("revisions", nargs=-1)
@click.option("--short", "short_ids", is_flag=True, help="Print 12-digit abbreviations.")
@click.option("--abbrev-ref", is_flag=True,
              help="Print the short ref name each names (HEAD: the branch, or HEAD if "
              "detached; @{u}: the upstream); nothing for a plain commit.")
@click.option("--verify", is_flag=True, help="Exactly one REVISION, which must name a commit.")
@click.option("-q", "--quiet", is_flag=True,
              help="With --verify: print nothing, exit 1 if it names no commit.")
@click.option("--show-toplevel", is_flag=True, help="Print the working tree's top folder.")
@click.option("--is-inside-work-tree", is_flag=True,
              help="Print true in a working tree, false in a bare repository.")
@click.pass_context
def rev_parse(ctx: click.Context, revisions: tuple[str, ...], short_ids: bool,
              abbrev_ref: bool, verify: bool, quiet: bool, show_toplevel: bool,
              is_inside_work_tree: bool) -> None:
    """Print the full commit id each REVISION names (or what the options ask about)."""
    from ..revisions import abbreviated_ref, resolve

    if quiet and not verify:
        raise UsageError("-q goes with --verify")
    if verify and len(revisions) != 1:
        raise UsageError("--verify needs exactly one revision")
    if not (revisions or show_toplevel or is_inside_work_tree):
        raise UsageError("rev-parse what?", hint="muse rev-parse REVISION…, or --show-toplevel")
    repo = open_repo()
    if is_inside_work_tree:
        click.echo("false" if repo.root is None else "true")
    if show_toplevel:
        if repo.root is None:
            raise RepositoryError("a bare repository has no working tree")
        click.echo(str(repo.root))
    try:
        # All or nothing: every revision resolved before one is printed.
        found = [abbreviated_ref(repo, text) if abbrev_ref else resolve(repo, text)
                 for text in revisions]
    except RevisionError:
        if quiet:  # a script's existence test: `muse rev-parse --verify -q NAME`
            ctx.exit(1)
        raise
    for value in found:
        if value:
            click.echo(short(value) if short_ids and not abbrev_ref else value)


# -- cat-object -----------------------------------------------------------------------


def _resolve_object(repo: Repository, text: str) -> str:
    """An object id from a full id, an id prefix (any kind), `REV:path`, or a revision."""
    from ..revisions import ID_PREFIX, abbreviated_object, resolve, resolve_ref_name

    if ":" in text:
        rev, _, path = text.partition(":")
        if not path.strip("/"):
            return repo.graph.commit(resolve(repo, rev or "HEAD")).snapshot
        _, path, entry = _path_in(repo, text)
        if entry is None:
            raise _not_in(path, rev)
        return entry.oid
    if ID_PREFIX.match(text) and resolve_ref_name(repo, text) is None:
        found = abbreviated_object(repo, text, commits_only=False)
        if found is None:
            raise RevisionError(f"unknown object {text!r}",
                                hint="see `muse log --oneline` for what exists")
        return found
    return resolve(repo, text)


def _show_path(repo: Repository, text: str) -> None:
    """`muse show REV:PATH`: a file's bytes as REV has them (streamed, any size), or for a
    folder (`REV:` for the top) what it holds, one level down, folders with a `/`, as git."""
    snapshot, path, entry = _path_in(repo, text)
    if entry is not None:
        _stream_blob(repo, entry.oid)
        return
    below = _one_level_down(snapshot, path)
    if not below:
        raise _not_in(path, text.partition(":")[0])
    click.echo(f"tree {printable(text)}\n")
    for name in below:
        click.echo(printable(name))


def _path_in(repo: Repository, text: str) -> tuple[Snapshot, str, SnapshotEntry | None]:
    """`REV:PATH` (REV default HEAD): REV's snapshot, PATH without its slashes, and PATH's
    entry there (None when it names no file)."""
    rev, _, path = text.partition(":")
    _, snapshot = _snapshot_of(repo, rev or "HEAD")
    path = path.strip("/")
    return snapshot, path, snapshot.as_dict().get(path)


def _not_in(path: str, rev: str) -> RevisionError:
    return RevisionError(f"{path!r} is not in {rev or 'HEAD'}",
                         hint="see `muse show --name-status REV` for its files")


def _one_level_down(snapshot: Snapshot, folder: str) -> list[str]:
    """The names directly inside `folder` ("" for the top): files, and folders with a `/`."""
    prefix = f"{folder}/" if folder else ""
    names = set()
    for entry in snapshot.entries:
        if entry.path.startswith(prefix):
            first, slash, _ = entry.path[len(prefix):].partition("/")
            names.add(first + slash)
    return sorted(names)


def _stream_blob(repo: Repository, oid: str) -> None:
    out = sys.stdout.buffer
    for chunk in repo.store.iter_chunks(oid):  # verified: raises at the end if damaged
        out.write(chunk)
    out.flush()


def _snapshot_line(entry: SnapshotEntry) -> str:
    from ..diff import mode_of

    return f"{mode_of(entry)} {entry.oid} {entry.size:>10}\t{printable(entry.path)}"


def _pretty(repo: Repository, oid: str, kind: str, as_json: bool) -> None:
    from ..objects import decode_snapshot
    from ..trust import trust_status, trusted_set

    if kind == "snapshot":
        snapshot = decode_snapshot(repo.store.read(oid))
        if as_json:
            emit_json({"type": "snapshot", "id": oid, "entries": [
                {"path": e.path, "id": e.oid, "size": e.size, "executable": e.executable}
                for e in snapshot.entries]})
            return
        for entry in snapshot.entries:
            click.echo(_snapshot_line(entry))
        return
    if kind == "tag":
        _pretty_tag(repo, oid, as_json)
        return
    commit = repo.graph.commit(oid)
    if as_json:
        emit_json({"type": "commit", **commit_record(oid, commit, trusted_set())})
        return
    click.echo(f"snapshot {commit.snapshot}")
    for parent in commit.parents:
        click.echo(f"parent {parent}")
    click.echo(f"author {printable(commit.author_name)} <{printable(commit.author_email)}> "
               f"{commit.timestamp} "
               f"{commit.tz_offset_minutes:+d}")
    if commit.signer is not None:
        click.echo(f"signer {commit.signer.hex()}")
    click.echo(f"signature {trust_status(commit, trusted_set())}")
    click.echo("")
    for line in printable_lines(commit.message):
        click.echo(line)


def _pretty_tag(repo: Repository, oid: str, as_json: bool) -> None:
    from ..trust import trust_status, trusted_set

    tag = repo.store.read_tag(oid)
    status = trust_status(tag, trusted_set())
    if as_json:
        emit_json({"type": "tag", "id": oid, "target": tag.target,
                   "target_kind": tag.target_kind, "name": tag.name,
                   "tagger": {"name": tag.tagger_name, "email": tag.tagger_email},
                   "timestamp": tag.timestamp, "tz_offset_minutes": tag.tz_offset_minutes,
                   "message": tag.message, "signature": status,
                   "signer": tag.signer.hex() if tag.signer else None})
        return
    click.echo(f"object {tag.target}")
    click.echo(f"type {tag.target_kind}")
    click.echo(f"tag {printable(tag.name)}")
    click.echo(f"tagger {printable(tag.tagger_name)} <{printable(tag.tagger_email)}> "
               f"{tag.timestamp} {tag.tz_offset_minutes:+d}")
    if tag.signer is not None:
        click.echo(f"signer {tag.signer.hex()}")
    click.echo(f"signature {status}")
    click.echo("")
    for line in printable_lines(tag.message):
        click.echo(line)


@click.command("cat-object")
@click.argument("target")
@click.option("-t", "show_type", is_flag=True, help="Print the object's type.")
@click.option("-s", "show_size", is_flag=True, help="Print the object's size in bytes.")
@click.option("-p", "pretty", is_flag=True,
              help="Pretty-print commits and snapshots; blobs as raw bytes.")
@json_option("With -p: commits and snapshots as JSON.")
def cat_object(target: str, show_type: bool, show_size: bool, pretty: bool,
               as_json: bool) -> None:
    """Print a stored object: raw bytes by default (streamed), or its type, size, or a view.

    TARGET is an object id (or a unique prefix), a revision, or REV:path.
    """
    if sum((show_type, show_size, pretty)) > 1:
        raise UsageError("-t, -s and -p are exclusive")
    repo = open_repo()
    oid = _resolve_object(repo, target)
    if not repo.store.has(oid):
        raise MissingObjectError(f"object {oid} is missing",
                                 hint="run `muse verify` to check the repository")
    if show_size:
        click.echo(str(repo.store.size(oid)))
        return
    if show_type:
        click.echo(repo.store.kind(oid))
        return
    if pretty:
        kind = repo.store.kind(oid)
        if kind != "blob":
            _pretty(repo, oid, kind, as_json)
            return
    _stream_blob(repo, oid)


# -- verify ---------------------------------------------------------------------------


def _open_repo_or_bare() -> Repository:
    """The repository around the current directory, or the bare one it is (a remote's store)."""
    from ..repo import Repository

    try:
        found: Repository = open_repo()
        return found
    except RepositoryError:
        here = Path.cwd()
        if (here / "HEAD").is_file() and (here / "objects").is_dir():
            from .base import repository_view

            view: Repository = repository_view(Repository.open_bare(here))
            return view
        raise


@click.command()
@click.option("--require-signatures", is_flag=True,
              help="Count unsigned commits, and commits signed by keys you do not trust "
              "(`muse keys trust`), as problems.")
@json_option("Machine-readable output.")
def verify(require_signatures: bool, as_json: bool) -> None:
    """Check the repository: every ref, commit, signature, snapshot and object (fsck).

    Exit status 0 when nothing is wrong, 1 when problems were found.
    """
    from ..fsck import verify_repository
    from ..units import counted, human_size

    report = verify_repository(_open_repo_or_bare(), require_signatures=require_signatures)
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(f"checked {counted(report.refs, 'ref')}, "
                   f"{counted(report.commits, 'commit')}, "
                   f"{counted(report.snapshots, 'snapshot')}, "
                   f"{counted(report.objects, 'object')} ({human_size(report.bytes)}), "
                   f"{counted(report.unreachable_objects, 'unreachable object')}")
        click.echo(f"signatures: {report.signed_good} good, {len(report.untrusted)} untrusted, "
                   f"{report.signed_bad} bad, {len(report.unsigned)} unsigned")
        work = report.work_files
        if work.entries:
            click.echo(f"work files: {work.entries} in .muse/tmp ({human_size(work.size)}), "
                       f"{work.stale_entries} stale ({human_size(work.stale_size)})")
        for oid in report.unsigned[:20]:
            click.echo(f"unsigned: commit {oid}")
        if len(report.unsigned) > 20:
            click.echo(f"unsigned: … and {len(report.unsigned) - 20} more")
        for problem in report.problems:
            click.echo(f"problem: {printable(problem.message)}", err=True)
        if report.ok:
            click.echo("ok")
        else:
            count = len(report.problems)
            click.echo(f"{counted(count, 'problem')} found", err=True)
    if not report.ok:
        click.get_current_context().exit(1)


COMMANDS: list[click.Command] = [show, diff, rev_parse, cat_object, verify]
