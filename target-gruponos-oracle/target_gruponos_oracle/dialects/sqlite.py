"""SQLite (the embedded default): what the target does the SQLite way.

Decimals are kept as exact text (a NUMERIC column would round past 15 digits) and date-times as
ISO-8601 text with their UTC offset, so the guard compares them through expressions that sort
like the values do; the upsert is ``INSERT ... ON CONFLICT DO UPDATE``; one writer at a time.
"""

from __future__ import annotations

import tempfile
import typing as t
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from target_gruponos_oracle.dialects.base import Database, Declared, Upsert, update_values
from target_gruponos_oracle.errors import SettingError

DEFAULT_TIMEOUT = 5  # seconds; sqlite3's default wait for another writer's lock

if t.TYPE_CHECKING:
    from sqlalchemy.sql.expression import Executable

    from target_gruponos_oracle.kinds import Kind


class SQLite(Database):
    name = "sqlite"
    integer_bound = 2**63  # SQLite integers are 64-bit
    types: t.ClassVar[dict[str, sa.types.TypeEngine]] = {
        "integer": sa.BigInteger(),
        "number": Declared("DECIMAL_TEXT"),
        "boolean": Declared("NUMBER(1)"),
        "timestamp": Declared("TIMESTAMP WITH TIME ZONE"),
    }
    number_code: t.ClassVar[list[str]] = [
        "if {v}.__class__ is Decimal and 'E' not in (t := str({v})): {v} = t",
        "else: {v} = convert{i}({v})",
    ]
    single_writer = True  # SQLite locks the whole file while writing
    pool_pre_ping = False

    def clock_sql(self) -> str:
        return "SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now')"

    def ordering_value(self, column: sa.ColumnElement, kind: Kind) -> sa.ColumnElement:
        """Date-times are text with offsets, which do not sort as instants: compare microseconds
        since the epoch instead (exact, unlike ``julianday``); decimal text compares as numbers."""
        if kind.family == "timestamp":
            seconds = sa.cast(sa.func.strftime(sa.literal_column("'%s'"), column), sa.BigInteger)
            micros = sa.cast(sa.func.substr(column, _sql(21), _sql(6)), sa.BigInteger)
            return seconds * _sql(1_000_000) + micros
        if kind.family == "number":
            return sa.cast(column, sa.Numeric)
        return column

    @staticmethod
    def convert_number(value: t.Any) -> str:
        """Exact decimal text (SQLite keeps it verbatim in a TEXT-affinity column)."""
        if isinstance(value, float):
            value = Decimal(repr(value))
        text = str(value)
        return format(value, "f") if "E" in text else text

    def upsert_statement(self, upsert: Upsert) -> Executable:
        """``INSERT ... ON CONFLICT (keys) DO UPDATE ... WHERE`` (the guard)."""
        table, kinds, keys, guard = upsert.table, upsert.kinds, list(upsert.keys), upsert.guard
        insert = sqlite.insert(table).values(
            {col: self.bind_value(col, kind) for col, kind in kinds.items()}
        )
        updates = update_values(upsert, insert.excluded, table.c)
        if not updates:
            return insert.on_conflict_do_nothing(index_elements=keys)
        where = None
        if guard:
            where = self.newer_or_equal(insert.excluded[guard], table.c[guard], kinds[guard])
        return insert.on_conflict_do_update(index_elements=keys, set_=updates, where=where)

    def prepare(self, url: sa.URL) -> None:
        """The file's folder is created if missing, and must be writable."""
        if url.database not in (None, "", ":memory:"):
            _ensure_writable_folder(Path(url.database).parent)

    def explain(self, reason: str, url: sa.URL) -> str:
        """A locked file: also how long the target waited and how to make it wait longer."""
        if "database is locked" not in reason:
            return reason
        waited = url.query.get("timeout", DEFAULT_TIMEOUT)
        return reason + (
            f" (another process held the SQLite file longer than the {waited} s the "
            "target waits; to wait longer add ?timeout=SECONDS to sqlalchemy_url, e.g. "
            "sqlite:///output/warehouse.db?timeout=60)"
        )

    def declared_types(self, conn: sa.Connection, table: sa.Table) -> dict[str, str]:
        """The declared type text, which SQLite keeps verbatim (the inspector would map it)."""
        preparer = conn.dialect.identifier_preparer
        rows = conn.exec_driver_sql(f"PRAGMA table_info({preparer.format_table(table)})")
        return {row[1].upper(): row[2] for row in rows}


SQLITE = SQLite()


def _ensure_writable_folder(folder: Path) -> None:
    """Create the SQLite file's folder if missing, and check SQLite can write there (it
    creates its journal next to the file); failures name the folder and the OS reason."""
    action = "create"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        action = "write in"
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        msg = f"setting sqlalchemy_url: cannot {action} the folder '{folder}' of the SQLite file"
        raise SettingError(f"{msg}: {reason}") from None


def _sql(number: int) -> sa.ColumnElement:
    """A constant written into the statement text rather than bound."""
    return sa.literal_column(str(number))
