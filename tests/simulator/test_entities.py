"""The entities beyond orders: listed, described, linked consistently, filterable, mutable."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
import requests
from tap_gruponos_wms.streams import RECOMMENDED_ENTITIES as RECOMMENDED
from wms_simulator import WmsSimulator
from wms_simulator.schema import KEY_FIELD

from .conftest import Client

END = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _by_id(sim: WmsSimulator, entity: str) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in sim.records(entity)}


def test_every_recommended_entity_is_listed_described_and_served(client: Client) -> None:
    listed = client.get("").json()
    assert set(RECOMMENDED) <= set(listed)
    for entity in RECOMMENDED:
        assert listed[entity] == f"{client.api}/{entity}/"
        fields = client.get(f"{entity}/describe/").json()["fields"]
        records = client.results(entity, ordering="id", page_size=500)
        assert len(records) == client.sim.counts()[entity] > 0
        assert set(records[0]) == set(fields), entity
        assert fields["id"]["type"] == "pk"


def test_order_status_has_no_mod_ts_and_cannot_be_filtered_by_it(client: Client) -> None:
    fields = client.get("order_status/describe/").json()["fields"]
    assert "mod_ts" not in fields and "create_ts" not in fields
    assert client.get("order_status/", mod_ts__gte="2020-01-01T00:00:00Z").status_code == 400
    others = [e for e in RECOMMENDED if e != "order_status"]
    assert all("mod_ts" in client.get(f"{e}/describe/").json()["fields"] for e in others)


def test_new_entities_carry_tenant_custom_fields(client: Client) -> None:
    for entity in ("item", "location", "inventory", "container", "ib_shipment"):
        fields = client.get(f"{entity}/describe/").json()["fields"]
        assert fields["cust_field_1"]["max_length"] == 50, entity


def test_every_relation_names_its_target_entity_and_the_target_exists(sim: WmsSimulator) -> None:
    api = f"{sim.base_url}/wms/lgfapi/v10/entity"
    tables = {entity: _by_id(sim, entity) for entity in RECOMMENDED}
    checked: set[tuple[str, str]] = set()
    for entity, records in tables.items():
        for record in records.values():
            for name, value in record.items():
                if not (isinstance(value, dict) and "key" in value) or not value["url"]:
                    continue
                target = value["url"].removeprefix(f"{api}/").split("/")[0]
                assert value["url"] == f"{api}/{target}/{value['id']}"
                related = tables[target][value["id"]]  # KeyError = a dangling relation
                if target in KEY_FIELD:
                    assert value["key"] == related[KEY_FIELD[target]]
                checked.add((entity, name))
    expected = {
        ("inventory", "item_id"),
        ("inventory", "location_id"),
        ("inventory", "facility_id"),
        ("inventory", "company_id"),
        ("location", "facility_id"),
        ("item", "company_id"),
        ("ib_shipment_dtl", "ib_shipment_id"),
        ("purchase_order_dtl", "purchase_order_id"),
        ("order_hdr", "facility_id"),
        ("order_hdr", "company_id"),
        ("order_hdr", "order_type_id"),
        ("allocation", "from_inventory_id"),
    }
    assert expected <= checked


def test_inventory_lies_in_its_locations_facility_and_belongs_to_its_items_company(
    sim: WmsSimulator,
) -> None:
    locations, items = _by_id(sim, "location"), _by_id(sim, "item")
    for inv in sim.records("inventory"):
        location = locations[inv["location_id"]["id"]]
        assert inv["facility_id"] == location["facility_id"]
        assert inv["company_id"] == items[inv["item_id"]["id"]]["company_id"]
    assert {inv["facility_id"]["key"] for inv in sim.records("inventory")} == {"FAC1", "FAC2"}


def test_status_ids_are_order_status_ids_and_details_belong_to_their_headers(
    sim: WmsSimulator,
) -> None:
    statuses = set(_by_id(sim, "order_status"))
    for entity in ("order_hdr", "order_dtl", "allocation"):
        assert {r["status_id"] for r in sim.records(entity)} <= statuses
    for header, detail, link in (
        ("ib_shipment", "ib_shipment_dtl", "ib_shipment_id"),
        ("purchase_order_hdr", "purchase_order_dtl", "purchase_order_id"),
    ):
        headers = _by_id(sim, header)
        lines = sim.records(detail)
        assert all(line[link]["id"] in headers for line in lines)
        assert sum(h[f"{detail}_set"]["result_count"] for h in headers.values()) == len(lines)


@pytest.mark.parametrize(
    ("entity", "filter_name", "value"),
    [
        ("facility", "code", "FAC2"),
        ("company", "code", "OTHERCO"),
        ("item", "company_id__code", "OTHERCO"),
        ("location", "facility_id__code", "FAC2"),
        ("inventory", "location_id__facility_id__code", "FAC2"),
        ("container", "curr_location_id__facility_id__id", "2"),
        ("ib_shipment_dtl", "ib_shipment_id__facility_id__code", "FAC2"),
        ("purchase_order_dtl", "purchase_order_id__company_id__code", "OTHERCO"),
    ],
)
def test_filters_and_relation_chains_work_on_the_new_entities(
    client: Client, entity: str, filter_name: str, value: str
) -> None:
    served = client.results(entity, **{filter_name: value, "ordering": "id", "page_size": 50})
    *hops, last = filter_name.split("__")
    expected = []
    for record in client.sim.records(entity):
        current = record
        for hop in hops:  # follow each relation by its url, as a client would
            current = client.session.get(current[hop]["url"], timeout=10).json()
        if str(current[last]) == value:
            expected.append(record["id"])
    assert expected, "the filter should match something"
    assert [r["id"] for r in served] == expected


def test_same_seed_gives_the_same_new_entities(sim: WmsSimulator) -> None:
    for entity in ("inventory", "location", "ib_shipment_dtl", "order_status"):
        one = WmsSimulator(orders=20, seed=11, history_end=END).records(entity)
        again = WmsSimulator(orders=20, seed=11, history_end=END).records(entity)
        assert one == again
    other = WmsSimulator(orders=20, seed=12, history_end=END).records("inventory")
    assert other != WmsSimulator(orders=20, seed=11, history_end=END).records("inventory")


def test_counts_resize_entities_and_details_follow_their_headers() -> None:
    sim = WmsSimulator(orders=10, counts={"item": 7, "ib_shipment": 5}, history_end=END)
    counts = sim.counts()
    assert (counts["item"], counts["ib_shipment"], counts["ib_shipment_dtl"]) == (7, 5, 15)
    assert {r["item_id"]["id"] for r in sim.records("inventory")} <= set(range(1, 8))
    with pytest.raises(ValueError, match="ib_shipment_dtl"):
        WmsSimulator(counts={"ib_shipment_dtl": 3})


def test_new_entities_can_be_changed_inserted_and_deleted(fresh_sim: WmsSimulator) -> None:
    fresh_sim.modify("item", ids=[2], changes={"description": "Renamed"})
    assert _by_id(fresh_sim, "item")[2]["description"] == "Renamed"
    shipment = fresh_sim.insert("ib_shipment")
    line = fresh_sim.insert("ib_shipment_dtl", ib_shipment_id=shipment, item_id=3)
    assert _by_id(fresh_sim, "ib_shipment_dtl")[line]["item_id"]["id"] == 3
    assert _by_id(fresh_sim, "ib_shipment")[shipment]["ib_shipment_dtl_set"]["result_count"] == 1
    gone = fresh_sim.delete("purchase_order_hdr", [1])
    assert gone == {"purchase_order_dtl": [1, 2, 3], "purchase_order_hdr": [1]}
    status = fresh_sim.insert("order_status", code="ON_HOLD")
    assert status == 100 and _by_id(fresh_sim, "order_status")[status]["code"] == "ON_HOLD"


def test_admin_api_mutates_new_entities(fresh_sim: WmsSimulator) -> None:
    root = f"{fresh_sim.root_url}/_sim"
    reply = requests.post(
        f"{root}/modify", json={"entity": "location", "ids": [4], "changes": {"area": "DOCK"}}
    )
    assert reply.json() == {"entity": "location", "ids": [4]}
    assert _by_id(fresh_sim, "location")[4]["area"] == "DOCK"
    deleted = requests.post(f"{root}/delete", json={"entity": "inventory", "ids": [1, 2]}).json()
    assert deleted == {"inventory": [1, 2]}
    assert 1 not in _by_id(fresh_sim, "inventory")
