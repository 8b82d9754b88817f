#!/usr/bin/env bash
# Create .venv (once) and install Muse with its development extras into it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.muse-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # -qq: errors only (pip's warnings here are setuptools' notes on editable installs).
  .venv/bin/python -m pip install -qq --upgrade pip
  .venv/bin/python -m pip install -qq -e '.[dev]'
  touch "$stamp"
fi
