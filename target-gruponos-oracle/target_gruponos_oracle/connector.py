"""Connection, identifiers, tables, DDL and schema evolution.

Every statement is built for a given SQLAlchemy dialect, so the Oracle text the tests compile
is produced by the same functions that run against SQLite; what differs between the databases
(types, the ALTER forms, reading declared types back) comes from ``dialects/``.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
import time
import typing as t
from urllib.parse import unquote

import sqlalchemy as sa
from singer_sdk.sql import SQLConnector
from sqlalchemy.dialects.oracle.base import RESERVED_WORDS

from target_gruponos_oracle import dialects, sdk_hooks
from target_gruponos_oracle.errors import IdentifierCollisionError, SettingError
from target_gruponos_oracle.kinds import Kind, column_change, kind_from_declared

if t.TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Dialect

    from target_gruponos_oracle.dialects import Database

MAX_IDENTIFIER_BYTES = 128
# Oracle's reserved words plus keywords that break unquoted use in common statements.
RESERVED = frozenset(RESERVED_WORDS) | {
    "LEVEL", "SIZE", "UID", "USER", "ROWID", "ROWNUM", "SYSDATE", "SESSION", "COMMENT",
    "FILE", "ONLINE", "SUCCESSFUL", "VALIDATE", "MAXEXTENTS", "INCREMENT", "INITIAL",
}  # fmt: skip
_NOT_IDENTIFIER_CHAR = re.compile(r"[^A-Z0-9_]")


SUPPORTED_URLS = (
    "oracle+oracledb://user:password@host:1521/?service_name=SVC (Oracle, python-oracledb) "
    "or sqlite:///path/to/file.db (SQLite)"
)
# SQLAlchemy URL schemes the target runs on -> the driver name it uses for them
_DRIVERS = {
    "oracle": "oracle+oracledb",
    "oracle+oracledb": "oracle+oracledb",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
}


def parse_url(text: str) -> sa.URL:
    """``sqlalchemy_url`` read the way users write it.

    The host starts after the *last* ``@``, so a password may hold ``@`` (and ``:`` or
    ``/``) unescaped; percent-escapes are decoded as SQLAlchemy does. Only Oracle and SQLite
    URLs are accepted. Errors never quote the text: it holds the password.
    """
    scheme, sep, rest = text.partition("://")
    drivername = _DRIVERS.get(scheme.lower()) if sep else None
    if drivername is None:
        what = f"database '{scheme}' is not supported" if sep else "not a database URL"
        raise SettingError(f"setting sqlalchemy_url: {what}; supported: {SUPPORTED_URLS}")
    if drivername.startswith("sqlite"):  # a path, no credentials: may hold '@' itself
        return sa.make_url(f"{drivername}://{rest}")
    userinfo, at, location = rest.rpartition("@")
    try:
        url = sa.make_url(f"{drivername}://{location}")
    except (sa.exc.ArgumentError, ValueError):
        msg = (
            "setting sqlalchemy_url: the host, port and service after the last '@' cannot be "
            f"read; expected {SUPPORTED_URLS}"
        )
        raise SettingError(msg) from None
    if not at:
        return url
    username, colon, password = userinfo.partition(":")
    return url.set(username=unquote(username), password=unquote(password) if colon else None)


def conform_identifier(name: str, max_bytes: int = MAX_IDENTIFIER_BYTES) -> str:
    """Return a valid unquoted, upper-case Oracle identifier for ``name``.

    Leading underscores go (``_sdc_deleted_at`` -> ``SDC_DELETED_AT``), names not starting with
    a letter get a ``C_`` prefix, reserved words get a ``_`` suffix, and names longer than
    ``max_bytes`` are cut and suffixed with a hash of the original so the result is stable.
    """
    ident = _NOT_IDENTIFIER_CHAR.sub("_", name.upper()).lstrip("_") or "C"
    if not ident[0].isalpha():
        ident = f"C_{ident}"
    if ident in RESERVED:
        ident += "_"
    if len(ident) > max_bytes:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8].upper()
        ident = f"{ident[: max_bytes - 9]}_{digest}"
    return ident


def conform_names(names: t.Iterable[str], where: str) -> dict[str, str]:
    """Map each source name to its identifier; reject two names landing on one identifier."""
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in names:
        ident = conform_identifier(name)
        if ident in seen:
            msg = (
                f"{where}: fields '{seen[ident]}' and '{name}' both become column '{ident}'; "
                "rename one of them (e.g. with a stream map)"
            )
            raise IdentifierCollisionError(msg)
        seen[ident] = name
        mapping[name] = ident
    return mapping


def target_schema(config: t.Mapping[str, t.Any]) -> str | None:
    """``default_target_schema`` (the Oracle user owning the tables) as an identifier, or None."""
    schema = config.get("default_target_schema")
    return conform_identifier(schema) if schema else None


# DDL, built for a dialect ------------------------------------------------------------------


def build_table(
    name: str,
    columns: dict[str, Kind],
    keys: t.Sequence[str],
    schema: str | None,
    database: Database,
) -> sa.Table:
    """A Table object for ``columns`` (name -> kind) with a primary key on ``keys``."""
    key = [sa.PrimaryKeyConstraint(*keys)] if keys else []  # in the order of the keys
    return sa.Table(
        name,
        sa.MetaData(),
        *(
            sa.Column(col, database.sql_type(kind), nullable=col not in keys)
            for col, kind in columns.items()
        ),
        *key,
        schema=schema,
    )


def _ident(dialect: Dialect, table: sa.Table) -> tuple[str, t.Callable[[str], str]]:
    preparer = dialect.identifier_preparer
    return preparer.format_table(table), preparer.quote


def _spec(kind: Kind, dialect: Dialect) -> str:
    """The column type of ``kind`` as ``dialect`` writes it in DDL."""
    return dialects.for_name(dialect.name).sql_type(kind).compile(dialect=dialect)


def add_column_ddl(table: sa.Table, column: str, kind: Kind, dialect: Dialect) -> str:
    """``ALTER TABLE`` adding ``column`` in the form of ``dialect``."""
    tbl, quote = _ident(dialect, table)
    database = dialects.for_name(dialect.name)
    return database.add_column_ddl(tbl, quote(column), _spec(kind, dialect))


def alter_column_ddl(
    table: sa.Table, column: str, old: Kind, new: Kind, dialect: Dialect
) -> list[str]:
    """Statements turning ``column`` from ``old`` into ``new`` without losing its data.

    In place where the database can (Oracle's ``MODIFY``); otherwise (VARCHAR2 -> CLOB,
    which Oracle refuses, and every change on SQLite, which cannot alter a column) a new
    column is added, the values copied, the old column dropped and the new one renamed.
    """
    tbl, quote = _ident(dialect, table)
    database = dialects.for_name(dialect.name)
    in_place = database.modify_column_ddl(tbl, quote(column), old, new, _spec(new, dialect))
    if in_place is not None:
        return [in_place]
    temp = widening_column(column)
    return [
        add_column_ddl(table, temp, new, dialect),
        f"UPDATE {tbl} SET {quote(temp)} = {quote(column)}",
        f"ALTER TABLE {tbl} DROP COLUMN {quote(column)}",
        f"ALTER TABLE {tbl} RENAME COLUMN {quote(temp)} TO {quote(column)}",
    ]


def unique_key_ddl(table: sa.Table, keys: list[str], dialect: Dialect) -> str:
    """A unique index on ``keys`` (for a keyed load into a table created without a key).

    Fails, naming the index, if the table already holds one key twice.
    """
    index = sa.Index(
        conform_identifier(f"{table.name}_KEY"), *(table.c[k] for k in keys), unique=True
    )
    return str(sa.schema.CreateIndex(index).compile(dialect=dialect))


def widening_column(column: str) -> str:
    """Name of the temporary column used while a column is rebuilt."""
    return conform_identifier(f"{column}__WIDEN")


def evolution_ddl(
    table: sa.Table, wanted: dict[str, Kind], existing: dict[str, Kind], dialect: Dialect
) -> list[str]:
    """DDL making a table with ``existing`` columns hold ``wanted`` ones (updates ``existing``).

    New fields add columns, narrower columns widen; a rebuild interrupted by a crash (its
    temporary column still there) is finished or restarted first.
    """
    ddl: list[str] = []
    tbl, quote = _ident(dialect, table)
    for column, kind in wanted.items():
        temp = widening_column(column)
        if temp in existing and column not in existing:  # crashed after the DROP: finish
            existing[column] = existing.pop(temp)
            ddl.append(f"ALTER TABLE {tbl} RENAME COLUMN {quote(temp)} TO {quote(column)}")
        elif temp in existing:  # crashed before the DROP: the original is intact, restart
            del existing[temp]
            ddl.append(f"ALTER TABLE {tbl} DROP COLUMN {quote(temp)}")
        if column not in existing:
            existing[column] = kind
            ddl.append(add_column_ddl(table, column, kind, dialect))
            continue
        new = column_change(existing[column], kind)
        if new is not None:
            old, existing[column] = existing[column], new
            ddl += alter_column_ddl(table, column, old, new, dialect)
    return ddl


class OracleConnector(SQLConnector):
    """python-oracledb (thin) or SQLite through SQLAlchemy 2."""

    def __init__(self, config: dict | None = None, sqlalchemy_url: str | None = None) -> None:
        super().__init__(config, sqlalchemy_url)
        self.emptied_tables: set[str] = set()  # overwrite: tables already emptied in this run

    def get_sqlalchemy_url(self, config: dict[str, t.Any]) -> str:
        """``sqlalchemy_url``, else an Oracle URL from host/port/service_name.

        There is no implicit default database: a production run whose Oracle variables are
        missing must fail, not load into a local file while its bookmarks advance.
        """
        if config.get("sqlalchemy_url"):
            return parse_url(config["sqlalchemy_url"]).render_as_string(hide_password=False)
        if config.get("host"):
            return sa.URL.create(
                "oracle+oracledb",
                username=config.get("username"),
                password=config.get("password"),
                host=config["host"],
                port=config.get("port", 1521),
                query={"service_name": config["service_name"]}
                if config.get("service_name")
                else {},
            ).render_as_string(hide_password=False)
        msg = (
            "no database configured: set sqlalchemy_url (e.g. sqlite:///output/warehouse.db "
            "for a local file) or host, service_name, username and password for Oracle"
        )
        raise SettingError(msg)

    @property
    def masked_url(self) -> str:
        """The URL with its password hidden, for logs and error messages."""
        return sa.make_url(self.sqlalchemy_url).render_as_string(hide_password=True)

    def create_engine(self) -> sa.Engine:
        """Engine for the configured URL; the SQLite file's folder is created if missing."""
        url = sa.make_url(self.sqlalchemy_url)
        database = dialects.for_name(url.get_backend_name())
        database.prepare(url)
        return sa.create_engine(url, pool_pre_ping=database.pool_pre_ping)

    def explain(self, exc: BaseException) -> str:
        """The database's reason for a failure; for a locked SQLite file, also how long the
        target waited and how to make it wait longer."""
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())  # one line
        return self.database.explain(reason, sa.make_url(self.sqlalchemy_url))

    @property
    def dialect(self) -> Dialect:
        """The SQLAlchemy dialect statements are compiled for."""
        return sdk_hooks.engine(self).dialect

    def begin(self) -> t.ContextManager[sa.Connection]:
        """A connection in a transaction, committed when the block ends without an error."""
        return sdk_hooks.engine(self).begin()

    @functools.cached_property
    def clock_offset(self) -> float:
        """Seconds the database's clock is ahead of this machine's (measured once).

        Rows are stamped with the time they were loaded on the database's clock (this clock
        plus the offset), so that targets on different machines writing one table compare
        their times on one clock (see `sinks.OracleSink.activate_version`).
        """
        before = time.time()
        with self.begin() as conn:
            text = conn.exec_driver_sql(self.database.clock_sql()).scalar_one()
        after = time.time()
        moment = datetime.datetime.fromisoformat(str(text)).replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp() - (before + after) / 2

    @property
    def database(self) -> Database:
        """What this database does its own way (types, binds, upsert...)."""
        return dialects.for_name(self.dialect.name)

    def reflect_kinds(self, conn: sa.Connection, table: sa.Table) -> dict[str, Kind] | None:
        """Existing columns of ``table`` with their kinds, or None if the table does not exist."""
        inspector = sa.inspect(conn)
        if not inspector.has_table(table.name, schema=table.schema):
            return None
        declared = self.database.declared_types(conn, table)
        return {column: kind_from_declared(text) for column, text in declared.items()}

    def _has_unique_key(self, conn: sa.Connection, table: sa.Table, keys: list[str]) -> bool:
        inspector = sa.inspect(conn)
        wanted = {k.upper() for k in keys}
        pk = inspector.get_pk_constraint(table.name, schema=table.schema)["constrained_columns"]
        indexes = inspector.get_indexes(table.name, schema=table.schema)
        return {c.upper() for c in pk} == wanted or any(
            index["unique"] and {str(c).upper() for c in index["column_names"]} == wanted
            for index in indexes
        )

    def evolve_table(
        self,
        conn: sa.Connection,
        table: sa.Table,
        wanted: dict[str, Kind],
        *,
        unique_key: bool,
        existing: dict[str, Kind] | None = None,
    ) -> dict[str, Kind]:
        """Create ``table`` or bring it to hold ``wanted`` columns; return the resulting kinds.

        With ``unique_key``, a table created without a key (by an append-only load) gets a
        unique index on ``table``'s primary key columns, which keyed loads need. ``existing``:
        its columns as just reflected (None: reflected here; no table: created).
        """
        existing = existing if existing is not None else self.reflect_kinds(conn, table)
        if existing is None:
            conn.execute(sa.schema.CreateTable(table))
            return dict(wanted)
        for statement in evolution_ddl(table, wanted, existing, self.dialect):
            self._run_ddl(conn, statement)
        if unique_key:
            self.ensure_unique_key(conn, table)
        return existing

    def loaded_tables(
        self, schema: str | None, prefix: str, exclude: sa.Table | None = None
    ) -> list[str]:
        """The tables of ``schema`` named ``prefix``... that this target loads (they have
        SDC_TABLE_VERSION), but ``exclude`` (the audit table)."""
        with self.begin() as conn:
            inspector = sa.inspect(conn)
            names = [n.upper() for n in inspector.get_table_names(schema=schema)]
            return [
                name
                for name in sorted(names)
                if name.startswith(prefix)
                and (exclude is None or name != exclude.name)
                and any(
                    c["name"].upper() == "SDC_TABLE_VERSION"
                    for c in inspector.get_columns(name, schema=schema)
                )
            ]

    def ensure_unique_key(self, conn: sa.Connection, table: sa.Table) -> None:
        """Add a unique index on the key columns if the table has neither it nor a primary key."""
        keys = [c.name for c in table.primary_key.columns]
        if keys and not self._has_unique_key(conn, table, keys):
            self._run_ddl(conn, unique_key_ddl(table, keys, self.dialect))

    def _run_ddl(self, conn: sa.Connection, statement: str) -> None:
        self.logger.info("Schema change: %s", statement)
        conn.exec_driver_sql(statement)
