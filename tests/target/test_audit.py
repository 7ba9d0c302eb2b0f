"""The load audit: one SDC_LOAD_AUDIT row per run and stream, equal to what is committed."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from target_gruponos_oracle.target import _failure_line

from .target_testkit import (
    DETAIL_PROPERTIES,
    TARGET_CMD,
    Loader,
    activate,
    detail,
    one_error,
    record,
    schema,
    sdk_tap_into_target,
    singer_text,
    state,
)

T0 = "2026-01-05T10:00:00.000000-03:00"
T1 = "2026-01-05T11:00:00.000000-03:00"
T2 = "2026-01-05T12:00:00.000000-03:00"
WIDER = {**DETAIL_PROPERTIES, "po_nbr": {"type": ["string", "null"]}}
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _audit(loader: Loader, table: str = "SDC_LOAD_AUDIT") -> list[dict]:
    return loader.rows(table, order="STARTED_AT, STREAM_NAME")


def _counts(row: dict) -> tuple:
    return (
        row["RECORDS_RECEIVED"],
        row["ROWS_WRITTEN"],
        row["ROWS_SKIPPED_OLDER"],
        row["RECORDS_SUPERSEDED"],
        row["ROWS_RETIRED"],
    )


def _run_id(stderr: str) -> str:
    return re.search(r"Run id ([0-9a-f-]{36})", stderr).group(1)


def test_upsert_run_writes_one_succeeded_row_with_its_counts_and_run_id(loader):
    messages = [
        schema(),
        detail(1, T1),
        detail(1, T0),  # older than the copy already in the batch: skipped
        detail(2, T0),
        detail(2, T1),  # replaces the earlier copy in the batch: that one is superseded
        detail(3, T0),
        state(1),  # a finished tap ends with a STATE
    ]
    result = loader.run_process(messages)
    assert result.returncode == 0, result.stderr

    [row] = _audit(loader)
    assert row["RUN_ID"] == _run_id(result.stderr)
    assert (row["STREAM_NAME"], row["TABLE_NAME"]) == ("order_details", "WMS_ORDER_DETAILS")
    assert (row["LOAD_METHOD"], row["STATUS"], row["MESSAGE"]) == ("upsert", "succeeded", None)
    assert _counts(row) == (5, 3, 1, 1, 0)
    assert row["MAX_BOOKMARK"] == T1
    assert row["STARTED_AT"] <= row["ENDED_AT"]  # both UTC text: text order is time order

    # a second run: rows older than the stored ones are skipped, a newer one is written
    result = loader.run_process([schema(), detail(1, T0), detail(2, T0), detail(3, T2), state(2)])
    second = _audit(loader)[1]
    assert second["RUN_ID"] == _run_id(result.stderr) != row["RUN_ID"]
    assert _counts(second) == (3, 1, 2, 0, 0)
    assert second["MAX_BOOKMARK"] == T2


def test_append_run_counts_every_record_as_written(loader):
    messages = [schema(), detail(1, T0), detail(1, T1), detail(2, T0), state(1)]
    loader.run(messages, load_method="append-only")

    [row] = _audit(loader)
    assert (row["LOAD_METHOD"], row["STATUS"]) == ("append-only", "succeeded")
    assert _counts(row) == (3, 3, 0, 0, 0)
    assert row["MAX_BOOKMARK"] == T1


def test_upsert_of_a_stream_without_keys_is_audited_as_the_append_it_is(loader):
    loader.run([schema(keys=()), detail(1, T0), detail(1, T0)])

    [row] = _audit(loader)
    assert (row["LOAD_METHOD"], _counts(row)) == ("append-only", (2, 2, 0, 0, 0))


@pytest.mark.parametrize("hard_delete", [False, True])
def test_full_sync_counts_the_rows_it_retires(loader, hard_delete):
    loader.run([schema(), *(record(version=1, id=i, mod_ts=T0) for i in (1, 2, 3))])
    full_sync = [schema(), record(version=2, id=1, mod_ts=T0), activate(2)]
    loader.run(full_sync, hard_delete=hard_delete)

    full = _audit(loader)[1]
    assert (full["STATUS"], _counts(full)) == ("succeeded", (1, 1, 0, 0, 2))
    live = [r["ID"] for r in loader.rows() if r["SDC_DELETED_AT"] is None]
    assert live == [1]


def test_replay_of_older_records_skips_everything(loader):
    loader.run([schema(), *(detail(i, T1, status_id=1) for i in range(1, 6))])
    before = loader.rows()

    replayed = [schema(), *(detail(i, T0, status_id=9) for i in range(1, 6)), state(1)]
    loader.run(replayed, batch_size_rows=2)

    replay = _audit(loader)[1]
    assert (replay["STATUS"], _counts(replay)) == ("succeeded", (5, 0, 5, 0, 0))
    assert replay["MAX_BOOKMARK"] == T0  # the newest record the run committed (or skipped)
    assert loader.rows() == before


def test_run_failing_on_a_bad_record_is_failed_with_its_message_and_committed_counts(loader):
    messages = [schema(), *(detail(i, T0) for i in range(1, 5)), detail(5, T0, ord_qty="a lot")]
    result = loader.run_process(messages, batch_size_rows=2)

    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    [row] = _audit(loader)
    assert row["STATUS"] == "failed"
    assert row["MESSAGE"] in error
    assert "stream 'order_details', line 6, field 'ord_qty'" in row["MESSAGE"]
    assert _counts(row) == (4, 4, 0, 0, 0)  # the two committed batches, not the pending record
    assert row["ENDED_AT"] is not None


def _stream(ids: int = 150, updates: int = 2) -> list[dict]:
    messages: list[dict] = [schema()]
    for n in range(ids * updates):
        mod_ts = f"2026-01-05T10:{n // 60:02d}:{n % 60:02d}.000000-03:00"
        messages.append(detail(n % ids + 1, mod_ts, status_id=n))
        if (n + 1) % 25 == 0:
            bookmark = {"bookmarks": {"order_details": {"replication_key_value": mod_ts}}}
            messages.append({"type": "STATE", "value": bookmark})
    return messages


def test_killed_run_stays_running_with_the_committed_counts_and_the_resumed_run_has_its_own_row(
    loader,
):
    messages = _stream()
    process = loader.start_process(batch_size_rows=40)
    states: list[dict] = []
    reader = threading.Thread(
        target=lambda: states.extend(json.loads(line) for line in process.stdout), daemon=True
    )
    reader.start()
    process.stdin.write(singer_text(messages[: len(messages) * 2 // 3]))
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while len(states) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # it reads the rest of the written lines into its pending batch
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=10)

    [killed] = _audit(loader)
    assert (killed["STATUS"], killed["ENDED_AT"]) == ("running", None)
    committed = killed["RECORDS_RECEIVED"]
    assert committed >= 3 * 40 and committed % 40 == 0  # whole batches only
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert killed["ROWS_WRITTEN"] == committed  # each record newer than the one before
    assert {r["ID"] for r in loader.rows()} == {r["id"] for r in records[:committed]}
    assert killed["MAX_BOOKMARK"] == records[committed - 1]["mod_ts"]

    bookmark = states[-1]["bookmarks"]["order_details"]["replication_key_value"]
    resumed = [m for m in messages if m["type"] != "RECORD" or m["record"]["mod_ts"] >= bookmark]
    loader.run(resumed, batch_size_rows=40)

    first, second = _audit(loader)
    assert first == killed
    assert second["RUN_ID"] != killed["RUN_ID"]
    assert second["STATUS"] == "succeeded"
    assert second["RECORDS_RECEIVED"] == len([m for m in resumed if m["type"] == "RECORD"])
    assert second["MAX_BOOKMARK"] == records[-1]["mod_ts"]


def test_sigterm_marks_the_run_failed_after_committing_its_rows(loader):
    process = loader.start_process(batch_size_rows=1000)
    process.stdin.write(singer_text([schema(), detail(1, T0), state(1)]))
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while not loader.db.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)

    [row] = _audit(loader)
    assert (row["STATUS"], _counts(row)) == ("failed", (1, 1, 0, 0, 0))
    assert "termination signal" in row["MESSAGE"]


def test_each_stream_gets_its_row_even_without_records_and_a_new_schema_keeps_it(loader):
    loader.run(
        [
            schema(),
            detail(1, T0),
            schema("order_headers", {"id": {"type": "integer"}}, bookmarks=None),
            record("order_headers", id=1),
            schema(properties=WIDER),  # a schema change: a new sink, the same row, counts go on
            detail(2, T0),
            schema("allocations", {"id": {"type": "integer"}}),  # no records at all
            state(1),
        ],
        batch_size_rows=1,
    )

    rows = {r["STREAM_NAME"]: r for r in _audit(loader)}
    assert set(rows) == {"order_details", "order_headers", "allocations"}
    assert len({r["RUN_ID"] for r in rows.values()}) == 1
    assert {r["STATUS"] for r in rows.values()} == {"succeeded"}
    assert _counts(rows["order_details"]) == (2, 2, 0, 0, 0)
    assert _counts(rows["allocations"]) == (0, 0, 0, 0, 0)
    assert rows["order_headers"]["MAX_BOOKMARK"] is None


def test_integer_bookmarks_go_to_max_bookmark_text(loader):
    properties = {"id": {"type": "integer"}, "seq": {"type": "integer"}}
    loader.run(
        [
            schema("events", properties, bookmarks=["seq"]),
            *(record("events", id=i, seq=i * 5) for i in (3, 12, 7)),
        ]
    )

    [row] = _audit(loader)
    assert (row["MAX_BOOKMARK"], row["MAX_BOOKMARK_TEXT"]) == (None, "60")


def test_audit_table_setting_names_the_table_and_empty_turns_it_off(loader):
    result = loader.run_process([schema(), detail(1, T0), state(1)], audit_table="load audit")
    assert result.returncode == 0, result.stderr
    assert [r["STATUS"] for r in _audit(loader, "LOAD_AUDIT")] == ["succeeded"]

    (loader.tmp_path / "off").mkdir()
    off = Loader(loader.tmp_path / "off")
    result = off.run_process([schema(), detail(1, T0)], audit_table="")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(off.db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"WMS_ORDER_DETAILS"}
    assert "Loaded stream 'order_details' into WMS_ORDER_DETAILS: 1 records" in result.stderr


def test_stream_whose_table_is_the_audit_table_fails_naming_stream_and_table(loader):
    result = loader.run_process(
        [schema("load_audit"), record("load_audit", id=1)], table_prefix="SDC_"
    )

    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert "stream 'load_audit'" in line and "SDC_LOAD_AUDIT" in line and "audit_table" in line
    assert "Traceback" not in result.stderr


def test_end_of_run_summary_line_per_stream(loader):
    loader.run([schema(), detail(1, T1), detail(2, T0)])  # an earlier run
    full_sync = [record(version=1, id=i, mod_ts=T0) for i in (3, 4, 5)]
    result = loader.run_process([schema(), *full_sync, activate(1)])  # retires ids 1 and 2
    replay = loader.run_process([schema(), detail(1, T0), detail(4, T0)])

    line = r"Loaded stream 'order_details' into WMS_ORDER_DETAILS: {} records, {} written, "
    line += r"{} skipped as older, {} retired, [0-9.]+ s, [0-9,]+ rows/s"
    assert re.search(line.format(3, 3, 0, 2), result.stderr), result.stderr
    assert re.search(line.format(2, 1, 1, 0), replay.stderr), replay.stderr


def _readme_queries() -> list[str]:
    section = README.split("## Load audit\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_readme_analyst_queries_answer_freshness_and_last_run(loader):
    loader.run([schema(), detail(1, T0), detail(2, T0), state(1)])
    loader.run_process([schema(), detail(3, T1), detail(4, T1, ord_qty="x")])  # fails

    freshness, last_run = _readme_queries()
    with sqlite3.connect(loader.db) as conn:
        fresh = conn.execute(freshness).fetchall()
        last = conn.execute(last_run).fetchall()
    first = _audit(loader)[0]
    assert fresh == [("WMS_ORDER_DETAILS", first["ENDED_AT"])]
    assert len(last) == 1
    assert "failed" in last[0]


def test_message_of_an_unexpected_failure_names_it_without_the_password():
    exc = RuntimeError("cannot reach oracle+oracledb://loader:S3cret-pw@db:1521/?service_name=X")

    assert _failure_line(exc) == (
        "RuntimeError: cannot reach oracle+oracledb://loader:***@db:1521/?service_name=X"
    )


# What the input proves at its end (incomplete), and marking a run failed afterwards --------


def _statuses(loader: Loader) -> dict[str, tuple[str, str | None]]:
    return {r["STREAM_NAME"]: (r["STATUS"], r["MESSAGE"]) for r in _audit(loader)}


def test_a_stream_whose_last_records_no_state_follows_is_incomplete_and_keeps_them(loader):
    result = loader.run_process(
        [
            schema(),
            detail(1, T0),
            state(1),
            detail(2, T1),  # the tap stopped here: no STATE covers this record
            schema("codes", {"id": {"type": "integer"}}, bookmarks=None),  # nothing to prove
            record("codes", id=1),
        ]
    )

    assert result.returncode == 0, result.stderr
    statuses = _statuses(loader)
    assert statuses["codes"] == ("succeeded", None)
    status, message = statuses["order_details"]
    assert status == "incomplete"
    assert "without a STATE after the stream's last message" in message
    assert [r["ID"] for r in loader.rows()] == [1, 2]  # what was committed stays
    warnings = [line for line in result.stderr.splitlines() if "is incomplete" in line]
    assert len(warnings) == 1 and "stream 'order_details'" in warnings[0]


def test_a_state_after_the_last_record_makes_an_incremental_stream_succeeded(loader):
    loader.run([schema(), detail(1, T0), state(1), detail(2, T1), state(2)])

    assert _statuses(loader) == {"order_details": ("succeeded", None)}


def test_a_full_sync_no_activate_version_closes_is_incomplete_and_retires_nothing(loader):
    loader.run([schema(), *(record(version=1, id=i, mod_ts=T0) for i in (1, 2, 3)), activate(1)])

    # a later full sync whose tap stopped after one record (a STATE of another stream after it)
    loader.run([schema(), record(version=2, id=1, mod_ts=T1), state(1)])

    first, second = _audit(loader)
    assert first["STATUS"] == "succeeded"
    assert second["STATUS"] == "incomplete"
    assert "full sync (version 2) did not reach its end" in second["MESSAGE"]
    assert second["ROWS_RETIRED"] == 0
    assert [r["ID"] for r in loader.rows() if r["SDC_DELETED_AT"] is None] == [1, 2, 3]


def test_a_complete_full_sync_then_its_incremental_records_with_a_state_is_succeeded(loader):
    loader.run([schema(), record(version=5, id=1, mod_ts=T0), activate(5), detail(2, T1), state(1)])

    assert _statuses(loader) == {"order_details": ("succeeded", None)}


def test_a_singer_sdk_taps_complete_full_sync_is_succeeded_and_says_deletions_were_kept(loader):
    records = [{"id": i, "status_id": 9, "mod_ts": "2026-01-06T10:00:00Z"} for i in (1, 2)]
    tap_config = {"records": records, "emit_activate_version_messages": True}

    result, tap_exit = sdk_tap_into_target(loader, tap_config)

    assert (tap_exit, result.returncode) == (0, 0), result.stderr
    [row] = _audit(loader)
    assert row["STATUS"] == "succeeded"
    assert row["MESSAGE"].startswith("deletions not reconciled")
    notes = [line for line in result.stderr.splitlines() if "not reconciled" in line]
    assert len(notes) == 1 and "WARNING" in notes[0], result.stderr


@pytest.mark.parametrize("full_table", [False, True], ids=["incremental", "full-table"])
def test_a_singer_sdk_tap_dying_mid_sync_leaves_its_row_incomplete(loader, full_table):
    records = [{"id": i, "status_id": 9, "mod_ts": f"2026-01-06T10:00:0{i}Z"} for i in (1, 2, 3)]
    tap_config = {"records": records, "fail_after": 2}
    if full_table:
        tap_config["emit_activate_version_messages"] = True

    result, tap_exit = sdk_tap_into_target(loader, tap_config)

    assert tap_exit != 0 and result.returncode == 0, result.stderr
    [row] = _audit(loader)
    assert (row["STATUS"], row["RECORDS_RECEIVED"]) == ("incomplete", 2)


def test_a_singer_sdk_taps_complete_incremental_sync_is_succeeded(loader):
    records = [{"id": i, "status_id": 9, "mod_ts": f"2026-01-06T10:00:0{i}Z"} for i in (1, 2)]

    result, tap_exit = sdk_tap_into_target(loader, {"records": records})

    assert (tap_exit, result.returncode) == (0, 0), result.stderr
    assert _statuses(loader) == {"order_details": ("succeeded", None)}


def _mark_failed(loader: Loader, run_id: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TARGET_CMD, "--config", str(loader.config_file()), "--mark-failed", run_id, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_mark_failed_by_the_job_run_id_fails_every_row_of_the_run_with_the_cause(loader):
    env = {**os.environ, "MELTANO_RUN_ID": "0f5a3c2e-job-run"}
    messages = [schema(), detail(1, T0), schema("codes", {"id": {"type": "integer"}}), state(1)]
    loaded = subprocess.run(
        [*TARGET_CMD, "--config", str(loader.config_file())],
        input=singer_text(messages),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "job run id 0f5a3c2e-job-run" in loaded.stderr
    cause = "tap-gruponos-wms--full order_dtl: GET http://wms/... failed after 1 attempts"

    marked = _mark_failed(loader, "0f5a3c2e-job-run", "--message", cause)

    assert marked.returncode == 0, marked.stderr
    assert "2 of its 2 audit rows marked failed" in marked.stderr
    rows = _audit(loader)
    assert {(r["JOB_RUN_ID"], r["STATUS"], r["MESSAGE"]) for r in rows} == {
        ("0f5a3c2e-job-run", "failed", cause)
    }
    assert all(r["ENDED_AT"] for r in rows)


def test_mark_failed_by_the_run_id_keeps_the_targets_own_failure_and_ends_a_killed_row(loader):
    failed = loader.run_process([schema(), detail(1, T0), detail(2, T0, ord_qty="x")])
    run_id = _run_id(failed.stderr)
    own = _audit(loader)[0]["MESSAGE"]
    with sqlite3.connect(loader.db) as db:  # a second stream of the run, its target killed
        db.execute(
            "INSERT INTO SDC_LOAD_AUDIT (RUN_ID, STREAM_NAME, STARTED_AT, STATUS) "
            "VALUES (?, 'codes', '2026-01-05T13:00:00.000000+00:00', 'running')",
            (run_id,),
        )

    marked = _mark_failed(loader, run_id, "--message", "meltano run full-sync exited 1")

    assert marked.returncode == 0, marked.stderr
    assert "1 of its 2 audit rows marked failed (1 were failed already)" in marked.stderr
    rows = _statuses(loader)
    assert rows["order_details"] == ("failed", own)  # the target's own cause stays
    assert rows["codes"] == ("failed", "meltano run full-sync exited 1")
    assert all(r["ENDED_AT"] for r in _audit(loader))


def test_mark_failed_of_an_unknown_run_or_without_an_audit_table_is_one_line(loader):
    assert "no audit table SDC_LOAD_AUDIT" in one_error(_mark_failed(loader, "nope"))

    loader.run([schema(), detail(1, T0), state(1)])
    assert "run 'nope' has no rows in SDC_LOAD_AUDIT" in one_error(_mark_failed(loader, "nope"))


def test_a_row_marked_failed_stays_failed_when_its_target_ends_afterwards(loader):
    """The orchestrator of a killed run marks its rows failed; its target, outliving the run a
    moment, must not make them say succeeded when its input ends."""
    target = loader.start_process(batch_size_rows=1)
    assert target.stdin is not None
    target.stdin.write(singer_text([schema(), detail(1, T0)]))
    target.stdin.flush()
    deadline = time.monotonic() + 30
    while not (rows := _audit_if_any(loader)) or rows[0]["RECORDS_RECEIVED"] < 1:
        assert time.monotonic() < deadline, "the first batch was not committed"
        time.sleep(0.1)
    marked = subprocess.run(
        [*TARGET_CMD, "--config", str(loader.config_file()), "--mark-failed", rows[0]["RUN_ID"]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert marked.returncode == 0, marked.stderr
    target.communicate(singer_text([detail(2, T0), state(1)]), timeout=60)

    (row,) = _audit(loader)
    assert row["STATUS"] == "failed"
    assert row["RECORDS_RECEIVED"] == 2, "the counts still equal what was committed"


def _audit_if_any(loader: Loader) -> list[dict]:
    try:
        return _audit(loader)
    except sqlite3.OperationalError:  # the table is not there yet
        return []
