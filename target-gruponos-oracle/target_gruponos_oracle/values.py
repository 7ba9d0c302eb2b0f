"""From parsed JSON values to driver values: fast line parsing, record validation, row building.

This is the per-record hot path, so it avoids per-record dict copies: one compiled validator
call, then one generated function that reads each field once and returns the row tuple.
"""

from __future__ import annotations

import datetime
import json
import re
import typing as t
from decimal import Decimal

import fastjsonschema
import orjson
import simplejson
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator

if t.TYPE_CHECKING:
    from target_gruponos_oracle.connector import Kind

# A JSON number orjson would turn into a float that might not hold its exact decimal value:
# 16+ digits (a double keeps 15 exactly) or an exponent. Lines with one are parsed with Decimal.
_INEXACT_NUMBER = re.compile(r"[0-9][0-9.]{15}|[0-9.][eE][-+]?[0-9]")


def parse_line(line: str | bytes) -> dict:
    """Parse one Singer line; every number keeps its exact decimal value.

    orjson is ~3x faster than the standard library; its floats are exact whenever the literal
    has at most 15 significant digits (then ``repr`` gives the same number back), and other
    lines fall back to ``json`` with ``Decimal``.
    """
    if _INEXACT_NUMBER.search(line if isinstance(line, str) else line.decode()):
        return json.loads(line, parse_float=Decimal)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # e.g. integers beyond 64 bits, which json handles
        return json.loads(line, parse_float=Decimal)


class FieldError(ValueError):
    """A value that cannot be stored in its column."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


class CompiledValidator(BaseJSONSchemaValidator):
    """JSON Schema validation with a compiled validator (fastjsonschema, ~20x jsonschema).

    Formats are not checked here: date-time and date values are parsed when the row is built,
    which rejects malformed ones with the field named.
    """

    def __init__(self, schema: dict) -> None:
        super().__init__(schema)
        try:
            self._validate = fastjsonschema.compile(schema, use_formats=False)
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            msg = f"Invalid JSON schema: {exc}"
            raise InvalidJSONSchema(msg) from exc

    def validate(self, record: dict) -> None:
        """Raise :class:`FieldError` naming the first field that violates the schema."""
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            field = ".".join(str(p) for p in exc.path[1:]) or "(record)"
            raise RecordInvalid(field, exc.message.replace("data.", "", 1)) from exc


class RecordInvalid(FieldError, InvalidRecord):
    """A record that does not match its schema."""

    def __init__(self, field: str, reason: str) -> None:
        FieldError.__init__(self, field, reason)


# Converters: JSON value (never None) -> driver value -------------------------------------


def canonical_timestamp(value: str) -> str:
    """ISO-8601 with microseconds and offset (``2026-01-02T10:11:12.000000-03:00``).

    A fixed width lets SQLite compare instants and Oracle parse with one format mask;
    a value without an offset is taken as UTC (RFC 3339 requires one).
    """
    parsed = datetime.datetime.fromisoformat(value)
    if len(value) == 32 and value[10] == "T" and value[19] == ".":
        return value  # already canonical (the WMS's own form): keep the text as sent
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.isoformat(timespec="microseconds")


def _timestamp(value: t.Any) -> str:
    if isinstance(value, datetime.datetime):
        value = value.isoformat()
    try:
        return canonical_timestamp(value)
    except (TypeError, ValueError):
        raise ValueError("not an ISO-8601 date-time") from None


def _date(value: t.Any) -> str:
    text = str(value)
    try:
        return datetime.date.fromisoformat(text[:10] if text[10:11] == "T" else text).isoformat()
    except ValueError:
        raise ValueError("not an ISO-8601 date") from None


def _decimal_text(value: t.Any) -> str:
    if isinstance(value, float):
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text or "n" in text else text
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(int(value))


def _decimal(value: t.Any) -> Decimal | int:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value if isinstance(value, (Decimal, int)) else Decimal(str(value))


def _json_text(value: t.Any) -> str:
    return simplejson.dumps(value, use_decimal=True, separators=(",", ":"))


def _text(limit: int | None) -> t.Callable[[t.Any], str]:
    def convert(value: t.Any) -> str:
        text = value if isinstance(value, str) else _json_text(value)
        if limit is not None and len(text) > limit:
            msg = f"{len(text)} characters do not fit the column's {limit}"
            raise ValueError(msg)
        return text

    return convert


def converter(kind: Kind, limit: int | None, dialect_name: str) -> t.Callable | None:
    """The conversion for a column of ``kind`` (``limit``: its character length), or None."""
    family = kind.family
    if family == "timestamp":
        return _timestamp
    if family == "date":
        return _date
    if family == "number":
        return _decimal if dialect_name == "oracle" else _decimal_text
    if family == "boolean":
        return int
    if family == "json":
        return _json_text
    if family in ("string", "clob"):
        return _text(limit)
    return None  # integers (validated) and unknown columns go as they are


def make_row_builder(
    fields: list[str], converters: list[t.Callable | None]
) -> t.Callable[[dict], tuple]:
    """A function ``record -> row tuple`` reading each field once (generated: no inner loop).

    On a bad value it raises :class:`FieldError` naming the field.
    """
    namespace: dict[str, t.Any] = {}
    items = []
    for i, (field, conv) in enumerate(zip(fields, converters, strict=False)):
        if conv is None:
            items.append(f"get({field!r})")
        else:
            namespace[f"c{i}"] = conv
            items.append(f"(None if (v := get({field!r})) is None else c{i}(v))")
    source = "def build(record):\n    get = record.get\n    return (" + ", ".join(items) + ",)\n"
    exec(compile(source, "<row builder>", "exec"), namespace)
    fast = namespace["build"]

    def build(record: dict) -> tuple:
        try:
            return fast(record)
        except (ValueError, TypeError, AttributeError, ArithmeticError):
            _raise_field_error(record, fields, converters)
            raise

    return build


def _raise_field_error(
    record: dict, fields: list[str], converters: list[t.Callable | None]
) -> None:
    """Find which field failed (the slow path, only after a failure)."""
    for field, conv in zip(fields, converters, strict=False):
        value = record.get(field)
        if conv is None or value is None:
            continue
        try:
            conv(value)
        except (ValueError, TypeError, AttributeError, ArithmeticError) as exc:
            reason = str(exc) or type(exc).__name__
            raise FieldError(field, f"{reason} (value {str(value)[:60]!r})") from exc
