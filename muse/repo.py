"""A repository: finding and creating `.muse/`, and the operations that tie store, refs and tree.

A bare repository (a remote's storage) is the `.muse` layout without a working tree.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import untracking
from .config import ConfigFile, layered, user_config
from .errors import ConfigError, RepositoryError, UsageError
from .graph import CommitGraph
from .objects import Commit, Snapshot, text_problem
from .paths import REPO_DIR
from .refs import HEADS, RefStore
from .store import ObjectStore
from .worktree import WorkTree

DEFAULT_BRANCH = "main"
LAYOUT = ("objects", "packs", "refs/heads", "refs/tags", "refs/remotes", "logs", "tmp")


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


class Repository:
    def __init__(self, muse_dir: Path, worktree_root: Path | None) -> None:
        self.muse_dir = muse_dir
        self.root = worktree_root
        self.store = ObjectStore(muse_dir)
        self.refs = RefStore(muse_dir, identity=self._reflog_identity)
        self.graph = CommitGraph(self.store)
        self.config = ConfigFile(muse_dir / "config")
        self._worktree: WorkTree | None = None
        self._last_snapshot: tuple[str, Snapshot] | None = None  # (id, decoded)

    # -- finding and creating ---------------------------------------------------

    @classmethod
    def find(cls, start: Path | None = None) -> Repository:
        """The repository containing `start` (default: the current directory)."""
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            muse_dir = candidate / REPO_DIR
            if (muse_dir / "HEAD").is_file():
                return cls(muse_dir, candidate)
            if _is_bare(candidate):
                return cls(candidate, None)
        raise RepositoryError(
            f"not a Muse repository (or any parent up to /): {here}",
            hint="run `muse init` to create one here, or cd into a repository",
        )

    @classmethod
    def open_bare(cls, path: Path) -> Repository:
        if not (path / "HEAD").is_file() or not (path / "objects").is_dir():
            raise RepositoryError(f"not a Muse repository: {path}")
        return cls(path, None)

    @classmethod
    def init(cls, path: Path, *, bare: bool = False, branch: str = DEFAULT_BRANCH) -> Repository:
        path = path.resolve()
        muse_dir = path if bare else path / REPO_DIR
        if (muse_dir / "HEAD").exists():
            raise RepositoryError(f"a Muse repository already exists at {muse_dir}")
        for sub in LAYOUT:
            (muse_dir / sub).mkdir(parents=True, exist_ok=True)
        repo = cls(muse_dir, None if bare else path)
        repo.config.set("core.format", "1")
        if bare:
            repo.config.set("core.bare", "true")
        (muse_dir / "HEAD").write_text(f"ref: {HEADS}{branch}\n")
        return repo

    @classmethod
    def reinit(cls, path: Path, *, bare: bool = False) -> Repository | None:
        """`muse init` over the repository already at `path`, as git re-initialises one:
        only its missing standard folders are made again — HEAD, refs, config and
        objects are left exactly as they are. None when there is no repository there.

        A repository of the other kind there (a working one for `--bare`, a bare one
        without) is refused, changing nothing: init cannot turn one into the other.
        """
        path = path.resolve()
        if (path / REPO_DIR / "HEAD").exists():
            if bare:
                raise RepositoryError(
                    f"{path} is a repository with a working tree: it cannot be "
                    "re-initialised as a bare one",
                    hint="run `muse init` there (without --bare) to re-initialise it; "
                    "make a bare repository in a folder of its own")
            muse_dir, root = path / REPO_DIR, path
        elif (path / "HEAD").exists():
            if not _is_bare(path):
                if not bare:
                    return None  # some other HEAD (not Muse's): `.muse` goes beside it
                raise RepositoryError(f"{path} holds a HEAD that is not a Muse bare "
                                      "repository's", hint="pick an empty folder for the "
                                      "new bare repository")
            if not bare:
                raise RepositoryError(
                    f"{path} is a bare repository: it has no working tree to "
                    "re-initialise", hint="run `muse init --bare` there to re-initialise "
                    "it; for a working copy, `muse clone` it into another folder")
            muse_dir, root = path, None
        else:
            return None
        missing = [muse_dir / sub for sub in LAYOUT if not (muse_dir / sub).is_dir()]
        for folder in missing:
            if os.path.lexists(folder):
                raise RepositoryError(f"{folder} is not a folder",
                                      hint="move it out of the way, then run `muse init` "
                                      "again")
        for folder in missing:
            folder.mkdir(parents=True, exist_ok=True)
        return cls(muse_dir, root)

    @property
    def is_bare(self) -> bool:
        return self.root is None

    @property
    def worktree(self) -> WorkTree:
        if self.root is None:
            raise RepositoryError("this is a bare repository: it has no working tree")
        if self._worktree is None:
            self._worktree = WorkTree(self.root, self.muse_dir, self.store,
                                      tracked=self._tracked_paths,
                                      untracking=lambda: untracking.pending(self.muse_dir))
        return self._worktree

    # -- state ------------------------------------------------------------------

    def current_branch(self) -> str | None:
        """`main` for HEAD → refs/heads/main; None when detached."""
        target = self.refs.head_target()
        if target and target.startswith(HEADS):
            return target[len(HEADS):]
        return None

    def head(self) -> str | None:
        return self.refs.head_commit()

    def _tracked_paths(self) -> list[str]:
        current = self.head_snapshot()
        dropped = untracking.pending(self.muse_dir)  # `rm --cached`: ignore rules apply again
        return [] if current is None else [e.path for e in current.entries
                                           if e.path not in dropped]

    def head_snapshot(self) -> Snapshot | None:
        head = self.head()
        return None if head is None else self.commit_snapshot(head)

    def commit_snapshot(self, commit: str) -> Snapshot:
        snap_id = self.graph.commit(commit).snapshot
        # The last one read is kept: `status` asks for HEAD's twice (its tracked paths,
        # and the comparison), and decoding 10,000 entries is most of a quick status.
        # Snapshots never change under their id.
        if self._last_snapshot is None or self._last_snapshot[0] != snap_id:
            self._last_snapshot = (snap_id, self.store.read_snapshot(snap_id))
        return self._last_snapshot[1]

    def move_head(self, old: str | None, new: str, message: str) -> None:
        """Move the current branch from `old` to `new` by CAS, or a detached HEAD to `new`."""
        branch = self.refs.head_target()
        if branch is None:
            self.refs.set_head(new, message)
        else:
            self.refs.update(branch, old, new, message)

    def config_value(self, key: str) -> str | None:
        return layered(key, self.config, user_config())

    def identity(self) -> Identity:
        name = os.environ.get("MUSE_AUTHOR_NAME") or self.config_value("user.name")
        email = os.environ.get("MUSE_AUTHOR_EMAIL") or self.config_value("user.email")
        if not name or not email:
            raise ConfigError(
                "who are you? no user.name / user.email set",
                hint='run `muse config --global user.name "Your Name"` and '
                '`muse config --global user.email you@example.org`',
            )
        for key, value in (("user.name", name), ("user.email", email)):
            problem = text_problem(value)
            if problem is not None:  # decoding would refuse the commit: never write one
                raise ConfigError(f"{key} holds {problem}",
                                  hint=f'set it again: `muse config --global {key} "..."`')
        return Identity(name, email)

    def storage_problems(self) -> Iterator[tuple[str, str]]:
        """(subject, message) for damage a storage backend finds in its own files beyond what
        `verify` walks (a bare remote checks its packs against their indexes); none here."""
        return iter(())

    def _reflog_identity(self) -> str:
        """Who the reflog says moved a ref: the commit identity, or "unknown" when none is
        set (a fetch needs no identity, and must not fail for want of one)."""
        try:
            who = self.identity()
        except (ConfigError, RepositoryError):
            return "unknown"
        return f"{who.name} <{who.email}>"

    def merge_state_file(self, name: str) -> Path:
        return self.muse_dir / name

    # -- making commits ------------------------------------------------------------

    def make_commit(self, snapshot_id: str, parents: list[str], message: str, *,
                    sign: bool = True, timestamp: int | None = None,
                    authored_as: Commit | None = None) -> Commit:
        """Build (and sign, by default) a commit object; it is not stored yet.

        `authored_as`: keep that commit's author, date and time zone (an amended
        commit, as git keeps them); the signature is still this user's.
        """
        problem = text_problem(message, multiline=True)
        if problem is not None:
            raise UsageError(f"commit message holds {problem}",
                             hint="a message is UTF-8 text: newlines and tabs, no other control "
                             "characters")
        if authored_as is not None:
            who = Identity(authored_as.author_name, authored_as.author_email)
            now, zone = authored_as.timestamp, authored_as.tz_offset_minutes
        else:
            who = self.identity()
            now = int(time.time()) if timestamp is None else timestamp
            zone = _local_tz_minutes(now)
        commit = Commit(
            snapshot=snapshot_id,
            parents=tuple(parents),
            author_name=who.name,
            author_email=who.email,
            timestamp=now,
            tz_offset_minutes=zone,
            message=message,
        )
        if sign:
            from .keys import sign_commit

            commit = sign_commit(commit)
        return commit


def _is_bare(path: Path) -> bool:
    """A bare repository: the `.muse` layout itself, marked core.bare in its config."""
    if not ((path / "HEAD").is_file() and (path / "objects").is_dir()):
        return False
    return ConfigFile(path / "config").get("core.bare") == "true"


def _local_tz_minutes(when: int) -> int:
    offset = time.localtime(when).tm_gmtoff or 0
    return int(offset // 60)
