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
        -e ".[dev,dagster]" &&
    # target-jsonl, an independent Singer target for the interoperability test, in a venv of
    # its own: it needs singer-python 5, which pins jsonschema 2.6 and backoff 1.8, while
    # singer-sdk 0.54 needs jsonschema >= 4.16 and backoff >= 2.2.
    { [ -x .venv/interop/target-jsonl/bin/python ] ||
        .venv/bin/python -m venv .venv/interop/target-jsonl; } &&
    .venv/interop/target-jsonl/bin/python -m pip install "target-jsonl==0.1.4"
} >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "bootstrap: pip install failed; full output in $log" >&2
    exit 1
fi
