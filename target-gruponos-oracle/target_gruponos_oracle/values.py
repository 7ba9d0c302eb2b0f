"""From Singer lines to driver rows: exact parsing, validation and conversion in one pass.

This is the per-record hot path. A function is generated per stream that reads each field
once, checks it against the schema (type, nullability, maxLength, date formats) and converts
it to the value the driver binds, returning the row tuple: no per-record dict copies and no
generic schema walk. Schemas using keywords outside that set are validated by fastjsonschema.
"""

from __future__ import annotations

import datetime
import enum
import time
import typing as t
from dataclasses import dataclass
from decimal import Decimal

import fastjsonschema
import msgspec
import simplejson
from singer_sdk.exceptions import InvalidJSONSchema
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_gruponos_oracle.errors import FieldError, RecordInvalid
from target_gruponos_oracle.kinds import plain_property

if t.TYPE_CHECKING:
    from target_gruponos_oracle.dialects import Database
    from target_gruponos_oracle.kinds import Kind

# JSON floats become Decimal from their literal text: exact, and as fast as orjson.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def parse_line(line: str | bytes) -> t.Any:
    """Parse one Singer line, every number keeping its exact decimal value."""
    try:
        return _DECODER.decode(line)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None


class CompiledValidator(BaseJSONSchemaValidator):
    """Full JSON Schema validation (fastjsonschema, ~20x jsonschema), for schemas using keywords
    the row builder does not check itself (enum, pattern, minimum, nested properties...).

    Formats are left to the row builder, which parses date-time and date values.
    """

    def __init__(self, schema: dict) -> None:
        super().__init__(schema)
        try:
            self._validate = fastjsonschema.compile(schema, use_formats=False)
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            msg = f"Invalid JSON schema: {exc}"
            raise InvalidJSONSchema(msg) from exc

    def validate(self, record: dict) -> None:
        """Raise :class:`RecordInvalid` naming the first field that violates the schema."""
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            field = ".".join(str(p) for p in exc.path[1:]) or "(record)"
            raise RecordInvalid(field, exc.message.replace("data.", "", 1)) from exc


# What the row builder checks itself; anything else in a schema goes to CompiledValidator.
_OWN_PROPERTY_KEYWORDS = {"type", "maxLength", "format", "description", "title", "default"}
_OWN_SCHEMA_KEYWORDS = {"type", "properties", "required", "$schema", "description", "title"}
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, Decimal, float),
    "string": (str,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list, tuple),
}


def builder_validates(schema: dict) -> bool:
    """True when the generated row builder checks every keyword ``schema`` uses."""
    if not set(schema) <= _OWN_SCHEMA_KEYWORDS or schema.get("additionalProperties") is False:
        return False
    return all(
        isinstance(prop, dict) and set(prop) <= _OWN_PROPERTY_KEYWORDS and "type" in prop
        for prop in schema.get("properties", {}).values()
    )


def checkable_schema(schema: dict) -> dict:
    """``schema`` with nullable ``anyOf``/``oneOf`` properties in their plain form where that
    is the same constraint (the branch uses only keywords the row builder checks), so such
    schemas are checked by the row builder like ``"type": [..., "null"]`` ones."""
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        plain = plain_property(prop) if isinstance(prop, dict) else prop
        properties[name] = plain if set(plain) <= _OWN_PROPERTY_KEYWORDS else prop
    return {**schema, "properties": properties}


@dataclass(frozen=True)
class Check:
    """The schema check of one property: Python types allowed, whether null is."""

    types: frozenset[type]
    nullable: bool
    description: str  # "number or null", for messages

    @classmethod
    def of(cls, prop: dict) -> Check:
        names = [prop["type"]] if isinstance(prop["type"], str) else list(prop["type"])
        types = frozenset(tp for name in names for tp in _PYTHON_TYPES.get(name, ()))
        return cls(types, "null" in names, " or ".join(names))


class Source(enum.Enum):
    """Where a column's value comes from; :data:`_SOURCE_CODE` says how the builder reads it."""

    FIELD = "the record's property named by the column's field"
    TIME_EXTRACTED = "the RECORD message's time_extracted"
    ACCEPTED_AT = "the time the target accepted the record into its batch (UTC)"
    SEQUENCE = "milliseconds since the epoch when the record was accepted"
    TABLE_VERSION = "the RECORD message's version (full-table syncs)"
    SYNC_STARTED_AT = "the time this target started, epoch milliseconds (the SDK's)"
    LOADED_AT = "the time the target accepted the record, on the database's clock (UTC)"


