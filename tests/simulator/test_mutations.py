"""Changing data while a client reads: modify, insert, delete, shared timestamps, callbacks."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from wms_simulator import WmsSimulator

from .conftest import Client


def _by_id(sim: WmsSimulator, entity: str) -> dict[int, dict]:
    return {r["id"]: r for r in sim.records(entity)}


def test_modify_stamps_the_served_clock_and_applies_changes(fresh_client: Client) -> None:
    sim = fresh_client.sim
    before = datetime.now(timezone.utc).replace(microsecond=0)
    changes = {"po_nbr": "PO-X", "ord_qty": 12.5}
    assert sim.modify("order_dtl", ids=[3, 4], changes=changes) == [3, 4]
    response = fresh_client.get("order_dtl/", mod_ts__gte=before.isoformat(), ordering="mod_ts,id")
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [3, 4]
    assert rows[0]["mod_ts"] == rows[1]["mod_ts"], "one call is one transaction"
    stamp = datetime.fromisoformat(rows[0]["mod_ts"])
    served = parsedate_to_datetime(response.headers["Date"])
    assert before <= stamp <= served + timedelta(seconds=1)
    assert rows[0]["mod_ts"].endswith("-03:00")
    assert (rows[0]["po_nbr"], rows[0]["ord_qty"], rows[0]["mod_user"]) == (
        "PO-X",
        12.5,
        "SIMULATOR",
    )


def test_modify_by_count_picks_existing_records_reproducibly() -> None:
    picks = []
    for _ in range(2):
        with WmsSimulator(orders=10, seed=5) as sim:
            picks.append(sim.modify("allocation", count=4))
    assert picks[0] == picks[1] and len(set(picks[0])) == 4


def test_changes_to_unknown_or_structural_fields_are_refused(fresh_sim: WmsSimulator) -> None:
    with pytest.raises(KeyError):
        fresh_sim.modify("order_dtl", ids=[1], changes={"nope": 1})
    with pytest.raises(ValueError):
        fresh_sim.modify("order_dtl", ids=[1], changes={"order_id": 2})
    with pytest.raises(KeyError):
        fresh_sim.modify("order_dtl", ids=[999])
    with pytest.raises(KeyError):
        fresh_sim.records("order_line")


def test_insert_with_a_past_mod_ts_is_a_late_commit_visible_now(fresh_client: Client) -> None:
    sim = fresh_client.sim
    late = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    rid = sim.insert("order_dtl", mod_ts=late, order_id=4, po_nbr="LATE")
    record = _by_id(sim, "order_dtl")[rid]
    assert datetime.fromisoformat(record["mod_ts"]) == late
    assert record["order_id"]["id"] == 4 and record["seq_nbr"] == 3 and record["po_nbr"] == "LATE"
    recent = fresh_client.get("order_dtl/", mod_ts__gte=(late + timedelta(hours=1)).isoformat())
    assert recent.status_code == 404
    window = fresh_client.get("order_dtl/", mod_ts__gte=late.isoformat()).json()["results"]
    assert [r["id"] for r in window] == [rid]
    assert _by_id(sim, "order_hdr")[4]["order_dtl_set"]["result_count"] == 3


def test_insert_order_creates_consistent_children(fresh_sim: WmsSimulator) -> None:
    new = fresh_sim.insert_order(details=3, allocations_per_detail=2)
    assert new["order_hdr"] == [11]
    details = _by_id(fresh_sim, "order_dtl")
    allocations = _by_id(fresh_sim, "allocation")
    assert [details[d]["order_id"]["id"] for d in new["order_dtl"]] == [11, 11, 11]
    assert [details[d]["seq_nbr"] for d in new["order_dtl"]] == [1, 2, 3]
    assert (
        sorted({allocations[a]["order_dtl_id"]["id"] for a in new["allocation"]})
        == new["order_dtl"]
    )
    assert len(new["allocation"]) == 6


def test_delete_takes_the_children_along(fresh_client: Client) -> None:
    sim = fresh_client.sim
    gone = sim.delete("order_hdr", [2])
    assert gone == {"allocation": [3, 4], "order_dtl": [3, 4], "order_hdr": [2]}
    assert fresh_client.get("order_hdr/2").status_code == 404
    assert fresh_client.get("order_dtl/", order_id=2).status_code == 404
    details = sim.records("order_dtl")
    orders = {r["id"] for r in sim.records("order_hdr")}
    assert all(d["order_id"]["id"] in orders for d in details)
    assert len(sim.records("allocation")) == 18


def test_many_records_can_share_one_exact_mod_ts(fresh_client: Client) -> None:
    sim = fresh_client.sim
    stamp = datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=timezone.utc)
    sim.set_mod_ts("order_dtl", range(1, 16), stamp)
    rows = fresh_client.results(
        "order_dtl",
        mod_ts__gte="2026-01-05T07:00:00-03:00",
        mod_ts__lte="2026-01-05T07:00:01-03:00",
        ordering="mod_ts,id",
        page_size=4,
    )
    assert [r["id"] for r in rows] == list(range(1, 16))
    assert {r["mod_ts"] for r in rows} == {"2026-01-05T07:00:00.123456-03:00"}


def test_list_callback_sees_each_request_and_can_change_data_between_pages(
    fresh_client: Client,
) -> None:
    sim = fresh_client.sim
    seen: list[tuple[str, int]] = []
    first_page: list[int] = []

    def move_a_read_record(entity: str, query: dict, n: int) -> None:
        seen.append((entity, n))
        if n == 2:  # the reader has page 1: one of its records changes (mod_ts = now)
            sim.modify(entity, ids=[first_page[0]])

    sim.on_list_request(move_a_read_record)
    records = sorted(sim.records("order_dtl"), key=lambda r: (r["mod_ts"], r["id"]))
    order = [r["id"] for r in records]
    page1 = fresh_client.get("order_dtl/", ordering="mod_ts,id", page_size=5).json()
    first_page.extend(r["id"] for r in page1["results"])
    page2 = fresh_client.session.get(page1["next_page"], timeout=10).json()
    assert seen == [("order_dtl", 1), ("order_dtl", 2)]
    # Offset paging over changing data: everything after the moved record shifts by one, so
    # the record that was 6th is never served. Clients must not trust offsets alone.
    assert [r["id"] for r in page2["results"]] == order[6:11]
    assert page2["result_count"] == 20


def test_reads_and_writes_from_many_threads_stay_consistent(fresh_client: Client) -> None:
    sim = fresh_client.sim
    errors: list[Exception] = []

    def write() -> None:
        try:
            for i in range(20):
                sim.modify("order_dtl", count=2)
                new = sim.insert_order(details=1)
                if i % 5 == 0:
                    sim.delete("order_hdr", new["order_hdr"])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for thread in writers:
        thread.start()
    statuses = {
        fresh_client.get("order_dtl/", ordering="mod_ts,id", page_size=50).status_code
        for _ in range(30)
    }
    for thread in writers:
        thread.join()
    assert not errors and statuses == {200}
    orders = {r["id"] for r in sim.records("order_hdr")}
    details = sim.records("order_dtl")
    assert len(orders) == 10 + 40 - 8
    assert all(d["order_id"]["id"] in orders for d in details)
    listed = fresh_client.results("order_dtl", ordering="id", page_size=1000)
    assert [r["id"] for r in listed] == [d["id"] for d in details]


def test_head_with_if_modified_since_answers_304_until_a_record_changes() -> None:
    now = datetime.now(timezone.utc)
    with WmsSimulator(orders=5, history_end=now - timedelta(hours=1)) as sim:
        client = Client(sim)
        url = f"{client.api}/order_dtl/"
        since = {"If-Modified-Since": format_datetime(now - timedelta(minutes=30), usegmt=True)}
        unchanged = client.session.head(url, headers=since, timeout=10)
        assert unchanged.status_code == 304
        assert parsedate_to_datetime(unchanged.headers["Last-Modified"]) < now - timedelta(hours=1)
        sim.modify("order_dtl", ids=[2])
        assert client.session.head(url, headers=since, timeout=10).status_code == 200
        other_order = client.session.head(url, headers=since, params={"order_id": 3}, timeout=10)
        assert other_order.status_code == 304, "filters narrow the check"
