"""What a column stores, independent of the database, and how JSON Schema properties map to it.

The dialects (``dialects/``) turn a :class:`Kind` into their own column type; schema evolution
compares kinds, never type names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """What a column stores, independent of the dialect (``length`` only for strings)."""

    family: str  # integer | number | boolean | string | clob | json | timestamp | date | other
    length: int | None = None


def plain_property(prop: dict) -> dict:
    """The plain form of a property written with ``anyOf``/``oneOf``: one non-null branch
    (plus ``{"type": "null"}`` branches) becomes that branch with ``"null"`` in its type.

    ``{"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}`` is then
    ``{"type": ["string", "null"], "format": "date-time"}``, so both get the same column.
    Anything else (several non-null branches, a branch without a type) is returned as it is.
    """
    for keyword in ("anyOf", "oneOf"):
        options = prop.get(keyword)
        if not isinstance(options, list):
            continue
        others = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(others) != 1 or not isinstance(others[0], dict):
            return prop
        branch = plain_property(others[0])
        types = branch.get("type")
        if types is None:
            return prop
        types = [types] if isinstance(types, str) else list(types)
        if len(others) < len(options) and "null" not in types:
            types.append("null")
        rest = {k: v for k, v in prop.items() if k != keyword}
        return {**rest, **branch, "type": types}
    return prop


def kind_for_property(prop: dict, max_varchar_length: int) -> Kind:
    """Choose the column kind for one JSON Schema property (nullable forms alike)."""
    prop = plain_property(prop)
    types = _json_types(prop)
    if "string" in types:
        fmt = prop.get("format")
        if fmt == "date-time":
            return Kind("timestamp")
        if fmt == "date":
            return Kind("date")
        length = int(prop.get("maxLength") or max_varchar_length)
        return Kind("string", length) if length <= max_varchar_length else Kind("clob")
    for family in ("number", "integer", "boolean"):
        if family in types:
            return Kind(family)
    return Kind("json")  # object, array or an untyped property: stored as JSON text


def _json_types(prop: dict) -> set[str]:
    for keyword in ("anyOf", "oneOf"):
        if isinstance(prop.get(keyword), list):
            return set().union(*(_json_types(option) for option in prop[keyword]))
    types = prop.get("type", [])
    return {types} if isinstance(types, str) else set(types)


_DECLARED_KINDS = [
    (re.compile(r"^NUMBER\(1(,\s*0)?\)$"), "boolean"),
    (re.compile(r"^(NUMBER\(\d+(,\s*0)?\)|BIGINT|INTEGER|INT|SMALLINT)$"), "integer"),
    (re.compile(r"^(NUMBER|DECIMAL_TEXT|NUMERIC.*|DECIMAL.*|FLOAT.*|REAL|DOUBLE.*)$"), "number"),
    (re.compile(r"^N?VARCHAR2?\((\d+)( CHAR| BYTE)?\)$"), "string"),
    (re.compile(r"^(N?CLOB|TEXT|JSON)$"), "clob"),
    (re.compile(r"^TIMESTAMP.*$"), "timestamp"),
    (re.compile(r"^DATE$"), "date"),
]


def kind_from_declared(declared: str) -> Kind:
    """Read back the kind of an existing column from its declared type (either dialect)."""
    text = declared.strip().upper()
    for pattern, family in _DECLARED_KINDS:
        match = pattern.match(text)
        if match:
            length = int(match.group(1)) if family == "string" else None
            return Kind(family, length)
    return Kind("other")


def column_change(existing: Kind, wanted: Kind) -> Kind | None:
    """The kind an existing column must become to hold ``wanted`` values, or None if it can.

    Only widening happens: strings grow (to CLOB past the limit), integers become NUMBER.
    Anything else keeps its column, so a second run never fails on types it created.
    """
    if existing.family == "string" and wanted.family == "string":
        return wanted if (wanted.length or 0) > (existing.length or 0) else None
    if existing.family == "string" and wanted.family in ("clob", "json"):
        return Kind("clob")
    if existing.family in ("integer", "boolean") and wanted.family == "number":
        return Kind("number")
    if existing.family == "boolean" and wanted.family == "integer":
        return Kind("integer")
    return None
