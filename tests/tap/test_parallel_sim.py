"""`max_parallel_streams`: several streams read at once against the simulator, with data
changing mid-read, a failing stream, a killed process and a shared OAuth2 token."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import typing as t
from itertools import pairwise

import pytest
from singer_sdk.exceptions import FatalAPIError
from tap_gruponos_wms.pagination import parse_timestamp
from wms_simulator import Fault

from .test_auth import oauth_config, token_requests

MISSION = {"order_hdr": "order_headers", "order_dtl": "order_details", "allocation": "allocations"}
ENTITIES = ["order_hdr", "order_dtl", "allocation", "item", "inventory", "location", "order_status"]


def stream_of(entity: str) -> str:
    return MISSION.get(entity, entity)


def next_second() -> None:
    time.sleep(1.05 - (time.time() % 1))


def assert_valid_singer(messages: list[dict], sim: t.Any, entities: list[str]) -> None:
    """SCHEMA before each stream's first record, and every STATE safe for every stream: each
    record with mod_ts below a stream's bookmark was emitted before that STATE (the data does
    not change during the run)."""
    below: dict[str, list[tuple[t.Any, int]]] = {
        stream_of(e): sorted((parse_timestamp(r["mod_ts"]), r["id"]) for r in sim.records(e))
        for e in entities
        if "mod_ts" in sim.records(e)[0]
    }
    schemas: set[str] = set()
    emitted: dict[str, set[int]] = {}
    for message in messages:
        stream = message.get("stream")
        if message["type"] == "SCHEMA":
            schemas.add(stream)
        elif message["type"] == "RECORD":
            assert stream in schemas, f"{stream}: RECORD before its SCHEMA"
            emitted.setdefault(stream, set()).add(message["record"]["id"])
        elif message["type"] == "STATE":
            for name, bookmark in message["value"].get("bookmarks", {}).items():
                if "replication_key_value" not in bookmark:
                    continue
                point = parse_timestamp(bookmark["replication_key_value"])
                needed = {rid for ts, rid in below[name] if ts < point}
                assert needed <= emitted.get(name, set()), f"{name}: bookmark {point} unsafe"


def test_parallel_output_is_valid_singer_with_streams_interleaved(sim, sim_config, run_tap) -> None:
    sim.latency_ms = 5
    out = run_tap({**sim_config, "entities": ENTITIES, "max_parallel_streams": 3})

    assert_valid_singer(out.messages, sim, ENTITIES)
    order = [m["stream"] for m in out.of_type("RECORD")]
    switches = sum(1 for a, b in pairwise(order) if a != b)
    assert switches > len(ENTITIES), "streams were read one after another, not at once"
    assert out.messages[-1]["type"] == "STATE"


def test_parallel_and_sequential_runs_read_the_same_records(sim, sim_config, run_tap) -> None:
    config = {**sim_config, "entities": ENTITIES}
    one = run_tap({**config, "max_parallel_streams": 1})
    many = run_tap({**config, "max_parallel_streams": 4})

    for entity in ENTITIES:
        stream = stream_of(entity)
        assert sorted(one.ids(stream)) == sorted(many.ids(stream)), stream
        assert (one.bookmark(stream) is None) == (many.bookmark(stream) is None), stream


def test_parallel_run_with_data_changing_mid_read_then_a_rerun_loses_nothing(
    sim, sim_config, run_tap
) -> None:
    changed: dict[str, list[int]] = {}

    def change(entity: str, query: dict, n: int) -> None:
        if n == 2 and entity in ("order_dtl", "inventory", "item"):
            changed.setdefault(entity, []).extend(sim.modify(entity, count=3))
            changed[entity].append(sim.insert(entity) if entity != "order_dtl" else 0)
        if n == 2 and entity == "location":
            sim.delete("location", [sim.records("location")[-1]["id"]])

    sim.latency_ms = 5
    sim.on_list_request(change)
    config = {**sim_config, "entities": ENTITIES, "max_parallel_streams": 3}
    first = run_tap(config)
    sim.list_callbacks.clear()
    next_second()
    second = run_tap(config, state=first.last_state)

    for entity in ENTITIES:
        stream = stream_of(entity)
        latest: dict[int, dict] = {}
        for out in (first, second):
            for record in out.records(stream):
                latest[record["id"]] = record
        live = {r["id"]: r for r in sim.records(entity)}
        assert set(live) <= set(latest), f"{stream}: records never read"
        for rid, record in live.items():
            if "mod_ts" in record:
                assert latest[rid]["mod_ts"] == record["mod_ts"], f"{stream} {rid}: stale"
    assert changed["item"] and changed["inventory"]


def test_one_stream_failing_stops_the_others_and_ends_with_a_safe_state(
    sim, sim_config, run_tap
) -> None:
    sim.latency_ms = 20
    sim.add_faults(Fault(status=400, entity="order_dtl", times=1000, path_contains="ordering"))
    raw: list[str] = []
    with pytest.raises(FatalAPIError, match="order_dtl") as error:
        run_tap({**sim_config, "entities": ENTITIES, "max_parallel_streams": 2}, raw=raw)

    messages = [json.loads(line) for line in raw]
    assert messages[-1]["type"] == "STATE"
    assert_valid_singer(messages, sim, ENTITIES)
    started = {m["stream"] for m in messages if m["type"] == "SCHEMA"}
    assert len(started) < len(ENTITIES), "queued streams must not start after a failure"
    assert "order_dtl" in str(error.value).split(":")[0]


def test_failing_stream_exits_non_zero_naming_the_entity(sim, sim_config, tmp_path) -> None:
    sim.add_faults(Fault(status=400, entity="item", times=1000, path_contains="ordering"))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**sim_config, "entities": ENTITIES}))
    done = subprocess.run(
        [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "item" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["type"] == "STATE"


def test_killed_with_several_streams_in_flight_then_resumed_loses_nothing(
    sim, sim_config, tmp_path
) -> None:
    sim.latency_ms = 30
    entities = ["order_hdr", "order_dtl", "allocation", "item", "inventory"]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**sim_config, "entities": entities, "lookback_minutes": 1}))
    tap = [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)]
    process = subprocess.Popen(tap, stdout=subprocess.PIPE, text=True)
    emitted: dict[str, set[int]] = {}
    last_state: dict = {}
    assert process.stdout is not None
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            emitted.setdefault(message["stream"], set()).add(message["record"]["id"])
        elif message["type"] == "STATE":
            last_state = message["value"]
            if len(emitted) >= 3:  # several streams in flight
                sim.modify("order_dtl", count=5)
                sim.modify("inventory", count=5)
                process.kill()
                break
    process.wait()
    total = sum(sim.counts()[e] for e in entities)
    assert sum(map(len, emitted.values())) < total, "killed after the run had ended"
    state = tmp_path / "state.json"
    state.write_text(json.dumps(last_state))

    next_second()
    sim.latency_ms = 0
    rerun = subprocess.run(
        [*tap, "--state", str(state)], capture_output=True, text=True, check=True, timeout=120
    )
    for line in rerun.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            emitted.setdefault(message["stream"], set()).add(message["record"]["id"])
    for entity in entities:
        assert {r["id"] for r in sim.records(entity)} <= emitted[stream_of(entity)], entity


def test_one_oauth2_token_serves_all_threads_and_is_renewed_once(sim, run_tap) -> None:
    def revoke_once(entity: str, query: dict, n: int) -> None:
        if entity == "order_dtl" and n == 2:
            sim.expire_tokens()

    sim.latency_ms = 10
    sim.on_list_request(revoke_once)
    out = run_tap({**oauth_config(sim), "entities": ENTITIES, "max_parallel_streams": 4})

    assert len(out.records("order_details")) == 60
    assert token_requests(sim) == 2  # the first token, then one renewal for every thread


def test_a_state_file_of_the_sequential_tap_resumes_unchanged(sim, sim_config, run_tap) -> None:
    stamps = sorted(r["mod_ts"] for r in sim.records("order_dtl"))
    bookmark = parse_timestamp(stamps[len(stamps) // 2]).replace(microsecond=0)
    old = {
        "bookmarks": {
            name: {"replication_key": "mod_ts", "replication_key_value": bookmark.isoformat()}
            for name in ("allocations", "order_headers", "order_details")
        }
    }
    out = run_tap(sim_config, state=old)

    assert set(out.last_state["bookmarks"]) == set(old["bookmarks"])
    want = {r["id"] for r in sim.records("order_dtl") if parse_timestamp(r["mod_ts"]) >= bookmark}
    assert set(out.ids("order_details")) == want
