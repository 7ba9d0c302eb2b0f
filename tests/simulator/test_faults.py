"""Injected latency and faults: what gateways and a busy WMS do to a reading client."""

from __future__ import annotations

import time

import pytest
import requests
from wms_simulator import Fault, WmsSimulator

from .conftest import Client


def test_status_faults_fire_the_given_number_of_times(fresh_client: Client) -> None:
    fresh_client.sim.add_faults(Fault(status=503, times=2))
    statuses = [fresh_client.get("order_hdr/").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    body = fresh_client.sim.request_log[0]
    assert (body["status"], body["entity"]) == (503, "order_hdr")


def test_429_carries_retry_after_and_409_an_oracle_body(fresh_client: Client) -> None:
    sim = fresh_client.sim
    sim.add_faults(Fault(status=429, retry_after=7), Fault(status=409))
    throttled = fresh_client.get("order_hdr/")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    conflict = fresh_client.get("order_hdr/")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "CONCURRENT_MODIFICATION"


def test_faults_can_target_an_entity_or_a_path_fragment(fresh_client: Client) -> None:
    sim = fresh_client.sim
    sim.add_faults(
        Fault(status=500, entity="allocation"), Fault(status=502, path_contains="page=2")
    )
    assert fresh_client.get("order_hdr/").status_code == 200
    assert fresh_client.get("allocation/").status_code == 500
    assert fresh_client.get("order_dtl/", page_size=5, page=1).status_code == 200
    assert fresh_client.get("order_dtl/", page_size=5, page=2).status_code == 502
    assert sim.faults.pending() == []


def test_html_error_pages_are_served_as_html(fresh_client: Client) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    fresh_client.sim.add_faults(Fault(status=502, body=page))
    response = fresh_client.get("order_hdr/")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == page


def test_dropped_connection_closes_the_socket_without_a_response(fresh_client: Client) -> None:
    fresh_client.sim.add_faults(Fault(drop_connection=True))
    with pytest.raises(requests.ConnectionError):
        fresh_client.get("order_hdr/")
    assert fresh_client.get("order_hdr/").status_code == 200
    assert fresh_client.sim.request_log[0]["status"] is None


def test_truncated_body_is_invalid_json_with_status_200(fresh_client: Client) -> None:
    fresh_client.sim.add_faults(Fault(truncate_body=True))
    response = fresh_client.get("order_dtl/", page_size=20)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert fresh_client.get("order_dtl/", page_size=20).json()["result_count"] == 20


def test_slow_fault_triggers_client_timeouts_then_answers_normally(fresh_client: Client) -> None:
    fresh_client.sim.add_faults(
        Fault(status=200, delay_ms=400, times=2, path_contains="page_size=1000")
    )
    with pytest.raises(requests.Timeout):
        fresh_client.session.get(
            f"{fresh_client.api}/order_hdr/", timeout=0.2, params={"page_size": 1000}
        )
    slow = fresh_client.get("order_hdr/", page_size=1000)
    assert slow.status_code == 200 and slow.json()["result_count"] == 10


def test_drip_fault_trickles_the_whole_response_byte_by_byte(fresh_client: Client) -> None:
    fresh_client.sim.add_faults(Fault(status=200, drip_ms=5, times=1, path_contains="fields=id"))
    started = time.monotonic()
    dripped = fresh_client.get("order_hdr/", page_size=1, ordering="id", fields="id")
    elapsed = time.monotonic() - started
    normal = fresh_client.get("order_hdr/", page_size=1, ordering="id", fields="id")
    assert dripped.json() == normal.json()
    assert dripped.headers["Connection"] == "close"
    # one wait per byte (headers included), none long enough for a per-read timeout
    assert elapsed >= len(dripped.content) * 0.005


def test_latency_applies_to_every_request() -> None:
    with WmsSimulator(orders=2, latency_ms=150) as sim:
        client = Client(sim)
        started = time.monotonic()
        client.get("order_hdr/1")
        assert time.monotonic() - started >= 0.15
        sim.latency_ms = 0
        started = time.monotonic()
        client.get("order_hdr/1")
        assert time.monotonic() - started < 0.15


def test_a_fault_added_by_a_list_callback_hits_that_same_request(fresh_client: Client) -> None:
    sim = fresh_client.sim

    def fail_second(entity: str, query: dict, n: int) -> None:
        if n == 2:
            sim.add_faults(Fault(status=500, entity=entity))

    sim.on_list_request(fail_second)
    assert [fresh_client.get("order_dtl/").status_code for _ in range(3)] == [200, 500, 200]


def test_token_endpoint_only_gets_faults_that_name_it(fresh_client: Client) -> None:
    sim = fresh_client.sim
    form = {"grant_type": "client_credentials"}
    sim.add_faults(Fault(status=503))
    token = requests.post(sim.token_url, data=form, auth=("wms_client", "wms_secret"), timeout=10)
    assert token.status_code == 200
    assert fresh_client.get("order_hdr/").status_code == 503
    sim.add_faults(Fault(status=502, path_contains="/oauth2/"))
    token = requests.post(sim.token_url, data=form, auth=("wms_client", "wms_secret"), timeout=10)
    assert token.status_code == 502
