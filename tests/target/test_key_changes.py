"""A stream whose key is not its table's key stops before any DDL, naming the table, both keys
and the way out; `--adopt-key-column` is that way out for a column added in front of the key
(tables first loaded by one WMS environment, then by several, each row keyed by wms_env)."""

from __future__ import annotations

import sqlite3
import subprocess

from .target_testkit import DETAIL_PROPERTIES, TARGET_CMD, one_error, record, schema

ENV_PROPERTIES = {**DETAIL_PROPERTIES, "wms_env": {"type": ["string"], "maxLength": 128}}
T0 = "2026-01-05T10:00:00.000000-03:00"
T1 = "2026-01-05T11:00:00.000000-03:00"


def environment_schema() -> dict:
    return schema(properties=ENV_PROPERTIES, keys=("wms_env", "id"))


def env_record(env: str, rid: int, mod_ts: str = T1) -> dict:
    return record(wms_env=env, id=rid, order_id_id=7, mod_ts=mod_ts)


def table_shape(loader, table: str = "WMS_ORDER_DETAILS") -> tuple:
    """Columns, indexes (with their columns) and rows: what a refused run must leave as is."""
    with sqlite3.connect(loader.db) as db:
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        indexes = sorted(
            (name, tuple(r[2] for r in db.execute(f"PRAGMA index_info('{name}')")))
            for _, name, *_ in db.execute(f"PRAGMA index_list({table})")
        )
        rows = db.execute(f"SELECT * FROM {table} ORDER BY ID").fetchall()
    return columns, indexes, rows


def primary_key(loader, table: str = "WMS_ORDER_DETAILS") -> list[str]:
    with sqlite3.connect(loader.db) as db:
        info = db.execute(f"PRAGMA table_info({table})").fetchall()
    return [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]


def test_a_stream_keyed_otherwise_than_its_table_stops_before_any_ddl(loader) -> None:
    loader.run([schema(), record(id=1, order_id_id=7, mod_ts=T0), record(id=2, mod_ts=T0)])
    before = table_shape(loader)

    result = loader.run_process([environment_schema(), env_record("test", 1)])

    assert result.returncode == 1
    line = one_error(result)
    for part in ("WMS_ORDER_DETAILS", "keyed by (ID)", "(WMS_ENV, ID)", "--adopt-key-column"):
        assert part in line, line
    assert "Traceback" not in result.stderr
    assert table_shape(loader) == before, "no column, no index, no row was added"


def test_adopting_the_column_keys_every_row_and_a_second_environment_loads_beside(
    loader,
) -> None:
    loader.run([schema(), *(record(id=i, order_id_id=7, mod_ts=T0) for i in (1, 2, 3))])
    adopted = subprocess.run(
        [*TARGET_CMD, "--config", str(loader.config_file()), "--adopt-key-column", "wms_env=test"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert adopted.returncode == 0, adopted.stderr
    assert "WMS_ORDER_DETAILS: WMS_ENV = 'test' in 3 existing rows; key (ID) -> (WMS_ENV, ID)" in (
        adopted.stderr
    )
    assert primary_key(loader) == ["WMS_ENV", "ID"]

    loader.run([environment_schema(), env_record("test", 2), env_record("prod", 2)])

    rows = {(r["WMS_ENV"], r["ID"]): r for r in loader.rows()}
    assert set(rows) == {("test", 1), ("test", 2), ("test", 3), ("prod", 2)}, (
        "none lost, none twice"
    )
    assert rows["test", 2]["MOD_TS"].startswith("2026-01-05T11:00")  # upserted onto its row
    again = subprocess.run(
        [*TARGET_CMD, "--config", str(loader.config_file()), "--adopt-key-column", "wms_env=test"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0 and "nothing changed" in again.stderr


def test_adoption_repairs_a_table_an_earlier_target_half_changed(loader) -> None:
    """The state an earlier version left: WMS_ENV added (null) and a second unique index."""
    loader.run([schema(), *(record(id=i, order_id_id=7, mod_ts=T0) for i in (1, 2))])
    with sqlite3.connect(loader.db) as db:
        db.execute("ALTER TABLE WMS_ORDER_DETAILS ADD COLUMN WMS_ENV VARCHAR(128)")
        db.execute("CREATE UNIQUE INDEX WMS_ORDER_DETAILS_KEY ON WMS_ORDER_DETAILS (WMS_ENV, ID)")
    result = loader.run_process([environment_schema(), env_record("test", 1)])
    assert result.returncode == 1 and "--adopt-key-column" in one_error(result)

    done = subprocess.run(
        [*TARGET_CMD, "--config", str(loader.config_file()), "--adopt-key-column", "wms_env=test"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert primary_key(loader) == ["WMS_ENV", "ID"]
    loader.run([environment_schema(), env_record("test", 1)])
    assert [(r["WMS_ENV"], r["ID"]) for r in loader.rows()] == [("test", 1), ("test", 2)]


def test_a_malformed_adoption_is_one_line(loader) -> None:
    done = subprocess.run(
        [*TARGET_CMD, "--config", str(loader.config_file()), "--adopt-key-column", "wms_env"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "COLUMN=VALUE" in one_error(done) and "Traceback" not in done.stderr
