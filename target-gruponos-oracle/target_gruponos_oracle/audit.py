"""Load audit: one row per run and stream in ``SDC_LOAD_AUDIT``, always equal to what is committed.

The row is inserted (``running``) when the stream's first SCHEMA arrives; its counts are written
by the same transaction as each batch (and each retirement of old versions), so a target killed
at any moment leaves a ``running`` row holding exactly the committed batches. At the end of the
input each stream's last batch also sets what the input proved about the stream (``succeeded``
or ``incomplete``, see :mod:`completeness`; streams without a last batch get it in one
statement); a failure sets every row of the run ``failed`` with its one-line message, and so
does :meth:`LoadAudit.mark_failed` for a run whose job failed elsewhere (the tap, say). The
counts also give the end-of-run summary line per stream, with or without the table.
"""

from __future__ import annotations

import datetime
import operator
import os
import time
import typing as t
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

import sqlalchemy as sa

from target_gruponos_oracle.completeness import SUCCEEDED, Outcome
from target_gruponos_oracle.connector import (
    OracleConnector,
    build_table,
    conform_identifier,
    target_schema,
)
from target_gruponos_oracle.kinds import Kind

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Iterable

    from target_gruponos_oracle.dialects import Database

DEFAULT_TABLE = "SDC_LOAD_AUDIT"
#: The job run id the target's rows belong to: Meltano's run id when the job sets it
#: (``MELTANO_RUN_ID=<uuid> meltano run ...``), or any id an orchestrator passes.
JOB_RUN_ID_ENV = "MELTANO_RUN_ID"
FAILED = "failed"
MESSAGE_CHARS = 1000  # at most 4000 bytes in UTF-8: fits VARCHAR2(4000) without EXTENDED
COLUMNS: dict[str, Kind] = {
    "RUN_ID": Kind("string", 36),
    "STREAM_NAME": Kind("string", 400),
    "TABLE_NAME": Kind("string", 128),
    "LOAD_METHOD": Kind("string", 16),
    "STARTED_AT": Kind("timestamp"),
    "ENDED_AT": Kind("timestamp"),
    "STATUS": Kind("string", 10),
    "RECORDS_RECEIVED": Kind("integer"),
    "ROWS_WRITTEN": Kind("integer"),
    "ROWS_SKIPPED_OLDER": Kind("integer"),
    "RECORDS_SUPERSEDED": Kind("integer"),
    "ROWS_RETIRED": Kind("integer"),
    "MAX_BOOKMARK": Kind("timestamp"),
    "MAX_BOOKMARK_TEXT": Kind("string", 4000),
    "MESSAGE": Kind("string", 4000),
    "JOB_RUN_ID": Kind("string", 200),  # last: tables of older versions gain it at the end
}
KEYS = ("RUN_ID", "STREAM_NAME")
# What each batch's transaction sets (a final batch also ends the row).
COUNTS = ("RECORDS_RECEIVED", "ROWS_WRITTEN", "ROWS_SKIPPED_OLDER", "RECORDS_SUPERSEDED")
COUNTS += ("ROWS_RETIRED", "MAX_BOOKMARK", "MAX_BOOKMARK_TEXT", "STATUS", "ENDED_AT", "MESSAGE")
STARTED = ("RUN_ID", "STREAM_NAME", "TABLE_NAME", "LOAD_METHOD", "STARTED_AT", "STATUS")
STARTED += ("JOB_RUN_ID",)
ENDS = ("STATUS", "ENDED_AT", "MESSAGE")


def audit_table(name: str, schema: str | None, database: Database) -> sa.Table:
    """The audit table (upper-case unquoted identifiers, primary key RUN_ID + STREAM_NAME)."""
    return build_table(name, COLUMNS, KEYS, schema, database)


def insert_statement(table: sa.Table, database: Database) -> sa.Insert:
    """A stream's ``running`` row; parameters named like the columns of ``STARTED``, counts 0."""
    values = {c: database.bind_value(c, COLUMNS[c]) for c in STARTED}
    zeros = {c: sa.literal_column("0") for c in COUNTS if COLUMNS[c].family == "integer"}
    return sa.insert(table).values({**values, **zeros})


