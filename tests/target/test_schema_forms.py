"""Schemas as other Singer taps write them: nullable forms, keys, stream names."""

from __future__ import annotations

import pytest
from target_gruponos_oracle.kinds import kind_for_property

from .target_testkit import record, schema

PLAIN = {
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string", "maxLength": 30},
    "long-string": {"type": "string", "maxLength": 9000},
    "date-time": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "object": {"type": "object", "properties": {"a": {"type": "integer"}}},
    "array": {"type": "array", "items": {"type": "string"}},
}


def _nullable_forms(plain: dict) -> dict[str, dict]:
    listed = {**plain, "type": [plain["type"], "null"]}
    return {
        "type-list": listed,
        "type-list-null-first": {**plain, "type": ["null", plain["type"]]},
        "anyOf": {"anyOf": [plain, {"type": "null"}]},
        "anyOf-null-first": {"anyOf": [{"type": "null"}, plain]},
        "oneOf": {"oneOf": [plain, {"type": "null"}]},
        "anyOf-of-type-list": {"anyOf": [listed, {"type": "null"}], "description": "d"},
    }


@pytest.mark.parametrize("json_type", PLAIN)
def test_nullable_forms_get_the_column_of_the_plain_form(json_type):
    plain = PLAIN[json_type]
    expected = kind_for_property(plain, 4000)

    kinds = {form: kind_for_property(p, 4000) for form, p in _nullable_forms(plain).items()}

    assert kinds == dict.fromkeys(kinds, expected)


ANY_OF_PROPERTIES = {
    "id": {"type": "integer"},
    "status_id": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "mod_ts": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
}
LISTED_PROPERTIES = {
    "id": {"type": "integer"},
    "status_id": {"type": ["integer", "null"]},
    "mod_ts": {"type": ["string", "null"], "format": "date-time"},
}


def test_anyof_table_matches_the_type_list_table(loader, tmp_path):
    loader.run([schema("any_of", ANY_OF_PROPERTIES), record("any_of", id=1)])
    loader.run([schema("listed", LISTED_PROPERTIES), record("listed", id=1)])

    assert loader.columns("WMS_ANY_OF") == loader.columns("WMS_LISTED")
    assert loader.columns("WMS_ANY_OF")["MOD_TS"] == "TIMESTAMP WITH TIME ZONE"


def test_anyof_date_time_refuses_a_non_date_string(loader):
    result = loader.run_process(
        [schema(properties=ANY_OF_PROPERTIES), record(id=1, mod_ts="not a date")]
    )

    assert result.returncode == 1
    assert "stream 'order_details', line 2, field 'mod_ts'" in result.stderr
    assert "date-time" in result.stderr
    assert "Traceback" not in result.stderr


def test_anyof_date_time_guard_compares_instants_not_text(loader):
    # 08:00-03:00 is 11:00Z: newer than the stored 10:00Z although it sorts lower as text
    loader.run(
        [
            schema(properties=ANY_OF_PROPERTIES),
            record(id=1, status_id=1, mod_ts="2026-01-02T10:00:00Z"),
        ]
    )
    loader.run(
        [
            schema(properties=ANY_OF_PROPERTIES),
            record(id=1, status_id=2, mod_ts="2026-01-02T08:00:00-03:00"),
        ]
    )
    loader.run(
        [
            schema(properties=ANY_OF_PROPERTIES),
            record(id=1, status_id=0, mod_ts="2026-01-02T10:30:00Z"),
        ]
    )

    assert loader.rows()[0]["STATUS_ID"] == 2


def test_anyof_nulls_are_accepted(loader):
    loader.run([schema(properties=ANY_OF_PROPERTIES), record(id=1, status_id=None, mod_ts=None)])

    assert loader.rows()[0]["MOD_TS"] is None


def test_anyof_with_keywords_beyond_the_row_builder_is_still_validated(loader):
    props = {
        "id": {"type": "integer"},
        "status_id": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
    }
    loader.run([schema(properties=props, bookmarks=None), record(id=1, status_id=None)])
    result = loader.run_process(
        [schema(properties=props, bookmarks=None), record(id=2, status_id=-1)]
    )

    assert result.returncode == 1
    assert "line 2, field 'status_id'" in result.stderr


def test_key_property_missing_from_the_schema_names_stream_and_key(loader):
    result = loader.run_process([schema(keys=("order_nbr",)), record(id=1)])

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert "stream 'order_details', line 1" in errors[0]
    assert "key property 'order_nbr' is not among the schema's properties" in errors[0]
    assert "Traceback" not in result.stderr


def test_two_streams_becoming_one_table_stop_at_the_second_schema(loader):
    props = {"id": {"type": "integer"}, "x": {"type": ["string", "null"]}}
    other = {"id": {"type": "integer"}, "y": {"type": ["string", "null"]}}
    result = loader.run_process(
        [
            schema("a-b", props, bookmarks=None),
            record("a-b", id=1, x="from a-b"),
            schema("a.b", other, bookmarks=None),
            record("a.b", id=1, y="from a.b"),
        ]
    )

    assert result.returncode == 1
    assert "stream 'a.b', line 3" in result.stderr
    assert "streams 'a-b' and 'a.b' both become table 'WMS_A_B'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Y" not in loader.columns("WMS_A_B")


def test_a_stream_resending_its_schema_keeps_its_table(loader):
    props = {"id": {"type": "integer"}, "x": {"type": ["string", "null"]}}
    wider = {**props, "z": {"type": ["integer", "null"]}}
    loader.run(
        [
            schema("a-b", props, bookmarks=None),
            record("a-b", id=1, x="a"),
            schema("a-b", wider, bookmarks=None),
            record("a-b", id=2, z=3),
        ]
    )

    assert [r["ID"] for r in loader.rows("WMS_A_B")] == [1, 2]


def test_upsert_stream_without_keys_is_logged_once_as_appended(loader):
    props = {"id": {"type": "integer"}, "x": {"type": ["string", "null"]}}
    wider = {**props, "z": {"type": ["integer", "null"]}}
    result = loader.run_process(
        [
            schema("events", props, keys=(), bookmarks=None),
            record("events", id=1),
            schema("events", wider, keys=(), bookmarks=None),  # a new sink, same stream
            record("events", id=1),
        ]
    )

    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "has no key properties" in line]
    assert len(notes) == 1, result.stderr
    assert "stream 'events'" in notes[0]
    assert "appended" in notes[0]
    assert [r["ID"] for r in loader.rows("WMS_EVENTS")] == [1, 1]
