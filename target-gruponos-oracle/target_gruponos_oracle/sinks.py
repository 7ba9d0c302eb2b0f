"""Loading: batches of converted rows, appended or upserted in one transaction each."""

from __future__ import annotations

import datetime
import functools
import operator
import typing as t

import sqlalchemy as sa
from singer_sdk.sql import SQLSink

from target_gruponos_oracle import statements
from target_gruponos_oracle.audit import StreamAudit, now_text
from target_gruponos_oracle.connector import OracleConnector, target_schema
from target_gruponos_oracle.errors import (
    BadRecordError,
    DatabaseError,
    FieldError,
    IdentifierCollisionError,
    MissingKeyError,
    SettingError,
    span,
)
from target_gruponos_oracle.keys import check_key
from target_gruponos_oracle.logs import Throttle
from target_gruponos_oracle.plan import (
    DELETED_COLUMN,
    LOADED_COLUMN,
    VERSION_COLUMN,
    TablePlan,
    plan_table,
    row_columns,
    stream_table_name,
)
from target_gruponos_oracle.values import (
    CompiledValidator,
    builder_validates,
    canonical_timestamp,
    checkable_schema,
    compile_row_builder,
)


class OracleSink(SQLSink[OracleConnector]):
    """One stream's table: rows are converted as records arrive and written per batch."""

    connector_class = OracleConnector

    def __init__(
        self,
        target: t.Any,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
        **kwargs: t.Any,
    ) -> None:
        # The stream's bookmark properties (``mod_ts``) from its SCHEMA message, for the guard.
        self.bookmark_properties = list(getattr(target, "bookmarks", {}).get(stream_name, []))
        self._run_audit = target.audit
        # The keys as the SCHEMA names them (records are read by these names; the plan makes
        # them column names). SQLSink.key_properties are the SDK's own conformed names.
        self.stream_keys = list(key_properties or [])
        super().__init__(target, stream_name, schema, key_properties, **kwargs)

    # Setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create or evolve the table and prepare the batch statement and row builder."""
        dialect, database = self.connector.dialect, self.connector.database
        plan = plan_table(
            table=self.table_name,
            schema_name=self.schema_name,
            schema=self.schema,
            key_properties=self.stream_keys,
            bookmark_properties=self.bookmark_properties,
            config=self.config,
            database=database,
            all_metadata=self.include_sdc_metadata_properties,
        )
        self._scope = self._full_sync_scope(plan)  # a bad setting fails before any DDL
        if self._run_audit.is_audit_table(plan.table):
            msg = (
                f"table {plan.table.name} of stream '{self.stream_name}' is the audit table "
                "(setting audit_table): rename the stream (stream map) or set another audit_table"
            )
            raise IdentifierCollisionError(msg)
        with self.connector.begin() as conn:
            existing = self.connector.reflect_kinds(conn, plan.table)
            if existing is not None and plan.dedupe:  # before any DDL: the key must match
                check_key(conn, plan.table, existing, plan.keys)
            # overwrite adds a missing key index only once the old rows are gone
            overwrite = self.config.get("load_method") == "overwrite"
            actual = self.connector.evolve_table(
                conn, plan.table, plan.kinds, unique_key=not overwrite, existing=existing
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
            self.connector.clock_offset,
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
        return stream_table_name(self.config, self.stream_name)

    @property
    def schema_name(self) -> str | None:
        """``default_target_schema`` (the Oracle user owning the tables), upper-cased."""
        return target_schema(self.config)

    @property
    def _builder_checks(self) -> bool:
        """Whether the row builder validates (validation on, no fastjsonschema needed)."""
        return self.validate_schema and self._full_validator is None

    @functools.cached_property
    def checkable_schema(self) -> dict:
        """The stream's schema with nullable ``anyOf`` properties in their plain form."""
        return checkable_schema(self.original_schema)

    def get_validator(self) -> CompiledValidator | None:
        """fastjsonschema, only when validating a schema the row builder cannot check alone."""
        validator = None
        if self.validate_schema and not builder_validates(self.checkable_schema):
            validator = CompiledValidator(self.original_schema)
        self._full_validator = validator  # the SDK keeps it privately
        return validator

    # Records ----------------------------------------------------------------------------

    def accept(self, record: dict, message: dict, line: int | str | None) -> bool:
        """Validate and convert one record into the pending batch; errors name line and field.

        Returns whether the batch is full.
        """
        try:
            if self._full_validator is not None:
                self._full_validator.validate(record)
            for key in self.stream_keys:
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
        return self.current_size >= self._max_rows

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
            with self.connector.begin() as conn:
                if self._overwrite_pending():
                    conn.execute(statements.delete_all_statement(self._plan.table))
                    self.connector.ensure_unique_key(conn, self._plan.table)
                    self.connector.emptied_tables.add(self._plan.table.name)
                parameters = statements.bind_rows(rows, self._params, conn.dialect)
                written = self._execute_batch(conn, parameters)
                if written < len(rows):  # the guard skipped some: they still exist
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
        """Full-sync rows (they carry a version): mark even those the guard skipped as seen.

        Only needed when the upsert skipped rows: a written row already keeps the newest
        version (``dialects.base.update_values``).
        """
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

    def _full_sync_scope(self, plan: TablePlan) -> dict[str, str]:
        """The columns and values of setting ``full_sync_scope`` in this stream's table."""
        columns = dict(zip(plan.fields, plan.kinds, strict=True))
        scope = {}
        for field, value in (self.config.get("full_sync_scope") or {}).items():
            if field not in columns:
                msg = (
                    f"setting full_sync_scope: stream '{self.stream_name}' has no property "
                    f"'{field}', so its full sync cannot be limited to {field} = {value!r}"
                )
                raise SettingError(msg)
            scope[columns[field]] = value
        return scope

    def activate_version(self, new_version: int, started: float) -> None:
        """Retire rows of older versions: soft delete, or delete with ``hard_delete``.

        Only rows this full sync did not see (an older version, or none) *and* that no run
        wrote after it started (``started``, epoch seconds on this machine's clock; rows carry
        the time they were loaded on the database's, SDC_LOADED_AT): a row another run (an
        incremental one of the same table, say) wrote meanwhile may be one created after the
        full sync passed its place, and is kept. The target drains every pending record before
        calling this, so rows of the new version are committed first.
        """
        deleted = None if self.config.get("hard_delete") else DELETED_COLUMN
        scope = self._scope
        statement = statements.retire_old_versions_statement(
            self._plan.table,
            VERSION_COLUMN,
            deleted,
            self.connector.database,
            list(scope),
            loaded_column=LOADED_COLUMN,
        )
        started_at = started + self.connector.clock_offset  # on the database's clock
        parameters = {
            "version": new_version,
            "deleted_at": now_text(),
            "started": datetime.datetime.fromtimestamp(started_at, datetime.timezone.utc).isoformat(
                timespec="microseconds"
            ),
        }
        parameters |= {f"scope_{i}": value for i, value in enumerate(scope.values())}
        with self.connector.begin() as conn:
            result = conn.execute(statement, parameters)
            counts = self._audit.record(conn, retired=result.rowcount)
        self._audit.committed(counts)
        self.logger.info(
            "Version %s of %s active: %d older rows %s (rows written since the full sync "
            "started are kept)",
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
