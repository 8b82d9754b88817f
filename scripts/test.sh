#!/usr/bin/env bash
# The whole test suite: lint, type-check, then every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check muse remotes tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
