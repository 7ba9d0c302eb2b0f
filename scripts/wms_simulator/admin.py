"""`/_sim/` endpoints: control a simulator that runs in another process (demo, Meltano e2e).

JSON in and out, no auth (a local test server). Each route calls the same method the in-process
Python API offers, so both ways of driving the simulator behave alike: `AdminRoutes` is mixed
into `simulator.WmsSimulator`, so ``self`` (``sim`` in the route functions) is the simulator.
"""

from __future__ import annotations

from typing import Any

import orjson

from .faults import Fault
from .responses import Response, error_response, json_response


class AdminRoutes:
    """The admin surface of a simulator (mixed into `WmsSimulator`)."""

    def handle_admin(
        self, method: str, route: str, params: list[tuple[str, str]], body: bytes
    ) -> Response:
        route = route.strip("/")
        try:
            data = orjson.loads(body) if body else {}
            if isinstance(data, dict):
                data = _Payload(data)
            return self._dispatch(method, route, dict(params), data)
        except (KeyError, ValueError, TypeError) as exc:
            status = 404 if isinstance(exc, KeyError) else 400
            return error_response(status, str(exc).strip("'\""), {"route": route})

    def _dispatch(self, method: str, route: str, query: dict[str, str], data: Any) -> Response:
        sim: Any = self
        if sim.read_only and method != "GET":
            return error_response(
                409, "read-only: several processes serve this data (serve --workers)"
            )
        if (method, route) == ("GET", "health"):
            return json_response(
                200,
                {
                    "status": "ok",
                    "base_url": sim.base_url,
                    "token_url": sim.token_url,
                    "counts": sim.counts(),
                },
            )
        if method == "GET" and route.startswith("records/"):
            return json_response(200, sim.records(route.split("/", 1)[1]))
        if method == "POST":
            action = _POST_ACTIONS.get(route)
            if action is not None:
                return json_response(200, action(sim, data))
        if (method, route) == ("GET", "peak_in_flight"):
            return json_response(200, {"peak_in_flight": sim.peak_in_flight()})
        if route == "faults":
            if method == "DELETE":
                sim.faults.clear()
            return json_response(200, [f.to_dict() for f in sim.faults.pending()])
        if route == "request_log":
            if method == "DELETE":
                sim.request_log.clear()
            return json_response(200, sim.request_log)
        return error_response(404, f"No admin route {method} /_sim/{route}")


class _Payload(dict):
    """A JSON body: a missing key is the caller's mistake (400), not a missing record (404)."""

    def __missing__(self, key: str) -> Any:
        raise ValueError(f"missing '{key}' in the JSON body")


def _modify(sim: Any, data: dict) -> dict:
    ids = sim.modify(
        data["entity"],
        ids=data.get("ids"),
        count=data.get("count"),
        changes=data.get("changes"),
        mod_ts=data.get("mod_ts"),
    )
    return {"entity": data["entity"], "ids": ids}


def _insert(sim: Any, data: dict) -> dict:
    rid = sim.insert(data["entity"], mod_ts=data.get("mod_ts"), **data.get("fields", {}))
    return {"entity": data["entity"], "id": rid}


def _insert_order(sim: Any, data: dict) -> dict:
    return sim.insert_order(**data)


def _delete(sim: Any, data: dict) -> dict:
    return sim.delete(data["entity"], data["ids"])


def _sample(sim: Any, data: dict) -> dict:
    """Ids picked by the seeded generator (what `mutate --delete N` deletes)."""
    return {"entity": data["entity"], "ids": sim.store.sample_ids(data["entity"], data["count"])}


def _set_mod_ts(sim: Any, data: dict) -> dict:
    sim.set_mod_ts(data["entity"], data["ids"], data["ts"])
    return {"entity": data["entity"], "ids": data["ids"], "ts": data["ts"]}


def _faults(sim: Any, data: Any) -> list:
    items = data.get("faults", [data]) if isinstance(data, dict) else data
    sim.add_faults(*(Fault.from_dict(item) for item in items))
    return [f.to_dict() for f in sim.faults.pending()]


def _latency(sim: Any, data: dict) -> dict:
    sim.latency_ms = int(data["latency_ms"])
    return {"latency_ms": sim.latency_ms}


def _expire_tokens(sim: Any, data: dict) -> dict:
    return {"expired": sim.expire_tokens()}


_POST_ACTIONS = {
    "modify": _modify,
    "insert": _insert,
    "insert_order": _insert_order,
    "delete": _delete,
    "sample": _sample,
    "set_mod_ts": _set_mod_ts,
    "faults": _faults,
    "latency": _latency,
    "expire_tokens": _expire_tokens,
}
