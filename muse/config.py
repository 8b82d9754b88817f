"""Configuration files (user-wide and per repository) addressed by dotted keys.

`user.name` lives in section `[user]`; `remote.origin.url` in `[remote "origin"]`.
The user file sits in the platform config dir (override with MUSE_CONFIG_DIR);
the repository file is `.muse/config`. Repository values win over user values.
"""

from __future__ import annotations

import configparser
import io
import os
import re
from pathlib import Path

from .display import NOT_UTF8_CHARS, UNSAFE_TEXT_CHARS, printable
from .errors import ConfigError
from .fsutil import atomic_write_bytes
from .textfiles import read_utf8


def user_config_dir() -> Path:
    """Where keys and the user config live: $MUSE_CONFIG_DIR, else the platform's dir."""
    override = os.environ.get("MUSE_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("muse"))


# A section and a setting's name are words, as git's are (letters, digits, `-`): anything
# else (`=`, `[`, spaces) would be read back as another key. The middle of
# `remote.NAME.url` is a remote or branch name: any one line of UTF-8 text.
_WORD = re.compile(r"[A-Za-z0-9-]+")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_UNSAFE = re.compile(f"[{UNSAFE_TEXT_CHARS}{NOT_UTF8_CHARS}]")
_UNSAFE_VALUE = re.compile(f"(?!\t)[{UNSAFE_TEXT_CHARS}]|[{NOT_UTF8_CHARS}]")
_KEY_HINT = "keys look like section.name, e.g. user.name or remote.origin.url"


def _split_key(key: str) -> tuple[str, str]:
    parts = key.split(".")
    if (len(parts) < 2 or any(p == "" for p in parts) or not _WORD.fullmatch(parts[0])
            or not _NAME.fullmatch(parts[-1]) or _UNSAFE.search(key)):
        raise ConfigError(f"invalid config key '{printable(key)}'", hint=_KEY_HINT)
    if len(parts) == 2:
        return parts[0], parts[1]
    return f'{parts[0]} "{".".join(parts[1:-1])}"', parts[-1]


def check_key(key: str) -> str:
    """`key` when it is a valid config key; ConfigError (exit 7) naming it otherwise."""
    _split_key(key)
    return key


def _join_key(section: str, option: str) -> str:
    if ' "' in section and section.endswith('"'):
        head, sub = section.split(' "', 1)
        return f"{head}.{sub[:-1]}.{option}"
    return f"{section}.{option}"


class ConfigFile:
    """One INI-style config file, rewritten atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._parser = configparser.ConfigParser(interpolation=None)
        self._parser.optionxform = str  # type: ignore[assignment,method-assign]
        text = self._read(path)
        if text is not None:
            try:
                self._parser.read_string(text, source=str(path))
            except configparser.Error as exc:
                raise ConfigError(f"cannot parse {path}: {_parse_problem(exc)}",
                                  hint="fix that line in a text editor, or remove it and "
                                  "set the value again with `muse config`") from None

    @staticmethod
    def _read(path: Path) -> str | None:
        """The file's text (None when there is none); one that cannot be read is a config
        error naming it, never taken for an empty one (that would read as "no user.name")."""
        try:
            return read_utf8(path, ConfigError, hint="fix that line in a text editor, "
                             "or remove it and set the value again with `muse config`")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}",
                              hint="check that it is a file you can read (its permissions, "
                              "and its folder's)") from None

    def get(self, key: str) -> str | None:
        section, option = _split_key(key)
        return self._parser.get(section, option, fallback=None)

    def set(self, key: str, value: str) -> None:
        section, option = _split_key(key)
        if _UNSAFE_VALUE.search(value):  # a line break would be read back as another line
            raise ConfigError(f"invalid value for {key}: '{printable(value)}'",
                              hint="a value is one line of UTF-8 text (tabs allowed)")
        if not self._parser.has_section(section):
            self._parser.add_section(section)
        self._parser.set(section, option, value)
        self._save()

    def unset(self, key: str) -> bool:
        section, option = _split_key(key)
        if not self._parser.has_section(section):
            return False
        removed = self._parser.remove_option(section, option)
        if not self._parser.options(section):
            self._parser.remove_section(section)
        if removed:
            self._save()
        return removed

    def remove_section(self, prefix: str) -> bool:
        """Drop a whole `[a "b"]` section, addressed as `a.b`."""
        section, _ = _split_key(prefix + ".x")
        removed = self._parser.remove_section(section)
        if removed:
            self._save()
        return removed

    def sections(self, head: str) -> list[str]:
        """Names of the subsections of `head`: for `remote`, every `[remote "NAME"]`."""
        names = []
        for section in self._parser.sections():
            if section.startswith(f'{head} "') and section.endswith('"'):
                names.append(section[len(head) + 2 : -1])
        return names

    def items(self) -> list[tuple[str, str]]:
        return [
            (_join_key(section, option), value)
            for section in self._parser.sections()
            for option, value in self._parser.items(section)
        ]

    def _save(self) -> None:
        buffer = io.StringIO()
        self._parser.write(buffer)
        atomic_write_bytes(self.path, buffer.getvalue().encode("utf-8"))


def user_config() -> ConfigFile:
    return ConfigFile(user_config_dir() / "config")


def _parse_problem(exc: configparser.Error) -> str:
    """What is wrong, in one line naming the line (configparser's own text spans several)."""
    lineno = getattr(exc, "lineno", None)
    errors = getattr(exc, "errors", None)  # ParsingError: [(line number, line text), …]
    if lineno is None and errors:
        lineno = errors[0][0]
    what = {configparser.MissingSectionHeaderError: "a setting before any [section]",
            configparser.DuplicateSectionError: "a [section] that appears twice",
            configparser.DuplicateOptionError: "a setting that appears twice in its section",
            }.get(type(exc), "a line that is neither [section] nor key = value")
    return f"line {lineno}: {what}" if lineno is not None else what
