"""lgfapi metadata -> JSON schema, and API records -> analytics-ready records.

The API returns a related field `X_id` as `{"id", "key", "url"}` (or null); records carry it
as two flat fields `X_id` (integer) and `X_key` (string). `*_set` fields are links to child
collections and are dropped. `status_id` is a bare integer in Oracle's API even when its
metadata calls it a relation, so it stays a plain integer.
"""

from __future__ import annotations

import typing as t

BARE_ID_FIELDS = frozenset({"status_id"})

_STRING_TYPES = frozenset({"varchar", "char", "text", "clob"})
_FORMATTED_STRING_TYPES = {"datetime": "date-time", "date": "date", "time": "time"}
_SIMPLE_TYPES = {
    "pk": "integer",
    "integer": "integer",
    "number": "integer",
    "decimal": "number",
    "boolean": "boolean",
}


class SchemaError(ValueError):
    """The `describe` metadata of an entity cannot be turned into a schema."""


def _field_schema(entity: str, name: str, meta: dict[str, t.Any]) -> dict[str, t.Any]:
    wms_type = str(meta.get("type", "")).lower()
    if wms_type in _SIMPLE_TYPES:
        return {"type": [_SIMPLE_TYPES[wms_type], "null"]}
    if wms_type in _FORMATTED_STRING_TYPES:
        return {"type": ["string", "null"], "format": _FORMATTED_STRING_TYPES[wms_type]}
    if wms_type in _STRING_TYPES:
        schema: dict[str, t.Any] = {"type": ["string", "null"]}
        max_length = meta.get("max_length")
        if isinstance(max_length, int) and max_length > 0:
            schema["maxLength"] = max_length
        return schema
    msg = f"describe of entity '{entity}': field '{name}' has unknown type '{wms_type}'"
    raise SchemaError(msg)


def schema_from_describe(entity: str, describe: dict[str, t.Any]) -> dict[str, t.Any]:
    """Build the stream's JSON schema from the entity's `describe` response."""
    fields = describe.get("fields")
    if not isinstance(fields, dict) or "id" not in fields:
        msg = f"describe of entity '{entity}' has no 'fields' mapping with an 'id' field"
        raise SchemaError(msg)
    properties: dict[str, t.Any] = {}
    for name, meta in fields.items():
        if name.endswith("_set"):
            continue
        wms_type = str(meta.get("type", "")).lower()
        if wms_type == "relation" and name in BARE_ID_FIELDS:
            properties[name] = {"type": ["integer", "null"]}
        elif wms_type == "relation":
            properties[name] = {"type": ["integer", "null"]}
            properties[relation_key_name(name)] = {"type": ["string", "null"]}
        else:
            properties[name] = _field_schema(entity, name, meta)
    properties["id"] = {"type": ["integer"]}
    return {"type": "object", "properties": properties}


def relation_key_name(field: str) -> str:
    """`order_id` -> `order_key`: the flat field that carries the related record's key."""
    return f"{field.removesuffix('_id')}_key"


def relation_fields(schema: dict[str, t.Any]) -> tuple[tuple[str, str], ...]:
    """(`X_id`, `X_key`) for each field the API returns as a related-record object."""
    properties = schema.get("properties", {})
    return tuple(
        (name, relation_key_name(name))
        for name in properties
        if name.endswith("_id") and relation_key_name(name) in properties
    )


def flatten_record(
    record: dict[str, t.Any],
    relations: t.Iterable[tuple[str, str]],
    properties: t.Container[str],
) -> dict[str, t.Any]:
    """The record with related-record objects split into `X_id` + `X_key`, limited to
    `properties` (which drops `*_set` links and fields unknown to the catalog)."""
    for name, key_name in relations:
        value = record.get(name)
        if isinstance(value, dict):
            record[name] = value.get("id")
            record[key_name] = value.get("key")
        else:  # null relation, or a bare integer id
            record[key_name] = None
    return {name: value for name, value in record.items() if name in properties}
