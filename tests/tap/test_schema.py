"""`describe` -> JSON schema, and API records -> flat records."""

from __future__ import annotations

import pytest
from tap_gruponos_wms.schema import (
    SchemaError,
    flatten_record,
    relation_fields,
    schema_from_describe,
)

DESCRIBE = {
    "parameters": ["id", "mod_ts"],
    "fields": {
        "id": {
            "type": "pk",
            "allow_blank": False,
            "max_length": None,
            "required": "Y",
            "default": None,
        },
        "order_id": {"type": "relation", "max_length": None},
        "status_id": {"type": "relation", "max_length": None},
        "seq_nbr": {"type": "integer"},
        "priority": {"type": "number"},
        "ord_qty": {"type": "decimal", "max_length": None},
        "po_nbr": {"type": "varchar", "max_length": 50},
        "lock_code": {"type": "char", "max_length": 3},
        "notes": {"type": "text"},
        "long_text": {"type": "clob", "max_length": 0},
        "is_picking_flg": {"type": "boolean"},
        "mod_ts": {"type": "datetime"},
        "ship_date": {"type": "date"},
        "cutoff": {"type": "time"},
        "cust_field_1": {"type": "varchar", "max_length": 50},
        "order_instructions_set": {"type": "relation"},
    },
}


def test_describe_types_map_to_json_schema_types_with_max_length() -> None:
    props = schema_from_describe("order_dtl", DESCRIBE)["properties"]
    assert props["id"] == {"type": ["integer"]}
    assert props["seq_nbr"]["type"] == ["integer", "null"]
    assert props["priority"]["type"] == ["integer", "null"]
    assert props["ord_qty"]["type"] == ["number", "null"]
    assert props["po_nbr"] == {"type": ["string", "null"], "maxLength": 50}
    assert props["lock_code"]["maxLength"] == 3
    assert "maxLength" not in props["notes"]
    assert "maxLength" not in props["long_text"]
    assert props["is_picking_flg"]["type"] == ["boolean", "null"]
    assert props["mod_ts"] == {"type": ["string", "null"], "format": "date-time"}
    assert props["ship_date"]["format"] == "date"
    assert props["cutoff"]["format"] == "time"


def test_relation_becomes_id_and_key_but_status_id_stays_a_bare_integer() -> None:
    props = schema_from_describe("order_dtl", DESCRIBE)["properties"]
    assert props["order_id"]["type"] == ["integer", "null"]
    assert props["order_key"]["type"] == ["string", "null"]
    assert props["status_id"]["type"] == ["integer", "null"]
    assert "status_key" not in props


def test_set_links_are_dropped_and_custom_fields_kept() -> None:
    props = schema_from_describe("order_dtl", DESCRIBE)["properties"]
    assert "order_instructions_set" not in props
    assert props["cust_field_1"]["maxLength"] == 50


def test_unknown_describe_type_fails_naming_entity_and_field() -> None:
    bad = {"fields": {"id": {"type": "pk"}, "blob_x": {"type": "blob"}}}
    with pytest.raises(SchemaError, match=r"order_hdr.*blob_x.*blob"):
        schema_from_describe("order_hdr", bad)


def test_describe_without_fields_fails() -> None:
    with pytest.raises(SchemaError, match="allocation"):
        schema_from_describe("allocation", {"detail": "Not found"})


def test_record_relations_are_split_and_sets_and_unknown_fields_dropped() -> None:
    schema = schema_from_describe("order_dtl", DESCRIBE)
    record = {
        "id": 5,
        "order_id": {"id": 9, "key": "ORD-9", "url": "http://x/entity/order_hdr/9"},
        "item_id": None,
        "status_id": 10,
        "order_instructions_set": {"result_count": 0, "url": "http://x"},
    }
    schema["properties"]["item_id"] = {"type": ["integer", "null"]}
    schema["properties"]["item_key"] = {"type": ["string", "null"]}
    record["field_added_after_discovery"] = "x"
    flat = flatten_record(record, relation_fields(schema), schema["properties"])
    assert flat == {
        "id": 5,
        "order_id": 9,
        "order_key": "ORD-9",
        "item_id": None,
        "item_key": None,
        "status_id": 10,
    }


def test_records_are_flat_with_relation_keys_and_offsets_kept(sim, sim_config, run_tap) -> None:
    out = run_tap(sim_config, streams=["allocations"])
    record = out.records("allocations")[0]
    source = next(r for r in sim.records("allocation") if r["id"] == record["id"])
    assert record["order_dtl_id"] == source["order_dtl_id"]["id"]
    assert record["order_dtl_key"] == source["order_dtl_id"]["key"]
    assert record["status_id"] == source["status_id"]
    assert record["mod_ts"] == source["mod_ts"]
    assert record["mod_ts"].endswith("-03:00")
    assert not any(name.endswith("_set") or isinstance(v, dict) for name, v in record.items())
