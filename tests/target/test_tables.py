"""Tables analysts can use: identifiers, types that keep the data, schema evolution."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from target_gruponos_oracle.connector import conform_identifier, conform_names
from target_gruponos_oracle.errors import IdentifierCollisionError

from .target_testkit import DETAIL_PROPERTIES, detail, record, schema


def test_identifiers_are_unquoted_upper_case_oracle_names():
    assert conform_identifier("order_nbr") == "ORDER_NBR"
    assert conform_identifier("_sdc_deleted_at") == "SDC_DELETED_AT"
    assert conform_identifier("Cust Field #1") == "CUST_FIELD__1"
    assert conform_identifier("1st_value") == "C_1ST_VALUE"
    assert conform_identifier("level") == "LEVEL_"
    assert conform_identifier("date") == "DATE_"


def test_long_identifiers_are_shortened_deterministically():
    long_a, long_b = "a" * 140 + "_x", "a" * 140 + "_y"
    short_a = conform_identifier(long_a)
    assert len(short_a.encode()) == 128
    assert short_a == conform_identifier(long_a)
    assert short_a != conform_identifier(long_b)


def test_names_colliding_after_conforming_are_rejected():
    with pytest.raises(IdentifierCollisionError, match="'order-nbr' and 'ORDER_NBR'"):
        conform_names(["order-nbr", "ORDER_NBR"], "stream 'x'")


def test_table_and_columns_get_oracle_style_names(loader):
    loader.run([schema(), detail(1)], add_record_metadata=True)

    columns = loader.columns()
    assert {"ID", "ORDER_ID_KEY", "MOD_TS", "SDC_EXTRACTED_AT", "SDC_DELETED_AT"} <= set(columns)
    assert all(name == name.upper() and not name.startswith("_") for name in columns)


def test_values_keep_their_exact_value_and_offset(loader):
    exact = "0.1234567890123456789"
    line = (
        '{"type":"RECORD","stream":"order_details","record":{"id":1,"ord_qty":' + exact + ","
        '"mod_ts":"2026-01-05T10:00:00.5-03:00","cust_date_1":"2026-01-31",'
        '"is_back_order":true,"cust_field_1":"ação"}}'
    )
    loader.run([schema(), line, detail(2, ord_qty=12.5, is_back_order=False)])

    first, second = loader.rows()
    assert Decimal(first["ORD_QTY"]) == Decimal(exact)
    assert first["MOD_TS"] == "2026-01-05T10:00:00.500000-03:00"
    assert first["CUST_DATE_1"] == "2026-01-31"
    assert (first["IS_BACK_ORDER"], second["IS_BACK_ORDER"]) == (1, 0)
    assert first["CUST_FIELD_1"] == "ação"
    assert Decimal(second["ORD_QTY"]) == Decimal("12.5")


def test_objects_and_arrays_are_stored_as_json_text(loader):
    props = {"id": {"type": "integer"}, "tags": {"type": ["array", "null"]}}
    loader.run([schema(properties=props, bookmarks=None), record(id=1, tags=[1.25, {"a": None}])])

    assert loader.rows()[0]["TAGS"] == '[1.25,{"a":null}]'


def test_sqlite_types_mirror_the_oracle_ones(loader):
    loader.run([schema(), detail(1)])

    assert loader.columns() == {
        "ID": "BIGINT",
        "ORDER_ID_ID": "BIGINT",
        "ORDER_ID_KEY": "VARCHAR(30)",
        "ORD_QTY": "DECIMAL_TEXT",
        "STATUS_ID": "BIGINT",
        "CUST_FIELD_1": "VARCHAR(50)",
        "CUST_DATE_1": "DATE",
        "IS_BACK_ORDER": "NUMBER(1)",
        "MOD_TS": "TIMESTAMP WITH TIME ZONE",
        "SDC_DELETED_AT": "TIMESTAMP WITH TIME ZONE",
        "SDC_TABLE_VERSION": "BIGINT",
        "SDC_LOADED_AT": "TIMESTAMP WITH TIME ZONE",
    }


def test_schema_evolution_adds_and_widens_columns_keeping_data(loader):
    loader.run([schema(), detail(1, cust_field_1="x" * 50, status_id=3)])
    wider = {
        **DETAIL_PROPERTIES,
        "cust_field_1": {"type": ["string", "null"], "maxLength": 5000},  # past 4000: CLOB
        "order_id_key": {"type": ["string", "null"], "maxLength": 60},
        "status_id": {"type": ["number", "null"]},  # integers start carrying decimals
        "po_nbr": {"type": ["string", "null"], "maxLength": 20},
    }
    loader.run([schema(properties=wider), detail(2, cust_field_1="y" * 4500, status_id=2.5)])

    columns = loader.columns()
    assert columns["CUST_FIELD_1"] == "CLOB"
    assert columns["ORDER_ID_KEY"] == "VARCHAR(60)"
    assert columns["STATUS_ID"] == "DECIMAL_TEXT"
    assert columns["PO_NBR"] == "VARCHAR(20)"
    first, second = loader.rows()
    assert (first["CUST_FIELD_1"], first["STATUS_ID"]) == ("x" * 50, "3")
    assert (second["CUST_FIELD_1"], Decimal(second["STATUS_ID"])) == ("y" * 4500, Decimal("2.5"))


def test_second_run_over_its_own_table_changes_nothing(loader, caplog):
    loader.run([schema(), detail(1)], add_record_metadata=True)
    with caplog.at_level(logging.INFO):
        loader.run([schema(), detail(2)], add_record_metadata=True)

    assert not [r for r in caplog.records if "Schema change" in r.getMessage()]
    assert len(loader.rows()) == 2


def test_narrower_schema_keeps_the_wider_column(loader):
    loader.run([schema(), detail(1, order_id_key="K" * 30)])
    narrower = {**DETAIL_PROPERTIES, "order_id_key": {"type": ["string", "null"], "maxLength": 10}}
    loader.run([schema(properties=narrower), detail(2, order_id_key="short")])

    assert loader.columns()["ORDER_ID_KEY"] == "VARCHAR(30)"
    assert [r["ORDER_ID_KEY"] for r in loader.rows()] == ["K" * 30, "short"]


def test_stream_maps_and_flattening_shape_the_table(loader):
    props = {
        "id": {"type": "integer"},
        "secret": {"type": ["string", "null"]},
        "dims": {"type": ["object", "null"], "properties": {"width": {"type": ["number", "null"]}}},
    }
    loader.run(
        [schema(properties=props, bookmarks=None), record(id=1, secret="x", dims={"width": 2.5})],
        stream_maps={"order_details": {"secret": "__NULL__"}},
        flattening_enabled=True,
        flattening_max_depth=1,
    )

    (row,) = loader.rows()
    assert row.pop("SDC_LOADED_AT") is not None  # when it was written
    assert row == {"ID": 1, "DIMS__WIDTH": "2.5", "SDC_DELETED_AT": None, "SDC_TABLE_VERSION": None}


def test_without_validation_values_still_fit_their_columns(loader):
    loader.run([schema(), detail(1, status_id="7", cust_field_1=42)], validate_records=False)

    row = loader.rows()[0]
    assert (row["STATUS_ID"], row["CUST_FIELD_1"]) == (7, "42")


def test_schema_change_within_one_run_keeps_pending_rows(loader):
    wider = {**DETAIL_PROPERTIES, "po_nbr": {"type": ["string", "null"], "maxLength": 20}}
    loader.run(
        [schema(), detail(1), detail(2), schema(properties=wider), detail(3, po_nbr="PO-3")],
        batch_size_rows=100,
    )

    assert [(r["ID"], r["PO_NBR"]) for r in loader.rows()] == [(1, None), (2, None), (3, "PO-3")]
