"""The lgfapi HTTP surface behaves as the reference describes it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from wms_simulator import WmsSimulator

from .conftest import Client

ISO_MICRO_M03 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}-03:00$")


def test_entity_root_lists_every_served_entity_with_urls(client: Client) -> None:
    body = client.get("").json()
    assert {"order_hdr", "order_dtl", "allocation", "facility", "item"} <= set(body)
    assert len(body) == 15
    assert body["order_dtl"] == f"{client.api}/order_dtl/"


def test_trailing_slash_is_optional_and_v9_is_served(client: Client) -> None:
    with_slash = client.get("order_hdr/", ordering="id", page_size=3).json()
    without = client.get("order_hdr", ordering="id", page_size=3).json()
    v9 = client.session.get(
        f"{client.sim.base_url}/wms/lgfapi/v9/entity/order_hdr",
        params={"ordering": "id", "page_size": 3},
        timeout=10,
    ).json()
    assert [r["id"] for r in with_slash["results"]] == [1, 2, 3]
    assert with_slash["results"] == without["results"]
    assert [r["id"] for r in v9["results"]] == [1, 2, 3]
    assert "/lgfapi/v9/entity/" in v9["results"][0]["order_dtl_set"]["url"]


def test_describe_reports_types_lengths_and_the_tenant_custom_field(client: Client) -> None:
    body = client.get("order_dtl/describe/").json()
    fields = body["fields"]
    assert fields["cust_field_1"] == {
        "type": "varchar",
        "allow_blank": True,
        "max_length": 50,
        "required": "N",
        "default": None,
    }
    assert fields["id"]["type"] == "pk"
    assert fields["order_id"]["type"] == "relation"
    assert fields["mod_ts"]["type"] == "datetime"
    assert fields["ord_qty"]["type"] == "decimal"
    assert fields["status_id"]["type"] == "relation", "served as a bare integer all the same"
    assert "mod_ts" in body["parameters"]
    record = client.get("order_dtl/1").json()
    assert set(record) == set(fields)


def test_allocation_has_no_facility_or_company(client: Client) -> None:
    fields = client.get("allocation/describe").json()["fields"]
    assert "facility_id" not in fields and "company_id" not in fields
    assert fields["order_dtl_id"]["type"] == "relation"


def test_paged_list_has_counts_and_page_links(client: Client) -> None:
    body = client.get("order_dtl/", page_size=40, ordering="id").json()
    assert (body["result_count"], body["page_count"], body["page_nbr"]) == (150, 4, 1)
    assert body["previous_page"] is None
    assert "page=2" in body["next_page"] and "page_size=40" in body["next_page"]
    last = client.get("order_dtl/", page_size=40, ordering="id", page=4).json()
    assert len(last["results"]) == 30 and last["next_page"] is None
    assert "page=3" in last["previous_page"]
    assert [r["id"] for r in client.results("order_dtl", page_size=40, ordering="id")] == list(
        range(1, 151)
    )


def test_page_size_above_1250_is_rejected(client: Client) -> None:
    response = client.get("order_hdr/", page_size=1251)
    assert response.status_code == 400
    assert "page_size" in response.json()["details"]
    assert client.get("order_hdr/", page_size=1250).status_code == 200


def test_no_match_is_404_with_the_oracle_error_body(client: Client) -> None:
    response = client.get("order_hdr/", mod_ts__gt="2999-01-01T00:00:00-03:00")
    assert response.status_code == 404
    assert set(response.json()) == {"reference", "code", "message", "details"}
    assert client.get("order_hdr/", page_size=10, page=99).status_code == 404
    assert client.get("order_hdr/9999").status_code == 404
    assert client.get("no_such_entity/").status_code == 404


def test_single_record_equals_the_list_record(client: Client) -> None:
    listed = client.get("order_hdr/", id=7).json()["results"][0]
    assert client.get("order_hdr/7/").json() == listed


def test_related_fields_are_objects_status_is_a_bare_int_and_sets_are_links(
    client: Client,
) -> None:
    dtl = client.get("order_dtl/4").json()
    order_id = dtl["order_id"]["id"]
    assert dtl["order_id"] == {
        "id": order_id,
        "key": f"ORD{order_id:08d}",
        "url": f"{client.api}/order_hdr/{order_id}",
    }
    assert isinstance(dtl["status_id"], int)
    assert dtl["item_id"]["url"] == f"{client.api}/item/{dtl['item_id']['id']}"
    assert dtl["uom_id"]["url"] == ""  # uom is not an exposed entity
    hdr = client.get(f"order_hdr/{order_id}").json()
    assert hdr["facility_id"]["key"] in ("FAC1", "FAC2")
    assert hdr["order_dtl_set"] == {
        "result_count": 3,
        "url": f"{client.api}/order_dtl/?order_id={order_id}",
    }
    children = client.session.get(hdr["order_dtl_set"]["url"], timeout=10).json()
    assert children["result_count"] == 3
    assert client.get("allocation/1").json()["order_dtl_id"]["url"].endswith("/order_dtl/1")


def test_absent_relations_are_null(client: Client) -> None:
    records = client.sim.records("order_hdr")
    assert any(r["dest_facility_id"] is None for r in records)
    assert any(r["dest_facility_id"] is not None for r in records)


def test_datetimes_carry_the_facility_offset_and_microseconds(client: Client) -> None:
    for record in client.sim.records("allocation"):
        assert ISO_MICRO_M03.match(record["mod_ts"]), record["mod_ts"]
        assert ISO_MICRO_M03.match(record["create_ts"])
        assert record["create_ts"] <= record["mod_ts"]


def test_every_response_has_a_date_header_from_the_server_clock(client: Client) -> None:
    for response in (
        client.get("order_hdr/1"),
        client.get("order_hdr/", mod_ts__gt="2999-01-01"),
        client.session.get(client.sim.token_url, timeout=10),
    ):
        served = parsedate_to_datetime(response.headers["Date"])
        assert abs(served - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_fields_limits_the_returned_fields(client: Client) -> None:
    body = client.get("order_hdr/", fields="id,mod_ts,facility_id", page_size=2).json()
    assert all(set(r) == {"id", "mod_ts", "facility_id"} for r in body["results"])
    assert client.get("order_hdr/", fields="id,nope").status_code == 400


def test_unordered_lists_are_not_in_id_order_but_stable(client: Client) -> None:
    first = [r["id"] for r in client.results("order_hdr", page_size=20)]
    assert sorted(first) == list(range(1, 51))
    assert first != sorted(first)
    assert [r["id"] for r in client.results("order_hdr", page_size=20)] == first


def test_ordering_by_mod_ts_then_id_ascending_and_descending(client: Client) -> None:
    expected = sorted(client.sim.records("order_dtl"), key=lambda r: (r["mod_ts"], r["id"]))
    ascending = client.results("order_dtl", ordering="mod_ts,id", page_size=50)
    assert [r["id"] for r in ascending] == [r["id"] for r in expected]
    descending = client.results("order_dtl", ordering="-mod_ts,-id", page_size=50)
    assert [r["id"] for r in descending] == [r["id"] for r in reversed(expected)]
    mixed = client.results("order_dtl", ordering="mod_ts,-id", page_size=50)
    assert [r["id"] for r in mixed] == [
        r["id"] for r in sorted(expected, key=lambda r: (r["mod_ts"], -r["id"]))
    ]


def test_ordering_through_a_relation_chain(client: Client) -> None:
    rows = client.results(
        "allocation", ordering="order_dtl_id__order_id__facility_id__code,id", page_size=100
    )
    facility = _facility_by_allocation(client.sim)
    codes = [facility[r["id"]] for r in rows]
    assert codes == sorted(codes) and len(set(codes)) == 2
    assert client.get("allocation/", ordering="order_dtl_id__nope").status_code == 400


def test_relation_chain_filters_select_through_order_and_detail(client: Client) -> None:
    facility = _facility_by_allocation(client.sim)
    fac2 = client.results(
        "allocation", order_dtl_id__order_id__facility_id__code="FAC2", ordering="id", page_size=100
    )
    assert [r["id"] for r in fac2] == sorted(a for a, f in facility.items() if f == "FAC2")
    by_id = client.results(
        "allocation", order_dtl_id__order_id__facility_id=2, ordering="id", page_size=100
    )
    assert by_id == fac2
    orders = {r["id"]: r for r in client.sim.records("order_hdr")}
    details = client.results("order_dtl", order_id__company_id__code="OTHERCO", page_size=100)
    assert details and all(
        orders[d["order_id"]["id"]]["company_id"]["key"] == "OTHERCO" for d in details
    )
    hdrs = client.results("order_hdr", facility_id__code="FAC1", page_size=100)
    assert {h["id"] for h in hdrs} == {
        i for i, o in orders.items() if o["facility_id"]["key"] == "FAC1"
    }


@pytest.mark.parametrize("position", [5, 140], ids=["wide-window", "narrow-window"])
def test_relation_filter_inside_a_mod_ts_window(client: Client, position: int) -> None:
    orders = {r["id"]: r["facility_id"]["key"] for r in client.sim.records("order_hdr")}
    records = sorted(client.sim.records("order_dtl"), key=lambda r: (r["mod_ts"], r["id"]))
    lo = datetime.fromisoformat(records[position]["mod_ts"]).replace(microsecond=0)
    rows = client.results(
        "order_dtl",
        mod_ts__gte=lo.isoformat(),
        ordering="mod_ts,id",
        order_id__facility_id__code="FAC1",
        page_size=100,
    )
    assert [r["id"] for r in rows] == [
        r["id"]
        for r in records
        if datetime.fromisoformat(r["mod_ts"]) >= lo and orders[r["order_id"]["id"]] == "FAC1"
    ]


def test_lookups_negation_in_range_and_isnull(client: Client) -> None:
    everything = client.sim.records("order_hdr")
    status = everything[0]["status_id"]
    not_status = client.results("order_hdr", **{"status_id!": status}, page_size=100)
    assert {r["id"] for r in not_status} == {
        r["id"] for r in everything if r["status_id"] != status
    }
    in_ids = client.results("order_hdr", id__in="3,5,8", ordering="id")
    assert [r["id"] for r in in_ids] == [3, 5, 8]
    ranged = client.results("order_hdr", id__range="10,12", ordering="-id")
    assert [r["id"] for r in ranged] == [12, 11, 10]
    nulls = client.results("order_hdr", dest_facility_id__isnull="true", page_size=100)
    assert {r["id"] for r in nulls} == {
        r["id"] for r in everything if r["dest_facility_id"] is None
    }
    starts = client.results("order_hdr", order_nbr__startswith="ORD0000001", ordering="id")
    assert [r["id"] for r in starts] == list(range(10, 20))
    assert client.get("order_hdr/", nope__gte=3).status_code == 400
    assert client.get("order_hdr/", id__wrong=3).status_code == 400


def test_mod_ts_window_filters_match_the_served_values(client: Client) -> None:
    records = client.sim.records("order_dtl")
    stamps = sorted(datetime.fromisoformat(r["mod_ts"]) for r in records)
    lo = stamps[40].replace(microsecond=0)
    hi = stamps[100].replace(microsecond=0)
    window = client.results(
        "order_dtl",
        mod_ts__gte=lo.isoformat(),
        mod_ts__lt=hi.isoformat(),
        ordering="mod_ts,id",
        page_size=25,
    )
    expected = [r for r in records if lo <= datetime.fromisoformat(r["mod_ts"]) < hi]
    assert {r["id"] for r in window} == {r["id"] for r in expected}
    assert window == sorted(window, key=lambda r: (r["mod_ts"], r["id"]))
    negated = client.results("order_dtl", **{"mod_ts__gte!": lo.isoformat()}, page_size=100)
    assert {r["id"] for r in negated} == {
        r["id"] for r in records if datetime.fromisoformat(r["mod_ts"]) < lo
    }


def test_keyset_reads_by_id_and_id_bounds_inside_a_mod_ts_window(client: Client) -> None:
    last, seen = 0, []
    while (page := client.get("order_dtl/", ordering="id", id__gt=last, page_size=40)).ok:
        seen.extend(r["id"] for r in page.json()["results"])
        last = seen[-1]
    assert page.status_code == 404 and seen == list(range(1, 151))
    records = sorted(client.sim.records("order_dtl"), key=lambda r: (r["mod_ts"], r["id"]))
    lo = datetime.fromisoformat(records[30]["mod_ts"]).replace(microsecond=0)
    both = client.results(
        "order_dtl", mod_ts__gte=lo.isoformat(), id__lte=75, ordering="mod_ts,id", page_size=10
    )
    assert [r["id"] for r in both] == [
        r["id"] for r in records if datetime.fromisoformat(r["mod_ts"]) >= lo and r["id"] <= 75
    ]
    assert client.get("order_dtl/", id__range="5,7").json()["result_count"] == 3


def test_filter_value_without_offset_is_read_in_facility_time(client: Client) -> None:
    records = client.sim.records("order_hdr")
    stamp = datetime.fromisoformat(min(r["mod_ts"] for r in records)).replace(microsecond=0)
    naive = stamp.replace(tzinfo=None).isoformat()  # the -03:00 wall-clock time
    utc = stamp.astimezone(timezone.utc).isoformat()
    assert (
        client.get("order_hdr/", mod_ts__gte=naive).json()["result_count"]
        == client.get("order_hdr/", mod_ts__gte=utc).json()["result_count"]
    )


@pytest.mark.parametrize("value", ["2024-01-01T00:00:00.5-03:00", "2024-01-01T00:00:00.000000Z"])
def test_sub_second_filter_values_are_rejected(client: Client, value: str) -> None:
    response = client.get("order_hdr/", mod_ts__gte=value)
    assert response.status_code == 400
    assert "sub-second" in response.json()["details"]["mod_ts__gte"]


def test_an_unencoded_plus_offset_is_rejected_with_a_hint(client: Client) -> None:
    response = client.session.get(
        f"{client.api}/order_hdr/?mod_ts__gte=2024-01-01T00:00:00+00:00", timeout=10
    )
    assert response.status_code == 400
    assert "%2B" in response.json()["details"]["mod_ts__gte"]


def test_sequenced_mode_walks_every_record_with_an_opaque_cursor_and_no_counts(
    client: Client,
) -> None:
    body = client.get(
        "order_dtl/", page_mode="sequenced", page_size=40, ordering="mod_ts,id"
    ).json()
    assert set(body) == {"next_page", "previous_page", "results"}
    assert "cursor=" in body["next_page"] and "page=" not in body["next_page"]
    rows = client.results("order_dtl", page_mode="sequenced", page_size=40, ordering="mod_ts,id")
    expected = sorted(client.sim.records("order_dtl"), key=lambda r: (r["mod_ts"], r["id"]))
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert client.get("order_dtl/", page_mode="sequenced", cursor="!!").status_code == 400


def test_methods_other_than_get_are_refused(client: Client) -> None:
    assert client.session.post(f"{client.api}/order_hdr/", timeout=10).status_code == 405


def test_year_and_hour_transforms(client: Client) -> None:
    records = client.sim.records("order_hdr")
    year = datetime.fromisoformat(records[0]["mod_ts"]).year
    assert client.get("order_hdr/", mod_ts__year=year).json()["result_count"] == 50
    hour = datetime.fromisoformat(records[0]["mod_ts"]).hour
    same_hour = client.results("order_hdr", mod_ts__hour=hour, page_size=100)
    assert {r["id"] for r in same_hour} == {
        r["id"] for r in records if datetime.fromisoformat(r["mod_ts"]).hour == hour
    }


def test_date_transforms_work_on_date_fields(client: Client) -> None:
    records = client.sim.records("order_hdr")
    month = records[0]["req_ship_date"][:7]
    rows = client.results(
        "order_hdr",
        req_ship_date__month=int(month[5:]),
        req_ship_date__year=int(month[:4]),
        page_size=100,
    )
    assert {r["id"] for r in rows} == {
        r["id"] for r in records if r["req_ship_date"].startswith(month)
    }
    assert client.get("order_hdr/", order_nbr__year=2026).status_code == 400


def _facility_by_allocation(sim: WmsSimulator) -> dict[int, str]:
    orders = {r["id"]: r["facility_id"]["key"] for r in sim.records("order_hdr")}
    details = {r["id"]: orders[r["order_id"]["id"]] for r in sim.records("order_dtl")}
    return {r["id"]: details[r["order_dtl_id"]["id"]] for r in sim.records("allocation")}
