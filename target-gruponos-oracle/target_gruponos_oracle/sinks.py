"""Loading: batches of converted rows, appended or upserted in one transaction each."""

from __future__ import annotations

import datetime
import functools
import operator
import typing as t
from dataclasses import dataclass

import sqlalchemy as sa
from singer_sdk.sql import SQLSink

from target_gruponos_oracle import statements
from target_gruponos_oracle.audit import StreamAudit, now_text
from target_gruponos_oracle.connector import (
    IdentifierCollisionError,
    OracleConnector,
    build_table,
    conform_identifier,
    conform_names,
    target_schema,
)
from target_gruponos_oracle.errors import (
    BadRecordError,
    DatabaseError,
    FieldError,
    MissingKeyError,
    SchemaError,
    span,
)
from target_gruponos_oracle.kinds import Kind, kind_for_property
from target_gruponos_oracle.logs import Throttle
from target_gruponos_oracle.values import (
    Check,
    Column,
    CompiledValidator,
    builder_validates,
    canonical_timestamp,
    checkable_schema,
    compile_row_builder,
)

if t.TYPE_CHECKING:
    from target_gruponos_oracle.dialects import Database

# Singer metadata properties -> their kind and where the row builder takes the value from
# (column names analysts can type unquoted: SDC_EXTRACTED_AT...).
METADATA = {
    "_sdc_extracted_at": (Kind("timestamp"), "message.get('time_extracted')"),
    "_sdc_received_at": (Kind("timestamp"), "now"),
    "_sdc_batched_at": (Kind("timestamp"), "now"),
    "_sdc_deleted_at": (Kind("timestamp"), "get('_sdc_deleted_at')"),
    "_sdc_sequence": (Kind("integer"), "millis()"),
    "_sdc_table_version": (Kind("integer"), "message.get('version')"),
    "_sdc_sync_started_at": (Kind("integer"), "started"),
}
# Kept even without add_record_metadata: ACTIVATE_VERSION and tap-side deletes need them.
VERSION_METADATA = ("_sdc_table_version", "_sdc_deleted_at")
VERSION_COLUMN = conform_identifier("_sdc_table_version")
DELETED_COLUMN = conform_identifier("_sdc_deleted_at")


def table_name(config: t.Mapping[str, t.Any], stream_name: str) -> str:
    """``table_prefix`` + stream name, as an identifier (``WMS_ORDER_DETAILS``)."""
    return conform_identifier(config.get("table_prefix", "WMS_") + stream_name)


@dataclass
class TablePlan:
    """A stream's table and the one statement that writes its batches, for one dialect."""

    fields: list[str]  # source properties in column order (record fields, then metadata)
    metadata: list[str]  # the Singer metadata properties among them
    kinds: dict[str, Kind]  # column -> kind, in the same order
    keys: list[str]  # key columns
    guard: str | None  # bookmark column: an older incoming row never replaces a newer one
    dedupe: bool  # keyed loads keep one row per key per batch
    table: sa.Table
    statement: sa.Executable
    # With a guard: raises the version of rows whose full-sync copy the guard skipped.
    restamp: sa.Executable | None = None


def plan_table(
    name: str,
    schema_name: str | None,
    schema: dict,
    key_properties: t.Sequence[str],
    bookmark_properties: t.Sequence[str],
    config: t.Mapping[str, t.Any],
    database: Database,
    *,
    all_metadata: bool,
) -> TablePlan:
    """Columns, kinds, primary key and batch statement for a stream (no database needed)."""
    load_method = config.get("load_method", "upsert")
    record_fields = [p for p in schema["properties"] if p not in METADATA]
    metadata = [m for m in METADATA if all_metadata or m in VERSION_METADATA]
    names = conform_names([*record_fields, *metadata], f"table {name}")
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
    table = build_table(name, kinds, keys if keyed else [], schema_name, database)
    if not keyed:
        statement = statements.insert_statement(table, kinds, database)
        return TablePlan(list(names), metadata, kinds, keys, None, keyed, table, statement)
    bookmarks = [names[b] for b in bookmark_properties if b in names]
    guard = bookmarks[0] if len(bookmarks) == 1 else None
    version = VERSION_COLUMN if VERSION_COLUMN in kinds else None
    statement = database.upsert_statement(table, kinds, keys, guard, version)
    restamp = None
    if guard and version:
        restamp = statements.restamp_version_statement(table, keys, version)
    return TablePlan(list(names), metadata, kinds, keys, guard, keyed, table, statement, restamp)


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
        columns.append(Column(field, f"get({field!r})", kind, limit, bytes_, check))
    return columns


