"""Named remotes and upstreams in the repository config, and push refspecs resolved to refs.

    [remote "origin"]  url = /srv/music/song          (`remote.origin.url`)
    [branch "main"]    remote = origin                 (`branch.main.remote`)
                       merge = refs/heads/main         (`branch.main.merge`)

Remote-tracking refs live under `refs/remotes/NAME/`; removing or renaming a
remote moves them with it, in one ref transaction. A driver is opened with
`remote_options`: the remote's other `remote.NAME.*` keys, its timeout, and a
token from the environment (never from a file in the repository).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import boolean
from .display import NOT_UTF8_CHARS, UNSAFE_TEXT_CHARS
from .errors import ConfigError, ConflictError, RemoteError, RevisionError, UsageError
from .refs import HEADS, REMOTES, TAGS, RefUpdate, check_ref_name
from .remote import RemoteOptions
from .remote_registry import URL_SCHEME, check_url, known_schemes, refuse_credentials
from .repo import Repository
from .tracking import Upstream, upstream  # kept there: `status` needs no driver registry

DEFAULT_REMOTE = "origin"
TOKEN_ENV = "MUSE_TOKEN"  # any remote's token; MUSE_TOKEN_<NAME> wins for remote NAME
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class RemoteInfo:
    name: str
    url: str


@dataclass(frozen=True)
class Location:
    """Where a command talks to: a configured remote (`name`) or a bare URL (`name` None)."""

    name: str | None
    url: str


# -- names and URLs --------------------------------------------------------------


def check_remote_name(name: str) -> str:
    """A remote name is one ref component: it becomes `refs/remotes/NAME/` and a config section."""
    bad = (not name or "/" in name or '"' in name or name.startswith("-")
           or name in ("HEAD", "@"))
    if not bad:
        try:
            # Both as a folder of tracking refs and as a name of its own (`x.lock`).
            check_ref_name(f"{REMOTES}{name}/x")
            check_ref_name(REMOTES + name)
        except UsageError:
            bad = True
    if bad:
        raise UsageError(f"invalid remote name {name!r}",
                         hint="use one word such as origin or backup: no '/', spaces, "
                         "'..', '~^:?*[\\\"', and no leading '.' or '-'")
    return name


# Control characters and bytes that are not UTF-8: the config file could not keep them.
_UNSAFE_URL = re.compile(f"[{UNSAFE_TEXT_CHARS}{NOT_UTF8_CHARS}]")


def is_url(text: str) -> bool:
    """Whether a command-line word names a location rather than a configured remote."""
    return (bool(URL_SCHEME.match(text)) or "/" in text or text in (".", "..")
            or text.startswith("~"))


def normalise_url(url: str, base: Path | None = None) -> str:
    """Plain paths become absolute (so the config means the same from any directory)."""
    if not url or _UNSAFE_URL.search(url):
        raise UsageError(f"invalid remote URL {url!r}",
                         hint="a URL or path is UTF-8 text without control characters")
    if URL_SCHEME.match(url):
        refuse_credentials(url)
        check_url(url)
        return url
    _refuse_broken_url(url)
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else ((base or Path.cwd()) / path).resolve())


# `http:/host/a/b`, `s3:bucket`: a known scheme whose `//` lost a slash. Taken as a path,
# it would become a folder under the current directory and fail far from the typo.
_BROKEN_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/?(?!/)(.*)$", re.DOTALL)


def _refuse_broken_url(word: str) -> None:
    match = _BROKEN_URL.match(word)
    if match is None or os.path.lexists(word):
        return
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in known_schemes():
        return
    meant = f"{scheme}://" + (f"/{rest.lstrip('/')}" if scheme == "file" else rest.lstrip("/"))
    raise UsageError(f"{word!r} looks like a URL with a '/' missing",
                     hint=f"did you mean {meant}? (a path that really starts with "
                     f"'{scheme}:' can be written ./{word})")


def path_from_url(url: str) -> Path:
    """`file:///srv/x` and `/srv/x` both name /srv/x; `~` is expanded."""
    if url.startswith("file://"):
        import urllib.parse

        parsed = urllib.parse.urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise RemoteError(f"file URL {url} names another host",
                              hint="mount the share and use its local path")
        return Path(urllib.parse.unquote(parsed.path))
    return Path(url).expanduser()


def url_basename(url: str) -> str:
    """The directory `clone URL` creates by default: the last path component, minus `.muse`."""
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    tail = tail.split("?", 1)[0]
    if tail.endswith(".muse") and len(tail) > len(".muse"):
        tail = tail[: -len(".muse")]
    if tail in ("", ".", ".."):
        raise UsageError(f"cannot guess a directory name from {url!r}",
                         hint="name one: muse clone URL DIR")
    return tail


# -- the configured remotes ---------------------------------------------------------


def list_remotes(repo: Repository) -> list[RemoteInfo]:
    found = []
    for name in sorted(repo.config.sections("remote")):
        url = repo.config.get(f"remote.{name}.url")
        if url is not None:
            found.append(RemoteInfo(name, url))
    return found


def _unknown(repo: Repository, name: str) -> RemoteError:
    names = [r.name for r in list_remotes(repo)]
    hint = (f"known remotes: {', '.join(names)}" if names
            else "no remotes are configured; add one with `muse remote add NAME URL`")
    return RemoteError(f"no remote named {name!r}", hint=hint)


def remote_url(repo: Repository, name: str) -> str:
    url = repo.config.get(f"remote.{name}.url")
    if url is None:
        raise _unknown(repo, name)
    return url


def resolve_remote(repo: Repository, word: str) -> Location:
    """A configured remote by name, else a word that reads as a URL or path, else an
    existing path (`backup.muse`, as git takes it). `../song.muse` is never looked up
    as a name: it cannot be one."""
    if _is_remote_name(word):
        url = repo.config.get(f"remote.{word}.url")
        if url is not None:
            return Location(word, url)
    if is_url(word) or os.path.lexists(word):
        return Location(None, normalise_url(word))
    raise _unknown(repo, word)


def _is_remote_name(word: str) -> bool:
    try:
        check_remote_name(word)
    except UsageError:
        return False
    return True


def add_remote(repo: Repository, name: str, url: str,
               settings: Mapping[str, str] | None = None) -> RemoteInfo:
    """Record remote `name` at `url`, with its other settings (`remote.NAME.KEY`, as
    `parse_settings` checked them): all checked before anything is written."""
    check_remote_name(name)
    if repo.config.get(f"remote.{name}.url") is not None:
        raise ConflictError(f"a remote named {name!r} already exists",
                            hint=f"change its URL with `muse remote set-url {name} URL`, "
                            f"or remove it with `muse remote remove {name}`")
    url = normalise_url(url)
    repo.config.set(f"remote.{name}.url", url)
    for key, value in (settings or {}).items():
        repo.config.set(f"remote.{name}.{key}", value)
    return RemoteInfo(name, url)


def parse_settings(name: str, words: Sequence[str]) -> dict[str, str]:
    """`--setting KEY=VALUE` words (`endpoint=http://127.0.0.1:8333`) → {KEY: VALUE}, each
    checked as `muse config remote.NAME.KEY VALUE` checks it (no credentials in a URL)."""
    found: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key or "." in key or key != key.strip():
            raise UsageError(f"--setting {word!r} is not KEY=VALUE",
                             hint="name one of the remote's settings: --setting "
                             "endpoint=http://127.0.0.1:8333 (docs/remotes.md)")
        if key == "url":
            raise UsageError("--setting url=… cannot set the remote's URL",
                             hint="the URL is the command's own argument")
        found[key] = checked_setting(f"remote.{name}.{key}", value)
    return found


def set_remote_url(repo: Repository, name: str, url: str) -> RemoteInfo:
    """Point an existing remote at `url`, checked and stored as `add` stores it."""
    remote_url(repo, name)  # a typo in the name must not create a second remote
    url = normalise_url(url)
    repo.config.set(f"remote.{name}.url", url)
    return RemoteInfo(name, url)


def checked_setting(key: str, value: str) -> str:
    """What `muse config KEY VALUE` stores: a remote's URL goes through the checks of
    `remote add` (a valid name, a path made absolute, no credentials), so the config
    never holds a URL that means something else from another directory. No other
    setting of a remote may hold a URL with credentials either (an S3 endpoint)."""
    from .config import check_key

    section, _, rest = check_key(key).partition(".")
    name, _, option = rest.rpartition(".")
    if section != "remote" or not name:
        return value
    if option != "url":
        refuse_credentials(value, what=key)
        return value
    check_remote_name(name)
    return normalise_url(value)


def tracking_prefix(name: str) -> str:
    """Where remote NAME's branches are kept here: `refs/remotes/NAME/`."""
    return f"{REMOTES}{name}/"


