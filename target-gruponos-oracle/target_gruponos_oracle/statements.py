"""DML the sink issues (insert, upsert, overwrite, version reconciliation), built for a dialect.

Each function returns a SQLAlchemy construct; :func:`compile_sql` turns it into the text the
driver runs. Values arrive as plain driver types: date-times as ISO-8601 text with offset,
dates as ``YYYY-MM-DD`` text, decimals as ``Decimal`` (Oracle) or exact text (SQLite).
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from target_gruponos_oracle.connector import Kind

if t.TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.sql.compiler import SQLCompiler

# The text form every date-time is bound in (see values.py): fixed width, microseconds, offset.
ORACLE_TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.FF6TZH:TZM'


def bind_value(column: str, kind: Kind, dialect_name: str) -> sa.ColumnElement:
    """The bound parameter for ``column``; Oracle converts date text explicitly (no NLS guess)."""
    param = sa.bindparam(column)
    if dialect_name == "oracle" and kind.family == "timestamp":
        return sa.func.TO_TIMESTAMP_TZ(param, sa.literal_column(f"'{ORACLE_TIMESTAMP_FORMAT}'"))
    if dialect_name == "oracle" and kind.family == "date":
        return sa.func.TO_DATE(param, sa.literal_column("'YYYY-MM-DD'"))
    return param


def ordering_value(column: sa.ColumnElement, kind: Kind, dialect_name: str) -> sa.ColumnElement:
    """An expression comparing like the column's values do, for the never-regress guard.

    SQLite keeps date-times as text with offsets, which do not sort as instants: compare
    microseconds since the epoch instead (exact, unlike ``julianday``).
    """
    if dialect_name == "sqlite" and kind.family == "timestamp":
        seconds = sa.cast(sa.func.strftime(sa.literal_column("'%s'"), column), sa.BigInteger)
        micros = sa.cast(sa.func.substr(column, _sql(21), _sql(6)), sa.BigInteger)
        return seconds * _sql(1_000_000) + micros
    if dialect_name == "sqlite" and kind.family == "number":
        return sa.cast(column, sa.Numeric)
    return column


def _sql(number: int) -> sa.ColumnElement:
    """A constant written into the statement text rather than bound."""
    return sa.literal_column(str(number))


def newer_or_equal(
    incoming: sa.ColumnElement, stored: sa.ColumnElement, kind: Kind, dialect_name: str
):
    """True when the incoming version may replace the stored row (nulls cannot be compared)."""
    return sa.or_(
        stored.is_(None),
        incoming.is_(None),
        ordering_value(incoming, kind, dialect_name) >= ordering_value(stored, kind, dialect_name),
    )


def insert_statement(table: sa.Table, kinds: dict[str, Kind], dialect_name: str) -> sa.Insert:
    """Plain insert of one row per parameter set (append-only, overwrite without keys)."""
    return sa.insert(table).values(
        {col: bind_value(col, kind, dialect_name) for col, kind in kinds.items()}
    )


class Merge(Executable, ClauseElement):
    """Oracle ``MERGE`` of one source row (``SELECT ... FROM dual``) into ``table``.

    Run with executemany over a de-duplicated batch (array DML): one statement per batch, and
    no key can appear twice in a source, so ORA-30926 cannot happen.
    """

    inherit_cache = False

    def __init__(
        self,
        table: sa.Table,
        kinds: dict[str, Kind],
        keys: t.Sequence[str],
        guard: str | None,
        version: str | None,
    ) -> None:
        self.table = table
        self.kinds = kinds
        self.keys = list(keys)
        self.guard = guard
        self.version = version


@compiles(Merge)
def _compile_merge(merge: Merge, compiler: SQLCompiler, **kw: t.Any) -> str:
    dialect_name = compiler.dialect.name
    target = merge.table.alias("tgt")
    source = sa.select(
        *(bind_value(col, kind, dialect_name).label(col) for col, kind in merge.kinds.items())
    ).subquery("src")
    quote = compiler.preparer.quote

    def both(col: str) -> tuple[str, str]:
        return f"tgt.{quote(col)}", f"src.{quote(col)}"

    on = " AND ".join("{} = {}".format(*both(k)) for k in merge.keys)
    text = (
        f"MERGE INTO {compiler.process(target, asfrom=True, **kw)} "
        f"USING {compiler.process(source, asfrom=True, **kw)} ON ({on})"
    )
    values = update_values(merge.kinds, merge.keys, merge.version, source.c, target.c)
    if values:
        text += " WHEN MATCHED THEN UPDATE SET " + ", ".join(
            f"tgt.{quote(c)} = {compiler.process(v, **kw)}" for c, v in values.items()
        )
        if merge.guard:
            condition = newer_or_equal(
                source.c[merge.guard], target.c[merge.guard], merge.kinds[merge.guard], dialect_name
            )
            text += " WHERE " + compiler.process(condition, **kw)
    columns = ", ".join(quote(c) for c in merge.kinds)
    values = ", ".join(both(c)[1] for c in merge.kinds)
    return f"{text} WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"


def update_values(
    kinds: dict[str, Kind],
    keys: t.Sequence[str],
    version: str | None,
    incoming: t.Any,
    stored: t.Any,
) -> dict[str, sa.ColumnElement]:
    """What a matched row's columns become (``incoming``/``stored``: column collections).

    The ``version`` column records presence, not content: it keeps the newest version seen,
    so an incremental update (no version) of a row a running full sync already stored does
    not make ACTIVATE_VERSION retire it.
    """
    values: dict[str, sa.ColumnElement] = {}
    for column in kinds:
        if column in keys:
            continue  # ORA-38104: the ON columns cannot be updated
        new, old = incoming[column], stored[column]
        if column == version:
            newest = sa.and_(new.is_not(None), sa.or_(old.is_(None), new > old))
            values[column] = sa.case((newest, new), else_=old)
        else:
            values[column] = new
    return values


def upsert_statement(
    table: sa.Table,
    kinds: dict[str, Kind],
    keys: t.Sequence[str],
    guard: str | None,
    version: str | None,
    dialect_name: str,
) -> Executable:
    """Insert-or-update on ``keys``; with ``guard`` (the bookmark column) older rows never win.

    Oracle: :class:`Merge`. SQLite: ``INSERT ... ON CONFLICT (keys) DO UPDATE ... WHERE``.
    Columns are updated as :func:`update_values` says.
    """
    if dialect_name == "oracle":
        return Merge(table, kinds, keys, guard, version)
    insert = sqlite.insert(table).values(
        {col: bind_value(col, kind, dialect_name) for col, kind in kinds.items()}
    )
    updates = update_values(kinds, keys, version, insert.excluded, table.c)
    if not updates:
        return insert.on_conflict_do_nothing(index_elements=list(keys))
    where = None
    if guard:
        where = newer_or_equal(insert.excluded[guard], table.c[guard], kinds[guard], dialect_name)
    return insert.on_conflict_do_update(index_elements=list(keys), set_=updates, where=where)


def restamp_version_statement(
    table: sa.Table, keys: t.Sequence[str], version_column: str
) -> sa.Update:
    """Raise a row's version to the one of a full sync that saw it, content untouched.

    The guarded upsert skips a full sync's copy that is older than the stored row (an
    incremental run stored a newer one meanwhile); the record still exists in the WMS, so
    ACTIVATE_VERSION must not retire it. Parameters: ``key_<column>`` per key, ``version``.
    """
    version = table.c[version_column]
    new_version = sa.bindparam("version")
    return (
        sa.update(table)
        .where(
            *(table.c[k] == sa.bindparam(f"key_{k}") for k in keys),
            sa.or_(version.is_(None), version < new_version),
        )
        .values({version_column: new_version})
    )


def delete_all_statement(table: sa.Table) -> sa.Delete:
    """Empty the table inside the batch's transaction (TRUNCATE would commit on Oracle)."""
    return sa.delete(table)


