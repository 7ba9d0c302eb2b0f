"""The five incremental scenarios of the issue, against the simulator with its data changing
while the tap reads it. Each run reads [bookmark - lookback, server clock at start)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import typing as t
from collections import Counter

import pytest
from singer_sdk.exceptions import FatalAPIError
from tap_gruponos_wms.pagination import parse_timestamp

STREAM, ENTITY = "order_details", "order_dtl"


def next_second() -> None:
    """Let the server clock pass a whole second, so changes made so far fall in the next
    run's window (its upper bound is the whole-second server clock)."""
    time.sleep(1.05 - (time.time() % 1))


def by_mod_ts(sim: t.Any) -> list[dict[str, t.Any]]:
    return sorted(sim.records(ENTITY), key=lambda r: (parse_timestamp(r["mod_ts"]), r["id"]))


def all_ids(sim: t.Any) -> set[int]:
    return {r["id"] for r in sim.records(ENTITY)}


def assert_no_duplicates(ids: list[int]) -> None:
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def assert_reread_is_bounded(
    sim: t.Any, emitted: list[int], resumed: list[int], state: dict, config: dict
) -> None:
    """A resumed run re-reads only the lookback before its bookmark and one unfinished page."""
    bookmark = parse_timestamp(state["bookmarks"][STREAM]["replication_key_value"])
    lookback_start = bookmark - dt.timedelta(minutes=config["lookback_minutes"])
    in_lookback = {
        r["id"] for r in sim.records(ENTITY) if parse_timestamp(r["mod_ts"]) >= lookback_start
    }
    reread = set(emitted) & set(resumed)
    assert len(reread - in_lookback) <= config["page_size"]


