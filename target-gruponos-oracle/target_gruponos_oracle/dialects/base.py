"""The interface every database implements, with what most databases share: the description
of a batch upsert and the parts every database's upsert statement is built from."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import sqlalchemy as sa

if t.TYPE_CHECKING:
    from sqlalchemy.sql.expression import Executable

    from target_gruponos_oracle.kinds import Kind


@dataclass(frozen=True)
class Upsert:
    """What a batch upsert writes: ``table``'s ``kinds`` columns, matched on ``keys``; with a
    ``guard`` (the bookmark column) an older incoming row never replaces a newer one, and the
    ``version`` column keeps the newest version seen (see :func:`update_values`)."""

    table: sa.Table
    kinds: dict[str, Kind]
    keys: tuple[str, ...]
    guard: str | None
    version: str | None


def update_values(upsert: Upsert, incoming: t.Any, stored: t.Any) -> dict[str, sa.ColumnElement]:
    """What a matched row's columns become (``incoming``/``stored``: column collections).

    The ``version`` column records presence, not content: it keeps the newest version seen,
    so an incremental update (no version) of a row a running full sync already stored does
    not make ACTIVATE_VERSION retire it.
    """
    values: dict[str, sa.ColumnElement] = {}
    for column in upsert.kinds:
        if column in upsert.keys:
            continue  # ORA-38104: the ON columns cannot be updated
        new, old = incoming[column], stored[column]
        if column == upsert.version:
            newest = sa.and_(new.is_not(None), sa.or_(old.is_(None), new > old))
            values[column] = sa.case((newest, new), else_=old)
        else:
            values[column] = new
    return values


class Declared(sa.types.UserDefinedType):
    """A column type rendered verbatim (types SQLAlchemy does not name the way we want)."""

    cache_ok = True

    def __init__(self, declaration: str) -> None:
        self.declaration = declaration

    def get_col_spec(self, **_: t.Any) -> str:
        return self.declaration


class Database:
    """What one database does its own way: column types, binds, ordering expressions, value
    conversion, the upsert statement and the DDL forms that differ.

    One instance per database (see :func:`target_gruponos_oracle.dialects.for_name`).
    """

    name: t.ClassVar[str]
    #: Integers must lie strictly between -integer_bound and integer_bound.
    integer_bound: t.ClassVar[int]
    #: Column type per kind family, besides the families every database types alike.
    types: t.ClassVar[dict[str, sa.types.TypeEngine]]
    #: The row builder's inline code for a (non-null) number ``{v}``; ``convert{i}`` is
    #: :meth:`convert_number` (see values.py).
    number_code: t.ClassVar[list[str]]
    #: Only one writer at a time (the database locks as a whole while writing).
    single_writer: t.ClassVar[bool] = False
    #: Check a pooled connection before use (servers drop idle connections; files do not).
    pool_pre_ping: t.ClassVar[bool] = True
    #: Whether a table's key can be changed with ALTER (else the table is rebuilt by copy).
    alters_keys_in_place: t.ClassVar[bool] = False

    def sql_type(self, kind: Kind) -> sa.types.TypeEngine:
        """The column type for ``kind``: one that keeps every value exactly."""
        family = kind.family
        if family == "string":
            return sa.String(kind.length)
        if family in ("clob", "json"):
            return sa.CLOB()
        if family == "date":
            return sa.Date()
        return self.types[family]

    def bind_value(self, column: str, kind: Kind) -> sa.ColumnElement:
        """The bound parameter a statement takes ``column``'s value from."""
        _ = kind
        return sa.bindparam(column)

    def ordering_value(self, column: sa.ColumnElement, kind: Kind) -> sa.ColumnElement:
        """An expression that compares like ``column``'s values do (the never-regress guard)."""
        _ = kind
        return column

    @staticmethod
    def convert_number(value: t.Any) -> t.Any:
        """A JSON number (int, Decimal or float, never None) as the driver binds it exactly."""
        raise NotImplementedError

    def clock_sql(self) -> str:
        """A query of the database's current time, UTC, as ISO text (``YYYY-MM-DDTHH:MM:SS...``)."""
        raise NotImplementedError

    def newer_or_equal(
        self, incoming: sa.ColumnElement, stored: sa.ColumnElement, kind: Kind
    ) -> sa.ColumnElement:
        """True when the incoming version may replace the stored row (the never-regress
        guard; nulls cannot be compared)."""
        return sa.or_(
            stored.is_(None),
            incoming.is_(None),
            self.ordering_value(incoming, kind) >= self.ordering_value(stored, kind),
        )

    def upsert_statement(self, upsert: Upsert) -> Executable:
        """Insert-or-update of one row per parameter set, as ``upsert`` describes."""
        raise NotImplementedError

    def varchar_byte_limit(self, max_varchar_length: int) -> int | None:
        """Most bytes a string column holds, when the database counts bytes (None: it does not)."""
        _ = max_varchar_length
        return None

    def input_sizes(self, kinds: dict[str, Kind]) -> dict[str, t.Any]:
        """Bind types the driver must be told before an executemany (none by default)."""
        _ = kinds
        return {}

    def add_column_ddl(self, table: str, column: str, spec: str) -> str:
        """``ALTER TABLE`` adding ``column`` (names already quoted, ``spec`` compiled)."""
        return f"ALTER TABLE {table} ADD COLUMN {column} {spec}"

    def modify_column_ddl(
        self, table: str, column: str, old: Kind, new: Kind, spec: str
    ) -> str | None:
        """The statement changing a column from ``old`` to ``new`` in place, or None when the
        database cannot (the connector then rebuilds the column through a copy)."""
        _ = table, column, old, new, spec
        return None

    def drop_primary_key_ddl(self, table: str) -> str:
        """Drop the primary key of ``table`` (already quoted), its index with it."""
        raise NotImplementedError

    def prepare(self, url: sa.URL) -> None:
        """Make ``url`` usable before the engine opens it (nothing by default)."""
        _ = url

    def explain(self, reason: str, url: sa.URL) -> str:
        """The database's one-line ``reason`` for a failure, with advice where there is some."""
        _ = url
        return reason

    def declared_types(self, conn: sa.Connection, table: sa.Table) -> dict[str, str]:
        """Each existing column of ``table`` (upper case) with its declared type text."""
        inspector = sa.inspect(conn)
        return {
            col["name"].upper(): str(col["type"].compile(dialect=conn.dialect))
            for col in inspector.get_columns(table.name, schema=table.schema)
        }