def tracking_refs(repo: Repository, name: str) -> dict[str, str]:
    return repo.refs.list(tracking_prefix(name))


def remove_remote(repo: Repository, name: str) -> list[str]:
    """Drop the remote's config, its tracking refs, and upstreams that named it."""
    remote_url(repo, name)
    refs = tracking_refs(repo, name)
    if refs:
        repo.refs.transaction([RefUpdate(ref, oid, None) for ref, oid in refs.items()],
                              f"remote: removed {name}")
    for branch in branches_tracking(repo, name):
        repo.config.unset(f"branch.{branch}.remote")
        repo.config.unset(f"branch.{branch}.merge")
    repo.config.remove_section(f"remote.{name}")
    return sorted(refs)


def rename_remote(repo: Repository, old: str, new: str) -> list[str]:
    """Move the config section, the tracking refs (one transaction) and upstreams to `new`."""
    remote_url(repo, old)
    check_remote_name(new)
    if new == old:
        raise UsageError(f"remote {old!r} already has that name",
                         hint="give the new name: muse remote rename OLD NEW")
    if repo.config.get(f"remote.{new}.url") is not None or tracking_refs(repo, new):
        raise ConflictError(f"a remote named {new!r} already exists",
                            hint=f"remove it first with `muse remote remove {new}`")
    refs = tracking_refs(repo, old)
    moves = [RefUpdate(ref, oid, None) for ref, oid in refs.items()]
    moves += [RefUpdate(REMOTES + new + ref[len(REMOTES + old):], None, oid)
              for ref, oid in refs.items()]
    if moves:
        repo.refs.transaction(moves, f"remote: renamed {old} to {new}")
    for key, value in _section_items(repo, f"remote.{old}"):
        repo.config.set(f"remote.{new}.{key}", value)
    for branch in branches_tracking(repo, old):
        repo.config.set(f"branch.{branch}.remote", new)
    repo.config.remove_section(f"remote.{old}")
    return sorted(refs)


