#!/usr/bin/env bash
# Command 2 of the README: install what the tests need, then run the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -m 'not e2e' for a quick run). Tests run
# in PYTEST_WORKERS (default 3) pytest-xdist workers on 2 cores: the end-to-end tests spend
# much of their time waiting on processes and the simulated WMS, which others fill.
set -euo pipefail
cd "$(dirname "$0")/.."
# Bytecode of every Python process the tests start goes under .venv, not beside the sources:
# a test run leaves the checkout as it found it. It is written there even where
# PYTHONDONTWRITEBYTECODE is set: with a prefix and no writes, every process compiled every
# module it imported again (three times the suite's CPU time).
export PYTHONPYCACHEPREFIX="$PWD/.venv/pycache"
unset PYTHONDONTWRITEBYTECODE
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-3}" --dist worksteal "$@"
