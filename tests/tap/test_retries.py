"""Retries: which failures are retried, how long between attempts (Retry-After, timeouts)
and how a run gives up, against `responses` and the simulator."""

from __future__ import annotations

import time

import pytest
from singer_sdk.exceptions import FatalAPIError
from wms_simulator import Fault

from .mock_api import API, CONFIG, STATE, page, rec, window

STREAM, ENTITY = "order_details", "order_dtl"


def list_statuses(sim, entity: str = ENTITY) -> list[int]:
    return [
        e["status"]
        for e in sim.request_log
        if e.get("entity") == entity and not e["path"].endswith("describe/")
    ]


def test_transient_errors_are_retried_honouring_retry_after(api, run_tap, monkeypatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("backoff._sync.time.sleep", sleeps.append)
    url = f"{API}order_dtl/"
    api.get(url, status=503, headers={"Retry-After": "7"})
    api.get(url, status=429)
    api.get(url, status=409, json={"code": "CONFLICT", "message": "modified concurrently"})
    page(api, window(), [rec(1, "11:10:00.0")])

    out = run_tap({**CONFIG, "max_retries": 3}, state=STATE, streams=["order_details"])

    assert out.ids("order_details") == [1]
    assert len(sleeps) == 3
    assert sleeps[0] >= 7
    assert sleeps[1] < 1


def test_gateway_errors_and_dropped_connections_are_retried_honouring_retry_after(
    sim, sim_config, run_tap, caplog
) -> None:
    sim.add_faults(
        Fault(status=503, times=1, entity=ENTITY, retry_after=1),
        Fault(status=429, times=1, entity=ENTITY),
        Fault(drop_connection=True, times=1, entity=ENTITY),
        Fault(status=409, times=1, entity=ENTITY),
    )
    started = time.monotonic()
    out = run_tap({**sim_config, "max_retries": 4}, streams=[STREAM])

    assert sorted(out.ids(STREAM)) == sorted(r["id"] for r in sim.records(ENTITY))
    assert time.monotonic() - started >= 1.0  # waited the Retry-After
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert [m.split("(")[1].split(")")[0] for m in retries] == [
        "503",
        "429",
        "ConnectionError",
        "409",
    ]


def test_slow_response_times_out_and_is_retried(sim, sim_config, run_tap) -> None:
    sim.add_faults(Fault(status=200, delay_ms=1500, times=1, entity=ENTITY))
    out = run_tap({**sim_config, "request_timeout": 1}, streams=[STREAM])
    assert len(out.ids(STREAM)) == len(sim.records(ENTITY))


def test_connection_errors_are_retried_then_fail_clearly(api, run_tap, monkeypatch) -> None:
    monkeypatch.setattr("backoff._sync.time.sleep", lambda s: None)
    api.get(f"{API}order_dtl/", body=ConnectionResetError("peer reset"))
    with pytest.raises(
        FatalAPIError, match=r"order_dtl: GET .*order_dtl/.* failed after 3 attempts"
    ):
        run_tap(CONFIG, state=STATE, streams=["order_details"])


def test_persistent_server_errors_fail_naming_entity_url_and_last_status(
    sim, sim_config, run_tap, caplog
) -> None:
    sim.add_faults(Fault(status=502, times=50, entity=ENTITY, path_contains="page_size"))
    with pytest.raises(FatalAPIError) as error:
        run_tap({**sim_config, "max_retries": 2}, streams=[STREAM])
    message = str(error.value)
    assert f"{ENTITY}: GET {sim.base_url}/wms/lgfapi/v10/entity/{ENTITY}/" in message
    assert "answered 502" in message
    assert "gave up after 3 attempts" in message
    assert list_statuses(sim) == [502, 502, 502]
    assert "wms_pass" not in message + caplog.text


def test_request_timeout_bounds_a_whole_response_that_trickles_and_it_is_retried(
    sim, sim_config, tap_cli
) -> None:
    # One byte a second: each read waits far less than request_timeout, the whole response
    # (several hundred bytes) would take minutes.
    sim.add_faults(
        Fault(status=200, drip_ms=1000, times=1, entity=ENTITY, path_contains="page_size")
    )
    started = time.monotonic()

    run = tap_cli({**sim_config, "request_timeout": 2})

    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert sorted(run.output.ids(STREAM)) == sorted(r["id"] for r in sim.records(ENTITY))
    assert [line for line in run.warnings if "attempt 1 failed (ReadTimeout)" in line]
    assert elapsed < 30, "cut off after request_timeout, not after the whole trickle"


def test_a_response_trickling_past_every_retry_fails_naming_request_timeout(
    sim, sim_config, tap_cli
) -> None:
    sim.add_faults(
        Fault(status=200, drip_ms=1000, times=2, entity=ENTITY, path_contains="page_size")
    )
    run = tap_cli({**sim_config, "request_timeout": 1, "max_retries": 1})
    run.assert_one_line_failure(
        "order_dtl: GET",
        "failed after 2 attempts",
        "no complete response within request_timeout=1 s",
    )