def _section_items(repo: Repository, prefix: str) -> list[tuple[str, str]]:
    start = prefix + "."
    # `remote.a.b.url` belongs to remote "a.b", not to remote "a": options have no dots.
    return [(key[len(start):], value) for key, value in repo.config.items()
            if key.startswith(start) and "." not in key[len(start):]]


# -- upstreams ------------------------------------------------------------------------


def set_upstream(repo: Repository, branch: str, remote: str, merge: str) -> Upstream:
    check_remote_name(remote)
    repo.config.set(f"branch.{branch}.remote", remote)
    repo.config.set(f"branch.{branch}.merge", check_ref_name(merge))
    return Upstream(remote, merge)


def branches_tracking(repo: Repository, remote: str) -> list[str]:
    return sorted(b for b in repo.config.sections("branch")
                  if repo.config.get(f"branch.{b}.remote") == remote)


def default_remote(repo: Repository) -> str:
    """The current branch's upstream remote, else `origin`."""
    branch = repo.current_branch()
    up = upstream(repo, branch) if branch else None
    return up.remote if up else DEFAULT_REMOTE


# -- push refspecs -----------------------------------------------------------------------


def _local_ref(repo: Repository, word: str) -> str:
    """`main` → refs/heads/main, `v1` → refs/tags/v1, `HEAD` → the current branch."""
    if word in ("HEAD", "@"):
        target = repo.refs.head_target()
        if target is None:
            raise UsageError("HEAD is detached: there is no branch to push",
                             hint="name what to push: muse push REMOTE BRANCH")
        word = target
    full = word.startswith("refs/")
    for ref in [check_ref_name(word)] if full else [HEADS + word, TAGS + word]:
        if repo.refs.read(ref) is not None:
            return ref
    raise RevisionError(f"no local branch or tag named {word!r} to push",
                        hint="see `muse branch` and `muse tag`; a new branch needs a commit")


def _remote_name_for(src: str, dst: str) -> str:
    if dst.startswith("refs/"):
        return check_ref_name(dst)
    kind = TAGS if src.startswith(TAGS) else HEADS
    return check_ref_name(kind + dst)


def _deleted_ref(dst: str, remote_refs: Callable[[], dict[str, str]]) -> str:
    if dst.startswith("refs/"):
        return check_ref_name(dst)
    refs = remote_refs()
    for ref in (HEADS + dst, TAGS + dst):
        if ref in refs:
            return ref
    raise RevisionError(f"the remote has no branch or tag named {dst!r} to delete",
                        hint="see `muse ls-remote REMOTE` for what it has")


def parse_refspec(repo: Repository, spec: str,
                  remote_refs: Callable[[], dict[str, str]]) -> tuple[str | None, str]:
    """One push refspec → (local ref or None to delete, remote ref).

    `main`, `main:other`, `refs/tags/v1`, `v1` (a tag), `:gone` (delete). The
    remote's refs are asked for only to learn what kind of ref `:gone` is.
    """
    if spec.startswith("+"):
        raise UsageError(f"per-ref forcing ({spec!r}) is not supported",
                         hint="use --force to allow non-fast-forward updates")
    src, sep, dst = spec.partition(":")
    if sep and not dst:
        raise UsageError(f"invalid refspec {spec!r}: nothing after ':'",
                         hint="write SRC:DST, or :DST to delete DST on the remote")
    if not src:
        if not sep:
            raise UsageError("empty refspec")
        return None, _deleted_ref(dst, remote_refs)
    local = _local_ref(repo, src)
    return local, _remote_name_for(local, dst or local)