def update_counts_statement(table: sa.Table, database: Database) -> sa.Update:
    """Sets a stream's counts and status (parameters ``v_<column>`` of ``COUNTS``, ``w_run``,
    ``w_stream``); a row marked failed keeps its status (see `_unless_failed`)."""
    values = _unless_failed(table, _bound(COUNTS, database))
    return sa.update(table).where(*_of_stream(table)).values(values)


def end_statement(table: sa.Table, database: Database) -> sa.Update:
    """Ends every row of a run (``w_run``; ``v_`` + STATUS, ENDED_AT, MESSAGE)."""
    return (
        sa.update(table)
        .where(table.c["RUN_ID"] == sa.bindparam("w_run"))
        .values(_bound(ENDS, database))
    )


def end_stream_statement(table: sa.Table, database: Database) -> sa.Update:
    """Ends one stream's row (``w_run``, ``w_stream``; ``v_`` + STATUS, ENDED_AT, MESSAGE),
    unless it was marked failed."""
    values = _unless_failed(table, _bound(ENDS, database))
    return sa.update(table).where(*_of_stream(table)).values(values)


def _unless_failed(
    table: sa.Table, values: dict[str, sa.ColumnElement]
) -> dict[str, sa.ColumnElement]:
    """``values`` where the status, its end and its message stay as they are on a row
    already failed: marked failed by the orchestrator of a killed run, a target that outlived
    it a moment must not make the row say it succeeded."""
    failed = table.c["STATUS"] == FAILED
    return {
        column: sa.case((failed, table.c[column]), else_=value) if column in ENDS else value
        for column, value in values.items()
    }


def _of_stream(table: sa.Table) -> tuple[sa.ColumnElement[bool], ...]:
    """The row of stream ``w_stream`` in run ``w_run``."""
    return (
        table.c["RUN_ID"] == sa.bindparam("w_run"),
        table.c["STREAM_NAME"] == sa.bindparam("w_stream"),
    )


def _of_run(table: sa.Table) -> sa.ColumnElement[bool]:
    """The rows of the run ``w_run``: the target's own RUN_ID or the job's JOB_RUN_ID."""
    run = sa.bindparam("w_run")
    return sa.or_(table.c["RUN_ID"] == run, table.c["JOB_RUN_ID"] == run)


def mark_failed_statement(table: sa.Table, database: Database) -> sa.Update:
    """Sets the rows of run ``w_run`` that are not failed yet to ``v_STATUS`` and
    ``v_MESSAGE``; a row without an end (its target was killed) ends at ``v_ENDED_AT``."""
    now = database.bind_value("v_ENDED_AT", COLUMNS["ENDED_AT"])
    ended = sa.func.coalesce(table.c["ENDED_AT"], now)
    return (
        sa.update(table)
        .where(_of_run(table), table.c["STATUS"] != FAILED)
        .values(
            STATUS=database.bind_value("v_STATUS", COLUMNS["STATUS"]),
            ENDED_AT=ended,
            MESSAGE=database.bind_value("v_MESSAGE", COLUMNS["MESSAGE"]),
        )
    )


def run_rows_statement(table: sa.Table) -> sa.Select:
    """How many rows the run ``w_run`` has."""
    return sa.select(sa.func.count()).select_from(table).where(_of_run(table))


def _bound(columns: t.Iterable[str], database: Database) -> dict[str, sa.ColumnElement]:
    return {c: database.bind_value(f"v_{c}", COLUMNS[c]) for c in columns}


