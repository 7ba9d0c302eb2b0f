"""Faults, authentication, narrowing filters and full-table mode against the simulator."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from singer_sdk.exceptions import FatalAPIError
from tap_gruponos_wms.auth import WmsAuthError
from tap_gruponos_wms.client import WmsResponseError
from tap_gruponos_wms.pagination import parse_timestamp
from wms_simulator import Fault, WmsSimulator

STREAM, ENTITY = "order_details", "order_dtl"


def list_statuses(sim, entity: str = ENTITY) -> list[int]:
    return [
        e["status"]
        for e in sim.request_log
        if e.get("entity") == entity and not e["path"].endswith("describe/")
    ]


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


def test_persistent_server_errors_fail_naming_entity_url_and_last_status(
    sim, sim_config, run_tap, caplog
) -> None:
    sim.add_faults(Fault(status=502, times=50, entity=ENTITY))
    with pytest.raises(FatalAPIError) as error:
        run_tap({**sim_config, "max_retries": 2}, streams=[STREAM])
    message = str(error.value)
    assert f"{ENTITY}: GET {sim.base_url}/wms/lgfapi/v10/entity/{ENTITY}/" in message
    assert "answered 502" in message
    assert "gave up after 3 attempts" in message
    assert "wms_pass" not in message + caplog.text


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            Fault(
                status=200,
                body="<html><h1>Maintenance</h1></html>",
                entity=ENTITY,
                path_contains="page_size",
            ),
            "not JSON",
        ),
        (Fault(truncate_body=True, entity=ENTITY, path_contains="page_size"), "not JSON"),
        (
            Fault(
                status=200, body='{"result_count": 60}', entity=ENTITY, path_contains="page_size"
            ),
            "results",
        ),
    ],
)
def test_responses_of_the_wrong_shape_fail_clearly_without_emitting_half_a_page(
    sim, sim_config, run_tap, fault, expected
) -> None:
    sim.add_faults(fault)
    raw: list[str] = []
    with pytest.raises(WmsResponseError, match=expected):
        run_tap(sim_config, streams=[STREAM], raw=raw)
    assert not any('"type":"RECORD"' in line for line in raw)


def test_wrong_password_fails_at_once_without_retrying_or_logging_it(
    sim, sim_config, run_tap, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    config = {**sim_config, "password": "not-the-password"}
    with pytest.raises(WmsAuthError, match="check username and password") as error:
        run_tap(config, streams=[STREAM])
    assert "not-the-password" not in str(error.value) + caplog.text
    assert [e["status"] for e in sim.request_log] == [401]


def test_user_without_lgfapi_permission_fails_naming_it(run_tap) -> None:
    with WmsSimulator(orders=2, forbidden_users={"viewer": "viewer_pass"}) as sim:
        config = {"base_url": sim.base_url, "username": "viewer", "password": "viewer_pass"}
        with pytest.raises(WmsAuthError, match="lgfapi_read_access"):
            run_tap(config)


def oauth_config(sim) -> dict:
    return {
        "base_url": sim.base_url,
        "auth_method": "oauth2",
        "oauth_token_url": sim.token_url,
        "oauth_client_id": "wms_client",
        "oauth_client_secret": "wms_secret",
        "page_size": 10,
    }


def token_requests(sim) -> int:
    return sum(1 for e in sim.request_log if e["path"].endswith("/oauth2/v1/token"))


def test_oauth2_run_uses_one_token_and_renews_it_when_revoked(sim, run_tap, caplog) -> None:
    caplog.set_level(logging.DEBUG)

    def revoke_once(entity: str, query: dict, n: int) -> None:
        if entity == "order_hdr" and n == 1:
            sim.expire_tokens()

    sim.on_list_request(revoke_once)
    out = run_tap(oauth_config(sim))

    assert len(out.ids("order_headers")) == 20
    assert len(out.ids("order_details")) == 60
    assert token_requests(sim) == 2  # first token, then one renewal after the 401
    assert "wms_secret" not in caplog.text


def test_oauth2_token_is_renewed_before_expiry_during_a_long_run(run_tap) -> None:
    # ~22 requests of 100 ms each: the run lasts about twice the token's 1 s lifetime.
    with WmsSimulator(orders=20, token_ttl_seconds=1, latency_ms=100) as sim:
        started = time.monotonic()
        out = run_tap(oauth_config(sim))
        elapsed = time.monotonic() - started
        statuses = [e["status"] for e in sim.request_log]
    assert elapsed > 1.5
    assert len(out.of_type("RECORD")) == 140
    assert 401 not in statuses  # renewed before expiry, not after a refusal
    assert token_requests(sim) >= 2


def test_wrong_client_secret_fails_naming_the_oauth_settings(sim, run_tap) -> None:
    config = {**oauth_config(sim), "oauth_client_secret": "nope"}
    with pytest.raises(WmsAuthError, match="oauth_client_id and oauth_client_secret"):
        run_tap(config, streams=[STREAM])


def test_facility_and_company_filters_reach_each_entity_through_its_orders(
    sim, sim_config, run_tap
) -> None:
    orders = {r["id"]: r for r in sim.records("order_hdr")}
    details = {r["id"]: r for r in sim.records("order_dtl")}

    def wanted(order: dict) -> bool:
        return order["facility_id"]["key"] == "FAC1" and order["company_id"]["key"] == "GRUPONOS"

    config = {**sim_config, "facility_code": "FAC1", "company_code": "GRUPONOS"}
    out = run_tap(config)

    expected_orders = {i for i, o in orders.items() if wanted(o)}
    expected_details = {i for i, d in details.items() if d["order_id"]["id"] in expected_orders}
    expected_allocations = {
        r["id"] for r in sim.records("allocation") if r["order_dtl_id"]["id"] in expected_details
    }
    assert 0 < len(expected_orders) < len(orders)
    assert set(out.ids("order_headers")) == expected_orders
    assert set(out.ids("order_details")) == expected_details
    assert set(out.ids("allocations")) == expected_allocations
    assert {r["facility_key"] for r in out.records("order_headers")} == {"FAC1"}


def test_full_table_reads_every_record_once_while_rows_change_and_versions_the_snapshot(
    sim, sim_config, run_tap
) -> None:
    before = {r["id"] for r in sim.records(ENTITY)}
    deleted_order = sim.records("order_hdr")[-1]["id"]

    def change_during_read(entity: str, query: dict, n: int) -> None:
        if entity == ENTITY and n == 2:
            sim.modify(ENTITY, count=10)
            sim.delete("order_hdr", [deleted_order])

    sim.on_list_request(change_during_read)
    out = run_tap(sim_config, streams=[STREAM], method="FULL_TABLE")

    ids = out.ids(STREAM)
    assert len(ids) == len(set(ids))
    assert {r["id"] for r in sim.records(ENTITY)} <= set(ids) <= before
    kinds = [m["type"] for m in out.messages if m["type"] in {"ACTIVATE_VERSION", "RECORD"}]
    assert kinds == ["RECORD"] * len(ids) + ["ACTIVATE_VERSION"]
    versions = {m["version"] for m in out.messages if m["type"] in {"ACTIVATE_VERSION", "RECORD"}}
    assert len(versions) == 1
    assert all(
        e["query"].get("ordering") == "id" for e in sim.request_log if e["query"].get("page_size")
    )


def test_records_are_flat_with_relation_keys_and_offsets_kept(sim, sim_config, run_tap) -> None:
    out = run_tap(sim_config, streams=["allocations"])
    record = out.records("allocations")[0]
    source = next(r for r in sim.records("allocation") if r["id"] == record["id"])
    assert record["order_dtl_id"] == source["order_dtl_id"]["id"]
    assert record["order_dtl_key"] == source["order_dtl_id"]["key"]
    assert record["status_id"] == source["status_id"]
    assert record["mod_ts"] == source["mod_ts"]
    assert record["mod_ts"].endswith("-03:00")
    assert not any(name.endswith("_set") or isinstance(v, dict) for name, v in record.items())


def test_with_a_catalog_no_describe_call_is_made(sim, sim_config, run_tap) -> None:
    out = run_tap(sim_config, streams=[STREAM])  # discovery builds the catalog, then syncs
    described = [e for e in sim.request_log if e["path"].endswith("describe/")]
    assert len(out.ids(STREAM)) == 60
    assert len(described) == 3  # all during discovery, none during the sync with the catalog


def test_backfill_reads_only_start_to_end_date_and_bookmarks_end_date(
    sim, sim_config, run_tap
) -> None:
    stamps = sorted(parse_timestamp(r["mod_ts"]) for r in sim.records(ENTITY))
    start, end = stamps[10].replace(microsecond=0), stamps[40].replace(microsecond=0)
    config = {**sim_config, "start_date": start.isoformat(), "end_date": end.isoformat()}

    out = run_tap(config, streams=[STREAM])

    expected = {r["id"] for r in sim.records(ENTITY) if start <= parse_timestamp(r["mod_ts"]) < end}
    assert set(out.ids(STREAM)) == expected
    assert parse_timestamp(out.bookmark(STREAM)) == end


def test_debug_logs_of_a_basic_run_carry_no_credentials(sim, sim_config, run_tap, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    run_tap(sim_config, streams=[STREAM])
    encoded = base64.b64encode(b"wms_user:wms_pass").decode()
    assert caplog.text
    assert "wms_pass" not in caplog.text
    assert encoded not in caplog.text


def test_full_table_run_failing_midway_sends_no_activate_version(sim, sim_config, run_tap) -> None:
    sim.add_faults(Fault(status=500, times=20, entity=ENTITY, path_contains="id__gt=1"))
    raw: list[str] = []
    with pytest.raises(FatalAPIError):
        run_tap({**sim_config, "max_retries": 0}, streams=[STREAM], method="FULL_TABLE", raw=raw)
    assert any('"type":"RECORD"' in line for line in raw)
    assert not any('"type":"ACTIVATE_VERSION"' in line for line in raw)


def test_stream_maps_rename_streams_and_transform_records(sim, sim_config, run_tap) -> None:
    config = {
        **sim_config,
        "stream_maps": {
            "order_headers": {"__alias__": "wms_orders", "cust_name": None, "nbr": "order_nbr"},
        },
    }
    out = run_tap(config, streams=["order_headers"])
    records = out.records("wms_orders")
    assert len(records) == 20
    assert all("cust_name" not in r and r["nbr"] == r["order_nbr"] for r in records)
    assert [m["stream"] for m in out.of_type("SCHEMA")] == ["wms_orders"]