def all_branches(repo: Repository) -> list[tuple[str | None, str]]:
    return [(ref, ref) for ref in repo.refs.list(HEADS)]


def all_tags(repo: Repository) -> list[tuple[str | None, str]]:
    return [(ref, ref) for ref in repo.refs.list(TAGS)]


def default_refspec(repo: Repository, remote: str | None) -> tuple[str | None, str]:
    """The current branch, to its upstream branch when it tracks `remote`, else its own name."""
    target = repo.refs.head_target()
    if target is None:
        raise UsageError("HEAD is detached: there is no branch to push",
                         hint="name what to push: muse push REMOTE BRANCH")
    branch = target[len(HEADS):]
    if repo.refs.read(target) is None:
        raise RevisionError(f"branch {branch!r} has no commits yet: nothing to push",
                            hint="make a commit first with `muse commit -m MESSAGE`")
    up = upstream(repo, branch)
    if up is not None and remote is not None and up.remote == remote:
        return target, up.merge
    return target, target



# -- pull ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Integration:
    """What pull did to the current branch: "up-to-date", "fast-forward" or "diverged"."""

    kind: str
    old: str | None
    new: str | None


def fast_forward(repo: Repository, target: str, label: str) -> Integration:
    """Move the current branch and its tree to `target` if that loses no commits.

    Local edits survive unless the update rewrites those very paths (then nothing
    changes and ConflictError names them). "diverged" changes nothing either.
    """
    from .checkout import plan_checkout
    from .merge_state import require_no_merge

    require_no_merge(repo, "pull")
    branch = repo.refs.head_target()
    if branch is None:
        raise UsageError("HEAD is detached: there is no branch to pull into",
                         hint="switch to a branch first (`muse switch NAME`)")
    head = repo.head()
    relation = "behind" if head is None else repo.graph.relation(head, target)
    if relation in ("same", "ahead"):
        return Integration("up-to-date", head, head)
    if relation == "diverged":
        return Integration("diverged", head, target)
    plan = plan_checkout(repo, target, force=False, doing=f"fast-forward to {label}")
    plan.run_after_head(head, f"pull: fast-forward to {label}")
    return Integration("fast-forward", head, target)


# -- driver options -----------------------------------------------------------------


def prune_setting(repo: Repository, name: str) -> bool:
    """Whether a fetch from remote NAME prunes by default: `remote.NAME.prune`, else
    `fetch.prune` (as in git), else no."""
    for key in (f"remote.{name}.prune", "fetch.prune"):
        raw = repo.config_value(key)
        if raw is None:
            continue
        flag = boolean(raw)
        if flag is not None:
            return flag
        raise ConfigError(f"{key} is {raw!r}, not true or false",
                          hint=f"set it with `muse config {key} true` (or false)")
    return False


def token_variable(name: str) -> str:
    """`MUSE_TOKEN_ORIGIN` for `origin`, `MUSE_TOKEN_MY_HUB` for `my-hub`."""
    return f"{TOKEN_ENV}_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}"


def remote_options(repo: Repository | None, name: str | None,
                   env: Mapping[str, str] | None = None, *, url: str | None = None
                   ) -> RemoteOptions:
    """How to open remote `name` (None: a bare URL): its settings, timeout and token.

    The token: `MUSE_TOKEN_<NAME>`, else `MUSE_TOKEN`, else the one stored for `url`
    in the user's credentials (`muse remote set-token`).
    """
    env = os.environ if env is None else env
    settings: dict[str, str] = {}
    if repo is not None and name is not None:
        settings = {key: value for key, value in _section_items(repo, f"remote.{name}")
                    if key != "url"}
    token = (env.get(token_variable(name)) if name is not None else None) or env.get(TOKEN_ENV)
    if not token and url is not None:
        from .credentials import token_for

        token = token_for(url)
    timeout = _timeout(name, settings.pop("timeout", None))
    settings.pop("prune", None)  # read by fetch (prune_setting), not by the driver
    return RemoteOptions(token=token or None, timeout=timeout, settings=settings)


def _timeout(name: str | None, raw: str | None) -> float:
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"remote.{name}.timeout is {raw!r}, not a number of seconds",
                          hint=f"set it with `muse config remote.{name}.timeout 60`")
    return value