def now_text() -> str:
    """The current instant in the text form date-times are bound in (UTC)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


# Bookmarks ---------------------------------------------------------------------------------


_OFFSET = operator.itemgetter(slice(26, None))  # "-03:00" of "2026-01-05T10:00:00.000000-03:00"
# How bookmark values of a column kind compare (values as the row builder produced them:
# date-times as fixed-width ISO text with offset, decimals as Decimal or exact text).
_ORDER: dict[str, t.Callable[[t.Any], t.Any]] = {
    "timestamp": datetime.datetime.fromisoformat,
    "number": lambda value: Decimal(str(value)),
}


def latest(kind: Kind, values: Iterable[t.Any]) -> t.Any:
    """The largest non-null value of a bookmark column, compared as its kind says."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if kind.family == "timestamp" and len(set(map(_OFFSET, present))) == 1:
        return max(present)  # one UTC offset: fixed-width text sorts as the instants do
    return max(present, key=_ORDER.get(kind.family, _identity))


def _identity(value: t.Any) -> t.Any:
    return value


# Counts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """What the committed batches of one stream did (``bookmark``: largest bookmark value)."""

    records: int = 0  # records received
    written: int = 0  # rows inserted or updated
    skipped_older: int = 0  # ignored by the never-regress guard (in the batch or the table)
    superseded: int = 0  # replaced in their batch by a newer or later record of the same key
    retired: int = 0  # soft- or hard-deleted by ACTIVATE_VERSION
    bookmark: t.Any = None


class StreamAudit:
    """One stream's row of a run: its counts, kept in step with the database."""

    def __init__(
        self, run: LoadAudit, stream: str, table: str, load_method: str, bookmark: Kind | None
    ) -> None:
        self.run, self.stream, self.table, self.load_method = run, stream, table, load_method
        self.bookmark_kind = bookmark
        self.counts = Counts()
        self.started = time.monotonic()
        self.outcome = Outcome(SUCCEEDED)  # what the input proved, set at its end
        self.ended = False  # its row holds the outcome (written by its last batch)

    def record(
        self,
        conn: sa.Connection,
        *,
        bookmarks: Iterable[t.Any] = (),
        **batch: int,
    ) -> Counts:
        """Write the counts including this batch, inside the batch's transaction ``conn``.

        Returns them; pass them to :meth:`committed` once the transaction has committed.
        """
        counts = self.counts
        added = {name: getattr(counts, name) + value for name, value in batch.items()}
        if self.bookmark_kind is not None:
            candidates = [counts.bookmark, latest(self.bookmark_kind, bookmarks)]
            added["bookmark"] = latest(self.bookmark_kind, candidates)
        new = replace(counts, **added)
        self.run.write_counts(conn, self, new)
        return new

    def committed(self, counts: Counts) -> None:
        """The transaction that wrote ``counts`` committed: they are the stream's counts now."""
        self.counts = counts
        self.ended = self.run.closing

    def _elapsed(self) -> tuple[float, float]:
        """Seconds since the stream began, and records per second over them."""
        seconds = time.monotonic() - self.started
        return seconds, self.counts.records / seconds if seconds > 0 else 0.0

    def progress(self) -> str:
        """While loading, for people: records committed so far and the rate."""
        c, (_, rate) = self.counts, self._elapsed()
        return (
            f"Loading stream '{self.stream}' into {self.table}: {c.records} records committed "
            f"({c.written} written), {rate:,.0f} rows/s"
        )

    def summary(self) -> str:
        """One line for people: records, written, skipped as older, retired, seconds, rows/s."""
        c, (seconds, rate) = self.counts, self._elapsed()
        return (
            f"Loaded stream '{self.stream}' into {self.table}: {c.records} records, "
            f"{c.written} written, "
            f"{c.skipped_older} skipped as older, {c.retired} retired, "
            f"{seconds:.1f} s, {rate:,.0f} rows/s"
        )

    def row_fields(self, failure: str | None) -> dict[str, t.Any]:
        """What the stream's audit row says at the end, as structured log fields named like
        its columns, lower case, prefixed ``audit_`` (an orchestrator reads them from the log
        instead of the table)."""
        c, outcome = self.counts, self.outcome
        fields = {
            "run_id": self.run.run_id,
            "job_run_id": self.run.job_run_id,
            "stream_name": self.stream,
            "table_name": self.table,
            "status": FAILED if failure is not None else outcome.status,
            "records_received": c.records,
            "rows_written": c.written,
            "rows_skipped_older": c.skipped_older,
            "rows_retired": c.retired,
            "max_bookmark": None if c.bookmark is None else str(c.bookmark),
            "message": (failure if failure is not None else outcome.message) or "",
        }
        return {f"audit_{name}": value for name, value in fields.items()}

    def end_parameters(self) -> dict[str, t.Any]:
        """The ``end_stream_statement`` parameters: the row ends with the stream's outcome."""
        outcome = self.outcome
        return {"w_stream": self.stream, **_ends(self.run.run_id, outcome.status, outcome.message)}

    def parameters(self, counts: Counts) -> dict[str, t.Any]:
        """The ``update_counts_statement`` parameters for ``counts``."""
        timestamp = self.bookmark_kind is not None and self.bookmark_kind.family == "timestamp"
        bookmark = counts.bookmark
        text = None if bookmark is None or timestamp else str(bookmark)
        closing = self.run.closing  # the final drain: its commit also ends the row
        return {
            "w_run": self.run.run_id,
            "w_stream": self.stream,
            "v_STATUS": self.outcome.status if closing else "running",
            "v_ENDED_AT": now_text() if closing else None,
            "v_MESSAGE": self.outcome.message if closing else None,
            "v_RECORDS_RECEIVED": counts.records,
            "v_ROWS_WRITTEN": counts.written,
            "v_ROWS_SKIPPED_OLDER": counts.skipped_older,
            "v_RECORDS_SUPERSEDED": counts.superseded,
            "v_ROWS_RETIRED": counts.retired,
            "v_MAX_BOOKMARK": bookmark if timestamp else None,
            "v_MAX_BOOKMARK_TEXT": text,
        }


