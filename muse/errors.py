"""The one error tree every Muse failure belongs to, with its exit code and hint.

    MuseError                         exit 1   anything Muse reports on purpose
    ├── UsageError                    exit 2   a command was asked for something malformed
    │   ├── UnsafePathError                    a path that cannot be stored safely
    │   └── RevisionError             exit 2   unknown or ambiguous revision
    ├── RepositoryError               exit 3   not a repository / repository in the wrong state
    ├── ConflictError                 exit 4   refused to lose work: dirty tree, ref moved,
    │                                          non-fast-forward
    │   ├── RefConflictError                   compare-and-swap saw another value
    │   └── NonFastForwardError                update would drop commits
    ├── IntegrityError                exit 5   stored or received bytes fail verification
    │   ├── CorruptObjectError                 bytes do not hash to their id / do not decode
    │   ├── MissingObjectError                 an id that should be stored is not
    │   ├── SignatureError                     a commit signature does not verify
    │   └── BundleError                        a bundle is malformed, truncated or tampered with
    ├── RemoteError                   exit 6   a remote is unknown, unreachable or misbehaving
    │   └── TransientRemoteError               may succeed if retried
    ├── ConfigError                   exit 7   missing identity, missing key, bad config value
    └── SystemRefusedError            exit 8   the system refused: disk full, permission denied,
                                               read-only filesystem, I/O error

Every class also has a stable machine-readable `code` (`usage`, `ref-moved`,
`bad-bundle`, …; docs/exit-codes.md lists them): `--json` output and the hub's
HTTP error bodies carry it, and an instance may refine it (`not-a-commit`).

Exit code 0 is success; 1 also means "problems found" (`verify`, merge conflicts);
70 is an internal bug (the CLI prints a traceback only then). Drivers translate
their libraries' exceptions into this tree at their edge; the CLI translates this
tree into one line on stderr, a hint, and the exit code.
"""

from __future__ import annotations

import errno


class MuseError(Exception):
    """Base of every error Muse raises on purpose."""

    exit_code = 1
    code = "error"  # stable, machine-readable: --json output and the hub's error bodies

    def __init__(self, message: str, *, hint: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code  # a more specific code than the class's (e.g. "not-a-commit")

    def __str__(self) -> str:
        return self.message


class UsageError(MuseError):
    exit_code = 2
    code = "usage"


class UnsafePathError(UsageError):
    code = "unsafe-path"


class RevisionError(UsageError):
    code = "bad-revision"


class RepositoryError(MuseError):
    exit_code = 3
    code = "repository"


class ConflictError(MuseError):
    exit_code = 4
    code = "conflict"


class RefConflictError(ConflictError):
    code = "ref-moved"


class NonFastForwardError(ConflictError):
    code = "non-fast-forward"


class IntegrityError(MuseError):
    exit_code = 5
    code = "integrity"


class CorruptObjectError(IntegrityError):
    code = "corrupt-object"


class MissingObjectError(IntegrityError):
    code = "missing-object"


class SignatureError(IntegrityError):
    code = "bad-signature"


class BundleError(IntegrityError):
    code = "bad-bundle"


class RemoteError(MuseError):
    exit_code = 6
    code = "remote"


class TransientRemoteError(RemoteError):
    code = "remote-unavailable"


class ConfigError(MuseError):
    exit_code = 7
    code = "config"


class SystemRefusedError(MuseError):
    exit_code = 8
    code = "system-refused"


# OS errors that say something about the user's machine, not about Muse: the CLI
# reports them in one line. Any other OSError escaping a command is a bug.
_SYSTEM_HINTS = {
    errno.ENOSPC: "free some space and run it again; nothing half-written was kept",
    errno.EDQUOT: "your disk quota is full: free some space and run it again",
    errno.EACCES: "check the permissions of that path",
    errno.EPERM: "check the permissions of that path",
    errno.EROFS: "the filesystem is mounted read-only",
    errno.EIO: "the disk reported an I/O error; check it before retrying",
    errno.EMFILE: "too many open files: raise the limit (`ulimit -n`) and retry",
    errno.ENFILE: "the system has too many open files; retry later",
}


def system_refusal(exc: OSError) -> SystemRefusedError | None:
    """The one-line error for an OSError the user's system caused; None for anything else."""
    hint = _SYSTEM_HINTS.get(exc.errno or 0)
    if hint is None:
        return None
    where = f": {exc.filename}" if exc.filename else ""
    return SystemRefusedError(f"{exc.strerror or exc}{where}", hint=hint)


INTERNAL_ERROR_EXIT = 70
