"""Injectable faults: what a gateway or an overloaded WMS does to a request."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Fault:
    """Answer the next `times` matching requests badly instead of normally.

    status: HTTP status to answer with (503, 429, 409, 500, ...), with an Oracle-style JSON error
        body unless `body` is given (a body starting with '<' is served as text/html).
    retry_after: value of a Retry-After header (seconds).
    drop_connection: close the socket without any response.
    truncate_body: serve the real response but cut its body in half (invalid JSON, honest
        Content-Length); `status` is then ignored.
    delay_ms: sleep this long before answering (a slow request, to trigger client timeouts);
        with a status below 400 and no body the normal response follows the delay.
    drip_ms: send the normal response (status line, headers, body) one byte every `drip_ms`
        milliseconds: a trickling connection, on which a per-read client timeout never fires.
    entity: only requests for this entity; path_contains: only requests whose path and query
        contain this text. Matching faults are used in the order they were added. The OAuth2
        token endpoint (another host in production) only gets faults that name it through
        path_contains.
    """

    status: int = 503
    times: int = 1
    entity: str | None = None
    retry_after: int | str | None = None
    drop_connection: bool = False
    body: str | None = None
    path_contains: str | None = None
    truncate_body: bool = False
    delay_ms: int = 0
    drip_ms: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, entity: str | None, target: str, *, api: bool) -> bool:
        if self.entity is not None and self.entity != entity:
            return False
        if self.path_contains is None:
            return api
        return self.path_contains in target


class FaultQueue:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, entity: str | None, target: str, *, api: bool) -> Fault | None:
        """The first fault matching this request, consuming one of its `times`; `api` tells
        lgfapi routes from others (the token endpoint)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(entity, target, api=api):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