def retire_old_versions_statement(
    table: sa.Table, version_column: str, deleted_column: str | None, dialect_name: str
) -> Executable:
    """Soft-delete (stamp ``deleted_column``) or, without one, delete rows of older versions.

    Rows without a version (loaded incrementally before the full sync) are older too.
    Parameters: ``version``, and ``deleted_at`` (ISO text) for the soft delete.
    """
    version = table.c[version_column]
    older = sa.or_(version < sa.bindparam("version"), version.is_(None))
    if deleted_column is None:
        return sa.delete(table).where(older)
    deleted = table.c[deleted_column]
    stamp = bind_value("deleted_at", Kind("timestamp"), dialect_name)
    return sa.update(table).where(older, deleted.is_(None)).values({deleted_column: stamp})


def compile_sql(statement: Executable, dialect: Dialect) -> tuple[str, list[str]]:
    """Statement text for ``dialect`` and its parameter names in bind order."""
    compiled = statement.compile(dialect=dialect)
    names = list(compiled.positiontup or compiled.binds)
    return str(compiled), names


def bind_rows(rows: list[tuple], names: list[str], dialect: Dialect) -> list:
    """Row tuples as the driver wants them: as they are for positional binds (SQLite),
    as dicts by bind name for named ones (python-oracledb)."""
    if dialect.paramstyle in ("qmark", "format", "numeric"):
        return rows
    return [dict(zip(names, row, strict=True)) for row in rows]


def input_sizes(kinds: dict[str, Kind], dialect: Dialect) -> dict[str, t.Any]:
    """Bind types the driver is told up front (Oracle; SQLite needs none).

    python-oracledb otherwise guesses each bind's type from the first row, which breaks when
    that row holds None and a later one a number, and binds every str as VARCHAR2, which SQL
    refuses past 4000 bytes (ORA-01461): CLOB columns are bound as CLOB.
    """
    if dialect.name != "oracle":
        return {}
    import oracledb  # only Oracle loads need the driver

    by_family = {
        "integer": oracledb.DB_TYPE_NUMBER,
        "number": oracledb.DB_TYPE_NUMBER,
        "boolean": oracledb.DB_TYPE_NUMBER,
        "clob": oracledb.DB_TYPE_CLOB,
        "json": oracledb.DB_TYPE_CLOB,
        "timestamp": len("2026-01-05T10:00:00.000000-03:00"),  # text for TO_TIMESTAMP_TZ
        "date": len("2026-01-05"),
    }
    return {
        column: kind.length if kind.family == "string" else by_family[kind.family]
        for column, kind in kinds.items()
        if kind.family in by_family or kind.family == "string"
    }
