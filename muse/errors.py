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
    └── ConfigError                   exit 7   missing identity, missing key, bad config value

Exit code 0 is success; 1 also means "problems found" (`verify`, merge conflicts);
70 is an internal bug (the CLI prints a traceback only then). Drivers translate
their libraries' exceptions into this tree at their edge; the CLI translates this
tree into one line on stderr, a hint, and the exit code.
"""

from __future__ import annotations


class MuseError(Exception):
    """Base of every error Muse raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(MuseError):
    exit_code = 2


class UnsafePathError(UsageError):
    pass


class RevisionError(UsageError):
    pass


class RepositoryError(MuseError):
    exit_code = 3


class ConflictError(MuseError):
    exit_code = 4


class RefConflictError(ConflictError):
    pass


class NonFastForwardError(ConflictError):
    pass


class IntegrityError(MuseError):
    exit_code = 5


class CorruptObjectError(IntegrityError):
    pass


class MissingObjectError(IntegrityError):
    pass


class SignatureError(IntegrityError):
    pass


class BundleError(IntegrityError):
    pass


class RemoteError(MuseError):
    exit_code = 6


class TransientRemoteError(RemoteError):
    pass


class ConfigError(MuseError):
    exit_code = 7


INTERNAL_ERROR_EXIT = 70
