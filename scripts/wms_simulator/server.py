"""The HTTP side: lgfapi routes, auth, paging envelopes, faults, latency and the socket server."""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import logging
import multiprocessing
import re
import socket
import threading
import time
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import schema
from .auth import decode_basic
from .clock import US_PER_SECOND
from .query import QueryError, parse
from .responses import Response, error_response, json_response

if TYPE_CHECKING:
    from .auth import Authenticator
    from .faults import Fault, FaultQueue
    from .query import QueryEngine
    from .store import DataStore

logger = logging.getLogger("wms_simulator")
TOKEN_PATH = "/oauth2/v1/token"
ADMIN_PREFIX = "/_sim/"
_API_RE = re.compile(
    r"^/(?P<env>[^/]+)/wms/lgfapi/(?P<version>v9|v10)/entity"
    r"(?:/(?P<entity>[a-z_]+)(?:/(?P<item>describe|\d+))?)?/?$"
)
ListCallback = Callable[[str, dict, int], None]


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"p={offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(cursor) from None
    if not text.startswith("p=") or not text[2:].isdigit():
        raise ValueError(cursor)
    return int(text[2:])


class Backend(Protocol):
    """What the HTTP side reads and changes of a simulator (`simulator.WmsSimulator`)."""

    env_name: str
    base_url: str
    latency_ms: int
    request_log: list[dict[str, Any]]
    list_callbacks: list[ListCallback]
    faults: FaultQueue
    auth: Authenticator
    store: DataStore
    engine: QueryEngine

    def handle_admin(
        self, method: str, route: str, params: list[tuple[str, str]], body: bytes
    ) -> Response: ...


class Api:
    """Turns one request into one Response; owns no socket (easy to reason about)."""

    def __init__(self, sim: Backend) -> None:
        self.sim = sim
        self._list_counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        # lgfapi requests being answered now, and the most at once since the last reset: in
        # shared memory, so the processes of `serve --workers N` count together
        self._in_flight = multiprocessing.Array("q", 2)

    def _entering(self, delta: int) -> None:
        with self._in_flight.get_lock():
            now = self._in_flight[0] = self._in_flight[0] + delta
            self._in_flight[1] = max(self._in_flight[1], now)

    def reset_peak(self) -> int:
        """The most requests answered at once since the last reset; starts counting anew."""
        with self._in_flight.get_lock():
            peak = self._in_flight[1]
            self._in_flight[1] = self._in_flight[0]
            return peak

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Response:
        parts = urlsplit(target)
        path, params = parts.path, parse_qsl(parts.query, keep_blank_values=True)
        if path.startswith(ADMIN_PREFIX):
            return self.sim.handle_admin(method, path[len(ADMIN_PREFIX) :], params, body)
        match = _API_RE.match(path)
        entity = match["entity"] if match else None
        counted = match is not None
        if counted:
            self._entering(1)
        try:
            if self.sim.latency_ms:
                time.sleep(self.sim.latency_ms / 1000)
            if method == "GET" and entity in schema.ENTITIES and match["item"] is None:
                self._run_list_callbacks(entity, params)  # first: a callback may add faults
            fault = self.sim.faults.take(entity, target, api=match is not None)
            if fault is None:
                response = self._route(method, path, match, params, headers, body)
            else:
                response = self._faulty(
                    fault, lambda: self._route(method, path, match, params, headers, body)
                )
        finally:
            if counted:
                self._entering(-1)
        self.sim.request_log.append(
            {
                "method": method,
                "path": path,
                "query": dict(params),
                "status": None if response.drop else response.status,
                "entity": entity,
            }
        )
        return response

    @staticmethod
    def _faulty(fault: Fault, answer: Callable[[], Response]) -> Response:
        """The response a fault turns this request into (`answer` gives the normal one)."""
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if fault.drop_connection:
            return Response(0, drop=True)
        if fault.truncate_body or fault.drip_ms or (fault.status < 400 and fault.body is None):
            response = answer()
            if fault.truncate_body:
                response.body = response.body[: len(response.body) // 2]
            response.drip_seconds = fault.drip_ms / 1000
            return response
        extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.body is None:
            return error_response(fault.status, **extra)
        html = fault.body.lstrip().startswith("<")
        return Response(
            fault.status,
            fault.body.encode(),
            "text/html; charset=utf-8" if html else "application/json",
            extra,
        )

    def _route(
        self,
        method: str,
        path: str,
        match: re.Match | None,
        params: list[tuple[str, str]],
        headers: Any,
        body: bytes,
    ) -> Response:
        if path.rstrip("/") == TOKEN_PATH:
            return self._token(method, headers, body)
        if match is None or match["env"] != self.sim.env_name:
            return error_response(404, f"No API at {path}")
        status = self.sim.auth.check(headers.get("Authorization"))
        if status != 200:
            extra = {"WWW-Authenticate": 'Basic realm="lgfapi"'} if status == 401 else {}
            return error_response(status, **extra)
        if method not in ("GET", "HEAD"):
            return error_response(405, details={"method": method}, Allow="GET, HEAD")
        api_root = f"{self.sim.base_url}/wms/lgfapi/{match['version']}"
        entity, item = match["entity"], match["item"]
        if entity is None:
            return json_response(
                200, {name: f"{api_root}/entity/{name}/" for name in schema.ENTITIES}
            )
        if entity not in schema.ENTITIES:
            return error_response(404, f"Unknown entity '{entity}'")
        if item == "describe":
            return json_response(200, schema.describe(entity))
        if item is not None:
            return self._one(entity, int(item), api_root)
        if method == "HEAD":
            return self._changed_since(entity, params, headers.get("If-Modified-Since"))
        return self._list(entity, params, api_root)

    def _changed_since(
        self, entity: str, params: list[tuple[str, str]], if_modified_since: str | None
    ) -> Response:
        """Oracle's documented change check: HEAD + If-Modified-Since answers 304 when no
        matching record changed after that time; Last-Modified is the newest mod_ts."""
        params = [(k, v) for k, v in params if k not in ("ordering", "page", "page_size")]
        store = self.sim.store
        try:
            q = parse(store, entity, [*params, ("ordering", "-mod_ts")], decode_cursor)
        except QueryError as exc:
            return error_response(400, details={exc.param: str(exc)})
        q.page_size = 1
        with store.lock:
            newest, _ = self.sim.engine.page(q, 0)
            if not newest:
                return error_response(404, "No records found.")
            seconds = store.tables[entity].rows[newest[0]].mod_ts // US_PER_SECOND
        headers = {"Last-Modified": formatdate(seconds, usegmt=True)}
        try:
            since = (
                parsedate_to_datetime(if_modified_since).timestamp() if if_modified_since else None
            )
        except (TypeError, ValueError):
            since = None  # an unreadable date is ignored, as HTTP says
        return Response(304 if since is not None and seconds <= since else 200, headers=headers)

    def _one(self, entity: str, rid: int, api_root: str) -> Response:
        store = self.sim.store
        with store.lock:
            if rid not in store.tables[entity].rows:
                return error_response(404, f"No {entity} with id {rid}")
            record = store.render(entity, [rid], api_root)[0]
        return json_response(200, record)

    def _run_list_callbacks(self, entity: str, params: list[tuple[str, str]]) -> None:
        with self._counts_lock:
            n = self._list_counts[entity] = self._list_counts.get(entity, 0) + 1
        for callback in list(self.sim.list_callbacks):
            callback(entity, dict(params), n)

    def _list(self, entity: str, params: list[tuple[str, str]], api_root: str) -> Response:
        store = self.sim.store
        try:
            q = parse(store, entity, params, decode_cursor)
        except QueryError as exc:
            return error_response(400, details={exc.param: str(exc)})
        with store.lock:
            start = q.offset if q.sequenced else (q.page - 1) * q.page_size
            page_ids, total = self.sim.engine.page(q, start)
            if not page_ids:
                return error_response(404, "Invalid page." if total else "No records found.")
            results = store.render(entity, page_ids, api_root, q.fields)
        link = _Links(f"{api_root}/entity/{entity}/", params)
        end = start + len(page_ids)
        if q.sequenced:
            payload = {
                "next_page": link.cursor(end) if end < total else None,
                "previous_page": link.cursor(max(0, start - q.page_size)) if start else None,
                "results": results,
            }
        else:
            page_count = -(-total // q.page_size)
            payload = {
                "result_count": total,
                "page_count": page_count,
                "page_nbr": q.page,
                "next_page": link.page(q.page + 1) if q.page < page_count else None,
                "previous_page": link.page(q.page - 1) if q.page > 1 else None,
                "results": results,
            }
        return json_response(200, payload)

    def _token(self, method: str, headers: Any, body: bytes) -> Response:
        if method != "POST":
            return json_response(405, {"error": "invalid_request"}, Allow="POST")
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return json_response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
            )
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, value = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            client_id, secret = decode_basic(value) or ("", "")
        token = self.sim.auth.issue_token(client_id, secret)
        if token is None:
            return json_response(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        payload = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.sim.auth.config.token_ttl_seconds),
        }
        if "scope" in form:
            payload["scope"] = form["scope"]
        return json_response(200, payload)


