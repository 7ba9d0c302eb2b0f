"""The catalog decides what is read: no describe call with a catalog, deselected properties
left out, stream maps renaming and transforming streams."""

from __future__ import annotations

import json

from tap_gruponos_wms.tap import TapGruponosWms

from .mock_api import CONFIG, STATE, page, rec, window

STREAM, ENTITY = "order_details", "order_dtl"


def test_with_a_catalog_no_describe_call_is_made(sim, sim_config, run_tap) -> None:
    out = run_tap(sim_config, streams=[STREAM])  # discovery builds the catalog, then syncs
    described = [e for e in sim.request_log if e["path"].endswith("describe/")]
    assert len(out.ids(STREAM)) == 60
    assert len(described) == 3  # all during discovery, none during the sync with the catalog


def test_deselected_properties_are_left_out_of_records(api) -> None:
    from .conftest import CapturingWriter, catalog_for

    page(api, window(), [rec(1, "11:10:00.0")])
    catalog = catalog_for(TapGruponosWms(config=CONFIG, setup_mapper=False), ["order_details"])
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "order_details")
    for meta in entry["metadata"]:
        if meta["breadcrumb"] in (["properties", "po_nbr"], ["properties", "order_key"]):
            meta["metadata"]["selected"] = False
    writer = CapturingWriter()
    TapGruponosWms(config=CONFIG, state=STATE, catalog=catalog, message_writer=writer).sync_all()

    records = [json.loads(line)["record"] for line in writer.lines if '"type":"RECORD"' in line]
    assert records == [{"id": 1, "order_id": 10, "mod_ts": "2026-11-26T08:10:00.0-03:00"}]


def test_stream_maps_rename_streams_and_transform_records(sim, sim_config, run_tap) -> None:
    config = {
        **sim_config,
        "stream_maps": {
            "order_headers": {"__alias__": "wms_orders", "cust_name": None, "nbr": "order_nbr"},
        },
    }
    out = run_tap(config, streams=["order_headers"])
    records = out.records("wms_orders")
    assert len(records) == 20
    assert all("cust_name" not in r and r["nbr"] == r["order_nbr"] for r in records)
    assert [m["stream"] for m in out.of_type("SCHEMA")] == ["wms_orders"]
