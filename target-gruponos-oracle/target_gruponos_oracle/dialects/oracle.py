"""Oracle (python-oracledb thin): what the target does the Oracle way.

Types that keep the data (NUMBER, VARCHAR2(n CHAR)/CLOB, TIMESTAMP(6) WITH TIME ZONE, DATE),
date text converted explicitly (no NLS guess), one ``MERGE ... FROM dual`` per batch run as
array DML, decimals bound as ``Decimal``, bind types declared up front, VARCHAR2 counted in bytes.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from target_gruponos_oracle.dialects.base import Database, Declared, Upsert, update_values

if t.TYPE_CHECKING:
    from sqlalchemy.sql.compiler import SQLCompiler

    from target_gruponos_oracle.kinds import Kind

# The text form every date-time is bound in (see values.py): fixed width, microseconds, offset.
TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.FF6TZH:TZM'


class Oracle(Database):
    name = "oracle"
    integer_bound = 10**19  # NUMBER(19)
    types: t.ClassVar[dict[str, sa.types.TypeEngine]] = {
        "integer": oracle.NUMBER(19),
        "number": oracle.NUMBER(),
        "boolean": oracle.NUMBER(1),
        "timestamp": Declared("TIMESTAMP(6) WITH TIME ZONE"),
    }
    number_code: t.ClassVar[list[str]] = ["if {v}.__class__ is float: {v} = convert{i}({v})"]
    alters_keys_in_place = True

    def clock_sql(self) -> str:
        return (
            "SELECT TO_CHAR(SYS_EXTRACT_UTC(SYSTIMESTAMP), 'YYYY-MM-DD\"T\"HH24:MI:SS.FF6') "
            "FROM dual"
        )

    def bind_value(self, column: str, kind: Kind) -> sa.ColumnElement:
        """Date-times and dates arrive as text: converted with a fixed format mask."""
        param = sa.bindparam(column)
        if kind.family == "timestamp":
            return sa.func.TO_TIMESTAMP_TZ(param, sa.literal_column(f"'{TIMESTAMP_FORMAT}'"))
        if kind.family == "date":
            return sa.func.TO_DATE(param, sa.literal_column("'YYYY-MM-DD'"))
        return param

    @staticmethod
    def convert_number(value: t.Any) -> Decimal | int:
        """Decimal or int (python-oracledb binds both to NUMBER exactly)."""
        return Decimal(repr(value)) if isinstance(value, float) else value

    def upsert_statement(self, upsert: Upsert) -> Executable:
        return Merge(upsert)

    def varchar_byte_limit(self, max_varchar_length: int) -> int:
        """VARCHAR2 holds at most max_varchar_length bytes, whatever its CHAR length."""
        return max_varchar_length

    def input_sizes(self, kinds: dict[str, Kind]) -> dict[str, t.Any]:
        """python-oracledb otherwise guesses each bind's type from the first row, which breaks
        when that row holds None and a later one a number, and binds every str as VARCHAR2,
        which SQL refuses past 4000 bytes (ORA-01461): CLOB columns are bound as CLOB.
        """
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

    def add_column_ddl(self, table: str, column: str, spec: str) -> str:
        return f"ALTER TABLE {table} ADD ({column} {spec})"

    def drop_primary_key_ddl(self, table: str) -> str:
        return f"ALTER TABLE {table} DROP PRIMARY KEY DROP INDEX"

    def modify_column_ddl(
        self, table: str, column: str, old: Kind, new: Kind, spec: str
    ) -> str | None:
        """Oracle widens in place with ``MODIFY``, except VARCHAR2 -> CLOB, which it refuses."""
        if old.family == "string" and new.family == "clob":
            return None
        return f"ALTER TABLE {table} MODIFY ({column} {spec})"


ORACLE = Oracle()


class Merge(Executable, ClauseElement):
    """Oracle ``MERGE`` of one source row (``SELECT ... FROM dual``) into ``table``.

    Run with executemany over a de-duplicated batch (array DML): one statement per batch, and
    no key can appear twice in a source, so ORA-30926 cannot happen.
    """

    inherit_cache = False

    def __init__(self, upsert: Upsert) -> None:
        self.upsert = upsert


@compiles(Merge)
def _compile_merge(merge: Merge, compiler: SQLCompiler, **kw: t.Any) -> str:
    upsert = merge.upsert
    target = upsert.table.alias("tgt")
    source = sa.select(
        *(ORACLE.bind_value(col, kind).label(col) for col, kind in upsert.kinds.items())
    ).subquery("src")
    quote = compiler.preparer.quote

    def both(col: str) -> tuple[str, str]:
        return f"tgt.{quote(col)}", f"src.{quote(col)}"

    on = " AND ".join("{} = {}".format(*both(k)) for k in upsert.keys)
    text = (
        f"MERGE INTO {compiler.process(target, asfrom=True, **kw)} "
        f"USING {compiler.process(source, asfrom=True, **kw)} ON ({on})"
    )
    values = update_values(upsert, source.c, target.c)
    if values:
        text += " WHEN MATCHED THEN UPDATE SET " + ", ".join(
            f"tgt.{quote(c)} = {compiler.process(v, **kw)}" for c, v in values.items()
        )
        if upsert.guard:
            condition = ORACLE.newer_or_equal(
                source.c[upsert.guard], target.c[upsert.guard], upsert.kinds[upsert.guard]
            )
            text += " WHERE " + compiler.process(condition, **kw)
    columns = ", ".join(quote(c) for c in upsert.kinds)
    values = ", ".join(both(c)[1] for c in upsert.kinds)
    return f"{text} WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
