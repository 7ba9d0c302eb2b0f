#!/usr/bin/env bash
# Creates .venv (once) and installs both plugins, the simulator and the dev tools into it.
# Idempotent: re-running only re-checks what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet \
    -e ./tap-gruponos-wms \
    -e ./target-gruponos-oracle \
    -e ".[dev]"
