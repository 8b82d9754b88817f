"""Configuration files (user-wide and per repository) addressed by dotted keys.

`user.name` lives in section `[user]`; `remote.origin.url` in `[remote "origin"]`.
Section and setting names are git's, in any case (`User.Name` is `user.name`, and
is written in lower case); a subsection (`origin`) is case-sensitive.
The user file sits in the platform config dir (override with MUSE_CONFIG_DIR);
the repository file is `.muse/config`. Repository values win over user values
(`layered`). The text is git's (muse/config_text.py).
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
from pathlib import Path

from .config_text import ConfigSyntaxError, Entry, Section, header_text, parse, setting_text
from .display import NOT_UTF8_CHARS, UNSAFE_TEXT_CHARS, printable
from .errors import ConfigError
from .fsutil import atomic_write_bytes
from .textfiles import read_utf8

# git's spellings of a boolean setting, in any case.
_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True,
             "false": False, "no": False, "off": False, "0": False}


def boolean(raw: str) -> bool | None:
    """A setting's text as git reads a boolean (`true`/`yes`/`on`/`1`, `false`/`no`/`off`/
    `0`, any case, spaces around ignored); None for any other word."""
    return _BOOLEANS.get(raw.strip().lower())


def user_config_dir() -> Path:
    """Where keys and the user config live: $MUSE_CONFIG_DIR, else the platform's dir."""
    override = os.environ.get("MUSE_CONFIG_DIR")
    if override:
        return Path(override)
    base = _linux_config_home()
    if base is not None:
        return Path(base) / "muse"
    import platformdirs

    return Path(platformdirs.user_config_dir("muse"))


def _linux_config_home() -> str | None:
    """The XDG config home as platformdirs finds it on Linux, in the plain cases only.

    Loading platformdirs (and the tempfile, shutil and random it pulls in) was a
    tenth of every `muse log`. An absolute $XDG_CONFIG_HOME, else an absolute
    $HOME's `.config`, is its whole answer on Linux; anything else (another
    platform, Android, a relative or missing HOME) is left to platformdirs.
    """
    if sys.platform != "linux" or os.environ.get("ANDROID_ROOT"):
        return None
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if posixpath.isabs(xdg):
        return xdg
    home = os.environ.get("HOME", "")
    if posixpath.isabs(home):
        return home.rstrip("/") + "/.config"  # as os.path.expanduser joins it
    return None


# A section and a setting's name are words, as git's are (letters, digits, `-`): anything
# else (`=`, `[`, spaces) would be read back as another key. The middle of
# `remote.NAME.url` is a remote or branch name: any one line of UTF-8 text.
_WORD = re.compile(r"[A-Za-z0-9-]+")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_UNSAFE = re.compile(f"[{UNSAFE_TEXT_CHARS}{NOT_UTF8_CHARS}]")
_UNSAFE_VALUE = re.compile(f"(?!\t)[{UNSAFE_TEXT_CHARS}]|[{NOT_UTF8_CHARS}]")
_KEY_HINT = "keys look like section.name, e.g. user.name or remote.origin.url"


def _split_key(key: str) -> tuple[Section, str]:
    """(section, subsection or None), name: the section's and the name's in lower case,
    as git compares them (`User.Name` is `user.name`); the subsection as typed
    (`remote.Origin.url` is not `remote.origin.url`)."""
    parts = key.split(".")
    if (len(parts) < 2 or any(p == "" for p in parts) or not _WORD.fullmatch(parts[0])
            or not _NAME.fullmatch(parts[-1]) or _UNSAFE.search(key)):
        raise ConfigError(f"invalid config key '{printable(key)}'", hint=_KEY_HINT)
    head, option = parts[0].lower(), parts[-1].lower()
    if len(parts) == 2:
        return (head, None), option
    return (head, ".".join(parts[1:-1])), option


def check_key(key: str) -> str:
    """`key` in its canonical form (`User.Name` → `user.name`, a subsection's case kept)
    when it is a valid config key; ConfigError (exit 7) naming it otherwise."""
    return _join_key(*_split_key(key))


def _join_key(section: Section, option: str) -> str:
    name, sub = section
    return f"{name}.{option}" if sub is None else f"{name}.{sub}.{option}"


_FIX_HINT = ("fix that line in a text editor, or remove it and set the value again with "
             "`muse config`")


