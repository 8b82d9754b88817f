"""The text of a config file, read and written as git reads and writes its own.

A file is a list of entries, each the exact text of one or more lines: blank
lines and comments (`#`, `;`), `[section]` / `[section "sub"]` headers, and
`key = value` settings. Editing one setting rewrites only its own lines, so
comments and layout survive. Values follow git's rules: unquoted spaces at
either end are dropped (one space stays one space inside), `"…"` keeps every
space and `#`/`;` within it, an unquoted `#` or `;` starts a comment, `\\`
escapes `\\`, `"`, `n`, `t` and `b`, and a `\\` at the end of a line continues
the value on the next. A key with no `=` is a boolean true. Section and setting
names are read in lower case, as git reads them (`[User] Name` is `user.name`);
a subsection keeps its case. Writing quotes a
value only when it must (spaces at an end, `#` or `;`, or empty) and escapes
`\\`, `"` and tabs, so any one-line value reads back exactly as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Section = tuple[str, str | None]  # ("remote", "origin") for [remote "origin"]

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}
_HEADER = re.compile(r"\[\s*(?P<name>[A-Za-z0-9.-]+)(?:\s+\"(?P<sub>(?:[^\"\\\n]|\\.)*)\")?\s*\]")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_BLANKS = " \t\v\f\r"  # git's isspace() within a line
_NEITHER = "a line that is neither [section] nor key = value"


class ConfigSyntaxError(ValueError):
    """What is wrong with a config file's text, and on which line (1-based)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass
class Entry:
    """Lines of the file: a header (`option` None) or a setting of `section`; neither
    (`section` None) for blank lines and comments."""

    text: str
    line: int = 0
    section: Section | None = None
    option: str | None = None
    value: str | None = None

    @property
    def is_setting(self) -> bool:
        return self.option is not None

    @property
    def is_header(self) -> bool:
        return self.section is not None and self.option is None


def parse(text: str) -> list[Entry]:
    """Every entry of `text`, in order; ConfigSyntaxError for the first line git would
    refuse (and for a setting before any header)."""
    entries: list[Entry] = []
    lines = text.splitlines(keepends=True)
    section: Section | None = None
    i = 0
    while i < len(lines):
        number = i + 1
        stripped = lines[i].strip()
        if not stripped or stripped[0] in "#;":
            entries.append(Entry(lines[i], number))
            i += 1
        elif stripped.startswith("["):
            section = _header(stripped, number)
            entries.append(Entry(lines[i], number, section))
            i += 1
        else:
            if section is None:
                raise ConfigSyntaxError(number, "a setting before any [section]")
            option, value, used = _setting(lines, i)
            entries.append(Entry("".join(lines[i:i + used]), number, section, option, value))
            i += used
    return entries


def _header(stripped: str, number: int) -> Section:
    found = _HEADER.match(stripped)
    if found is None:
        raise ConfigSyntaxError(number, _NEITHER)
    rest = stripped[found.end():].strip()
    if rest and rest[0] not in "#;":
        raise ConfigSyntaxError(number, "a setting on the line of its [section]: give it a "
                                "line of its own")
    # As in git, a section's name is read in lower case (`[User]` is `[user]`); a
    # subsection's keeps its case (`[remote "Origin"]` is not `[remote "origin"]`).
    name, sub = found.group("name").lower(), found.group("sub")
    if sub is not None:
        return name, re.sub(r"\\(.)", r"\1", sub)
    if "." in name:  # git's old `[section.sub]` form, whose sub is lower-case
        head, _, tail = name.partition(".")
        return head, tail
    return name, None


def _setting(lines: list[str], i: int) -> tuple[str, str, int]:
    """(key, value, lines used) of the setting starting on line `i`."""
    text = lines[i].lstrip()
    found = _KEY.match(text)
    if found is None:
        raise ConfigSyntaxError(i + 1, _NEITHER)
    option = found.group().lower()  # a setting's name, too, is git's in any case
    rest = _body(text[found.end():]).lstrip(" \t")
    if not rest:
        return option, "true", 1  # `key` alone on its line is git's boolean true
    if rest[0] != "=":
        raise ConfigSyntaxError(i + 1, _NEITHER)
    value, used = _value(lines, i, rest[1:])
    return option, value, used


def _value(lines: list[str], i: int, text: str) -> tuple[str, int]:
    """A value as git's parser decodes it, from `text` (the rest of line `i`) on; a `\\`
    at a line's end carries it on to the next line. Returns (value, lines used)."""
    out: list[str] = []
    quoted = False
    spaces = 0  # unquoted blanks since the last character kept: dropped at the end
    used = 1
    body, pos = _body(text), 0
    while True:
        if pos == len(body):
            if quoted:
                raise ConfigSyntaxError(i + used, 'a value whose " is never closed')
            return "".join(out), used
        char = body[pos]
        pos += 1
        if char in _BLANKS and not quoted:
            spaces += bool(out)  # leading blanks are not part of the value
            continue
        if char in "#;" and not quoted:
            return "".join(out), used
        if spaces:
            out.append(" " * spaces)  # git: each blank inside stays, as one space
            spaces = 0
        if char == '"':
            quoted = not quoted
        elif char != "\\":
            out.append(char)
        elif pos < len(body):
            escaped = body[pos]
            pos += 1
            if escaped not in _ESCAPES:
                raise ConfigSyntaxError(i + used, f"an unknown escape \\{escaped} in a "
                                        "value (only \\\\, \\\", \\n, \\t and \\b are)")
            out.append(_ESCAPES[escaped])
        elif i + used < len(lines):  # a backslash ending the line: the value goes on
            body, pos = _body(lines[i + used]), 0
            used += 1


def _body(line: str) -> str:
    """A line without its ending (`\\n` or `\\r\\n`, as git reads both)."""
    return line.removesuffix("\n").removesuffix("\r")


def header_text(section: Section) -> str:
    """`[name]` or `[name "sub"]`, the sub escaped as git escapes it."""
    name, sub = section
    if sub is None:
        return f"[{name}]\n"
    escaped = sub.replace("\\", "\\\\").replace('"', '\\"')
    return f'[{name} "{escaped}"]\n'


def setting_text(option: str, value: str) -> str:
    """`\\tkey = value` as git writes it: quoted only when spaces at an end, `#`, `;`
    or emptiness would otherwise be lost; `\\`, `"`, tabs and newlines escaped."""
    needs_quotes = (value == "" or value[0] == " " or value[-1] == " "
                    or "#" in value or ";" in value)
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\t", "\\t").replace("\n", "\\n"))
    return f'\t{option} = "{escaped}"\n' if needs_quotes else f"\t{option} = {escaped}\n"
