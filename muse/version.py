"""Muse's version: one place, read by the packaging metadata and by `muse --version`."""

# `muse --version` reads this constant rather than the installed metadata: finding
# a distribution through importlib.metadata cost 40 ms, more than the command itself.
VERSION = "0.1.0.dev0"
