"""`.museignore`: git-style ignore patterns (globs, `**`, anchoring, `!` negation, dir-only).

Matching takes time linear in the path for any pattern: a pattern is split
into `/`-separated segments and run as a set of states (never by
backtracking), so no line, however many stars it holds, can stall `status`.
Simple patterns (at most one star per segment, at most two `**`) are also
compiled to a regular expression, which is faster and cannot backtrack
badly. A pattern that cannot mean anything (a reversed range like `[z-a]`)
is refused with the file and line.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .errors import ConfigError

IGNORE_FILE = ".museignore"

# Tokens of one segment: a literal character, ANY (`?`), STAR (`*`), or a character class.
ANY = "?"
STAR = "*"
DOUBLE = "**"  # a whole segment: zero or more folders


@dataclass(frozen=True)
class CharClass:
    negated: bool
    ranges: tuple[tuple[str, str], ...]

    def matches(self, char: str) -> bool:
        return any(lo <= char <= hi for lo, hi in self.ranges) != self.negated

    def regex(self) -> str:
        body = "".join(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}"
                       for lo, hi in self.ranges)
        return f"[{'^' if self.negated else ''}{body}]" if body else ("[^/]" if self.negated
                                                                     else "(?!)")


Token = str | CharClass
Segment = tuple[Token, ...] | str  # a token tuple, or DOUBLE
P = TypeVar("P")  # a pattern position: a token, or a segment
In = TypeVar("In")  # an input: a character, or a path component


class BadPattern(ValueError):
    """A pattern that cannot mean anything; the message says why."""


def _parse_class(glob: str, i: int) -> tuple[CharClass, int] | None:
    """The class starting at glob[i] == '[' and the index after it; None if it never closes."""
    j = i + 1
    negated = glob[j:j + 1] in ("!", "^")
    j += negated
    chars: list[str] = []
    first = True
    while j < len(glob) and (glob[j] != "]" or first):
        if glob[j] == "\\" and j + 1 < len(glob):
            j += 1
        chars.append(glob[j])
        j += 1
        first = False
    if j >= len(glob):
        return None
    ranges = []
    k = 0
    while k < len(chars):
        if k + 2 < len(chars) and chars[k + 1] == "-":
            lo, hi = chars[k], chars[k + 2]
            if lo > hi:
                raise BadPattern(f"reversed range '{lo}-{hi}'")
            ranges.append((lo, hi))
            k += 3
        else:
            ranges.append((chars[k], chars[k]))
            k += 1
    return CharClass(negated, tuple(ranges)), j + 1


def _parse_segment(glob: str) -> Segment:
    if glob == "**":
        return DOUBLE
    tokens: list[Token] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            if not tokens or tokens[-1] != STAR:  # `**` inside a segment is a plain `*`
                tokens.append(STAR)
            i += 1
        elif c == "?":
            tokens.append(ANY)
            i += 1
        elif c == "[" and (parsed := _parse_class(glob, i)) is not None:
            tokens.append(parsed[0])
            i = parsed[1]
        elif c == "\\" and i + 1 < len(glob):
            literal = glob[i + 1]
            # An escaped `*` or `?` is that character, so it must not read as a wildcard.
            tokens.append(CharClass(False, ((literal, literal),)) if literal in (STAR, ANY)
                          else literal)
            i += 2
        else:
            tokens.append(c)
            i += 1
    return tuple(tokens)


def _token_matches(token: Token, char: str) -> bool:
    if isinstance(token, CharClass):
        return token.matches(char)
    return token in (ANY, char)


def _ends_match(tokens: tuple[Token, ...], name: str) -> bool:
    """The cheap test first: the tokens before the first star and after the last fit the ends."""
    head = tokens.index(STAR) if STAR in tokens else len(tokens)
    tail = len(tokens) - 1 - tokens[::-1].index(STAR) if STAR in tokens else len(tokens)
    after = len(tokens) - tail - 1
    if head + max(after, 0) > len(name):
        return False
    if not all(_token_matches(t, c) for t, c in zip(tokens[:head], name, strict=False)):
        return False
    return after <= 0 or all(_token_matches(t, c) for t, c in
                             zip(tokens[tail + 1:], name[len(name) - after:], strict=True))


def _name_matches(tokens: tuple[Token, ...], name: str) -> bool:
    """One path component against one segment, as a set of positions (linear in `name`)."""
    if not _ends_match(tokens, name):
        return False
    return _simulate(tokens, name, STAR, _token_matches)


def _simulate(pattern: Sequence[P], inputs: Iterable[In], wild: P,
              step: Callable[[P, In], bool]) -> bool:
    """Whether `inputs` match `pattern`, tracking the set of reachable positions: linear
    time, no backtracking. `wild` matches any run of inputs, none included (a `*` over
    the characters of a name, a `**` over the folders of a path)."""
    states = _skip_wild(pattern, {0}, wild)
    for item in inputs:
        following = set()
        for at in states:
            if at == len(pattern):
                continue
            here = pattern[at]
            if here == wild:
                following.add(at)  # the wildcard takes this input and stays
            elif step(here, item):
                following.add(at + 1)
        if not following:
            return False
        states = _skip_wild(pattern, following, wild)
    return len(pattern) in states


def _skip_wild(pattern: Sequence[P], states: set[int], wild: P) -> set[int]:
    """A wildcard may match nothing: from its position, the one after it is reachable too."""
    result = set(states)
    for at in sorted(states):
        while at < len(pattern) and pattern[at] == wild:
            at += 1
            result.add(at)
    return result


def _segment_regex(segment: tuple[Token, ...]) -> str:
    out = []
    for token in segment:
        if isinstance(token, CharClass):
            out.append(token.regex())
        elif token == STAR:
            out.append("[^/]*")
        elif token == ANY:
            out.append("[^/]")
        else:
            out.append(re.escape(token))
    return "".join(out)


@dataclass(frozen=True)
class _Rule:
    segments: tuple[Segment, ...]
    negate: bool
    dir_only: bool
    regex: re.Pattern[str] | None  # set when a regex cannot backtrack badly

    def matches(self, path: str) -> bool:
        if self.regex is not None:
            return self.regex.fullmatch(path) is not None
        return _path_matches(self.segments, path.split("/"))


def _path_matches(segments: tuple[Segment, ...], parts: list[str]) -> bool:
    """Components against segments, as a set of segment positions (`**` stays or moves on)."""
    last = segments[-1]
    if isinstance(last, tuple) and not _name_matches(last, parts[-1]):
        return False  # the cheap test first: the last name must fit the last segment
    if len(segments) == 2 and segments[0] == DOUBLE:
        return True  # a bare name at any depth: that was the whole test
    return _simulate(segments, parts, DOUBLE, _segment_fits)


def _segment_fits(segment: Segment, part: str) -> bool:
    return isinstance(segment, tuple) and _name_matches(segment, part)


def _compile(segments: tuple[Segment, ...]) -> re.Pattern[str] | None:
    """A regex for a pattern that cannot make it backtrack badly; None for any other."""
    doubles = sum(1 for s in segments if s == DOUBLE)
    stars = max((sum(1 for t in s if t == STAR) for s in segments if isinstance(s, tuple)),
                default=0)
    # Each `**` can only stop at a slash (few choices); a second star in one name is many.
    if doubles > 2 or stars > 1:
        return None
    last = len(segments) - 1
    pieces = []
    for i, segment in enumerate(segments):
        if not isinstance(segment, tuple):
            pieces.append("(?:/[^/]+)*" if i == last else "(?:[^/]+/)*")
            continue
        pieces.append(_segment_regex(segment))
        if i < last and not (i + 1 == last and segments[last] == DOUBLE):
            pieces.append("/")
    return re.compile("".join(pieces), re.DOTALL)


def parse_pattern(line: str) -> _Rule | None:
    """One `.museignore` line as a rule; None for blanks and comments; BadPattern if invalid."""
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
    segments = [_parse_segment(part) for part in stripped.lstrip("/").split("/") if part]
    if not anchored:
        segments.insert(0, DOUBLE)  # a bare name matches at any depth
    if segments[-1] == DOUBLE:
        segments[-1:] = [(STAR,), DOUBLE]  # `dir/**` matches what is inside, not dir itself
    frozen = tuple(segments)
    return _Rule(frozen, negate, dir_only, _compile(frozen))


class IgnoreRules:
    """Decides whether a repository-relative path is ignored; the last matching rule wins."""

    def __init__(self, lines: list[str], *, source: str = IGNORE_FILE) -> None:
        self.lines = list(lines)  # as given, so more rules can be added (`clean -e`)
        self._rules = []
        for number, line in enumerate(lines, 1):
            try:
                rule = parse_pattern(line)
            except BadPattern as exc:
                raise ConfigError(f"{source} line {number}: {exc} in pattern {line.strip()!r}",
                                  hint="fix or remove that line") from None
            if rule is not None:
                self._rules.append(rule)

    @classmethod
    def load(cls, root: Path) -> IgnoreRules:
        """The rules of `root/.museignore`; none if it is absent or not a regular file."""
        try:
            fd = os.open(root / IGNORE_FILE, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return cls([])
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENOTDIR):
                return cls([])  # a link is not followed (Muse tracks none), a folder holds none
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return cls([])  # a folder (or a device) named .museignore holds no rules
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise ConfigError(f"{IGNORE_FILE} line {line} is not valid UTF-8",
                              hint="save the file as UTF-8") from None
        return cls(text.splitlines())

    def ignored(self, path: str, *, is_dir: bool = False) -> bool:
        verdict = False
        for rule in self._rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.matches(path):
                verdict = not rule.negate
        return verdict
