"""Unit tests of the HTTP client against `responses`: the exact queries sent, the
pagination/window decisions, retries, auth failures and bad responses."""

from __future__ import annotations

import json

import pytest
import responses
from singer_sdk.exceptions import FatalAPIError
from tap_gruponos_wms.auth import WmsAuthError
from tap_gruponos_wms.client import WmsResponseError, safe_url
from tap_gruponos_wms.tap import TapGruponosWms

from .mock_api import API, CONFIG, DESCRIBE, HI, LO, STATE, page, rec, second, window


def test_window_is_read_by_keyset_with_whole_second_utc_bounds(api, run_tap) -> None:
    page(
        api,
        window(),
        [rec(1, "11:10:00.100000"), rec(2, "11:10:05.200000"), rec(3, "11:10:05.700000")],
    )
    page(
        api,
        window(lo="2026-11-26T11:10:05+00:00"),
        [rec(2, "11:10:05.200000"), rec(3, "11:10:05.700000")],
    )

    out = run_tap(CONFIG, state=STATE, streams=["order_details"])

    assert out.ids("order_details") == [1, 2, 3]
    bookmarks = [out.bookmark("order_details", s) for s in out.states]
    assert "2026-11-26T11:10:05+00:00" in bookmarks
    assert out.bookmark("order_details") == HI


def test_second_shared_by_more_records_than_a_page_is_drained_by_id(api, run_tap) -> None:
    s, s1 = "2026-11-26T11:10:05+00:00", "2026-11-26T11:10:06+00:00"
    crowded = {7: ".100000", 3: ".200000", 9: ".300000", 5: ".400000"}
    by_time = [rec(i, f"11:10:05{us}") for i, us in crowded.items()]
    by_id = sorted(by_time, key=lambda r: r["id"])
    page(api, window(), by_time[:3])
    page(api, second(s, s1, 0), by_id[:3])
    page(api, second(s, s1, 7), by_id[3:])
    page(api, window(lo=s1), None)

    out = run_tap(CONFIG, state=STATE, streams=["order_details"])

    assert sorted(out.ids("order_details")) == [3, 5, 7, 9]
    assert len(out.ids("order_details")) == 4
    bookmarks = [out.bookmark("order_details", st) for st in out.states]
    assert s1 in bookmarks
    assert bookmarks[-1] == HI


def test_no_changes_404_emits_nothing_and_keeps_the_bookmark_moving_forward(api, run_tap) -> None:
    page(api, window(), None)

    out = run_tap(CONFIG, state=STATE, streams=["order_details"])

    assert out.records("order_details") == []
    assert all(out.bookmark("order_details", st) >= LO for st in out.states)
    assert out.bookmark("order_details") == HI


def test_bookmark_never_moves_back_when_end_date_precedes_it(api, run_tap) -> None:
    config = {**CONFIG, "end_date": "2026-11-26T10:00:00+00:00"}
    out = run_tap(config, state=STATE, streams=["order_details"])
    assert out.records("order_details") == []
    assert out.bookmark("order_details") == LO


def test_first_run_starts_at_start_date_floored_to_the_second(api, run_tap) -> None:
    config = {**CONFIG, "start_date": "2026-11-26T11:30:00.750Z", "lookback_minutes": 5}
    page(api, window(lo="2026-11-26T11:30:00+00:00"), [rec(4, "11:31:00.000000")])

    out = run_tap(config, streams=["order_details"])

    assert out.ids("order_details") == [4]
    assert out.records("order_details")[0]["order_key"] == "ORD-10"


@pytest.mark.parametrize(
    ("start_date", "lo"),
    [
        (None, "2026-11-26T10:55:00+00:00"),  # bookmark 11:00 minus 5 minutes
        ("2026-11-26T10:58:00+00:00", "2026-11-26T10:58:00+00:00"),  # never before start_date
        ("2026-11-26T11:20:00+00:00", "2026-11-26T11:20:00+00:00"),  # a later start_date wins
    ],
)
def test_later_runs_start_at_the_bookmark_minus_lookback(api, run_tap, start_date, lo) -> None:
    config = {**CONFIG, "lookback_minutes": 5}
    if start_date:
        config["start_date"] = start_date
    page(api, window(lo=lo), [rec(4, "11:31:00.000000")])

    out = run_tap(config, state=STATE, streams=["order_details"])

    assert out.ids("order_details") == [4]


@pytest.mark.parametrize(
    ("stream", "entity", "facility_path", "company_path"),
    [
        ("order_headers", "order_hdr", "facility_id__code", "company_id__code"),
        ("order_details", "order_dtl", "order_id__facility_id__code", "order_id__company_id__code"),
        (
            "allocations",
            "allocation",
            "order_dtl_id__order_id__facility_id__code",
            "order_dtl_id__order_id__company_id__code",
        ),
    ],
)
def test_facility_and_company_narrow_each_entity_through_its_relation_path(
    api, run_tap, stream, entity, facility_path, company_path
) -> None:
    config = {**CONFIG, "facility_code": "FAC1", "company_code": "GRUPONOS"}
    params = window(
        lo="1970-01-01T00:00:00+00:00", **{facility_path: "FAC1", company_path: "GRUPONOS"}
    )
    page(api, params, [rec(1, "11:00:00.000000")], entity=entity)

    out = run_tap(config, streams=[stream])

    assert out.ids(stream) == [1]


