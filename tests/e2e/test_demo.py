"""Command 1 of the README (scripts/demo.sh minus the bootstrap it starts with)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import clean_environ, free_port, run

pytestmark = pytest.mark.e2e


def test_demo_reports_what_the_incremental_run_changed(
    meltano_installed: dict[str, str], tmp_path: Path
) -> None:
    env = clean_environ() | meltano_installed
    env["MELTANO_DATABASE_URI"] = f"sqlite:///{tmp_path / 'meltano.db'}"
    cmd = [
        sys.executable,
        "scripts/demo.py",
        "--port",
        str(free_port()),
        "--orders",
        "30",
        "--modify",
        "3",
        "--insert",
        "2",
        "--delete",
        "0",
        "--warehouse",
        str(tmp_path / "warehouse.db"),
    ]
    out = run(cmd, env=env, timeout=600).stdout

    rows = {
        line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("WMS_")
    }
    # 30 orders x 3 details x 1 allocation, then 2 new orders of 2 details with 1 allocation
    assert rows == {
        "WMS_ORDER_HEADERS": ["32", "2", "3"],
        "WMS_ORDER_DETAILS": ["94", "4", "3"],
        "WMS_ALLOCATIONS": ["94", "4", "3"],
    }
    assert "meltano run full-sync" in out and "meltano run incremental-sync" in out

    # it ends with the audit rows of its two runs: one per run and table, all succeeded
    audit = out.split("SDC_LOAD_AUDIT, one row per run and table")[1].splitlines()[2:]
    runs = {(r[0], r[1]): r[2:7] for r in (line.split() for line in audit if line.strip())}
    assert {run for run, _ in runs} == {"full-sync", "incremental-sync"} and len(runs) == 6
    assert runs["full-sync", "WMS_ORDER_HEADERS"] == ["succeeded", "30", "30", "0", "0"]
    assert runs["full-sync", "WMS_ORDER_DETAILS"] == ["succeeded", "90", "90", "0", "0"]
    incremental = [counts for (run, _), counts in runs.items() if run == "incremental-sync"]
    assert all(c[0] == "succeeded" and int(c[2]) >= 2 for c in incremental)
