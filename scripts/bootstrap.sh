#!/usr/bin/env bash
# Creates .venv (once) and installs both plugins, the simulator and the dev tools into it.
# Idempotent: re-running only re-checks what is installed. pip's output goes to
# .venv/bootstrap.log (setuptools' build warnings would bury everything else) and is shown
# when an install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
log=.venv/bootstrap.log
echo "bootstrap: installing Meltano and both plugins into .venv (log: $log)" >&2
if ! {
    .venv/bin/python -m pip install --upgrade pip &&
    .venv/bin/python -m pip install \
        -e ./tap-gruponos-wms \
        -e ./target-gruponos-oracle \
        -e ".[dev]"
} >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "bootstrap: pip install failed; full output in $log" >&2
    exit 1
fi
