"""What differs between the databases the target writes to: one module per database.

Planning, the row builder, the statements and the sink ask a :class:`Database` instead of
comparing dialect names, so an Oracle change touches ``oracle.py`` only, and a third database
is one new module plus one entry in :data:`DATABASES`.
"""

from __future__ import annotations

from target_gruponos_oracle.dialects.base import Database
from target_gruponos_oracle.dialects.oracle import ORACLE
from target_gruponos_oracle.dialects.sqlite import SQLITE

DATABASES: dict[str, Database] = {db.name: db for db in (ORACLE, SQLITE)}


def for_name(name: str) -> Database:
    """The database of a SQLAlchemy dialect / URL backend name (``oracle``, ``sqlite``)."""
    try:
        return DATABASES[name]
    except KeyError:
        msg = f"database '{name}' is not supported (supported: {', '.join(DATABASES)})"
        raise ValueError(msg) from None


__all__ = ["DATABASES", "ORACLE", "SQLITE", "Database", "for_name"]
