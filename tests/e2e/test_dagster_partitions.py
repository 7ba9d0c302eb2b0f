"""Partitioned runs through Dagster's own in-process execution, each partition a real
`meltano run` against the simulator, into SQLite: several at once, each with its own state
id and Meltano directory, none reading or moving another's bookmark."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
import typing as t
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest
import requests
from conftest import (
    MELTANO,
    REPO,
    STREAMS,
    checkout_copy,
    clean_environ,
    free_port,
    normalize,
)
from conftest import run as run_command
from orchestrated import PartitionRun, assert_succeeded, assert_tables_hold
from wms_simulator import Fault, WmsSimulator

pytestmark = pytest.mark.e2e


def facilities_sim(count: int, **options: t.Any) -> WmsSimulator:
    return WmsSimulator(orders=40, seed=5, counts={"facility": count}, **options)


def test_three_facility_partitions_at_once_equal_one_unnarrowed_run_field_by_field(orchestrate):
    with facilities_sim(3) as sim:
        split = orchestrate({"test": sim}, {"test": ["FAC1", "FAC2", "FAC3"]})
        results = split.run("facility_incremental", "test/FAC1", "test/FAC2", "test/FAC3")
        whole = orchestrate({"test": sim}, warehouse="whole.db")
        [one] = whole.run("environment_incremental", "test")

    assert_succeeded([*results, one])
    for stream in STREAMS:
        by_facility, unnarrowed = split.table(stream), whole.table(stream)
        assert set(by_facility) == set(unnarrowed), stream
        for key, row in unnarrowed.items():
            business = {c: v for c, v in row.items() if not c.startswith("SDC_")}
            assert {c: by_facility[key][c] for c in business} == business, (stream, key)
    assert_tables_hold(whole, {"test": sim})

    # each materialisation says what its partition loaded: the UI's freshness per partition
    per_facility = [split.materialized(result.run) for result in results]
    unsplit = whole.materialized(one.run)
    for stream in STREAMS:
        records = sim.records(STREAMS[stream][0])
        newest = max(normalize(r["mod_ts"]) for r in records)
        parts = [part[stream] for part in per_facility]
        assert {p["status"] for p in parts} == {unsplit[stream]["status"]} == {"succeeded"}
        assert sum(p["records"] for p in parts) == unsplit[stream]["records"] == len(records)
        assert all(p["records"] > 0 for p in parts), stream  # every facility has some
        assert max(normalize(p["max_bookmark"]) for p in parts) == newest, stream
        assert normalize(unsplit[stream]["max_bookmark"]) == newest, stream
        assert unsplit[stream]["table"] == STREAMS[stream][1]


def test_two_environments_with_colliding_ids_share_the_tables_and_keep_each_others_rows(
    orchestrate,
):
    with (
        WmsSimulator(orders=30, seed=5) as test,
        WmsSimulator(orders=20, seed=5, env_name="gruponos_prod") as prod,
    ):
        sims = {"test": test, "prod": prod}
        assert test.records("order_hdr")[0]["id"] == prod.records("order_hdr")[0]["id"]
        run = orchestrate(sims)
        assert_succeeded(run.run("environment_incremental", "test", "prod"))
        assert_tables_hold(run, sims)

        # a full sync of one environment retires what its WMS deleted, nothing of the other's
        gone = test.delete("order_hdr", [r["id"] for r in test.records("order_hdr")[:3]])
        [full] = run.run("environment_full", "test")
        assert_succeeded([full])
        assert_tables_hold(run, sims)
        retired = {k for k, r in run.table("order_headers").items() if r["SDC_DELETED_AT"]}
        assert retired == {("test", i) for i in gone["order_hdr"]}


def _last_monday(now: datetime) -> datetime:
    day = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def test_backfill_windows_at_once_then_the_live_run_read_every_record_once(orchestrate):
    end = _last_monday(datetime.now(timezone.utc))
    start = end - timedelta(weeks=3)
    window = {"environment": "test", "start": start.date(), "end": end.date(), "window": "week"}
    with WmsSimulator(orders=60, seed=5, history_days=20) as sim:
        run = orchestrate({"test": sim}, backfill=window)
        [live] = run.run("environment_incremental", "test")
        assert_succeeded([live])
        live_state_id = "dev:tap-gruponos-wms-to-target-gruponos-oracle:test"
        bookmarks = run.state(live_state_id)

        keys = [(start + timedelta(weeks=w)).date().isoformat() for w in range(3)]
        windows = run.run("backfill_windows", *keys)
        assert_succeeded(windows)
        assert run.state(live_state_id) == bookmarks  # the backfill never moved it
        read_once = {stream: len(sim.records(STREAMS[stream][0])) for stream in STREAMS}
        sim.modify("order_dtl", count=4)
        time.sleep(1.05 - time.time() % 1.0)  # the next run's window covers the change
        [again] = run.run("environment_incremental", "test")
        assert_succeeded([again])
        assert_tables_hold(run, {"test": sim})

    for stream, total in read_once.items():
        rows = sorted(
            (r for r in run.audit() if r["STREAM_NAME"] == stream), key=lambda r: r["STARTED_AT"]
        )
        assert [r["STATUS"] for r in rows] == ["succeeded"] * 5, stream
        # the first live run and the three windows split the history: each record once
        assert sum(r["RECORDS_RECEIVED"] for r in rows[:4]) == total, stream
    assert rows[-1]["RECORDS_RECEIVED"] >= 4  # order_details: the changes, and the lookback


def test_a_failing_partition_is_retried_alone_from_its_own_state(orchestrate):
    with facilities_sim(3) as sim:
        # the WMS refuses FAC2's order headers once; the retry reads them
        sim.add_faults(Fault(status=503, times=1, entity="order_hdr", path_contains="=FAC2"))
        run = orchestrate({"test": sim}, {"test": ["FAC1", "FAC2", "FAC3"]}, max_retries=2)
        run.env["TAP_GRUPONOS_WMS_MAX_RETRIES"] = "0"
        results = run.run("facility_incremental", "test/FAC1", "test/FAC2", "test/FAC3")
        assert_succeeded(results)

        def retries(result: PartitionRun) -> list[dg.EventLogEntry]:
            return [
                e
                for e in run.events(result.run)
                if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
            ]

        assert [len(retries(r)) for r in results] == [0, 1, 0]
        [retry] = retries(results[1])
        cause = retry.dagster_event.event_specific_data.error.cause.message  # Failure: <line>
        assert cause.startswith("dagster._core.definitions.events.Failure: tap-gruponos-wms ")
        assert "order_hdr: GET " in cause and "answered 503" in cause and cause.count("\n") == 1
        assert "Traceback" not in cause and "wms_pass" not in cause
        assert_tables_hold(run, {"test": sim})

    audit = run.audit()
    attempts = {}
    for row in audit:
        attempts.setdefault(row["JOB_RUN_ID"], []).append(row)
    assert len(attempts) == 4  # FAC1, FAC3 once; FAC2 twice
    failed = [rows for rows in attempts.values() if {r["STATUS"] for r in rows} == {"failed"}]
    [first_attempt] = failed
    assert all(cause.split(": ", 1)[-1][:40] in r["MESSAGE"] for r in first_attempt)


def test_four_partitions_at_once_each_run_in_a_meltano_directory_of_its_own(orchestrate):
    with facilities_sim(4, latency_ms=50) as sim:
        keys = [f"test/FAC{n}" for n in range(1, 5)]
        run = orchestrate({"test": sim}, {"test": [k[5:] for k in keys]})
        sys_dir = Path(run.env["MELTANO_SYS_DIR_ROOT"])
        before = _files(sys_dir / "run")  # of earlier tests' plain meltano runs
        results = run.run("facility_incremental", *keys)
        assert_succeeded(results)
        assert_tables_hold(run, {"test": sim})

    with run.instance() as instance:
        spans = [
            (
                instance.get_run_record_by_id(r.run.run_id).start_time,
                instance.get_run_record_by_id(r.run.run_id).end_time,
            )
            for r in results
        ]
    assert max(s for s, _ in spans) < min(e for _, e in spans), "the four ran at once"
    for result in results:  # each run logged its own directory, and removed it
        [own] = set(re.findall(r"Meltano directory (\S+) of run", result.output))
        assert Path(own).parent == sys_dir / "runs" and not Path(own).exists()
    assert list((sys_dir / "runs").iterdir()) == []  # no run file, no password left
    assert _files(sys_dir / "run") == before, "a run wrote into the shared run directory"
    states = {
        f"dev:tap-gruponos-wms-to-target-gruponos-oracle:{key.replace('/', '-')}" for key in keys
    }
    listed = subprocess.run(
        [MELTANO, "state", "list"], cwd=REPO, env=run.env, capture_output=True, text=True
    ).stdout.split()
    assert states <= set(listed)


def _files(folder: Path) -> dict[Path, float]:
    """Meltano's run files in ``folder`` (not ``bin``, the link to meltano any command makes)."""
    return {f: f.stat().st_mtime for f in folder.rglob("*") if f.is_file() and f.name != "bin"}


