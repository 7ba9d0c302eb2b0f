"""Locks that hold across processes and machines: in the database every worker shares.

What correctness depends on cannot live on one machine's disk when several workers run the
partitions: two workers would each take their own lock. The locks live where Meltano's state
lives, its system database (``MELTANO_DATABASE_URI``):

- PostgreSQL: advisory locks (``pg_advisory_lock`` and its ``_shared`` and ``try`` forms) on
  a connection of their own, released when it closes, also when the process holding it dies;
- SQLite: ``flock`` on files beside the database file (``<file>.locks/``), released when the
  holder dies; an SQLite file is on one machine, so are the processes that share it.

A lock is taken exclusive or shared (readers and a writer: the runs of an environment and its
full sync), waiting at most ``wait`` seconds (0: only if free now).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

#: Seconds between two attempts while waiting.
POLL = 0.25


class LockTimeout(Exception):
    """The lock was not free within the wait; the message names it (lock names say what
    holds them: ``the run of <state id>``)."""


def _key(name: str) -> int:
    """A signed 64-bit key for ``name`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


def _is_sqlite(uri: str) -> bool:
    return uri.startswith("sqlite")


def _sqlite_path(uri: str) -> Path:
    database = sa.make_url(uri).database
    if not database or database == ":memory:":
        msg = f"no lock beside an SQLite database without a file ({uri})"
        raise ValueError(msg)
    return Path(database)


@contextlib.contextmanager
def held(
    database_uri: str, name: str, *, shared: bool = False, wait: float | None = None
) -> Iterator[bool]:
    """Hold the lock ``name`` in the database of ``database_uri`` for the block.

    Yields True once held. With ``wait`` 0 it yields False at once if the lock is taken; with a
    longer ``wait`` it raises LockTimeout after it; None waits as long as it takes.
    """
    lock = _file_lock if _is_sqlite(database_uri) else _advisory_lock
    with lock(database_uri, name, shared=shared, wait=wait) as got:
        yield got


def _deadline_passed(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


@contextlib.contextmanager
def _file_lock(uri: str, name: str, *, shared: bool, wait: float | None) -> Iterator[bool]:
    folder = _sqlite_path(uri).with_name(_sqlite_path(uri).name + ".locks")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha1(name.encode()).hexdigest()[:16]}.lock"
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    deadline = None if wait is None else time.monotonic() + wait
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if wait == 0:
                    yield False
                    return
                if _deadline_passed(deadline):
                    raise LockTimeout(f"{name} still holds after {wait:g} s") from None
                time.sleep(POLL)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _advisory_lock(uri: str, name: str, *, shared: bool, wait: float | None) -> Iterator[bool]:
    suffix = "_shared" if shared else ""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    deadline = None if wait is None else time.monotonic() + wait
    key = {"key": _key(name)}
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            attempt = sa.text(f"SELECT pg_try_advisory_lock{suffix}(:key)")
            while not conn.execute(attempt, key).scalar():
                if wait == 0:
                    yield False
                    return
                if _deadline_passed(deadline):
                    raise LockTimeout(f"{name} still holds after {wait:g} s")
                time.sleep(POLL)
            try:
                yield True
            finally:
                conn.execute(sa.text(f"SELECT pg_advisory_unlock{suffix}(:key)"), key)
    finally:
        engine.dispose()
