"""SDC_LOAD_AUDIT under `meltano run`: complete runs say succeeded, and a run whose tap failed
says failed once the runbook's marking command has run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import BIN, REPO, Pipeline, run
from test_documented_commands import OPERATIONS, bash_block_after
from wms_simulator import Fault

pytestmark = pytest.mark.e2e


def audit_rows(pipeline: Pipeline) -> list[dict]:
    with sqlite3.connect(pipeline.warehouse) as db:
        db.row_factory = sqlite3.Row
        query = "SELECT * FROM SDC_LOAD_AUDIT ORDER BY STARTED_AT, STREAM_NAME"
        return [dict(r) for r in db.execute(query)]


def test_complete_full_and_incremental_syncs_leave_every_audit_row_succeeded(pipeline):
    pipeline.run_job("full-sync")
    pipeline.sim.modify("order_dtl", count=3)
    pipeline.run_job("incremental-sync")

    rows = audit_rows(pipeline)
    assert len(rows) == 6 and len({r["RUN_ID"] for r in rows}) == 2
    assert {(r["STATUS"], r["MESSAGE"]) for r in rows} == {("succeeded", None)}


def test_a_wms_going_away_under_meltano_run_is_marked_failed_by_the_runbook(
    pipeline, tmp_path: Path
):
    # the WMS answers the first page of order details, then never again
    pipeline.sim.add_faults(
        Fault(status=503, times=1000, entity="order_dtl", path_contains="id__gt=40")
    )
    script = bash_block_after(OPERATIONS.read_text(), "When a job fails: mark its audit rows")
    script = script.replace(".venv/bin/", f"{BIN}/")  # run from elsewhere: run.log lands there
    env = pipeline.env(TAP_GRUPONOS_WMS_MAX_RETRIES="0", MELTANO_PROJECT_ROOT=str(REPO))

    marked = run(["bash", "-c", script], env=env, cwd=tmp_path, check=False, timeout=600)

    assert marked.returncode == 1, marked.stderr
    cause = next(
        line.split("] ", 1)[1]
        for line in (tmp_path / "run.log").read_text().splitlines()
        if "[error" in line and "tap-gruponos-wms--full" in line
    )
    assert cause.startswith("tap-gruponos-wms--full order_dtl: GET ") and "503" in cause
    rows = audit_rows(pipeline)
    assert {r["STREAM_NAME"] for r in rows} == {"allocations", "order_details", "order_headers"}
    assert len({r["JOB_RUN_ID"] for r in rows}) == 1 and rows[0]["JOB_RUN_ID"]
    assert {(r["STATUS"], r["MESSAGE"]) for r in rows} == {("failed", cause)}
    assert "wms_pass" not in cause
    assert next(r for r in rows if r["STREAM_NAME"] == "order_details")["RECORDS_RECEIVED"] == 40
