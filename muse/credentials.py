"""Remote tokens kept for the user: `credentials.json` in the user's config dir, mode 0600.

A token never goes into a repository (its config is shared with every clone);
this file is the user's own, like git's credential store. The environment
(`MUSE_TOKEN_<NAME>`, `MUSE_TOKEN`) wins over it.
"""

from __future__ import annotations

import json
from pathlib import Path

from .config import user_config_dir
from .errors import ConfigError
from .fsutil import atomic_write_bytes

FILE = "credentials.json"
PRIVATE = 0o600


def _path() -> Path:
    return user_config_dir() / FILE


def _key(url: str) -> str:
    return url.rstrip("/")


def _load() -> dict[str, str]:
    path = _path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        found = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"{path} is not valid JSON",
                          hint="fix it, or delete it and set the tokens again") from None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise ConfigError(f"{path} must map remote URLs to tokens")
    return found


def token_for(url: str) -> str | None:
    """The token stored for `url`, if any."""
    return _load().get(_key(url))


def store_token(url: str, token: str) -> None:
    token = token.strip()
    if not token or any(c.isspace() or ord(c) < 32 for c in token):
        raise ConfigError("a token is one word of printable characters")
    saved = {**_load(), _key(url): token}
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(saved, indent=1, sort_keys=True) + "\n").encode(),
                       mode=PRIVATE)


def forget_token(url: str) -> bool:
    saved = _load()
    if saved.pop(_key(url), None) is None:
        return False
    atomic_write_bytes(_path(), (json.dumps(saved, indent=1, sort_keys=True) + "\n").encode(),
                       mode=PRIVATE)
    return True
