"""A deadline on the whole response: `request_timeout` bounds the time from sending a request to
the last byte of its body, not (as the timeout of `requests` does) each wait between two bytes.

A gateway or an overloaded WMS that trickles a response one byte at a time would otherwise hold
a run for as long as it trickles. A watchdog timer shuts the request's socket down at the
deadline, wherever the read is (status line, headers or body); the blocked read then fails and
`deadline` turns that failure into `requests.Timeout`, which the retry policy retries like any
other timeout. Sessions get it through `mount_deadline`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import typing as t

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from urllib3 import PoolManager

_current = threading.local()  # the watchdog of the request this thread is sending


class _Watchdog:
    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._connection: HTTPConnection | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                self._cut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._cut()

    def _cut(self) -> None:
        sock = getattr(self._connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Requests sent by this thread inside the block must be complete within `seconds`."""
    watchdog = _Watchdog(seconds)
    _current.watchdog = watchdog
    watchdog.start()
    try:
        yield
    except (requests.RequestException, OSError) as error:
        if watchdog.expired:
            msg = f"no complete response within request_timeout={seconds:g} s"
            raise requests.exceptions.ReadTimeout(msg) from error
        raise
    finally:
        watchdog.cancel()
        _current.watchdog = None


class _Watched:
    """Connection mixin: hands the connection to the current watchdog before each request
    (a kept-alive connection serves many requests, so `connect` would not be enough)."""

    def request(self, *args: t.Any, **kwargs: t.Any) -> None:
        if (watchdog := getattr(_current, "watchdog", None)) is not None:
            watchdog.watch(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def _watch_pools(manager: PoolManager) -> PoolManager:
    # urllib3 keeps pool classes per manager precisely so that they can be replaced.
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, *args: t.Any, **kwargs: t.Any) -> PoolManager:
        return _watch_pools(super().proxy_manager_for(*args, **kwargs))


def mount_deadline(session: requests.Session) -> None:
    """Let `deadline` cut the requests of `session`."""
    adapter = _DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