# The one place sources become code: expressions over the builder's locals (``record``,
# ``get`` = record.get, ``message``, ``now`` = the accept time) and its environment.
_SOURCE_CODE = {
    Source.FIELD: "get({field!r})",
    Source.TIME_EXTRACTED: "message.get('time_extracted')",
    Source.ACCEPTED_AT: "now",
    Source.SEQUENCE: "millis()",
    Source.TABLE_VERSION: "message.get('version')",
    Source.SYNC_STARTED_AT: "started",
    Source.LOADED_AT: "loaded()",
}


@dataclass(frozen=True)
class Column:
    """How one column's value is obtained, checked and converted."""

    field: str  # the property named in messages (and read, for Source.FIELD)
    source: Source
    kind: Kind
    limit: int | None = None  # most characters allowed (strings)
    byte_limit: int | None = None  # most UTF-8 bytes allowed (Oracle VARCHAR2)
    check: Check | None = None  # None: not validated (metadata, or validation off)


# Converters: JSON value (never None) -> driver value -------------------------------------


def canonical_timestamp(value: str) -> str:
    """ISO-8601 with microseconds and offset (``2026-01-02T10:11:12.000000-03:00``).

    A fixed width lets SQLite compare instants and Oracle parse with one format mask;
    a value without an offset is taken as UTC (RFC 3339 requires one).
    """
    parsed = datetime.datetime.fromisoformat(value)
    if len(value) == 32 and value[10] == "T" and value[19] == ".":
        return value  # already canonical (the WMS's own form): keep the text as sent
    if len(value) == 27 and value[10] == "T" and value[19] == "." and value[26] == "Z":
        return value[:26] + "+00:00"  # singer-sdk's time_extracted: same instant, no re-format
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


def _json_text(value: t.Any) -> str:
    return simplejson.dumps(value, use_decimal=True, separators=(",", ":"))


def _int_or_fail(field: str, value: t.Any, check: Check) -> t.Any:
    """A value whose type the check does not list: integral numbers still pass as integers."""
    if int in check.types and isinstance(value, (float, Decimal)) and value == int(value):
        return int(value)
    raise FieldError(field, f"{value!r} must be {check.description}")


def _too_long(field: str, value: str, limit: int) -> t.NoReturn:
    raise FieldError(field, f"{len(value)} characters, more than the {limit} allowed")


def _too_many_bytes(field: str, value: str, limit: int) -> t.NoReturn:
    msg = (
        f"{len(value.encode())} bytes in UTF-8, more than the {limit} an Oracle VARCHAR2 holds "
        "(a maxLength above max_varchar_length makes the column a CLOB)"
    )
    raise FieldError(field, msg)


def _out_of_range(field: str, value: int) -> t.NoReturn:
    raise FieldError(field, f"{value} does not fit the column's integer range")


_CONVERTERS: dict[str, t.Callable] = {
    "timestamp": _timestamp,
    "date": _date,
    "json": _json_text,
}


def _converter(kind: Kind, database: Database) -> t.Callable | None:
    if kind.family == "number":
        return database.convert_number
    return _CONVERTERS.get(kind.family)


def compile_row_builder(
    columns: list[Column],
    database: Database,
    sync_started_at: int | None = None,
    clock_offset: float = 0.0,
) -> t.Callable[[dict, dict], tuple]:
    """Generate ``build(record, message) -> row`` for ``columns`` (``clock_offset``: seconds
    the database's clock is ahead of this one, for `Source.LOADED_AT`).

    Bad values raise :class:`FieldError` naming the field.
    """
    env: dict[str, t.Any] = {
        "FieldError": FieldError,
        "too_long": _too_long,
        "too_many_bytes": _too_many_bytes,
        "Decimal": Decimal,
        "parse_timestamp": datetime.datetime.fromisoformat,
        "parse_date": datetime.date.fromisoformat,
        "out_of_range": _out_of_range,
        "INT_BOUND": database.integer_bound,
        "retype": _int_or_fail,
        "as_text": _json_text,
        "clock": _Clock(),
        "loaded": _Clock(clock_offset),
        "started": sync_started_at,
        "millis": lambda: int(time.time() * 1000),
    }
    body = ["def build(record, message):", "    get = record.get", "    now = clock()"]
    for i, column in enumerate(columns):
        env[f"col{i}"] = column
        body += _column_code(i, column, _converter(column.kind, database), database, env)
    body.append("    return (" + "".join(f"v{i}, " for i in range(len(columns))) + ")")
    exec(compile("\n".join(body), "<row builder>", "exec"), env)
    fast = env["build"]
    converters = [(c.field, _converter(c.kind, database)) for c in columns]

    def build(record: dict, message: dict) -> tuple:
        try:
            return fast(record, message)
        except FieldError:
            raise
        except (ValueError, TypeError, AttributeError, ArithmeticError):
            _raise_field_error(record, converters)
            raise

    return build


