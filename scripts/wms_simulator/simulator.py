"""`WmsSimulator`: the Python API tests, the demo and the benchmarks drive."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from . import schema
from .admin import AdminRoutes
from .auth import AuthConfig, Authenticator
from .faults import Fault, FaultQueue
from .query import QueryEngine
from .server import TOKEN_PATH, Api, ListCallback, SimHttpServer
from .store import DataStore, to_ts


class WmsSimulator(AdminRoutes):
    """A local lgfapi server with seeded orders, order details, allocations and the entities
    around them (facility, company, item, location, inventory, ...; `store.default_counts`).
    `counts` resizes the entities that are not details or fixed code tables.

    Usable as a context manager (`with WmsSimulator(...) as sim:`), which starts and stops it.
    """

    def __init__(
        self,
        orders: int = 50,
        details_per_order: int = 3,
        allocations_per_detail: int = 1,
        seed: int = 7,
        username: str = "wms_user",
        password: str = "wms_pass",
        oauth_client_id: str = "wms_client",
        oauth_client_secret: str = "wms_secret",
        token_ttl_seconds: float = 3600,
        latency_ms: int = 0,
        env_name: str = "gruponos_test",
        host: str = "127.0.0.1",
        port: int = 0,
        forbidden_users: dict[str, str] | None = None,
        history_end: datetime | None = None,
        history_days: float = 7.0,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.env_name = env_name
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.request_log: list[dict[str, Any]] = []
        self.list_callbacks: list[ListCallback] = []
        self.faults = FaultQueue()
        self.auth = Authenticator(
            AuthConfig(
                username,
                password,
                oauth_client_id,
                oauth_client_secret,
                token_ttl_seconds,
                dict(forbidden_users or {}),
            )
        )
        self.store = DataStore(
            orders,
            details_per_order,
            allocations_per_detail,
            seed,
            history_end_us=None if history_end is None else to_ts(history_end),
            history_days=history_days,
            counts=counts,
        )
        self.engine = QueryEngine(self.store)
        self.api = Api(self)
        #: Served by several processes (`serve --workers`): changes would reach only one.
        self.read_only = False
        self._server: SimHttpServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> WmsSimulator:
        if self._server is None:
            self.bind()
            self.serve()
        return self

    def bind(self) -> None:
        """Listen on host:port (port 0: a free one), without answering yet."""
        self._server = SimHttpServer((self.host, self.port), self.api)
        self.port = self._server.server_address[1]

    def serve(self) -> None:
        """Answer requests on the bound socket, in a thread of this process (each process
        forked after `bind` answers on the same socket: see `serve --workers`)."""
        assert self._server is not None, "bind() first"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wms-simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> WmsSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """Server root (admin endpoints live under /_sim/)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The environment root, like https://{cluster}.wms.ocs.oraclecloud.com/{env}."""
        return f"{self.root_url}/{self.env_name}"

    @property
    def token_url(self) -> str:
        return f"{self.root_url}{TOKEN_PATH}"

    # --- data ------------------------------------------------------------------------------

    def records(self, entity: str) -> list[dict[str, Any]]:
        """Every record of an entity exactly as the API serves it (v10 links), by id."""
        self._check_entity(entity)
        api_root = f"{self.base_url}/wms/lgfapi/v10"
        with self.store.lock:
            rows = self.store.tables[entity].rows
            return self.store.render(entity, list(rows), api_root)

    def counts(self) -> dict[str, int]:
        with self.store.lock:
            return {name: self.store.count(name) for name in schema.ENTITIES}

    def modify(
        self,
        entity: str,
        ids: Iterable[int] | None = None,
        count: int | None = None,
        changes: dict[str, Any] | None = None,
        *,
        mod_ts: Any = None,
    ) -> list[int]:
        """Set mod_ts = now (one timestamp for the whole call; or `mod_ts`) plus optional field
        changes. Without ids, `count` records are picked by the seeded random generator."""
        self._check_entity(entity)
        return self.store.modify(entity, ids, count, changes, mod_ts)

    def insert_order(
        self, details: int = 2, allocations_per_detail: int = 1, mod_ts: Any = None
    ) -> dict[str, list[int]]:
        return self.store.insert_order(details, allocations_per_detail, mod_ts)

    def insert(self, entity: str, mod_ts: Any = None, **fields: Any) -> int:
        """A record with mod_ts in the past is a transaction that commits late (visible now).
        order_dtl/allocation attach to `order_id`/`order_dtl_id` (default: the newest parent)."""
        self._check_entity(entity)
        return self.store.insert(entity, mod_ts, **fields)

    def delete(self, entity: str, ids: Iterable[int]) -> dict[str, list[int]]:
        """Delete records; their details/allocations go too, so the data stays consistent.
        Returns the deleted ids per entity."""
        self._check_entity(entity)
        return self.store.delete(entity, ids)

    def set_mod_ts(self, entity: str, ids: Iterable[int], ts: Any) -> None:
        """Give records one exact mod_ts (datetime, ISO string or epoch microseconds)."""
        self._check_entity(entity)
        self.store.set_mod_ts(entity, ids, ts)

    # --- behaviour -------------------------------------------------------------------------

    def on_list_request(self, callback: ListCallback) -> None:
        """callback(entity, query, n) runs before each list request is answered (n counts list
        requests per entity from 1), outside the data lock, so it may mutate data."""
        self.list_callbacks.append(callback)

    def add_faults(self, *faults: Fault) -> None:
        self.faults.add(*faults)

    def peak_in_flight(self) -> int:
        """The most lgfapi requests answered at once since the last call (then counting anew)."""
        return self.api.reset_peak()

    def expire_tokens(self) -> int:
        """Expire every issued OAuth2 token now; returns how many there were."""
        return self.auth.expire_tokens()

    @staticmethod
    def _check_entity(entity: str) -> None:
        if entity not in schema.ENTITIES:
            raise KeyError(f"unknown entity {entity!r}; known: {', '.join(schema.ENTITIES)}")
