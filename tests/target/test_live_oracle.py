"""The same behaviours against a real Oracle (set TARGET_GRUPONOS_ORACLE_TEST_URL to run).

Example: ``oracle+oracledb://wms:wms@127.0.0.1:1521/?service_name=FREEPDB1`` with Oracle
Database Free in a container (see the target README). Tables get a unique prefix and are
dropped afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from .target_testkit import (
    DETAIL_PROPERTIES,
    TARGET_CMD,
    Loader,
    activate,
    batch,
    batch_file,
    detail,
    record,
    schema,
    state,
)

URL = os.environ.get("TARGET_GRUPONOS_ORACLE_TEST_URL")

pytestmark = [
    pytest.mark.live_oracle,
    pytest.mark.skipif(not URL, reason="TARGET_GRUPONOS_ORACLE_TEST_URL is not set"),
]

T0 = "2026-01-05T10:00:00.000000-03:00"
T1 = "2026-01-05T11:00:00.000000-03:00"


TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.FF6TZH:TZM'


def _value(value):
    return value.read() if hasattr(value, "read") else value  # CLOB


@pytest.fixture
def oracle(tmp_path):
    prefix = f"T{uuid.uuid4().hex[:8].upper()}_"
    loader = Loader(tmp_path)
    audit = f"{prefix}AUDIT"
    loader.config = {"sqlalchemy_url": URL, "table_prefix": prefix, "audit_table": audit}
    engine = sa.create_engine(URL)
    table = f"{prefix}ORDER_DETAILS"

    def rows(order: str = "ID") -> list[dict]:
        # text forms: they show what Oracle stored (offset, every decimal digit)
        query = (
            "SELECT ID, STATUS_ID, TO_CHAR(ORD_QTY) AS ORD_QTY, CUST_FIELD_1, SDC_TABLE_VERSION,"
            f" TO_CHAR(MOD_TS, '{TIMESTAMP_FORMAT}') AS MOD_TS, SDC_DELETED_AT"
            f" FROM {table} ORDER BY {order}"
        )
        with engine.connect() as conn:
            result = conn.exec_driver_sql(query)
            return [{k.upper(): _value(v) for k, v in row._mapping.items()} for row in result]

    def audit_rows() -> list[dict]:
        query = (
            "SELECT RUN_ID, STREAM_NAME, TABLE_NAME, LOAD_METHOD, STATUS, RECORDS_RECEIVED,"
            " ROWS_WRITTEN, ROWS_SKIPPED_OLDER, ROWS_RETIRED, MESSAGE,"
            f" TO_CHAR(MAX_BOOKMARK, '{TIMESTAMP_FORMAT}') AS MAX_BOOKMARK,"
            " CASE WHEN ENDED_AT >= STARTED_AT THEN 1 ELSE 0 END AS ENDED_AFTER_START"
            f" FROM {audit} ORDER BY STARTED_AT"
        )
        with engine.connect() as conn:
            result = conn.exec_driver_sql(query)
            return [{k.upper(): v for k, v in row._mapping.items()} for row in result]

    loader.rows = rows  # type: ignore[method-assign]
    loader.audit_rows = audit_rows  # type: ignore[attr-defined]
    yield loader
    with engine.begin() as conn:
        for name in (table, audit):
            conn.exec_driver_sql(
                f"BEGIN EXECUTE IMMEDIATE 'DROP TABLE {name} PURGE'; "
                "EXCEPTION WHEN OTHERS THEN NULL; END;"
            )
    engine.dispose()


def test_upsert_merge_never_regresses_and_keeps_exact_values(oracle):
    result = oracle.run_process(
        [schema(), detail(1, T1, ord_qty=0.125, status_id=2), detail(1, T0, status_id=1)]
    )
    assert result.returncode == 0, result.stderr
    oracle.run_process([schema(), detail(1, T0, status_id=0), detail(2, T0, status_id=5)])

    rows = oracle.rows()
    assert [(r["ID"], r["STATUS_ID"]) for r in rows] == [(1, 2), (2, 5)]
    assert Decimal(rows[0]["ORD_QTY"]) == Decimal("0.125")
    assert rows[0]["MOD_TS"] == T1


def test_schema_evolution_and_activate_version(oracle):
    oracle.run_process(
        [
            schema(),
            record(version=1, id=1, mod_ts=T0, cust_field_1="a"),
            record(version=1, id=2, mod_ts=T0),
        ]
    )
    wider = {**DETAIL_PROPERTIES, "cust_field_1": {"type": ["string", "null"], "maxLength": 9000}}
    result = oracle.run_process(
        [
            schema(properties=wider),
            record(version=2, id=1, mod_ts=T0, cust_field_1="b" * 5000),
            activate(2),
        ],
        hard_delete=True,
    )
    assert result.returncode == 0, result.stderr

    rows = oracle.rows()
    assert [r["ID"] for r in rows] == [1]
    assert rows[0]["CUST_FIELD_1"] == "b" * 5000


def test_append_only_and_overwrite(oracle):
    oracle.run_process([schema(), detail(1, T0), detail(1, T1)], load_method="append-only")
    assert [(r["ID"], r["MOD_TS"]) for r in oracle.rows("ID, MOD_TS")] == [(1, T0), (1, T1)]

    result = oracle.run_process([schema(), detail(7, T0)], load_method="overwrite")
    assert result.returncode == 0, result.stderr
    assert [r["ID"] for r in oracle.rows()] == [7]


def test_activate_version_soft_delete(oracle):
    oracle.run_process(
        [schema(), record(version=1, id=1, mod_ts=T0), record(version=1, id=2, mod_ts=T0)]
    )
    oracle.run_process([schema(), record(version=2, id=1, mod_ts=T0), activate(2)])

    rows = oracle.rows()
    assert [(r["ID"], r["SDC_DELETED_AT"] is None) for r in rows] == [(1, True), (2, False)]


ANY_OF_DETAIL = {
    **DETAIL_PROPERTIES,
    "mod_ts": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
}


def test_anyof_date_time_is_a_timestamp_and_guards_by_instant(oracle):
    stored = "2026-01-02T10:00:00Z"
    newer = "2026-01-02T08:00:00-03:00"  # 11:00Z, lower as text
    oracle.run_process([schema(properties=ANY_OF_DETAIL), record(id=1, status_id=1, mod_ts=stored)])
    result = oracle.run_process(
        [schema(properties=ANY_OF_DETAIL), record(id=1, status_id=2, mod_ts=newer)]
    )
    assert result.returncode == 0, result.stderr
    bad = oracle.run_process([schema(properties=ANY_OF_DETAIL), record(id=2, mod_ts="soon")])

    assert bad.returncode == 1
    assert "field 'mod_ts'" in bad.stderr
    assert [(r["ID"], r["STATUS_ID"]) for r in oracle.rows()] == [(1, 2)]


def test_opening_activate_version_retires_only_once_complete(oracle):
    old = [record(version=1, id=i, mod_ts=T0) for i in (1, 2)]
    oracle.run_process([schema(), *old, activate(1)])

    # singer-sdk order, sync died after the first record: nothing retired
    oracle.run_process([schema(), activate(2), record(version=2, id=1, mod_ts=T0)])
    assert [r["SDC_DELETED_AT"] is None for r in oracle.rows()] == [True, True]

    # a complete one: older rows retired at the closing ACTIVATE_VERSION
    result = oracle.run_process(
        [schema(), activate(3), record(version=3, id=1, mod_ts=T0), activate(3)],
        hard_delete=True,
    )
    assert result.returncode == 0, result.stderr
    assert [r["ID"] for r in oracle.rows()] == [1]


def test_batch_files_load_like_records(oracle, tmp_path):
    oracle.run_process([schema(), detail(1, T1, status_id=1)])
    rows = [
        detail(1, T0, status_id=0)["record"],  # older than the stored row: ignored
        detail(2, T0, status_id=2, ord_qty=0.125)["record"],
        detail(2, T1, status_id=3)["record"],  # same key in the batch: the newest wins
    ]
    url = batch_file(tmp_path / "b.json.gz", rows)

    result = oracle.run_process([schema(), batch(url)])

    assert result.returncode == 0, result.stderr
    assert [(r["ID"], r["STATUS_ID"], r["MOD_TS"]) for r in oracle.rows()] == [
        (1, 1, T1),
        (2, 3, T1),
    ]


def _counts(row: dict) -> tuple:
    return tuple(
        row[c] for c in ("RECORDS_RECEIVED", "ROWS_WRITTEN", "ROWS_SKIPPED_OLDER", "ROWS_RETIRED")
    )


def test_audit_rows_count_what_each_run_committed(oracle):
    first = oracle.run_process([schema(), detail(1, T1), detail(2, T0), detail(3, T0), state(1)])
    assert first.returncode == 0, first.stderr
    replay = oracle.run_process([schema(), detail(1, T0), detail(2, T1), state(2)])  # skips id 1
    assert replay.returncode == 0, replay.stderr
    oracle.run_process([schema(), record(version=4, id=1, mod_ts=T1), activate(4)])
    failed = oracle.run_process([schema(), detail(5, T0, ord_qty="many")])
    assert failed.returncode == 1
    cut = oracle.run_process([schema(), record(version=5, id=1, mod_ts=T1)])  # tap stopped
    run_id = re.search(r"Run id ([0-9a-f-]{36})", cut.stderr).group(1)
    assert oracle.audit_rows()[-1]["STATUS"] == "incomplete"
    marking = subprocess.run(
        [*TARGET_CMD, "--config", str(oracle.config_file()), "--mark-failed", run_id],
        capture_output=True,
        text=True,
        check=False,
    )
    assert marking.returncode == 0, marking.stderr

    rows = oracle.audit_rows()
    assert [r["STATUS"] for r in rows] == ["succeeded"] * 3 + ["failed"] * 2
    counts = [(3, 3, 0, 0), (2, 1, 1, 0), (1, 1, 0, 2), (0, 0, 0, 0), (1, 1, 0, 0)]
    assert [_counts(r) for r in rows] == counts
    assert rows[0]["RUN_ID"] in first.stderr
    assert rows[0]["TABLE_NAME"] == oracle.config["table_prefix"] + "ORDER_DETAILS"
    assert (rows[0]["STREAM_NAME"], rows[0]["LOAD_METHOD"]) == ("order_details", "upsert")
    assert [r["MAX_BOOKMARK"] for r in rows] == [T1, T1, T1, None, T1]
    assert all(r["ENDED_AFTER_START"] == 1 for r in rows)
    assert "field 'ord_qty'" in rows[3]["MESSAGE"]


def test_adopting_a_key_column_changes_the_key_in_place(oracle):
    oracle.run_process([schema(), detail(1, T0), detail(2, T0)])
    keyed = {**DETAIL_PROPERTIES, "wms_env": {"type": ["string"], "maxLength": 128}}
    environment = schema(properties=keyed, keys=("wms_env", "id"))
    refused = oracle.run_process([environment, record(wms_env="test", id=1, mod_ts=T1)])
    assert refused.returncode == 1 and "--adopt-key-column" in refused.stderr

    adopted = subprocess.run(
        [*TARGET_CMD, "--config", str(oracle.config_file()), "--adopt-key-column", "wms_env=test"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert adopted.returncode == 0, adopted.stderr
    loaded = oracle.run_process(
        [environment, record(wms_env="test", id=1, mod_ts=T1), record(wms_env="prod", id=1)]
    )
    assert loaded.returncode == 0, loaded.stderr
    assert sorted(r["ID"] for r in oracle.rows()) == [1, 1, 2]
