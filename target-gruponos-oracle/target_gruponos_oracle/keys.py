"""A table's key against its stream's: checked before any DDL, and changed on purpose only.

A stream whose key properties differ from the key of its existing table would otherwise have
its new key column added (null for every existing row) and a second unique key created, then
fail on the first duplicate, or worse, hold each record twice (once per key). So the check
runs before the table is touched, and stops naming the table, both keys and the way out.

The one change the target makes to a table's key is the common one: a column added in front
of it, with one value for every existing row (several WMS environments loading tables first
loaded by one: ``--adopt-key-column wms_env=test``). SQLite rebuilds the table in one
transaction; Oracle, whose DDL commits, runs steps that each check what is done already, so
a run interrupted midway is finished by running it again.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import sqlalchemy as sa

from target_gruponos_oracle.connector import build_table, conform_identifier
from target_gruponos_oracle.errors import SchemaError, SettingError
from target_gruponos_oracle.kinds import Kind

if t.TYPE_CHECKING:
    from target_gruponos_oracle.connector import OracleConnector

#: The column a source key is stored in (the tap's key_column: a string of at most 128).
SOURCE_KEY_KIND = Kind("string", 128)
ADOPT_OPTION = "--adopt-key-column"


class KeyMismatchError(SchemaError):
    """The stream's key is not its table's key (one line: table, both keys, the way out)."""


def existing_key(conn: sa.Connection, table: sa.Table) -> list[str]:
    """The columns of the table's primary key, else of a unique index, else []."""
    inspector = sa.inspect(conn)
    primary = inspector.get_pk_constraint(table.name, schema=table.schema)["constrained_columns"]
    if primary:
        return [c.upper() for c in primary]
    for index in inspector.get_indexes(table.name, schema=table.schema):
        if index["unique"]:
            return [str(c).upper() for c in index["column_names"]]
    return []


def check_key(
    conn: sa.Connection, table: sa.Table, columns: t.Iterable[str], keys: list[str]
) -> None:
    """Raise KeyMismatchError when loading ``keys`` into the existing ``table`` (whose
    ``columns`` are those it has) would not key its rows as they are keyed now."""
    have = existing_key(conn, table)
    if have and set(have) == set(keys):
        return
    if not have and not ({*keys} - {*columns} and _has_rows(conn, table)):
        return  # a keyless table gets the key as a unique index (its rows hold every key)
    shown = ", ".join(have) if have else "none"
    msg = f"table {table.name} is keyed by ({shown}), the stream by ({', '.join(keys)})"
    extra = [k for k in keys if k not in have]
    if have and len(extra) == 1 and set(have) < set(keys):
        way_out = (
            f"run `target-gruponos-oracle {ADOPT_OPTION} {extra[0].lower()}=<value of its "
            "existing rows>` once (same settings) to fill the column and rebuild the key"
        )
    else:
        way_out = "load it into another table (table_prefix) or rebuild this one"
    raise KeyMismatchError(f"{msg}: nothing was changed; {way_out}")


def _has_rows(conn: sa.Connection, table: sa.Table) -> bool:
    return conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None


@dataclass(frozen=True)
class Adopted:
    """One table whose key got the column."""

    table: str
    rows: int
    old_key: list[str]
    new_key: list[str]


def parse_adopt(spec: str) -> tuple[str, str]:
    """``wms_env=test`` -> (``WMS_ENV``, ``test``)."""
    column, sep, value = spec.partition("=")
    if not sep or not column.strip() or not value:
        msg = f"{ADOPT_OPTION} takes COLUMN=VALUE (e.g. wms_env=test), not {spec!r}"
        raise SettingError(msg)
    return conform_identifier(column.strip()), value


def adopt_key_column(
    connector: OracleConnector, tables: list[str], schema: str | None, column: str, value: str
) -> list[Adopted]:
    """Put ``column`` (= ``value`` in every existing row) first in the key of each of
    ``tables`` whose key lacks it; tables whose key has it are left as they are."""
    done = []
    for name in tables:
        table = sa.Table(name, sa.MetaData(), schema=schema)
        with connector.begin() as conn:
            key = existing_key(conn, table)
            kinds = connector.reflect_kinds(conn, table) or {}
        if not key and column in kinds and "ID" in kinds:
            key = ["ID"]  # an adoption interrupted between dropping the old key and adding it
        if not key or column in key:
            continue
        new_key = [column, *[k for k in key if k != column]]
        if connector.database.alters_keys_in_place:
            rows = _adopt_in_place(connector, table, kinds, column, value, new_key)
        else:
            rows = _adopt_by_copy(connector, table, kinds, column, value, new_key)
        done.append(Adopted(name, rows, key, new_key))
    return done


def _adopt_by_copy(
    connector: OracleConnector,
    table: sa.Table,
    kinds: dict[str, Kind],
    column: str,
    value: str,
    new_key: list[str],
) -> int:
    """A copy of the table with the column and the new key, swapped in, in one transaction
    (a database that cannot alter a key: SQLite)."""
    database, preparer = connector.database, connector.dialect.identifier_preparer
    old = build_table(table.name, kinds, [], table.schema, database)
    wanted = {**kinds, column: kinds.get(column, SOURCE_KEY_KIND)}
    staging = build_table(f"{table.name}__ADOPT", wanted, new_key, table.schema, database)
    fill = sa.literal(value)
    if column in kinds:  # added (null) by a load that failed on the key afterwards
        fill = sa.func.coalesce(old.c[column], fill)
    rows = sa.select(*(fill.label(c) if c == column else old.c[c] for c in wanted))
    with connector.begin() as conn:
        conn.execute(sa.schema.CreateTable(staging))
        copied = conn.execute(sa.insert(staging).from_select(list(wanted), rows)).rowcount
        conn.exec_driver_sql(f"DROP TABLE {preparer.format_table(old)}")
        conn.exec_driver_sql(
            f"ALTER TABLE {preparer.format_table(staging)} RENAME TO {preparer.quote(table.name)}"
        )
    return copied


def _adopt_in_place(
    connector: OracleConnector,
    table: sa.Table,
    kinds: dict[str, Kind],
    column: str,
    value: str,
    new_key: list[str],
) -> int:
    """Add, fill, rekey, each step only if not done yet (Oracle: DDL commits on its own)."""
    database, dialect = connector.database, connector.dialect
    name, quote = dialect.identifier_preparer.format_table(table), dialect.identifier_preparer.quote
    full = build_table(table.name, {**kinds, column: SOURCE_KEY_KIND}, [], table.schema, database)
    with connector.begin() as conn:
        if column not in kinds:
            spec = database.sql_type(SOURCE_KEY_KIND).compile(dialect=dialect)
            conn.exec_driver_sql(database.add_column_ddl(name, quote(column), spec))
    with connector.begin() as conn:
        filled = conn.execute(
            sa.update(full).where(full.c[column].is_(None)).values({column: value})
        ).rowcount
    with connector.begin() as conn:
        inspector = sa.inspect(conn)
        primary = inspector.get_pk_constraint(table.name, schema=table.schema)
        if primary["constrained_columns"]:
            conn.exec_driver_sql(database.drop_primary_key_ddl(name))
        keys = ", ".join(quote(k) for k in new_key)
        conn.exec_driver_sql(f"ALTER TABLE {name} ADD PRIMARY KEY ({keys})")
    return filled
