"""Partition runs as the schedules make them meet, through real `dagster job execute` and
`meltano run` processes, the simulator and SQLite: a full sync and the incrementals of its
environment, a facility's two jobs on one tick, a run killed or terminated midway, settings
that would corrupt data, tables keyed before several environments, a facility nobody listed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
import typing as t
from pathlib import Path

import dagster as dg
import psutil
import pytest
import yaml
from conftest import (
    INCREMENTAL_STATE_ID,
    MELTANO,
    REPO,
    STREAMS,
    Pipeline,
    wait_past_this_second,
)
from orchestrated import (
    DAGSTER,
    Orchestrated,
    assert_succeeded,
    assert_tables_hold,
)
from wms_simulator import WmsSimulator

from orchestration.slices import REMAINDER

pytestmark = pytest.mark.e2e

FACILITIES = ["FAC1", "FAC2", "FAC3"]


class Gate:
    """Holds the list requests of ``entity`` that ``matches`` accepts, from the ``after``-th
    on, until opened: a run paused at a known point of its read."""

    def __init__(
        self, sim: WmsSimulator, entity: str, matches: t.Callable[[dict], bool], after: int = 1
    ) -> None:
        self.entity, self.matches, self.after = entity, matches, after
        self.seen = 0
        self.reached, self.opened = threading.Event(), threading.Event()
        sim.on_list_request(self._on_request)

    def _on_request(self, entity: str, query: dict, n: int) -> None:
        if entity != self.entity or not self.matches(query):
            return
        self.seen += 1
        if self.seen >= self.after:
            self.reached.set()
            self.opened.wait(timeout=300)

    def wait_reached(self, timeout: float = 180) -> None:
        assert self.reached.wait(timeout), f"no held {self.entity} request in {timeout} s"


def full_table_read(query: dict) -> bool:
    """A request of a FULL_TABLE read (keyset by id, no mod_ts window)."""
    return query.get("ordering") == "id" and "mod_ts__gte" not in query


def facility_read(code: str) -> t.Callable[[dict], bool]:
    return lambda query: any(value == code for value in query.values()) and "mod_ts__gte" in query


def retired_but_in_the_wms(run: Orchestrated, sim: WmsSimulator) -> dict[str, set]:
    """Per stream, the rows marked deleted whose record the WMS still has."""
    found = {}
    for stream, (entity, _) in STREAMS.items():
        alive = {("test", r["id"]) for r in sim.records(entity)}
        table = run.table(stream)
        found[stream] = {k for k, row in table.items() if row["SDC_DELETED_AT"] and k in alive}
    return found


def test_an_incremental_meeting_its_environments_full_sync_skips_and_no_row_is_retired(
    orchestrate,
):
    with WmsSimulator(orders=40, seed=5, counts={"facility": 3}) as sim:
        run = orchestrate({"test": sim}, {"test": FACILITIES})
        assert_succeeded(run.run("facility_incremental", "test/FAC3"))
        gate = Gate(sim, "order_hdr", full_table_read, after=2)  # the full sync, mid-read
        full = run.start("environment_full", "test", TAP_GRUPONOS_WMS_PAGE_SIZE="10")
        gate.wait_reached()
        sim.modify("order_hdr", count=6)
        sim.insert_order(details=2)
        wait_past_this_second()
        [incremental] = run.run("facility_incremental", "test/FAC3")
        gate.opened.set()
        assert_succeeded([incremental, run.finish(full)])

        assert "skipped: the full sync of environment test is running" in incremental.output
        assert run.materialized(incremental.run) == {}
        assert retired_but_in_the_wms(run, sim) == {stream: set() for stream in STREAMS}
        # the next tick reads what the full sync did not: every table equals the WMS
        keys = [f"test/{code}" for code in [*FACILITIES, REMAINDER]]
        assert_succeeded(run.run("facility_incremental", *keys))
        assert_tables_hold(run, {"test": sim})


def test_a_full_sync_waits_for_the_incremental_in_flight_of_its_environment(orchestrate):
    with WmsSimulator(orders=40, seed=5, counts={"facility": 3}) as sim:
        run = orchestrate({"test": sim}, {"test": FACILITIES})
        gate = Gate(sim, "order_hdr", facility_read("FAC2"))  # the incremental, mid-read
        incremental = run.start("facility_incremental", "test/FAC2")
        gate.wait_reached()
        full = run.start("environment_full", "test")
        time.sleep(8)  # long enough for the full sync to have started, were it not waiting
        assert len({row["JOB_RUN_ID"] for row in run.audit()}) == 1  # the incremental's only
        gate.opened.set()
        results = [run.finish(incremental), run.finish(full)]
        assert_succeeded(results)
        assert_tables_hold(run, {"test": sim})

    rows = run.audit()
    by_run = {
        result.run.run_id: [r for r in rows if r["JOB_RUN_ID"] == _meltano_run_id(result.output)]
        for result in results
    }
    first, second = by_run.values()
    assert max(r["ENDED_AT"] for r in first) <= min(r["STARTED_AT"] for r in second)


def _meltano_run_id(output: str) -> str:
    marker = "Meltano directory "
    line = next(line for line in output.splitlines() if marker in line)
    return line.split(" of run ", 1)[1].split()[0]


def test_a_full_sync_racing_plain_meltano_incrementals_retires_no_row_they_wrote(
    pipeline: Pipeline,
):
    sim = pipeline.sim
    pipeline.run_job("incremental-sync")
    gate = Gate(sim, "order_hdr", full_table_read, after=2)
    full = subprocess.Popen(
        [MELTANO, "run", "full-sync"],
        cwd=REPO,
        env=pipeline.env(TAP_GRUPONOS_WMS_PAGE_SIZE="10", TAP_GRUPONOS_WMS_REQUEST_TIMEOUT="300"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        gate.wait_reached()
        changed = sim.modify("order_hdr", count=8)
        new = sim.insert_order(details=2)
        wait_past_this_second()
        pipeline.run_job("incremental-sync")  # writes the changed and the new rows
        written = {i: pipeline.table("order_headers")[i] for i in [*changed, *new["order_hdr"]]}
    finally:
        gate.opened.set()
        _, log = full.communicate(timeout=600)
    assert full.returncode == 0, log[-6000:]

    headers = pipeline.table("order_headers")
    assert not [i for i in written if headers[i]["SDC_DELETED_AT"] is not None]
    pipeline.run_job("incremental-sync")
    pipeline.assert_tables_equal_simulator()


def test_a_facilitys_incremental_and_full_sync_started_together_both_succeed(orchestrate):
    with WmsSimulator(orders=40, seed=5, counts={"facility": 3}, latency_ms=20) as sim:
        run = orchestrate({"test": sim}, {"test": FACILITIES})
        started = [
            run.start("facility_incremental", "test/FAC1"),
            run.start("facility_full", "test/FAC1"),
        ]
        results = [run.finish(one) for one in started]
        assert_succeeded(results)
        assert_succeeded(
            run.run("facility_incremental", "test/FAC2", "test/FAC3", f"test/{REMAINDER}")
        )
        assert_tables_hold(run, {"test": sim})

    statuses = {(r["JOB_RUN_ID"], r["STATUS"]) for r in run.audit()}
    assert {status for _, status in statuses} <= {"succeeded", "incomplete"}


def _wait_for_rows(run: Orchestrated, stream: str, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(run.table(stream)) >= count:
                return
        except sqlite3.OperationalError:  # no table yet, or a commit holds it
            pass
        time.sleep(0.2)
    raise AssertionError(f"{stream}: fewer than {count} rows committed in {timeout} s")


def test_a_killed_partition_runs_retry_ends_its_meltano_job_and_loads_everything(orchestrate):
    with WmsSimulator(orders=30, seed=11) as sim:
        run = orchestrate({"test": sim})
        batches = {"TARGET_GRUPONOS_ORACLE_BATCH_SIZE_ROWS": "20"}
        gate = Gate(sim, "order_hdr", lambda query: True)
        first = run.start("environment_incremental", "test", **batches)
        gate.wait_reached()
        _wait_for_rows(run, "allocations", 40)
        os.killpg(first.process.pid, signal.SIGKILL)  # a lost node: everything at once
        first.process.wait(timeout=60)
        gate.opened.set()
        killed = {row["JOB_RUN_ID"] for row in run.audit()}

        [retry] = run.run("environment_incremental", "test")
        assert_succeeded([retry])
        assert_tables_hold(run, {"test": sim})

    assert "died while running: ended as failed" in retry.output
    rows = run.audit()
    first_attempt = [r for r in rows if r["JOB_RUN_ID"] in killed]
    assert first_attempt and {r["STATUS"] for r in first_attempt} == {"failed"}
    assert all(r["MESSAGE"].startswith("killed: ") for r in first_attempt)
    assert {r["STATUS"] for r in rows if r["JOB_RUN_ID"] not in killed} == {"succeeded"}
    runs_dir = Path(run.env["MELTANO_SYS_DIR_ROOT"]) / "runs"
    assert list(runs_dir.iterdir()) == []  # the dead run's directory (its passwords) removed


def test_terminating_a_partition_run_stops_tap_and_target_and_fails_its_audit_rows(
    orchestrate,
):
    with WmsSimulator(orders=30, seed=11) as sim:
        run = orchestrate({"test": sim})  # retried twice on failure, as shipped
        gate = Gate(sim, "order_hdr", lambda query: True)
        started = run.start(
            "environment_incremental", "test", TARGET_GRUPONOS_ORACLE_BATCH_SIZE_ROWS="20"
        )
        try:
            gate.wait_reached()
            _wait_for_rows(run, "allocations", 20)
            tree = started.tree()
            names = " ".join(" ".join(p.cmdline()) for p in tree)
            assert "tap-gruponos-wms" in names and "target-gruponos-oracle" in names, names
            started.process.send_signal(signal.SIGTERM)  # as Dagster terminates a run worker
            time.sleep(1)
        finally:
            gate.opened.set()  # the request in flight ends, as a real one does
        result = run.finish(started, timeout=120)
        _, alive = psutil.wait_procs(tree, timeout=10)
        requests_after = len(sim.request_log)
        time.sleep(2)
        assert len(sim.request_log) == requests_after, "the WMS still gets requests"

    assert not alive, [" ".join(p.cmdline()) for p in alive]
    assert result.returncode != 0 and result.run is not None, result.output[-8000:]
    assert result.run.status == dg.DagsterRunStatus.FAILURE
    events = [e.dagster_event.event_type_value for e in run.events(result.run) if e.dagster_event]
    assert "STEP_UP_FOR_RETRY" not in events  # terminated is not failed: no retry
    rows = run.audit()
    assert rows and {r["STATUS"] for r in rows} == {"failed"}
    # the target's own message (it got the signal too), else the orchestration's "terminated"
    assert all("terminat" in r["MESSAGE"] for r in rows), [r["MESSAGE"] for r in rows]


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"key_column": "order_nbr"}, "setting key_column: 'order_nbr' is (or looks like) a"),
        ({"key_column": "mod_user"}, "setting key_column: 'mod_user' is (or looks like) a"),
        (
            {"environments": [{"name": "test", "facilities": ["FAC1", "FAC2", "FAC1"]}]},
            "setting environments.0.facilities: listed twice: ['FAC1']",
        ),
    ],
)
def test_a_setting_that_would_corrupt_data_is_one_line_and_touches_no_table(
    orchestrate, tmp_path, document, complaint
):
    with WmsSimulator(orders=5) as sim:
        run = orchestrate({"test": sim}, {"test": FACILITIES})
        settings = yaml.safe_load(run.settings.read_text())
        for environment in document.get("environments", []):
            environment["env"] = settings["environments"][0]["env"]
        run.settings.write_text(yaml.safe_dump(settings | document))
        execute = [DAGSTER, "job", "execute", "-m", "orchestration.definitions"]
        done = subprocess.run(
            [*execute, "-j", "environment_incremental", "--tags", '{"dagster/partition": "test"}'],
            cwd=REPO,
            env=run.process_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: {run.settings}: {complaint}"), lines
    assert "Traceback" not in done.stderr
    assert not run.warehouse.exists() and not sim.request_log


def test_tables_keyed_by_id_stop_a_keyed_run_before_any_ddl_until_adopted(orchestrate):
    with WmsSimulator(orders=20, seed=5) as sim:
        run = orchestrate({"test": sim}, max_retries=0)
        plain = run.env | {
            "MELTANO_ENVIRONMENT": "dev",
            "TAP_GRUPONOS_WMS_BASE_URL": sim.base_url,
            "TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL": f"sqlite:///{run.warehouse}",
        }
        meltano = [MELTANO, "--environment", "dev"]
        subprocess.run([*meltano, "run", "incremental-sync"], cwd=REPO, env=plain, check=True)
        before = _schema(run.warehouse)

        [refused] = run.run("environment_incremental", "test")
        assert not refused.success
        assert _schema(run.warehouse) == before  # no column added, no index made
        cause = _failure_message(run, refused.run)
        assert "WMS_ALLOCATIONS" in cause and "--adopt-key-column" in cause, cause
        assert "\n" not in cause.strip() and "Traceback" not in cause

        adopt = [*meltano, "invoke", "target-gruponos-oracle", "--adopt-key-column", "wms_env=test"]
        subprocess.run(adopt, cwd=REPO, env=plain, check=True, capture_output=True)
        sim.modify("order_dtl", count=3)
        wait_past_this_second()
        assert_succeeded(run.run("environment_incremental", "test"))
        assert_tables_hold(run, {"test": sim})  # (WMS_ENV, ID) unique: no row twice
        with sqlite3.connect(run.warehouse) as db:
            for stream, (entity, table) in STREAMS.items():
                count = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                assert count == len(sim.records(entity)), stream  # no row lost, none doubled


def _schema(warehouse: Path) -> dict[str, list]:
    with sqlite3.connect(warehouse) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master")]
        return {
            name: db.execute(f"PRAGMA table_info('{name}')").fetchall()
            + db.execute(f"PRAGMA index_list('{name}')").fetchall()
            for name in tables
            if name.startswith("WMS_")
        }


def _failure_message(run: Orchestrated, dagster_run: dg.DagsterRun | None) -> str:
    assert dagster_run is not None
    failures = [
        e.dagster_event.event_specific_data.error.cause.message
        for e in run.events(dagster_run)
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    assert failures, "no step failure"
    return failures[0].split("Failure: ", 1)[-1]


def test_a_facility_nobody_listed_is_loaded_by_the_remainder_and_named(orchestrate, monkeypatch):
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    with WmsSimulator(orders=40, seed=5, counts={"facility": 3}) as sim:
        run = orchestrate({"test": sim}, {"test": ["FAC1", "FAC2"]})
        keys = ["test/FAC1", "test/FAC2", f"test/{REMAINDER}"]
        assert_succeeded(run.run("facility_incremental", *keys))
        assert_tables_hold(run, {"test": sim})  # FAC3's rows too

        for name, value in run.env.items():
            monkeypatch.setenv(name, value)
        settings, root = load_settings(run.settings)
        defs = build_definitions(settings, str(root))
        sensor = defs.get_sensor_def("facility_coverage")
        skipped = sensor.evaluate_tick(dg.build_sensor_context(definitions=defs))

    assert f"FAC3 without a partition of its own: loaded by test/{REMAINDER}" in str(
        skipped.skip_message
    )
    remainder = run.state(f"{INCREMENTAL_STATE_ID}:{_remainder_suffix(['FAC1', 'FAC2'])}")
    assert remainder["singer_state"]["bookmarks"], "the remainder keeps its own bookmarks"


def _remainder_suffix(listed: list[str]) -> str:
    from orchestration.slices import Slice

    return Slice("test", other_than=tuple(listed)).state_suffix
