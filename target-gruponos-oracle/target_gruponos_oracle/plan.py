"""Table planning: from a stream's SCHEMA to its columns, key, batch statement and row recipe.

No database is needed: the plan is built for a :class:`~target_gruponos_oracle.dialects.Database`
(the Oracle SQL tests build it for Oracle without a server). What each column takes is data
(:class:`~target_gruponos_oracle.values.Source`): ``METADATA`` names the source of every Singer
metadata column, every other column takes the record field of the same name.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from target_gruponos_oracle import statements
from target_gruponos_oracle.connector import build_table, conform_identifier, conform_names
from target_gruponos_oracle.dialects.base import Upsert
from target_gruponos_oracle.errors import SchemaError
from target_gruponos_oracle.kinds import Kind, kind_for_property
from target_gruponos_oracle.values import Check, Column, Source

if t.TYPE_CHECKING:
    import sqlalchemy as sa

    from target_gruponos_oracle.dialects import Database

# Singer metadata properties -> their kind and where the row builder takes the value from
# (column names analysts can type unquoted: SDC_EXTRACTED_AT...). A record joins its batch
# when it arrives, so received_at and batched_at are the same instant.
METADATA: dict[str, tuple[Kind, Source]] = {
    "_sdc_extracted_at": (Kind("timestamp"), Source.TIME_EXTRACTED),
    "_sdc_received_at": (Kind("timestamp"), Source.ACCEPTED_AT),
    "_sdc_batched_at": (Kind("timestamp"), Source.ACCEPTED_AT),
    "_sdc_deleted_at": (Kind("timestamp"), Source.FIELD),  # set by the tap on deletes
    "_sdc_sequence": (Kind("integer"), Source.SEQUENCE),
    "_sdc_table_version": (Kind("integer"), Source.TABLE_VERSION),
    "_sdc_sync_started_at": (Kind("integer"), Source.SYNC_STARTED_AT),
    "_sdc_loaded_at": (Kind("timestamp"), Source.LOADED_AT),  # the target's own, no Singer's
}
# Kept even without add_record_metadata: ACTIVATE_VERSION and tap-side deletes need them.
VERSION_METADATA = ("_sdc_table_version", "_sdc_deleted_at", "_sdc_loaded_at")
VERSION_COLUMN = conform_identifier("_sdc_table_version")
DELETED_COLUMN = conform_identifier("_sdc_deleted_at")
LOADED_COLUMN = conform_identifier("_sdc_loaded_at")


def stream_table_name(config: t.Mapping[str, t.Any], stream_name: str) -> str:
    """``table_prefix`` + stream name, as an identifier (``WMS_ORDER_DETAILS``)."""
    return conform_identifier(config.get("table_prefix", "WMS_") + stream_name)


@dataclass(kw_only=True)
class TablePlan:
    """A stream's table and the one statement that writes its batches, for one database."""

    fields: list[str]  # source properties in column order (record fields, then metadata)
    metadata: list[str]  # the Singer metadata properties among them
    kinds: dict[str, Kind]  # column -> kind, in the same order
    keys: list[str]  # key columns
    guard: str | None = None  # bookmark column: an older incoming row never replaces a newer one
    dedupe: bool  # keyed loads keep one row per key per batch
    table: sa.Table
    statement: sa.Executable
    # With a guard: raises the version of rows whose full-sync copy the guard skipped.
    restamp: sa.Executable | None = None


def plan_table(
    *,
    table: str,
    schema_name: str | None,
    schema: dict,
    key_properties: t.Sequence[str],
    bookmark_properties: t.Sequence[str],
    config: t.Mapping[str, t.Any],
    database: Database,
    all_metadata: bool,
) -> TablePlan:
    """Columns, kinds, primary key and batch statement for a stream (no database needed)."""
    load_method = config.get("load_method", "upsert")
    record_fields = [p for p in schema["properties"] if p not in METADATA]
    metadata = [m for m in METADATA if all_metadata or m in VERSION_METADATA]
    names = conform_names([*record_fields, *metadata], f"table {table}")
    for key in key_properties:
        if key not in names:
            msg = f"key property '{key}' is not among the schema's properties"
            raise SchemaError(msg)
    max_varchar = int(config.get("max_varchar_length", 4000))
    kinds = {
        names[p]: kind_for_property(schema["properties"][p], max_varchar) for p in record_fields
    } | {names[m]: METADATA[m][0] for m in metadata}
    keys = [names[k] for k in key_properties]
    keyed = load_method != "append-only" and bool(keys)
    # append-only tables hold every version of a key, so only keyed loads get a primary key
    sa_table = build_table(table, kinds, keys if keyed else [], schema_name, database)
    columns = {"fields": list(names), "metadata": metadata, "kinds": kinds, "keys": keys}
    if not keyed:
        statement = statements.insert_statement(sa_table, kinds, database)
        return TablePlan(**columns, dedupe=False, table=sa_table, statement=statement)
    bookmarks = [names[b] for b in bookmark_properties if b in names]
    guard = bookmarks[0] if len(bookmarks) == 1 else None
    version = VERSION_COLUMN if VERSION_COLUMN in kinds else None
    restamp = None
    if guard and version:
        restamp = statements.restamp_version_statement(sa_table, keys, version)
    return TablePlan(
        **columns,
        guard=guard,
        dedupe=True,
        table=sa_table,
        statement=database.upsert_statement(Upsert(sa_table, kinds, tuple(keys), guard, version)),
        restamp=restamp,
    )


def row_columns(
    plan: TablePlan,
    schema: dict,
    actual: dict[str, Kind],
    *,
    checked: bool,
    byte_limit: int | None = None,
) -> list[Column]:
    """Row builder instructions: where each value comes from, its schema check (when the
    builder validates), the character limit of its column as it exists (``actual``) and,
    for string columns, ``byte_limit`` (Oracle's VARCHAR2 limit in bytes)."""
    properties = schema["properties"]
    columns = []
    for field, (column, kind) in zip(plan.fields, plan.kinds.items(), strict=True):
        if field in plan.metadata:
            columns.append(Column(field, METADATA[field][1], kind))
            continue
        prop = properties[field]
        is_string = actual[column].family == "string"
        limit = actual[column].length if is_string else None
        if checked and prop.get("maxLength") is not None:
            limit = min(limit or prop["maxLength"], prop["maxLength"])
        check = Check.of(prop) if checked else None
        bytes_ = byte_limit if is_string else None
        columns.append(Column(field, Source.FIELD, kind, limit, bytes_, check))
    return columns