README = (REPO / "README.md").read_text()


def test_the_readmes_dagster_commands_run_as_written(meltano_installed, tmp_path):
    """The two blocks as written, in a copy of the checkout (its .dagster, output/ and
    .meltano/run files stay there), on free ports, with the session's installed plugins."""
    section = README.split("## Partitioned runs on Dagster\n", 1)[1].split("\n## ", 1)[0]
    demo, commands = re.findall(r"```bash\n(.*?)```", section, re.S)[:2]
    copy = checkout_copy(tmp_path)
    ui_port = free_port()
    env = clean_environ() | meltano_installed
    env |= {
        "GRUPONOS_DEMO_UI_PORT": str(ui_port),
        "GRUPONOS_DEMO_TEST_PORT": str(free_port()),
        "GRUPONOS_DEMO_PROD_PORT": str(free_port()),
    }
    since = datetime.now(timezone.utc)
    ui = subprocess.Popen(
        ["bash", "-c", demo],
        cwd=copy,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not _answers(f"http://127.0.0.1:{ui_port}/server_info"):
            assert ui.poll() is None and time.monotonic() < deadline, "the UI did not start"
            time.sleep(1)
        done = run_command(
            ["bash", "-euo", "pipefail", "-c", commands],
            env=env,
            check=False,
            cwd=copy,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        with dg.DagsterInstance.from_config(str(copy / ".dagster")) as instance:
            while len(finished := _finished(instance, since)) < 5:  # the partition, then 4 windows
                assert time.monotonic() < deadline + 300, "the backfill did not finish"
                time.sleep(2)
            failures = {
                run.tags["dagster/partition"]: _failure(instance, run)
                for run in finished
                if run.status != dg.DagsterRunStatus.SUCCESS
            }
        assert not failures, failures
        partitions = sorted(run.tags["dagster/partition"] for run in finished)
        assert partitions == ["2026-07-01", "2026-08-01", "2026-09-01", "2026-10-01", "test/FAC1"]
        with sqlite3.connect(copy / "output" / "dagster_warehouse.db") as db:
            statuses = db.execute("SELECT STATUS, COUNT(*) FROM SDC_LOAD_AUDIT GROUP BY 1")
            assert dict(statuses.fetchall()) == {"succeeded": 15}  # 5 runs x 3 tables
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)


def _failure(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """What a failed run's events say (its step failures' messages)."""
    return [
        entry.dagster_event.message or ""
        for entry in instance.all_logs(run.run_id)
        if entry.dagster_event and entry.dagster_event.is_failure
    ]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _finished(instance: dg.DagsterInstance, since: datetime) -> list[dg.DagsterRun]:
    """The runs created since, once all of them have finished ([] before)."""
    runs = instance.get_runs(dg.RunsFilter(created_after=since))
    return runs if all(run.is_finished for run in runs) else []
