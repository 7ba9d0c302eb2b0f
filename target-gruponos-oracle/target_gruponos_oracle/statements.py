"""DML the sink issues (insert, overwrite, version reconciliation), the same for every database.

The upsert is each database's own (``dialects/``, which also holds what every upsert
shares: what a matched row's columns become, the never-regress condition). Each function
returns a SQLAlchemy construct; :func:`compile_sql` turns it into the text the driver runs.
Values arrive as plain driver types: date-times as ISO-8601 text with offset, dates as
``YYYY-MM-DD`` text, decimals as ``Decimal`` (Oracle) or exact text (SQLite).
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from target_gruponos_oracle.kinds import Kind

if t.TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.sql.expression import Executable

    from target_gruponos_oracle.dialects import Database


def insert_statement(table: sa.Table, kinds: dict[str, Kind], database: Database) -> sa.Insert:
    """Plain insert of one row per parameter set (append-only, overwrite without keys)."""
    return sa.insert(table).values(
        {col: database.bind_value(col, kind) for col, kind in kinds.items()}
    )


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
    table: sa.Table,
    version_column: str,
    deleted_column: str | None,
    database: Database,
    scope: t.Sequence[str] = (),
    loaded_column: str | None = None,
) -> Executable:
    """Soft-delete (stamp ``deleted_column``) or, without one, delete rows of older versions.

    Rows without a version (loaded incrementally before the full sync) are older too. Only
    rows whose ``scope`` columns equal the parameters ``scope_0``, ``scope_1``... are
    touched (the part of a shared table a full sync covers), and with ``loaded_column`` only
    rows loaded before the parameter ``started`` (or not stamped). Parameters: ``version``,
    ``started`` (ISO text), and ``deleted_at`` (ISO text) for the soft delete.
    """
    version = table.c[version_column]
    older = sa.or_(version < sa.bindparam("version"), version.is_(None))
    within = [table.c[c] == sa.bindparam(f"scope_{i}") for i, c in enumerate(scope)]
    if loaded_column is not None:
        kind = Kind("timestamp")
        loaded = table.c[loaded_column]
        started = database.bind_value("started", kind)
        before = database.ordering_value(loaded, kind) < database.ordering_value(started, kind)
        within.append(sa.or_(loaded.is_(None), before))
    if deleted_column is None:
        return sa.delete(table).where(older, *within)
    deleted = table.c[deleted_column]
    stamp = database.bind_value("deleted_at", Kind("timestamp"))
    return sa.update(table).where(older, deleted.is_(None), *within).values({deleted_column: stamp})


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