# Conversion lines per column family: the common case is inlined (a call per field costs as
# much as the work), the rest goes to the family's converter ``convert{i}``. Numbers are the
# database's own (``Database.number_code``).
_INLINE = {
    "boolean": ["{v} = 1 if {v} else 0"],
    "timestamp": [  # already canonical text: only check that it parses
        "if {v}.__class__ is str and len({v}) == 32 and {v}[10] == 'T' and {v}[19] == '.'"
        " and {v}[26] in '+-': parse_timestamp({v})",
        "else: {v} = convert{i}({v})",
    ],
    "date": [
        "if {v}.__class__ is str and len({v}) == 10: parse_date({v})",
        "else: {v} = convert{i}({v})",
    ],
    "json": ["{v} = convert{i}({v})"],
    "integer": ["pass"],
    "other": ["pass"],
}


def _column_code(
    i: int, column: Column, convert: t.Callable | None, database: Database, env: dict
) -> list[str]:
    """Source lines computing ``v{i}``: fetch, check, convert."""
    v, field, check, family = f"v{i}", repr(column.field), column.check, column.kind.family
    source = _SOURCE_CODE[column.source].format(field=column.field)
    lines = [f"{v} = {source}", f"if {v} is not None:"]
    if check is not None:
        env[f"types{i}"] = check.types
        lines.append(
            f"    if {v}.__class__ not in types{i}: {v} = retype({field}, {v}, col{i}.check)"
        )
    if family in ("string", "clob"):
        if check is None or not check.types <= {str}:
            lines.append(f"    if {v}.__class__ is not str: {v} = as_text({v})")
        if column.limit is not None:
            lines.append(
                f"    if len({v}) > {column.limit}: too_long({field}, {v}, {column.limit})"
            )
        if (limit := column.byte_limit) is not None:
            # VARCHAR2(n CHAR) still holds at most `limit` bytes; encode only when it could
            # matter (a character is at most 4 bytes in UTF-8)
            lines.append(
                f"    if len({v}) * 4 > {limit} and len({v}.encode()) > {limit}: "
                f"too_many_bytes({field}, {v}, {limit})"
            )
    elif family == "integer" and check is not None:
        lines.append(f"    if not -INT_BOUND < {v} < INT_BOUND: out_of_range({field}, {v})")
    else:
        env[f"convert{i}"] = convert
        code = database.number_code if family == "number" else _INLINE[family]
        lines += ["    " + line.format(v=v, i=i) for line in code]
    if check is not None and not check.nullable:
        lines.append(f"elif {field} in record:")
        lines.append(f"    raise FieldError({field}, 'null, must be ' + col{i}.check.description)")
    return ["    " + line for line in lines]


class _Clock:
    """The current UTC time as text (``offset`` seconds ahead of this machine's clock),
    recomputed at most once per millisecond."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._ms = 0
        self._text = ""

    def __call__(self) -> str:
        ms = int((time.time() + self._offset) * 1000)
        if ms != self._ms:
            self._ms = ms
            now = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
            self._text = now.isoformat(timespec="microseconds")
        return self._text


def _raise_field_error(record: dict, converters: list[tuple[str, t.Callable | None]]) -> None:
    """Find which field failed (the slow path, only after a failure)."""
    for field, convert in converters:
        value = record.get(field)
        if convert is None or value is None:
            continue
        try:
            convert(value)
        except (ValueError, TypeError, AttributeError, ArithmeticError) as exc:
            reason = str(exc) or type(exc).__name__
            raise FieldError(field, f"{reason} (value {str(value)[:60]!r})") from exc