def test_records_modified_while_earlier_pages_are_read_are_not_skipped(
    sim, sim_config, run_tap
) -> None:
    ordered = by_mod_ts(sim)
    not_yet_read = [r["id"] for r in ordered[-15:-10]]
    already_read = [r["id"] for r in ordered[:3]]

    def modify_during_read(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and n == 2:  # after the first page
            sim.modify(ENTITY, ids=not_yet_read + already_read, changes={"po_nbr": "CHANGED"})

    sim.on_list_request(modify_during_read)
    first = run_tap(sim_config, streams=[STREAM])
    next_second()
    second = run_tap(sim_config, state=first.last_state, streams=[STREAM])

    assert_no_duplicates(first.ids(STREAM))
    assert set(first.ids(STREAM)) | set(second.ids(STREAM)) == all_ids(sim)
    changed = {r["id"] for r in second.records(STREAM) if r["po_nbr"] == "CHANGED"}
    assert changed == set(not_yet_read + already_read)


def test_many_records_sharing_one_second_across_pages_are_read_exactly_once(
    sim, sim_config, run_tap
) -> None:
    ids = sorted(all_ids(sim))
    shared = dt.datetime(2026, 1, 5, 10, 0, 0, tzinfo=dt.timezone.utc)
    # 24 records in one second (more than two pages of 10), with microseconds whose order
    # differs from id order, and 12 of them on the very same microsecond; 4 records just
    # before it, so the second starts mid-page.
    sim.set_mod_ts(ENTITY, ids[24:28], shared - dt.timedelta(seconds=1))
    sim.set_mod_ts(ENTITY, ids[:12], shared + dt.timedelta(microseconds=500_000))
    sim.set_mod_ts(ENTITY, ids[12:18], shared + dt.timedelta(microseconds=200_000))
    sim.set_mod_ts(ENTITY, ids[18:24], shared + dt.timedelta(microseconds=900_000))
    moved = ids[5]

    def move_one_during_drain(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and query.get("ordering") == "id" and query.get("id__gt") != "0":
            sim.modify(ENTITY, ids=[moved])

    sim.on_list_request(move_one_during_drain)
    first = run_tap(sim_config, streams=[STREAM])
    next_second()
    second = run_tap(sim_config, state=first.last_state, streams=[STREAM])

    assert_no_duplicates(first.ids(STREAM))
    assert set(ids[:24]) - {moved} <= set(first.ids(STREAM))
    assert set(first.ids(STREAM)) | set(second.ids(STREAM)) == all_ids(sim)
    assert moved in second.ids(STREAM)
    drained = [q for q in (e["query"] for e in sim.request_log) if q.get("ordering") == "id"]
    assert drained, "the crowded second must be read by keyset on id"


def test_late_commit_older_than_the_bookmark_is_caught_by_the_lookback(
    sim, sim_config, run_tap
) -> None:
    config = {**sim_config, "lookback_minutes": 5}
    first = run_tap(config, streams=[STREAM])
    bookmark = parse_timestamp(first.bookmark(STREAM))
    late = sim.insert(ENTITY, mod_ts=bookmark - dt.timedelta(minutes=2))
    not_late_enough = sim.insert(ENTITY, mod_ts=bookmark - dt.timedelta(minutes=9))

    def modify_during_read(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and n == 1:
            sim.modify(ENTITY, count=3)

    sim.on_list_request(modify_during_read)
    second = run_tap(config, state=first.last_state, streams=[STREAM])

    assert late not in first.ids(STREAM)
    assert late in second.ids(STREAM)
    # Beyond the lookback a late commit is out of reach: the setting bounds what is re-read.
    assert not_late_enough not in second.ids(STREAM)
    window_start = [
        e["query"]["mod_ts__gte"] for e in sim.request_log if e["query"].get("mod_ts__gte")
    ]
    assert parse_timestamp(window_start[-1]) >= bookmark - dt.timedelta(minutes=5)


def test_run_failing_midway_resumes_from_its_last_state_without_skipping(
    sim, sim_config, run_tap
) -> None:
    from wms_simulator import Fault

    config = {**sim_config, "max_retries": 0, "lookback_minutes": 1}

    def fail_on_fourth_page(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and n == 3:
            sim.modify(ENTITY, count=4)
            sim.add_faults(Fault(status=500, times=1, entity=ENTITY))

    sim.on_list_request(fail_on_fourth_page)
    raw: list[str] = []
    with pytest.raises(FatalAPIError, match="500"):
        run_tap(config, streams=[STREAM], raw=raw)
    crashed = [json.loads(line) for line in raw]
    emitted = [m["record"]["id"] for m in crashed if m["type"] == "RECORD"]
    last_state = [m["value"] for m in crashed if m["type"] == "STATE"][-1]

    sim.list_callbacks.clear()
    next_second()
    resumed = run_tap(config, state=last_state, streams=[STREAM])

    assert set(emitted) | set(resumed.ids(STREAM)) == all_ids(sim)
    assert_reread_is_bounded(sim, emitted, resumed.ids(STREAM), last_state, config)


def test_process_killed_midway_resumes_from_its_last_emitted_state(
    sim, sim_config, tmp_path
) -> None:
    sim.latency_ms = 30
    settings = {**sim_config, "lookback_minutes": 1}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(settings))
    tap = [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)]
    catalog = tmp_path / "catalog.json"
    catalog.write_text(
        subprocess.run([*tap, "--discover"], capture_output=True, check=True, text=True).stdout
    )

    process = subprocess.Popen([*tap, "--catalog", str(catalog)], stdout=subprocess.PIPE, text=True)
    emitted: dict[str, list[int]] = {}
    states: list[dict] = []
    assert process.stdout is not None
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            emitted.setdefault(message["stream"], []).append(message["record"]["id"])
        elif message["type"] == "STATE" and "replication_key_value" in message["value"].get(
            "bookmarks", {}
        ).get(STREAM, {}):  # other streams' STATEs may come first (parallel streams)
            states.append(message["value"])
            if len(states) == 2:
                sim.modify(ENTITY, count=5)
                process.kill()
                break
    process.wait()
    state = tmp_path / "state.json"
    state.write_text(json.dumps(states[-1]))

    next_second()
    sim.latency_ms = 0
    rerun = subprocess.run(
        [*tap, "--catalog", str(catalog), "--state", str(state)],
        capture_output=True,
        text=True,
        check=True,
    )
    resumed = [json.loads(line) for line in rerun.stdout.splitlines()]
    resumed_ids = [
        m["record"]["id"] for m in resumed if m["type"] == "RECORD" and m["stream"] == STREAM
    ]

    assert set(emitted.get(STREAM, [])) | set(resumed_ids) == all_ids(sim)
    assert_reread_is_bounded(sim, emitted.get(STREAM, []), resumed_ids, states[-1], settings)
    assert "wms_pass" not in rerun.stderr


def test_run_without_changes_gets_404_emits_nothing_and_keeps_the_bookmark(
    sim, sim_config, run_tap
) -> None:
    first = run_tap(sim_config, streams=[STREAM])
    moved: list[int] = []

    def modify_during_read(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and not moved:
            moved.extend(sim.modify(ENTITY, count=2))

    next_second()
    sim.on_list_request(modify_during_read)
    second = run_tap(sim_config, state=first.last_state, streams=[STREAM])

    assert second.records(STREAM) == []
    assert sim.request_log[-1]["status"] == 404
    assert parse_timestamp(second.bookmark(STREAM)) >= parse_timestamp(first.bookmark(STREAM))
    sim.list_callbacks.clear()
    next_second()
    third = run_tap(sim_config, state=second.last_state, streams=[STREAM])
    assert sorted(third.ids(STREAM)) == sorted(moved)
