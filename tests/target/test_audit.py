"""The load audit: one SDC_LOAD_AUDIT row per run and stream, equal to what is committed."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from target_gruponos_oracle.target import _failure_line

from .target_testkit import (
    DETAIL_PROPERTIES,
    Loader,
    activate,
    detail,
    record,
    schema,
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
    result = loader.run_process([schema(), detail(1, T0), detail(2, T0), detail(3, T2)])
    second = _audit(loader)[1]
    assert second["RUN_ID"] == _run_id(result.stderr) != row["RUN_ID"]
    assert _counts(second) == (3, 1, 2, 0, 0)
    assert second["MAX_BOOKMARK"] == T2


def test_append_run_counts_every_record_as_written(loader):
    loader.run([schema(), detail(1, T0), detail(1, T1), detail(2, T0)], load_method="append-only")

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

    loader.run([schema(), *(detail(i, T0, status_id=9) for i in range(1, 6))], batch_size_rows=2)

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
    result = loader.run_process([schema(), detail(1, T0)], audit_table="load audit")
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
    result = loader.run_process(
        [schema(), detail(1, T1), detail(2, T0), record(version=1, id=3, mod_ts=T0), activate(1)]
    )
    replay = loader.run_process([schema(), detail(1, T0), detail(4, T0)])

    line = r"Loaded stream 'order_details' into WMS_ORDER_DETAILS: {} records, {} written, "
    line += r"{} skipped as older, {} retired, [0-9.]+ s, [0-9,]+ rows/s"
    assert re.search(line.format(3, 3, 0, 2), result.stderr), result.stderr
    assert re.search(line.format(2, 1, 1, 0), replay.stderr), replay.stderr


def _readme_queries() -> list[str]:
    section = README.split("## Load audit\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_readme_analyst_queries_answer_freshness_and_last_run(loader):
    loader.run([schema(), detail(1, T0), detail(2, T0)])
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
