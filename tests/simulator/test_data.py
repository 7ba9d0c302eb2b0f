"""Seeded data: deterministic, consistent, and shaped like a real warehouse's history."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from wms_simulator import WmsSimulator

END = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_same_seed_same_data_and_another_seed_other_data() -> None:
    one = WmsSimulator(orders=20, seed=1, history_end=END).records("order_dtl")
    same = WmsSimulator(orders=20, seed=1, history_end=END).records("order_dtl")
    other = WmsSimulator(orders=20, seed=2, history_end=END).records("order_dtl")
    assert one == same
    assert one != other


def test_sizes_follow_the_parameters_and_references_resolve() -> None:
    sim = WmsSimulator(orders=12, details_per_order=4, allocations_per_detail=2, seed=9)
    orders = {r["id"]: r for r in sim.records("order_hdr")}
    details = {r["id"]: r for r in sim.records("order_dtl")}
    allocations = sim.records("allocation")
    assert (len(orders), len(details), len(allocations)) == (12, 48, 96)
    assert all(d["order_id"]["id"] in orders for d in details.values())
    assert all(a["order_dtl_id"]["id"] in details for a in allocations)
    assert all(o["order_dtl_set"]["result_count"] == 4 for o in orders.values())
    assert Counter(d["order_id"]["id"] for d in details.values()) == dict.fromkeys(orders, 4)
    for record in allocations:  # what happened to a record happened before its last save
        if record["picked_ts"] is not None:
            assert record["create_ts"] <= record["picked_ts"] <= record["mod_ts"]


def test_seeded_mod_ts_spread_over_past_days_with_shared_timestamps() -> None:
    sim = WmsSimulator(orders=400, details_per_order=3, seed=4, history_end=END)
    stamps = [datetime.fromisoformat(r["mod_ts"]) for r in sim.records("order_dtl")]
    assert all(END - timedelta(days=7) <= s < END for s in stamps)
    assert len({s.date() for s in stamps}) >= 7
    shared = Counter(stamps).most_common(1)[0][1]
    assert shared >= 20, "a batch job stamps many records with one exact mod_ts"
    same_second = Counter(s.replace(microsecond=0) for s in stamps)
    assert max(same_second.values()) > shared or len(same_second) < len(set(stamps))
    assert stamps != sorted(stamps), "mod_ts order is not id order"


def test_default_history_ends_before_now() -> None:
    sim = WmsSimulator(orders=30)
    newest = max(datetime.fromisoformat(r["mod_ts"]) for r in sim.records("allocation"))
    assert newest < datetime.now(timezone.utc)


def test_more_facilities_share_the_records_and_two_keep_the_usual_split() -> None:
    two = WmsSimulator(orders=200, seed=3, history_end=END)
    four = WmsSimulator(orders=200, seed=3, history_end=END, counts={"facility": 4})

    def share(sim: WmsSimulator, entity: str) -> Counter:
        return Counter(r["facility_id"]["key"] for r in sim.records(entity))

    assert [r["code"] for r in four.records("facility")] == ["FAC1", "FAC2", "FAC3", "FAC4"]
    for entity in ("order_hdr", "location", "inventory", "container", "ib_shipment"):
        spread = share(four, entity)
        assert set(spread) == {"FAC1", "FAC2", "FAC3", "FAC4"}, entity
        assert min(spread.values()) >= sum(spread.values()) / 10, (entity, spread)
    usual = share(two, "order_hdr")
    assert set(usual) == {"FAC1", "FAC2"} and usual["FAC1"] > 1.5 * usual["FAC2"]
    locations = {r["id"]: r for r in four.records("location")}
    for record in four.records("inventory"):  # an inventory lies in its location's facility
        location = locations[record["location_id"]["id"]]
        assert record["facility_id"]["id"] == location["facility_id"]["id"]
