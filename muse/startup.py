"""Start-up: the garbage collector held off while a command's modules import."""

from __future__ import annotations

import gc

# A command's imports create some hundred thousand objects, none of them garbage;
# the collector scanning them again and again (and once more at exit) was an
# eighth of `muse status`. Only the `muse` process holds it (tests running many
# commands in one process never do): `release` then freezes what the imports
# made, so later collections skip it, and the command itself runs collected.
_held = False


def hold_collector() -> None:
    """Pause collection until `release_collector` (called first thing by `muse`)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release_collector() -> None:
    """Resume collection, the objects so far frozen; nothing if it was never held."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
