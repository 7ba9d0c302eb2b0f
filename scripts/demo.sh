#!/usr/bin/env bash
# Command 1 of the README: on a fresh clone with only Python, install Meltano and both plugins,
# start the WMS simulator, run the full sync, change records in the WMS, run the incremental
# sync, and print what each run did, ending with the two runs' rows in the audit table
# SDC_LOAD_AUDIT. Options go to scripts/demo.py (e.g. --orders 5000; --recommended extracts
# the 15 entities of the README's recommended set).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python scripts/demo.py "$@"
