"""`.museignore`: git-style ignore patterns (globs, `**`, anchoring, `!` negation, dir-only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILE = ".museignore"


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _glob_to_regex(glob: str) -> str:
    out = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
                continue
            body = glob[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif c == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _parse_line(line: str) -> _Rule | None:
    line = line.rstrip("\n").rstrip("\r")
    stripped = line.rstrip(" ") if not line.endswith("\\ ") else line
    if not stripped or stripped.startswith("#"):
        return None
    negate = stripped.startswith("!")
    if negate or stripped.startswith("\\#") or stripped.startswith("\\!"):
        stripped = stripped[1:]
    dir_only = stripped.endswith("/")
    stripped = stripped.rstrip("/")
    if not stripped:
        return None
    anchored = "/" in stripped
    stripped = stripped.lstrip("/")
    body = _glob_to_regex(stripped)
    pattern = f"^{body}$" if anchored else f"^(?:.*/)?{body}$"
    return _Rule(re.compile(pattern, re.DOTALL), negate, dir_only)


class IgnoreRules:
    """Decides whether a repository-relative path is ignored; the last matching rule wins."""

    def __init__(self, lines: list[str]) -> None:
        self._rules = [rule for rule in map(_parse_line, lines) if rule is not None]

    @classmethod
    def load(cls, root: Path) -> IgnoreRules:
        path = root / IGNORE_FILE
        try:
            return cls(path.read_text(encoding="utf-8").splitlines())
        except FileNotFoundError:
            return cls([])

    def ignored(self, path: str, *, is_dir: bool = False) -> bool:
        verdict = False
        for rule in self._rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(path):
                verdict = not rule.negate
        return verdict
