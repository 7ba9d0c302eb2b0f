#!/usr/bin/env bash
# Command 2 of the README: install what the tests need, then run the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -m 'not e2e' for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
# Bytecode of every Python process the tests start goes under .venv, not beside the sources:
# a test run leaves the checkout as it found it.
export PYTHONPYCACHEPREFIX="$PWD/.venv/pycache"
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
