"""facility_code / company_code: each entity is narrowed through its relation path to order_hdr."""

from __future__ import annotations

import pytest

from .mock_api import CONFIG, page, rec, window


@pytest.mark.parametrize(
    ("stream", "entity", "facility_path", "company_path"),
    [
        ("order_headers", "order_hdr", "facility_id__code", "company_id__code"),
        ("order_details", "order_dtl", "order_id__facility_id__code", "order_id__company_id__code"),
        (
            "allocations",
            "allocation",
            "order_dtl_id__order_id__facility_id__code",
            "order_dtl_id__order_id__company_id__code",
        ),
    ],
)
def test_facility_and_company_narrow_each_entity_through_its_relation_path(
    api, run_tap, stream, entity, facility_path, company_path
) -> None:
    config = {**CONFIG, "facility_code": "FAC1", "company_code": "GRUPONOS"}
    params = window(
        lo="1970-01-01T00:00:00+00:00", **{facility_path: "FAC1", company_path: "GRUPONOS"}
    )
    page(api, params, [rec(1, "11:00:00.000000")], entity=entity)

    out = run_tap(config, streams=[stream])

    assert out.ids(stream) == [1]


def test_facility_and_company_filters_reach_each_entity_through_its_orders(
    sim, sim_config, run_tap
) -> None:
    orders = {r["id"]: r for r in sim.records("order_hdr")}
    details = {r["id"]: r for r in sim.records("order_dtl")}

    def wanted(order: dict) -> bool:
        return order["facility_id"]["key"] == "FAC1" and order["company_id"]["key"] == "GRUPONOS"

    config = {**sim_config, "facility_code": "FAC1", "company_code": "GRUPONOS"}
    out = run_tap(config)

    expected_orders = {i for i, o in orders.items() if wanted(o)}
    expected_details = {i for i, d in details.items() if d["order_id"]["id"] in expected_orders}
    expected_allocations = {
        r["id"] for r in sim.records("allocation") if r["order_dtl_id"]["id"] in expected_details
    }
    assert 0 < len(expected_orders) < len(orders)
    assert set(out.ids("order_headers")) == expected_orders
    assert set(out.ids("order_details")) == expected_details
    assert set(out.ids("allocations")) == expected_allocations
    assert {r["facility_key"] for r in out.records("order_headers")} == {"FAC1"}


def test_excluded_facilities_leave_out_their_records_in_every_entity(
    sim, sim_config, run_tap
) -> None:
    """exclude_facility_codes: what a remainder partition reads (the facilities not listed)."""
    orders = {r["id"]: r for r in sim.records("order_hdr")}
    kept_orders = {i for i, o in orders.items() if o["facility_id"]["key"] != "FAC1"}
    details = {r["id"] for r in sim.records("order_dtl") if r["order_id"]["id"] in kept_orders}

    out = run_tap({**sim_config, "exclude_facility_codes": ["FAC1"]})

    assert 0 < len(kept_orders) < len(orders)
    assert set(out.ids("order_headers")) == kept_orders
    assert set(out.ids("order_details")) == details
    queries = [e["query"] for e in sim.request_log if e["query"].get("page_size")]
    assert all(
        q.get("order_id__facility_id__code__in!") == "FAC1"
        for q in queries
        if "order_id__facility_id__code__in!" in q
    )
    assert any("facility_id__code__in!" in q for q in queries)


def test_facility_code_and_exclusions_together_are_one_line_naming_both(sim_config, tap_cli):
    run = tap_cli({**sim_config, "facility_code": "FAC1", "exclude_facility_codes": ["FAC2"]})
    run.assert_one_line_failure("facility_code", "exclude_facility_codes")