class LoadAudit:
    """The audit of one target process: its RUN_ID, the audit table (or none), every stream."""

    def __init__(
        self, config: t.Mapping[str, t.Any], connector: OracleConnector, logger: logging.Logger
    ) -> None:
        self.run_id = str(uuid.uuid4())
        self.job_run_id = os.environ.get(JOB_RUN_ID_ENV) or None
        self.connector = connector
        self.logger = logger
        self.streams: dict[str, StreamAudit] = {}
        # Set at the end of the input: the batches committed from then on are each stream's
        # last, and their transaction writes the row's outcome (no commit of its own).
        self.closing = False
        name = config.get("audit_table", DEFAULT_TABLE)
        database = connector.database
        self.table = None
        if name:
            self.table = audit_table(conform_identifier(name), target_schema(config), database)
        self._created = False
        if self.table is not None:
            self._insert = insert_statement(self.table, database)
            self._update = update_counts_statement(self.table, database)
            self._end = end_statement(self.table, database)
            self._end_stream = end_stream_statement(self.table, database)

    def log_start(self) -> None:
        """The run's ids, for people and for marking the run failed later."""
        where = f"audit rows in {self.table.name}" if self.table is not None else "audit_table off"
        job = f", job run id {self.job_run_id}" if self.job_run_id else ""
        self.logger.info("Run id %s (%s%s)", self.run_id, where, job)

    def is_audit_table(self, table: sa.Table) -> bool:
        """Whether a stream's ``table`` would be the audit table itself."""
        audit = self.table
        return audit is not None and (table.schema, table.name) == (audit.schema, audit.name)

    def stream(
        self, conn: sa.Connection, stream: str, table: str, load_method: str, bookmark: Kind | None
    ) -> StreamAudit:
        """The stream's audit; its first sink in the run inserts the ``running`` row in ``conn``
        (the transaction that prepares the stream's table: one commit for both)."""
        if stream in self.streams:  # a new SCHEMA of the stream: same row, same counts
            return self.streams[stream]
        audit = StreamAudit(self, stream, table, load_method, bookmark)
        if self.table is not None:
            row = {"RUN_ID": self.run_id, "JOB_RUN_ID": self.job_run_id, "STREAM_NAME": stream}
            row |= {"TABLE_NAME": table, "LOAD_METHOD": load_method, "STARTED_AT": now_text()}
            row["STATUS"] = "running"
            self._ensure_table(conn)
            conn.execute(self._insert, row)
        self.streams[stream] = audit
        return audit

    def _ensure_table(self, conn: sa.Connection) -> None:
        """Create or evolve the audit table, once per process."""
        if not self._created:
            self.connector.evolve_table(conn, self.table, COLUMNS, unique_key=False)
            self._created = True

    def write_counts(self, conn: sa.Connection, stream: StreamAudit, counts: Counts) -> None:
        if self.table is not None:
            conn.execute(self._update, stream.parameters(counts))

    def close(self, outcomes: t.Mapping[str, Outcome]) -> None:
        """The input ended: each stream's last batch writes its outcome (by stream name)."""
        for name, outcome in outcomes.items():
            if name in self.streams:
                self.streams[name].outcome = outcome
        self.closing = True

    def end(self, failure: str | None) -> None:
        """Log each stream's summary and end the run's rows: each with its outcome (those
        whose last batch did not write it), or all ``failed``.

        On failure the original error matters more than the audit: a database that cannot be
        reached any more is logged as a warning and the failure still propagates.
        """
        for stream in self.streams.values():
            self.logger.info("%s", stream.summary(), extra=stream.row_fields(failure))
        if self.table is None or not self.streams:
            return
        try:
            with self.connector.begin() as conn:
                if failure is not None:
                    conn.execute(self._end, _ends(self.run_id, FAILED, failure))
                elif pending := [s for s in self.streams.values() if not s.ended]:
                    conn.execute(self._end_stream, [s.end_parameters() for s in pending])
        except sa.exc.SQLAlchemyError as exc:
            if failure is None:
                raise
            reason = getattr(exc, "orig", None) or exc
            self.logger.warning("Audit rows of run %s not marked failed: %s", self.run_id, reason)

    def mark_failed(self, run_id: str, message: str) -> tuple[int, int]:
        """Mark the rows of ``run_id`` (a RUN_ID, or a JOB_RUN_ID) ``failed`` with
        ``message``, keeping the message of rows that failed already.

        Returns (rows of the run, rows marked now).
        """
        if self.table is None:
            raise AuditError("setting audit_table is empty: there is no audit table to mark")
        table = self.table
        with self.connector.begin() as conn:
            if not sa.inspect(conn).has_table(table.name, schema=table.schema):
                raise AuditError(f"no audit table {table.name}: no run was audited there yet")
            self._ensure_table(conn)  # a table of an older version may lack JOB_RUN_ID
            rows = conn.execute(run_rows_statement(table), {"w_run": run_id}).scalar_one()
            if not rows:
                raise AuditError(f"run {run_id!r} has no rows in {table.name}")
            statement = mark_failed_statement(table, self.connector.database)
            marked = conn.execute(statement, _ends(run_id, FAILED, message)).rowcount
        return rows, marked


def read_job_run(config: t.Mapping[str, t.Any], job_run_id: str) -> list[dict[str, t.Any]]:
    """The audit rows of a job run (RUN_ID or JOB_RUN_ID), as an orchestrator reads them to
    show what the run loaded; [] when there is no audit table (yet)."""
    connector = OracleConnector(config=dict(config))
    name = config.get("audit_table", DEFAULT_TABLE)
    if not name:
        return []
    table = audit_table(conform_identifier(name), target_schema(config), connector.database)
    with connector.begin() as conn:
        if not sa.inspect(conn).has_table(table.name, schema=table.schema):
            return []
        query = sa.select(table).where(_of_run(table)).order_by(table.c["STREAM_NAME"])
        return [dict(row._mapping) for row in conn.execute(query, {"w_run": job_run_id})]


class AuditError(Exception):
    """The audit table cannot do what was asked (one line, names the table)."""


def _ends(run_id: str, status: str, message: str | None) -> dict[str, t.Any]:
    """Parameters of the statements that end rows of ``run_id``."""
    return {
        "w_run": run_id,
        "v_STATUS": status,
        "v_ENDED_AT": now_text(),
        "v_MESSAGE": message[:MESSAGE_CHARS] if message else None,
    }