class OracleSink(SQLSink[OracleConnector]):
    """One stream's table: rows are converted as records arrive and written per batch."""

    connector_class = OracleConnector

    def __init__(self, target: t.Any, stream_name: str, *args: t.Any, **kwargs: t.Any) -> None:
        # The stream's bookmark properties (``mod_ts``) from its SCHEMA message, for the guard.
        self.bookmark_properties = list(getattr(target, "bookmarks", {}).get(stream_name, []))
        self._run_audit = target.audit
        super().__init__(target, stream_name, *args, **kwargs)

    # Setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create or evolve the table and prepare the batch statement and row builder."""
        dialect, database = self.connector.dialect, self.connector.database
        plan = plan_table(
            table_name(self.config, self.stream_name),
            self.schema_name,
            self.schema,
            self._key_properties,
            self.bookmark_properties,
            self.config,
            database,
            all_metadata=self.include_sdc_metadata_properties,
        )
        if self._run_audit.is_audit_table(plan.table):
            msg = (
                f"table {plan.table.name} of stream '{self.stream_name}' is the audit table "
                "(setting audit_table): rename the stream (stream map) or set another audit_table"
            )
            raise IdentifierCollisionError(msg)
        with self.connector._engine.begin() as conn:
            # overwrite adds a missing key index only once the old rows are gone
            overwrite = self.config.get("load_method") == "overwrite"
            actual = self.connector.evolve_table(
                conn, plan.table, plan.kinds, unique_key=not overwrite
            )
            bookmark = self._audited_bookmark(plan)
            self._audit = self._start_audit(conn, plan, bookmark)  # one commit with the table
        self._plan = plan
        self._build = compile_row_builder(
            row_columns(
                plan,
                self.checkable_schema,
                actual,
                checked=self._builder_checks,
                byte_limit=database.varchar_byte_limit(
                    int(self.config.get("max_varchar_length", 4000))
                ),
            ),
            database,
            self.sync_started_at,
        )
        self._sql, self._params = statements.compile_sql(plan.statement, dialect)
        # bind as the column is, except where its family still differs from the values'
        # (e.g. a CLOB that was a string column, an old wider VARCHAR2)
        self._input_sizes = database.input_sizes(
            {
                c: actual[c] if actual[c].family in ("clob", "string") else k
                for c, k in plan.kinds.items()
            }
        )
        slot = {column: i for i, column in enumerate(plan.kinds)}  # position in a row tuple
        self._key_slots = [slot[k] for k in plan.keys]
        self._version_slot = slot[VERSION_COLUMN] if plan.restamp is not None else None
        self._guard_slot = slot[plan.guard] if plan.guard else None
        self._bookmark_slot = slot[bookmark] if bookmark else None
        self._progress_due = Throttle()
        self._older_in_batch = 0  # records the in-batch guard dropped since the last batch
        self._rows: dict | list = {} if plan.dedupe else []
        self._first_line: int | None = None
        self._max_rows = self.max_size
        self._required = self.original_schema.get("required", []) if self.validate_schema else []

    def _audited_bookmark(self, plan: TablePlan) -> str | None:
        """The column of the stream's first bookmark property, whose largest committed value
        the audit keeps (None: the stream declares none)."""
        columns = dict(zip(plan.fields, plan.kinds, strict=True))
        return next((columns[b] for b in self.bookmark_properties if b in columns), None)

    def _start_audit(
        self, conn: sa.Connection, plan: TablePlan, bookmark: str | None
    ) -> StreamAudit:
        """The stream's audit (its ``running`` row, inserted in ``conn`` on its first SCHEMA)."""
        # an upsert without key properties appends: record what the table really gets
        method = self.config.get("load_method", "upsert") if plan.dedupe else "append-only"
        kind = plan.kinds[bookmark] if bookmark else None
        return self._run_audit.stream(conn, self.stream_name, plan.table.name, method, kind)

    @property
    def table_name(self) -> str:
        """``table_prefix`` + stream name, as an identifier (``WMS_ORDER_DETAILS``)."""
        return table_name(self.config, self.stream_name)

    @property
    def schema_name(self) -> str | None:
        """``default_target_schema`` (the Oracle user owning the tables), upper-cased."""
        return target_schema(self.config)

    @property
    def _builder_checks(self) -> bool:
        """Whether the row builder validates (validation on, no fastjsonschema needed)."""
        return self.validate_schema and self._validator is None

    @functools.cached_property
    def checkable_schema(self) -> dict:
        """The stream's schema with nullable ``anyOf`` properties in their plain form."""
        return checkable_schema(self.original_schema)

    def get_validator(self) -> CompiledValidator | None:
        """fastjsonschema, only when validating a schema the row builder cannot check alone."""
        if not self.validate_schema or builder_validates(self.checkable_schema):
            return None
        return CompiledValidator(self.original_schema)

    # Records ----------------------------------------------------------------------------

    def accept(self, record: dict, message: dict, line: int | str | None) -> bool:
        """Validate and convert one record into the pending batch; errors name line and field.

        Returns whether the batch is full.
        """
        try:
            if self._validator is not None:
                self._validator.validate(record)
            for key in self._key_properties:
                if record.get(key) is None:
                    reason = "key property missing or null"
                    raise MissingKeyError(self.stream_name, line, key, reason)
            for field in self._required:
                if field not in record:
                    raise FieldError(field, "required property missing")
            row = self._build(record, message)
        except FieldError as exc:
            raise BadRecordError(self.stream_name, line, exc.field, exc.reason) from exc
        if self._first_line is None:
            self._first_line = line
        self._last_line = line
        if self._plan.dedupe:
            self._keep_latest(row)
        else:
            self._rows.append(row)
        self.tally_record_read()
        return self._batch_records_read >= self._max_rows

    def _keep_latest(self, row: tuple) -> None:
        """In-batch de-duplication: one row per key, the newest by bookmark, else the last."""
        slots = self._key_slots
        key = row[slots[0]] if len(slots) == 1 else tuple(row[s] for s in slots)
        if self._guard_slot is not None and key in self._rows:
            old = self._rows[key][self._guard_slot]
            new = row[self._guard_slot]
            if old is not None and new is not None and _instant(new) < _instant(old):
                self.tally_duplicate_merged()
                self._older_in_batch += 1
                return
        if key in self._rows:
            self.tally_duplicate_merged()
        self._rows[key] = row

    def process_record(self, record: dict, context: dict) -> None:
        """SDK entry point (the target calls :meth:`accept`, which also knows the line)."""
        _ = context
        self.accept(record, {}, None)

    # Batches ----------------------------------------------------------------------------

    def process_batch(self, context: dict) -> None:
        """Write the pending rows in one transaction (overwrite: the first empties the table)."""
        _ = context
        rows = list(self._rows.values()) if self._plan.dedupe else self._rows
        if not rows:
            return
        first, last = self._first_line, self._last_line
        received, older = self.current_size, self._older_in_batch
        self._rows = {} if self._plan.dedupe else []
        self._first_line, self._older_in_batch = None, 0
        try:
            with self.connector._engine.begin() as conn:
                if self._overwrite_pending():
                    conn.execute(statements.delete_all_statement(self._plan.table))
                    self.connector.ensure_unique_key(conn, self._plan.table)
                    self.connector.emptied_tables.add(self._plan.table.name)
                parameters = statements.bind_rows(rows, self._params, conn.dialect)
                written = self._execute_batch(conn, parameters)
                self._restamp_versions(conn, rows)
                # the audit row's counts commit (or roll back) with the batch
                counts = self._audit.record(
                    conn,
                    records=received,
                    written=written,
                    skipped_older=len(rows) - written + older,
                    superseded=received - len(rows) - older,
                    bookmarks=self._bookmark_values(rows),
                )
        except (sa.exc.DBAPIError, OverflowError, self.connector.dialect.loaded_dbapi.Error) as exc:
            msg = (
                f"stream '{self.stream_name}', {span(first, last)}: the database refused "
                f"the batch (nothing of it was committed): {self.connector.explain(exc)}"
            )
            raise DatabaseError(msg) from None
        self._audit.committed(counts)
        self.logger.debug("Committed %d rows into %s", len(rows), self._plan.table.name)
        if self._progress_due.due():
            self.logger.info("%s", self._audit.progress())

    def _bookmark_values(self, rows: list[tuple]) -> list:
        slot = self._bookmark_slot
        return [] if slot is None else list(map(operator.itemgetter(slot), rows))

    def _execute_batch(self, conn: sa.Connection, parameters: list) -> int:
        """One executemany; on the driver's own cursor when bind types must be declared.

        Returns the rows inserted or updated: an upsert's row the never-regress guard skips
        counts 0 (SQLite sums its changes() over the executemany; Oracle reports each MERGE
        row's count with arraydmlrowcounts).
        """
        if not self._input_sizes:
            return conn.exec_driver_sql(self._sql, parameters).rowcount
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.setinputsizes(**self._input_sizes)
            cursor.executemany(self._sql, parameters, arraydmlrowcounts=True)
            return sum(cursor.getarraydmlrowcounts())
        finally:
            cursor.close()

    def _restamp_versions(self, conn: sa.Connection, rows: list[tuple]) -> None:
        """Full-sync rows (they carry a version): mark even those the guard skipped as seen."""
        slot = self._version_slot
        if slot is None:
            return
        keys = [(f"key_{k}", s) for k, s in zip(self._plan.keys, self._key_slots, strict=True)]
        params = [
            {"version": r[slot], **{name: r[s] for name, s in keys}}
            for r in rows
            if r[slot] is not None
        ]
        if params:
            conn.execute(self._plan.restamp, params)

    def _overwrite_pending(self) -> bool:
        return (
            self.config.get("load_method") == "overwrite"
            and self._plan.table.name not in self.connector.emptied_tables
        )

    def activate_version(self, new_version: int) -> None:
        """Retire rows of older versions: soft delete, or delete with ``hard_delete``.

        The target drains every pending record before calling this, so rows of the new version
        are committed first.
        """
        deleted = None if self.config.get("hard_delete") else DELETED_COLUMN
        statement = statements.retire_old_versions_statement(
            self._plan.table, VERSION_COLUMN, deleted, self.connector.database
        )
        with self.connector._engine.begin() as conn:
            result = conn.execute(statement, {"version": new_version, "deleted_at": now_text()})
            counts = self._audit.record(conn, retired=result.rowcount)
        self._audit.committed(counts)
        self.logger.info(
            "Version %s of %s active: %d older rows %s",
            new_version,
            self._plan.table.name,
            result.rowcount,
            "deleted" if deleted is None else "soft-deleted",
        )


def _instant(text: str) -> datetime.datetime | str:
    try:
        return datetime.datetime.fromisoformat(canonical_timestamp(text))
    except (TypeError, ValueError):
        return text
