"""One stream read with several requests in flight (`max_concurrent_requests`), against the
simulator: id ranges for full reads, mod_ts sub-windows for incremental ones, exact while the
WMS changes, resumable after a kill, within one request budget for the whole run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import typing as t
from datetime import datetime, timedelta, timezone

import pytest
from tap_gruponos_wms.pagination import parse_timestamp
from wms_simulator import Fault, WmsSimulator

STREAM, ENTITY = "order_details", "order_dtl"
STREAMS = {"order_headers": "order_hdr", "order_details": "order_dtl", "allocations": "allocation"}


@pytest.fixture
def big_sim() -> t.Iterator[WmsSimulator]:
    """600 details over the last week, answered after 20 ms (so readers overlap)."""
    with WmsSimulator(orders=200, details_per_order=3, seed=3, latency_ms=20) as server:
        yield server


@pytest.fixture
def config(big_sim: WmsSimulator) -> dict[str, t.Any]:
    return {
        "base_url": big_sim.base_url,
        "username": "wms_user",
        "password": "wms_pass",
        "page_size": 20,
        "lookback_minutes": 0,
        "max_retries": 3,
        "max_concurrent_requests": 4,
    }


def ids_of(sim: WmsSimulator, entity: str = ENTITY) -> set[int]:
    return {r["id"] for r in sim.records(entity)}


def list_queries(sim: WmsSimulator, entity: str = ENTITY) -> list[dict[str, str]]:
    return [
        e["query"]
        for e in sim.request_log
        if e["entity"] == entity and e["query"].get("page_size") and "describe" not in e["path"]
    ]


def next_second() -> None:
    time.sleep(1.05 - time.time() % 1.0)


def test_a_full_read_in_id_ranges_reads_every_record_once_then_activates(
    big_sim, config, run_tap
) -> None:
    big_sim.peak_in_flight()
    out = run_tap(config, streams=[STREAM], method="FULL_TABLE")

    ids = out.ids(STREAM)
    assert sorted(ids) == sorted(ids_of(big_sim))
    kinds = [m["type"] for m in out.messages if m["type"] in {"ACTIVATE_VERSION", "RECORD"}]
    assert kinds == ["RECORD"] * len(ids) + ["ACTIVATE_VERSION"]
    assert 1 < big_sim.peak_in_flight() <= 4
    ranges = [q for q in list_queries(big_sim) if "id__lt" in q]
    assert ranges, "the read was split into id ranges"
    assert all(q["ordering"] == "id" for q in list_queries(big_sim))


def test_a_full_read_stays_exact_while_records_change_are_inserted_and_deleted(
    big_sim, config, run_tap
) -> None:
    before = ids_of(big_sim)
    gone_order = big_sim.records("order_hdr")[-1]["id"]
    inserted: list[int] = []

    def change(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and n == 6:  # ranges in flight
            big_sim.modify(ENTITY, count=30, changes={"po_nbr": "CHANGED"})
            big_sim.delete("order_hdr", [gone_order])
            inserted.append(big_sim.insert(ENTITY, order_id=1))

    big_sim.on_list_request(change)
    out = run_tap(config, streams=[STREAM], method="FULL_TABLE")

    ids = out.ids(STREAM)
    assert len(ids) == len(set(ids)), "a record read twice"
    assert ids_of(big_sim) - set(inserted) <= set(ids) <= before | set(inserted)
    assert inserted[0] in ids, "a record created during the read lies in the open last range"


def test_an_incremental_window_in_sub_windows_reads_every_record_once(
    big_sim, config, run_tap
) -> None:
    ties = sorted(ids_of(big_sim))[100:150]  # 50 records sharing one microsecond, 2.5 pages
    big_sim.set_mod_ts(ENTITY, ties, datetime.now(timezone.utc) - timedelta(days=2))
    next_second()
    big_sim.peak_in_flight()
    out = run_tap(config, streams=[STREAM])

    ids = out.ids(STREAM)
    assert sorted(ids) == sorted(ids_of(big_sim))
    assert 1 < big_sim.peak_in_flight() <= 4
    windows = {(q["mod_ts__gte"], q["mod_ts__lt"]) for q in list_queries(big_sim)}
    assert len({hi for _, hi in windows}) > 1, "the window was split into sub-windows"
    hi = parse_timestamp(out.bookmark(STREAM))
    assert all(parse_timestamp(r["mod_ts"]) < hi for r in out.records(STREAM))
    assert "read_ahead" not in out.last_state["bookmarks"][STREAM]


def test_records_changed_or_committed_late_during_a_split_read_are_caught_next_run(
    big_sim, config, run_tap
) -> None:
    late: list[int] = []

    def change(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and n == 5:
            big_sim.modify(ENTITY, count=20, changes={"po_nbr": "MOVED"})  # leave the window
            # committed now, stamped a minute ago: inside the window being read
            a_minute_ago = datetime.now(timezone.utc) - timedelta(minutes=1)
            late.append(big_sim.insert(ENTITY, mod_ts=a_minute_ago))

    big_sim.on_list_request(change)
    first = run_tap({**config, "lookback_minutes": 5}, streams=[STREAM])
    next_second()
    second = run_tap({**config, "lookback_minutes": 5}, state=first.last_state, streams=[STREAM])

    seen = set(first.ids(STREAM)) | set(second.ids(STREAM))
    assert seen == ids_of(big_sim)
    changed = {r["id"] for r in big_sim.records(ENTITY) if r["po_nbr"] == "MOVED"}
    latest = {r["id"]: r for r in first.records(STREAM) + second.records(STREAM)}
    assert {i for i in changed if latest[i]["po_nbr"] != "MOVED"} == set()
    assert late[0] in seen


def test_a_range_answered_503_is_retried_and_the_read_stays_exact(big_sim, config, run_tap) -> None:
    big_sim.add_faults(Fault(status=503, times=3, entity=ENTITY, path_contains="id__lt"))
    out = run_tap(config, streams=[STREAM], method="FULL_TABLE")
    assert sorted(out.ids(STREAM)) == sorted(ids_of(big_sim))
    assert out.of_type("ACTIVATE_VERSION")


def test_a_range_failing_for_good_fails_the_stream_without_activate_version(
    big_sim, config, tap_cli
) -> None:
    settings = {**config, "max_retries": 1, "entities": ["order_dtl"]}
    discovered = tap_cli(settings, "--discover")
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        root["metadata"].update({"selected": True, "replication-method": "FULL_TABLE"})
    big_sim.add_faults(Fault(status=503, times=1000, entity=ENTITY, path_contains="id__lt"))
    run = tap_cli(settings, catalog=catalog)

    run.assert_one_line_failure("order_dtl", "503")
    assert not run.output.of_type("ACTIVATE_VERSION")
    assert run.output.ids(STREAM), "the ranges that did answer were written"


def test_a_run_killed_mid_read_resumes_without_a_gap_and_skips_what_it_read_ahead(
    big_sim, config, tmp_path
) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({**config, "entities": ["order_dtl"]}))
    tap = [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config_path)]
    process = subprocess.Popen(tap, stdout=subprocess.PIPE, text=True)
    emitted: dict[int, str] = {}
    last_state: dict = {}
    assert process.stdout is not None
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            emitted[message["record"]["id"]] = message["record"]["mod_ts"]
        elif message["type"] == "STATE":
            entry = message["value"]["bookmarks"][STREAM]
            bookmark = parse_timestamp(entry["replication_key_value"])
            ahead = [tuple(map(parse_timestamp, w)) for w in entry.get("read_ahead", [])]
            for record in big_sim.records(ENTITY):  # every STATE covers what it claims
                moment = parse_timestamp(record["mod_ts"])
                if moment < bookmark or any(a <= moment < b for a, b in ahead):
                    assert record["id"] in emitted, (record["id"], bookmark)
            last_state = message["value"]
            if ahead and len(emitted) > 200:
                process.kill()
                break
    process.wait()
    assert last_state["bookmarks"][STREAM].get("read_ahead"), "killed with sub-windows read ahead"
    assert len(emitted) < len(ids_of(big_sim)), "killed after the read had ended"

    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(last_state))
    ahead = [tuple(map(parse_timestamp, w)) for w in last_state["bookmarks"][STREAM]["read_ahead"]]
    rerun = subprocess.run(
        [*tap, "--state", str(state_path)], capture_output=True, text=True, check=True, timeout=120
    )
    again = [json.loads(line) for line in rerun.stdout.splitlines()]
    reread = {m["record"]["id"]: m["record"]["mod_ts"] for m in again if m["type"] == "RECORD"}
    assert set(emitted) | set(reread) == ids_of(big_sim)
    assert not [
        i for i, ts in reread.items() if any(a <= parse_timestamp(ts) < b for a, b in ahead)
    ], "the resumed run read a sub-window the killed one had finished"


def test_one_request_at_a_time_reads_as_one_sequential_keyset_walk(
    big_sim, config, run_tap
) -> None:
    big_sim.peak_in_flight()
    out = run_tap({**config, "max_concurrent_requests": 1}, streams=[STREAM])

    assert sorted(out.ids(STREAM)) == sorted(ids_of(big_sim))
    assert big_sim.peak_in_flight() == 1
    queries = list_queries(big_sim)
    assert not [q for q in queries if "id__lt" in q]
    assert len({q["mod_ts__lt"] for q in queries if q["ordering"] == "mod_ts,id"}) == 1
    lows = [q["mod_ts__gte"] for q in queries if q["ordering"] == "mod_ts,id"]
    assert lows == sorted(lows), "each query starts where the previous page let it"


def test_all_streams_together_stay_within_the_request_budget(big_sim, config, run_tap) -> None:
    big_sim.peak_in_flight()
    out = run_tap({**config, "max_concurrent_requests": 3})
    assert 1 < big_sim.peak_in_flight() <= 3
    for stream, entity in STREAMS.items():
        assert sorted(out.ids(stream)) == sorted(ids_of(big_sim, entity)), stream


def test_split_output_loaded_by_the_target_equals_the_wms(big_sim, config, tmp_path) -> None:
    """Records of one stream arrive in any order across ranges; the target's upsert and its
    never-regress guard make the table exact anyway."""
    import sqlite3

    config_path = tmp_path / "tap.json"
    config_path.write_text(json.dumps(config))
    warehouse = tmp_path / "warehouse.db"
    target_config = tmp_path / "target.json"
    target_config.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{warehouse}"}))
    bin_dir = f"{sys.exec_prefix}/bin"
    pipeline = (
        f"{bin_dir}/tap-gruponos-wms --config {config_path} | "
        f"{bin_dir}/target-gruponos-oracle --config {target_config}"
    )
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True, capture_output=True)
    with sqlite3.connect(warehouse) as db:
        for stream, entity in STREAMS.items():
            rows = dict(db.execute(f"SELECT ID, MOD_TS FROM WMS_{stream.upper()}").fetchall())
            want = {r["id"]: parse_timestamp(r["mod_ts"]) for r in big_sim.records(entity)}
            assert {i: parse_timestamp(ts) for i, ts in rows.items()} == want, stream