class ConfigFile:
    """One config file in git's syntax (muse/config_text.py), rewritten atomically on every
    change; a change rewrites only the lines of its own setting, so comments stay."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = self._read(path)
        try:
            self._entries = parse(text or "")
        except ConfigSyntaxError as exc:
            raise ConfigError(f"cannot parse {path}: {exc}", hint=_FIX_HINT) from None
        self._refuse_repeats()

    @staticmethod
    def _read(path: Path) -> str | None:
        """The file's text (None when there is none); one that cannot be read is a config
        error naming it, never taken for an empty one (that would read as "no user.name")."""
        try:
            return read_utf8(path, ConfigError, hint=_FIX_HINT)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}",
                              hint="check that it is a file you can read (its permissions, "
                              "and its folder's)") from None

    def _refuse_repeats(self) -> None:
        """A key set twice is refused: Muse keeps one value per key, and which one a
        reader should take is not the file's to leave unsaid."""
        first: dict[tuple[Section, str], int] = {}
        for entry in self._settings():
            assert entry.section is not None and entry.option is not None
            seen = first.setdefault((entry.section, entry.option), entry.line)
            if seen != entry.line:
                raise ConfigError(f"cannot parse {self.path}: line {entry.line}: "
                                  f"{_join_key(entry.section, entry.option)} is set again "
                                  f"(first on line {seen})", hint=_FIX_HINT)

    def _settings(self) -> list[Entry]:
        return [e for e in self._entries if e.is_setting]

    def _find(self, section: Section, option: str) -> int | None:
        for i, entry in enumerate(self._entries):
            if entry.section == section and entry.option == option:
                return i
        return None

    def get(self, key: str) -> str | None:
        found = self._find(*_split_key(key))
        return None if found is None else self._entries[found].value

    def set(self, key: str, value: str) -> None:
        section, option = _split_key(key)
        if _UNSAFE_VALUE.search(value):  # a line break would be read back as another line
            raise ConfigError(f"invalid value for {key}: '{printable(value)}'",
                              hint="a value is one line of UTF-8 text (tabs allowed)")
        entry = Entry(setting_text(option, value), 0, section, option, value)
        found = self._find(section, option)
        if found is not None:
            self._entries[found] = entry
        else:
            self._entries.insert(self._end_of(section), entry)
        self._save()

    def _end_of(self, section: Section) -> int:
        """Where a new setting of `section` goes: after its last setting (or header), a
        header of its own added at the end of the file when it has none."""
        at = max((i + 1 for i, e in enumerate(self._entries) if e.section == section),
                 default=None)
        if at is None:
            self._end_line(len(self._entries))
            self._entries.append(Entry(header_text(section), 0, section))
            return len(self._entries)
        self._end_line(at)
        return at

    def _end_line(self, at: int) -> None:
        """The entry before position `at` ends its line: a file's last line may not."""
        if at and not self._entries[at - 1].text.endswith("\n"):
            self._entries[at - 1].text += "\n"

    def unset(self, key: str) -> bool:
        section, option = _split_key(key)
        found = self._find(section, option)
        if found is None:
            return False
        del self._entries[found]
        if not any(e.section == section and e.is_setting for e in self._entries):
            self._entries = [e for e in self._entries if e.section != section]
        self._save()
        return True

    def remove_section(self, prefix: str) -> bool:
        """Drop a whole `[a "b"]` section, addressed as `a.b`, with the lines inside it."""
        section, _ = _split_key(prefix + ".x")
        kept: list[Entry] = []
        inside = False
        for entry in self._entries:
            if entry.is_header:
                inside = entry.section == section
            if not inside:
                kept.append(entry)
        if len(kept) == len(self._entries):
            return False
        self._entries = kept
        self._save()
        return True

    def sections(self, head: str) -> list[str]:
        """Names of the subsections of `head`: for `remote`, every `[remote "NAME"]`."""
        return list(dict.fromkeys(e.section[1] for e in self._entries if e.is_header
                                  and e.section is not None and e.section[0] == head
                                  and e.section[1] is not None))

    def items(self) -> list[tuple[str, str]]:
        return [(_join_key(e.section, e.option), e.value) for e in self._settings()
                if e.section is not None and e.option is not None and e.value is not None]

    def _save(self) -> None:
        text = "".join(e.text for e in self._entries)
        atomic_write_bytes(self.path, text.encode("utf-8"))


def user_config() -> ConfigFile:
    return ConfigFile(user_config_dir() / "config")


def layered(key: str, *files: ConfigFile) -> str | None:
    """KEY's value in the first file that sets it, as git reads repository then user
    settings: a value set to the empty string there is still set."""
    for config in files:
        value = config.get(key)
        if value is not None:
            return value
    return None