class _Links:
    """next/previous links: the request's own parameters with the page or cursor replaced."""

    def __init__(self, url: str, params: list[tuple[str, str]]) -> None:
        self.url = url
        self.params = [(k, v) for k, v in params if k not in ("page", "cursor")]

    def page(self, number: int) -> str:
        return f"{self.url}?{urlencode([*self.params, ('page', str(number))])}"

    def cursor(self, offset: int) -> str:
        return f"{self.url}?{urlencode([*self.params, ('cursor', encode_cursor(offset))])}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients of the real API expect
    disable_nagle_algorithm = True  # headers and body go in separate writes
    server_version = "WmsSimulator/1.0"
    sys_version = ""
    timeout = 120
    server: SimHttpServer

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            response = self.server.api.handle(self.command, self.path, self.headers, body)
        except Exception as exc:  # a bug or a failing test callback: answer like a WMS would
            logger.exception("wms-simulator: %s %s failed", self.command, self.path)
            response = error_response(500, details={"error": type(exc).__name__})
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if not response.drip_seconds:
            self._write(response, started, cpu_started)
            return
        response.headers["Connection"] = "close"  # the client must not reuse it mid-drip
        wire, self.wfile = self.wfile, io.BytesIO()
        try:
            self._write(response, started, cpu_started)
            data = self.wfile.getvalue()
        finally:
            self.wfile = wire
        with contextlib.suppress(OSError):  # the client may give up mid-drip
            for i in range(len(data)):
                wire.write(data[i : i + 1])
                wire.flush()
                time.sleep(response.drip_seconds)

    def _write(self, response: Response, started: float, cpu_started: float) -> None:
        self.send_response(response.status)  # also sends Date (server clock) and Server
        self.send_header("Content-Type", response.content_type)
        # Standard Server-Timing: what this request cost the simulator (benchmarks read it).
        self.send_header(
            "Server-Timing",
            f"total;dur={(time.perf_counter() - started) * 1000:.1f}, "
            f"cpu;dur={(time.thread_time() - cpu_started) * 1000:.1f}",
        )
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is kept in memory for assertions instead."""


class SimHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Unblock keep-alive handler threads so stop() leaves nothing running."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
