#!/usr/bin/env bash
# The Dagster UI on the embedded demo: install (scripts/bootstrap.sh, with Dagster), start the
# two simulated WMS environments and `dg dev` on http://127.0.0.1:3000 (scripts/dagster_demo.py;
# --port to change it). Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python scripts/dagster_demo.py "$@"
