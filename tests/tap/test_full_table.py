"""FULL_TABLE: an id keyset walk, one version per snapshot, ACTIVATE_VERSION only after a
complete snapshot."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest
from singer_sdk.exceptions import FatalAPIError
from wms_simulator import Fault

from .mock_api import CONFIG, page, rec

STREAM, ENTITY = "order_details", "order_dtl"


def test_full_table_reads_by_id_keyset_and_versions_the_snapshot(api, run_tap) -> None:
    full = {"page_size": "3", "ordering": "id"}
    page(
        api,
        {**full, "id__gt": "0"},
        [rec(1, "11:00:00.0"), rec(2, "11:00:00.0"), rec(5, "11:00:00.0")],
    )
    page(api, {**full, "id__gt": "5"}, [rec(6, "11:00:00.0")])

    out = run_tap(CONFIG, streams=["order_details"], method="FULL_TABLE")

    kinds = [m["type"] for m in out.messages if m["type"] in {"RECORD", "ACTIVATE_VERSION"}]
    assert kinds == ["RECORD", "RECORD", "RECORD", "RECORD", "ACTIVATE_VERSION"]
    versions = {m["version"] for m in out.messages if m["type"] in {"RECORD", "ACTIVATE_VERSION"}}
    assert len(versions) == 1
    assert out.ids("order_details") == [1, 2, 5, 6]


def test_full_table_reads_every_record_once_while_rows_change_and_versions_the_snapshot(
    sim, sim_config, run_tap
) -> None:
    before = {r["id"] for r in sim.records(ENTITY)}
    deleted_order = sim.records("order_hdr")[-1]["id"]

    def change_during_read(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and n == 2:
            sim.modify(ENTITY, count=10)
            sim.delete("order_hdr", [deleted_order])

    sim.on_list_request(change_during_read)
    out = run_tap(sim_config, streams=[STREAM], method="FULL_TABLE")

    ids = out.ids(STREAM)
    assert len(ids) == len(set(ids))
    assert {r["id"] for r in sim.records(ENTITY)} <= set(ids) <= before
    kinds = [m["type"] for m in out.messages if m["type"] in {"ACTIVATE_VERSION", "RECORD"}]
    assert kinds == ["RECORD"] * len(ids) + ["ACTIVATE_VERSION"]
    versions = {m["version"] for m in out.messages if m["type"] in {"ACTIVATE_VERSION", "RECORD"}}
    assert len(versions) == 1
    assert all(
        e["query"].get("ordering") == "id" for e in sim.request_log if e["query"].get("page_size")
    )


def test_full_table_run_failing_midway_sends_no_activate_version(sim, sim_config, run_tap) -> None:
    sim.add_faults(Fault(status=500, times=20, entity=ENTITY, path_contains="id__gt=1"))
    raw: list[str] = []
    with pytest.raises(FatalAPIError):
        run_tap({**sim_config, "max_retries": 0}, streams=[STREAM], method="FULL_TABLE", raw=raw)
    assert any('"type":"RECORD"' in line for line in raw)
    assert not any('"type":"ACTIVATE_VERSION"' in line for line in raw)


def discovered_with(tap_cli, sim_config, **root_metadata: str) -> dict:
    """The discovered catalog (top-level replication_method INCREMENTAL, as discovery writes
    it) with this Singer metadata set on every stream, as a user edits it."""
    catalog = json.loads(tap_cli(sim_config, "--discover").stdout)
    for entry in catalog["streams"]:
        assert entry["replication_method"] == "INCREMENTAL"
        root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        root["metadata"].update(root_metadata)
    return catalog


def test_the_singer_replication_method_metadata_chooses_full_table(
    sim, sim_config, tap_cli
) -> None:
    catalog = discovered_with(tap_cli, sim_config, **{"replication-method": "FULL_TABLE"})

    run = tap_cli(sim_config, catalog=catalog)

    assert run.returncode == 0, run.stderr
    assert len(run.output.ids(STREAM)) == len(sim.records(ENTITY))
    assert {m["stream"] for m in run.output.of_type("ACTIVATE_VERSION")} == {
        "allocations",
        "order_headers",
        "order_details",
    }
    lists = [e for e in sim.request_log if e["query"].get("page_size")]
    assert lists and all(e["query"]["ordering"] == "id" for e in lists)


def test_an_unknown_replication_method_is_one_line_naming_the_stream(sim_config, tap_cli) -> None:
    catalog = discovered_with(tap_cli, sim_config, **{"replication-method": "FULL"})
    run = tap_cli(sim_config, catalog=catalog)
    run.assert_one_line_failure("catalog stream 'allocations'", "replication-method 'FULL'")


def _full_table_catalog_of(stream: str, tap_cli, sim_config) -> dict:
    """The discovered catalog with only ``stream`` selected, read FULL_TABLE."""
    catalog = discovered_with(tap_cli, sim_config, **{"replication-method": "FULL_TABLE"})
    for entry in catalog["streams"]:
        root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        root["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return catalog


def _target_config(tmp_path: Path, warehouse: Path, **settings: t.Any) -> Path:
    path = tmp_path / "target.json"
    path.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{warehouse}", **settings}))
    return path


TARGET = str(Path(sys.executable).with_name("target-gruponos-oracle"))


def test_a_complete_read_of_an_emptied_entity_retires_its_rows_in_the_target(
    sim, sim_config, tap_cli, tmp_path
) -> None:
    """Zero records, then ACTIVATE_VERSION twice: a careful target cannot tell one lone
    ACTIVATE_VERSION from singer-sdk's opening one, the second says the version is complete."""
    catalog = _full_table_catalog_of(STREAM, tap_cli, sim_config)
    warehouse = tmp_path / "warehouse.db"
    target_config = _target_config(tmp_path, warehouse)

    def sync_into_target() -> t.Any:
        run = tap_cli(sim_config, catalog=catalog)
        assert run.returncode == 0, run.stderr
        loaded = subprocess.run(
            [TARGET, "--config", str(target_config)],
            input=run.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr
        return run

    first = sync_into_target()
    sim.delete("order_hdr", [r["id"] for r in sim.records("order_hdr")])
    # a version is the run's start in epoch seconds: the next full sync must start later
    while int(time.time()) <= first.output.of_type("ACTIVATE_VERSION")[0]["version"]:
        time.sleep(0.05)
    emptied = sync_into_target()

    kinds = [m["type"] for m in emptied.output.messages if m["type"] != "STATE"]
    assert kinds == ["SCHEMA", "ACTIVATE_VERSION", "ACTIVATE_VERSION"]
    with sqlite3.connect(warehouse) as db:
        live = db.execute("SELECT COUNT(*) FROM WMS_ORDER_DETAILS WHERE SDC_DELETED_AT IS NULL")
        retired = db.execute("SELECT COUNT(*) FROM WMS_ORDER_DETAILS")
        assert (live.fetchone()[0], retired.fetchone()[0]) == (0, 60)


def test_records_read_reach_the_reader_while_the_tap_waits_on_a_slow_wms(
    sim, sim_config, tap_cli, tmp_path
) -> None:
    """The tap holds records for large writes, but never while it waits on the WMS: a full
    sync (no STATE between its pages) has its first page on stdout long before its last."""
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(_full_table_catalog_of(STREAM, tap_cli, sim_config)))
    config_file = tmp_path / "tap.json"
    config_file.write_text(json.dumps(sim_config))
    sim.latency_ms = 300  # 60 records, 10 a page: the read takes seconds
    tap_command = [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config_file)]
    tap_command += ["--catalog", str(catalog_file)]
    pages_served: list[int] = []
    sim.on_list_request(lambda entity, query, n: pages_served.append(n) if entity == ENTITY else 0)
    with subprocess.Popen(tap_command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tap:
        for line in tap.stdout:
            if json.loads(line)["type"] == "RECORD":
                break
        pages_at_first_record = len(pages_served)
        rest = tap.stdout.read()
    assert tap.returncode == 0 and b'"type":"ACTIVATE_VERSION"' in rest
    assert pages_at_first_record <= 3 < len(pages_served)  # 1 read, 1 in flight, 1 margin


def test_a_tap_killed_mid_full_sync_leaves_its_audit_row_incomplete_and_retires_nothing(
    sim, sim_config, tap_cli, tmp_path
) -> None:
    """tap | target, the tap SIGKILLed mid-read: the target cannot tell a killed tap's end of
    input from a finished one's, but a full sync whose records no ACTIVATE_VERSION closed
    did not reach its end."""
    catalog = _full_table_catalog_of(STREAM, tap_cli, sim_config)
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(catalog))
    config_file = tmp_path / "tap.json"
    config_file.write_text(json.dumps(sim_config))
    warehouse = tmp_path / "warehouse.db"
    target_config = _target_config(tmp_path, warehouse, batch_size_rows=5)
    tap_command = [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config_file)]
    tap_command += ["--catalog", str(catalog_file)]
    target_command = [TARGET, "--config", str(target_config)]
    complete = subprocess.run(tap_command, capture_output=True, check=True).stdout
    subprocess.run(target_command, input=complete, capture_output=True, check=True)
    sim.delete(ENTITY, [r["id"] for r in sim.records(ENTITY)][-5:])
    sim.latency_ms = 300  # the second full sync reads slowly: it is killed half-way

    with subprocess.Popen(tap_command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tap:
        target = subprocess.Popen(
            target_command, stdin=tap.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        tap.stdout.close()  # the target alone reads the pipe: the kill ends its input
        deadline = time.monotonic() + 60
        while len(rows := _audit_rows(warehouse)) < 2 or rows[1][1] == 0:
            assert time.monotonic() < deadline, "the second full sync committed nothing"
            time.sleep(0.05)
        tap.kill()
    _, stderr = target.communicate(timeout=60)

    assert target.returncode == 0, stderr
    first, killed = _audit_rows(warehouse, "STATUS, RECORDS_RECEIVED, ROWS_RETIRED, MESSAGE")
    assert first[:3] == ("succeeded", 60, 0)
    status, received, retired, message = killed
    assert (status, retired) == ("incomplete", 0) and 0 < received < 55
    assert "did not reach its end" in message
    with sqlite3.connect(warehouse) as db:
        live = db.execute("SELECT COUNT(*) FROM WMS_ORDER_DETAILS WHERE SDC_DELETED_AT IS NULL")
        assert live.fetchone()[0] == 60  # the five the WMS deleted are not retired yet


def _audit_rows(warehouse: Path, columns: str = "STATUS, RECORDS_RECEIVED") -> list[tuple]:
    try:
        with sqlite3.connect(warehouse) as db:
            return db.execute(
                f"SELECT {columns} FROM SDC_LOAD_AUDIT ORDER BY STARTED_AT"
            ).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
