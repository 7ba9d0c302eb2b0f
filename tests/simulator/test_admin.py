"""`/_sim/` endpoints do what the in-process API does, for simulators in another process."""

from __future__ import annotations

from typing import Any

import requests
from wms_simulator import WmsSimulator


def _post(sim: WmsSimulator, route: str, payload: Any) -> requests.Response:
    return requests.post(f"{sim.root_url}/_sim/{route}", json=payload, timeout=10)


def test_insert_and_insert_order_add_consistent_records(fresh_sim: WmsSimulator) -> None:
    reply = _post(
        fresh_sim,
        "insert",
        {
            "entity": "allocation",
            "mod_ts": "2026-01-01T10:00:00Z",
            "fields": {"order_dtl_id": 3, "alloc_qty": 4},
        },
    ).json()
    allocation = {r["id"]: r for r in fresh_sim.records("allocation")}[reply["id"]]
    assert allocation["order_dtl_id"]["id"] == 3 and allocation["alloc_qty"] == 4.0
    assert allocation["mod_ts"] == "2026-01-01T07:00:00.000000-03:00"
    order = _post(fresh_sim, "insert_order", {"details": 1, "allocations_per_detail": 0}).json()
    assert order == {"order_hdr": [11], "order_dtl": [21], "allocation": []}


def test_set_mod_ts_modify_and_records(fresh_sim: WmsSimulator) -> None:
    _post(
        fresh_sim,
        "set_mod_ts",
        {"entity": "order_hdr", "ids": [1, 2], "ts": "2026-02-02T00:00:00.5-03:00"},
    )
    changed = _post(
        fresh_sim, "modify", {"entity": "order_hdr", "ids": [3], "changes": {"cust_name": "Admin"}}
    ).json()
    assert changed == {"entity": "order_hdr", "ids": [3]}
    records = requests.get(f"{fresh_sim.root_url}/_sim/records/order_hdr", timeout=10).json()
    assert [r["mod_ts"] for r in records[:2]] == ["2026-02-02T00:00:00.500000-03:00"] * 2
    assert records[2]["cust_name"] == "Admin"


def test_latency_tokens_request_log_and_unknown_routes(fresh_sim: WmsSimulator) -> None:
    assert _post(fresh_sim, "latency", {"latency_ms": 5}).json() == {"latency_ms": 5}
    assert fresh_sim.latency_ms == 5
    assert _post(fresh_sim, "expire_tokens", {}).json() == {"expired": 0}
    requests.get(f"{fresh_sim.base_url}/wms/lgfapi/v10/entity/", timeout=10)
    log = requests.get(f"{fresh_sim.root_url}/_sim/request_log", timeout=10).json()
    assert [(e["path"], e["status"]) for e in log] == [
        ("/gruponos_test/wms/lgfapi/v10/entity/", 401)
    ]
    requests.delete(f"{fresh_sim.root_url}/_sim/request_log", timeout=10)
    assert fresh_sim.request_log == []
    assert requests.get(f"{fresh_sim.root_url}/_sim/nope", timeout=10).status_code == 404
    no_entity = _post(fresh_sim, "modify", {"count": 1})
    assert no_entity.status_code == 400 and "'entity'" in no_entity.json()["message"]
    assert _post(fresh_sim, "modify", {"entity": "order_hdr"}).status_code == 400
    assert _post(fresh_sim, "modify", {"entity": "order_hdr", "ids": [99]}).status_code == 404