def test_full_table_reads_by_id_keyset_and_versions_the_snapshot(api, run_tap) -> None:
    full = {"page_size": "3", "ordering": "id"}
    page(
        api,
        {**full, "id__gt": "0"},
        [rec(1, "11:00:00.0"), rec(2, "11:00:00.0"), rec(5, "11:00:00.0")],
    )
    page(api, {**full, "id__gt": "5"}, [rec(6, "11:00:00.0")])

    out = run_tap(CONFIG, streams=["order_details"], method="FULL_TABLE")

    kinds = [m["type"] for m in out.messages if m["type"] in {"RECORD", "ACTIVATE_VERSION"}]
    assert kinds == ["RECORD", "RECORD", "RECORD", "RECORD", "ACTIVATE_VERSION"]
    versions = {m["version"] for m in out.messages if m["type"] in {"RECORD", "ACTIVATE_VERSION"}}
    assert len(versions) == 1
    assert out.ids("order_details") == [1, 2, 5, 6]


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


def test_retries_exhausted_fail_naming_entity_url_and_status_without_credentials(
    api, run_tap, monkeypatch
) -> None:
    monkeypatch.setattr("backoff._sync.time.sleep", lambda s: None)
    api.get(f"{API}order_dtl/", status=502, body="Bad gateway")

    with pytest.raises(FatalAPIError) as error:
        run_tap(CONFIG, state=STATE, streams=["order_details"])

    message = str(error.value)
    assert "order_dtl" in message
    assert "/gruponos_test/wms/lgfapi/v10/entity/order_dtl/" in message
    assert "502" in message
    assert "3 attempts" in message
    assert "wms_pass" not in message
    assert len([c for c in api.calls if "/order_dtl/?" in c.request.url]) == 3


def test_connection_errors_are_retried_then_fail_clearly(api, run_tap, monkeypatch) -> None:
    monkeypatch.setattr("backoff._sync.time.sleep", lambda s: None)
    api.get(f"{API}order_dtl/", body=ConnectionResetError("peer reset"))
    with pytest.raises(
        FatalAPIError, match=r"order_dtl: GET .*order_dtl/.* failed after 3 attempts"
    ):
        run_tap(CONFIG, state=STATE, streams=["order_details"])


def test_wrong_basic_credentials_fail_at_once_naming_the_settings(api, run_tap) -> None:
    api.get(f"{API}order_dtl/", status=401, json={"code": "AUTH", "message": "Invalid credentials"})
    with pytest.raises(WmsAuthError, match="username and password") as error:
        run_tap(CONFIG, state=STATE, streams=["order_details"])
    assert "wms_pass" not in str(error.value)
    assert len([c for c in api.calls if "/order_dtl/?" in c.request.url]) == 1


def test_forbidden_user_fails_naming_the_missing_permission(api, run_tap) -> None:
    api.get(f"{API}order_dtl/", status=403, json={"code": "FORBIDDEN", "message": "Forbidden"})
    with pytest.raises(WmsAuthError, match="lgfapi_read_access"):
        run_tap(CONFIG, state=STATE, streams=["order_details"])


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("<html><body>Service Unavailable</body></html>", "text/html", "not JSON"),
        ('{"results": [{"id": 1, "mod_ts": "2026-11-26T08:', "application/json", "not JSON"),
        ('{"result_count": 3}', "application/json", "without a 'results' list"),
        ('{"results": [{"foo": 1}]}', "application/json", "lacking id/mod_ts"),
    ],
)
def test_bad_response_shape_fails_clearly(api, run_tap, body, content_type, expected) -> None:
    api.get(f"{API}order_dtl/", body=body, content_type=content_type)
    with pytest.raises(WmsResponseError, match=expected) as error:
        run_tap(CONFIG, state=STATE, streams=["order_details"])
    assert "order_dtl" in str(error.value)


def test_a_server_capping_page_size_fails_instead_of_ending_the_window(api, run_tap) -> None:
    more = {"results": [rec(1, "11:10:00.100000")], "next_page": f"{API}order_dtl/?page=2"}
    api.get(f"{API}order_dtl/", json=more)
    with pytest.raises(WmsResponseError, match="caps the page size; set page_size to at most 1"):
        run_tap(CONFIG, state=STATE, streams=["order_details"])


def test_404_that_is_not_an_lgfapi_answer_fails_instead_of_meaning_no_records(api, run_tap) -> None:
    api.get(f"{API}order_dtl/", status=404, body="<html>Not Found</html>", content_type="text/html")
    with pytest.raises(FatalAPIError, match="check base_url and api_version"):
        run_tap(CONFIG, state=STATE, streams=["order_details"])


def test_sync_without_date_header_fails_rather_than_guessing_the_window(run_tap) -> None:
    with responses.RequestsMock() as mock:
        mock.get(API, json={"results": []})
        for entity in ("order_hdr", "order_dtl", "allocation"):
            mock.get(f"{API}{entity}/describe/", json=DESCRIBE)
        with pytest.raises(WmsResponseError, match="Date header"):
            run_tap(CONFIG, state=STATE, streams=["order_details"])


def test_urls_in_messages_never_carry_user_info() -> None:
    assert safe_url("https://user:pw@wms.example/env/x?a=1") == "https://wms.example/env/x?a=1"


def test_deselected_properties_are_left_out_of_records(api) -> None:
    from .conftest import CapturingWriter, catalog_for

    page(api, window(), [rec(1, "11:10:00.0")])
    catalog = catalog_for(TapGruponosWms(config=CONFIG, setup_mapper=False), ["order_details"])
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "order_details")
    for meta in entry["metadata"]:
        if meta["breadcrumb"] in (["properties", "po_nbr"], ["properties", "order_key"]):
            meta["metadata"]["selected"] = False
    writer = CapturingWriter()
    TapGruponosWms(config=CONFIG, state=STATE, catalog=catalog, message_writer=writer).sync_all()

    records = [json.loads(line)["record"] for line in writer.lines if '"type":"RECORD"' in line]
    assert records == [{"id": 1, "order_id": 10, "mod_ts": "2026-11-26T08:10:00.0-03:00"}]
