"""The two scheduled jobs, `full-sync` and `incremental-sync`, through `meltano run`."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

import pytest
from conftest import (
    FULL_STATE_ID,
    INCREMENTAL_STATE_ID,
    MELTANO,
    REPO,
    STREAMS,
    Pipeline,
    changed_ids,
    snapshot,
    wait_past_this_second,
)
from wms_simulator import Fault

pytestmark = pytest.mark.e2e


def test_full_sync_loads_every_wms_record_field_by_field(pipeline: Pipeline) -> None:
    pipeline.run_job("full-sync")

    pipeline.assert_tables_equal_simulator()
    state_ids = pipeline.meltano("state", "list").stdout.split()
    assert state_ids == [FULL_STATE_ID], "the full sync keeps its own state, apart from incremental"


def test_incremental_sync_brings_exactly_the_changes_then_nothing(pipeline: Pipeline) -> None:
    sim = pipeline.sim
    pipeline.run_job("incremental-sync")  # first run: no bookmark yet, reads everything
    pipeline.assert_tables_equal_simulator()
    before = snapshot(pipeline)

    touched = {
        "order_details": set(sim.modify("order_dtl", count=4, changes={"po_nbr": "PO-E2E"})),
        "allocations": set(sim.modify("allocation", count=3)),
        "order_headers": set(sim.modify("order_hdr", count=2, changes={"cust_name": "E2E"})),
    }
    new = sim.insert_order(details=2, allocations_per_detail=1)
    for stream, (entity, _) in STREAMS.items():
        touched[stream] |= set(new[entity])
    # a bare mod_ts bump changes MOD_TS, so every touched row differs in content
    wait_past_this_second()
    pipeline.run_job("incremental-sync")

    after = snapshot(pipeline)
    assert changed_ids(before, after) == touched
    pipeline.assert_tables_equal_simulator()

    pipeline.run_job("incremental-sync")
    assert snapshot(pipeline) == after, "a run without WMS changes must change nothing"


def test_full_sync_soft_deletes_what_the_wms_deleted_and_keeps_newer_rows(
    pipeline: Pipeline,
) -> None:
    sim = pipeline.sim
    pipeline.run_job("full-sync")
    order = sim.records("order_hdr")[0]["id"]
    gone = sim.delete("order_hdr", [order])  # cascades to its details and allocations
    modified = sim.modify("order_dtl", count=2, changes={"po_nbr": "PO-AFTER-DELETE"})

    wait_past_this_second()
    pipeline.run_job("incremental-sync")  # cannot see deletions, must not regress anything
    incremental_state = pipeline.state(INCREMENTAL_STATE_ID)
    pipeline.run_job("full-sync")

    deleted = {stream: set(gone.get(entity, [])) for stream, (entity, _) in STREAMS.items()}
    assert deleted["order_headers"] == {order}
    pipeline.assert_tables_equal_simulator(deleted=deleted)
    details = pipeline.table("order_details")
    assert all(details[i]["PO_NBR"] == "PO-AFTER-DELETE" for i in modified)
    assert pipeline.state(INCREMENTAL_STATE_ID) == incremental_state, "each job has its own state"
    assert incremental_state["singer_state"]["bookmarks"]


def test_run_interrupted_midway_and_rerun_ends_equal_to_an_uninterrupted_one(
    pipeline: Pipeline,
) -> None:
    sim = pipeline.sim

    def fail_partway(entity: str, query: dict, n: int) -> None:
        # From the third details request on, the WMS fails for good (several parts of the
        # stream are read at once: a fault of two answers could fall on two requests).
        if entity == "order_dtl" and n == 3:
            sim.add_faults(Fault(status=500, times=1000, entity="order_dtl"))

    sim.on_list_request(fail_partway)
    failed = pipeline.run_job("incremental-sync", check=False, TAP_GRUPONOS_WMS_MAX_RETRIES="1")
    assert failed.returncode != 0, "the injected fault must make the run fail"
    # it failed midway: the stream read before details is bookmarked, some details are loaded
    bookmarks = pipeline.state(INCREMENTAL_STATE_ID)["singer_state"]["bookmarks"]
    assert bookmarks["allocations"]["replication_key_value"]
    assert 0 < len(pipeline.table("order_details")) < len(sim.records("order_dtl"))

    sim.faults.clear()  # the WMS recovers
    sim.modify("order_dtl", count=3)  # the world moves on before the re-run
    wait_past_this_second()
    pipeline.run_job("incremental-sync")
    pipeline.assert_tables_equal_simulator()


def test_run_killed_midway_resumes_from_its_saved_state_and_ends_equal(pipeline: Pipeline) -> None:
    sim = pipeline.sim
    # Streams are read in parallel: the held header request waits for the allocations to be
    # committed, which on a busy machine can take longer than the default request_timeout.
    env = pipeline.env(
        TARGET_GRUPONOS_ORACLE_BATCH_SIZE_ROWS="20", TAP_GRUPONOS_WMS_REQUEST_TIMEOUT="300"
    )
    log = pipeline.workdir / "killed-run.log"
    run = subprocess.Popen(
        [MELTANO, "run", "incremental-sync"],
        cwd=REPO,
        env=env,
        start_new_session=True,  # its own process group: meltano, tap and target die together
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )

    def kill_during_last_stream(entity: str, query: dict, n: int) -> None:
        # Hold the tap's first header request until batches of allocations are committed
        # (and their STATE passed on), then kill everything: a crash in the middle of a run.
        if entity == "order_hdr" and n == 1:
            # 90 allocations in batches of 20, drained whenever any stream's batch is full:
            # at least 71 are committed once they all arrived (each batch holds < 20)
            wait_for_rows(pipeline, "allocations", 60)
            wait_for_saved_bookmark(pipeline, "allocations")
            os.killpg(run.pid, signal.SIGKILL)

    sim.on_list_request(kill_during_last_stream)
    assert run.wait(timeout=300) == -signal.SIGKILL, log.read_text()[-8000:]
    saved = pipeline.state(INCREMENTAL_STATE_ID)["singer_state"]["bookmarks"]
    assert saved["allocations"]["replication_key_value"], "progress before the kill was saved"

    # Meltano still sees the killed run as running and refuses, until told otherwise.
    refused = pipeline.run_job("incremental-sync", check=False)
    assert refused.returncode != 0 and "already running" in refused.stderr
    pipeline.meltano("run", "--force", "incremental-sync")
    pipeline.assert_tables_equal_simulator()


def wait_for_rows(pipeline: Pipeline, stream: str, count: int, timeout: float = 120) -> None:
    """Until at least `count` rows of `stream` are committed."""
    deadline = time.monotonic() + timeout
    seen: object = None
    while time.monotonic() < deadline:
        try:
            seen = len(pipeline.table(stream))
            if seen >= count:
                return
        except sqlite3.OperationalError as exc:  # table not created yet, or locked by a commit
            seen = exc
        time.sleep(0.2)
    raise AssertionError(f"{stream}: fewer than {count} rows committed after {timeout}s: {seen}")


def wait_for_saved_bookmark(pipeline: Pipeline, stream: str, timeout: float = 120) -> None:
    """Until Meltano has stored the STATE the target emitted after committing `stream`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = pipeline.state(INCREMENTAL_STATE_ID)
        if stream in state.get("singer_state", {}).get("bookmarks", {}):
            return
        time.sleep(0.5)
    raise AssertionError(f"no saved bookmark for {stream} after {timeout}s")
