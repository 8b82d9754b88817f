"""Writing a message in the user's editor, as git does: who is asked, the template, the cleanup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..errors import UsageError
from ..repo import Repository

COMMENT = "#"


def chosen_editor(repo: Repository) -> str | None:
    """The editor command to run, or None when no editor may be opened.

    MUSE_EDITOR is always obeyed (a script's own editor, as git's GIT_EDITOR).
    The others — `core.editor`, VISUAL, EDITOR, then `vi` — only on a terminal:
    a CI job or a pipe must get an error, not an editor waiting for keys.
    """
    explicit = os.environ.get("MUSE_EDITOR")
    if explicit is not None:
        return explicit or None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    for value in (repo.config_value("core.editor"), os.environ.get("VISUAL"),
                  os.environ.get("EDITOR")):
        if value:
            return value
    return None if os.environ.get("TERM") == "dumb" else "vi"


def edit_message(repo: Repository, editor: str, text: str, name: str = "COMMIT_EDITMSG") -> str:
    """Open `text` in `editor` (in `.muse/NAME`); the message written, cleaned up as git
    does. UsageError when the editor fails or the message is left empty."""
    path = repo.muse_dir / name
    path.write_text(text, encoding="utf-8")
    # Through the shell, as git does, so an editor with arguments (`code --wait`) works.
    done = subprocess.run(["sh", "-c", f'{editor} "$@"', editor, str(path)], check=False)
    if done.returncode != 0:  # what was typed stays in the file, for -F
        raise UsageError(f"the editor {editor!r} exited with status {done.returncode}; "
                         f"nothing was recorded (the text is in {path})",
                         hint="fix core.editor / VISUAL / EDITOR, or pass -m MESSAGE")
    message = cleaned(_read(path))
    if not message:
        path.unlink()  # nothing in it worth keeping
        raise UsageError("aborting: the message is empty",
                         hint="write a message (lines starting with # are left out), "
                         "or pass -m MESSAGE")
    return message


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the message in {path} is not UTF-8 text") from None


def cleaned(text: str) -> str:
    """git's `strip` cleanup: no `#` lines, no trailing spaces, no blank lines at either
    end, runs of blank lines as one."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(COMMENT):
            continue
        line = line.rstrip()
        if not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)  # no final newline, like a message given with -m


def commented(lines: list[str]) -> str:
    """Lines as the template's `#` comments."""
    return "".join(f"{COMMENT} {line}".rstrip() + "\n" for line in lines)
