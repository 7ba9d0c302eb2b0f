"""Answers that are not what lgfapi answers fail clearly instead of ending a window early."""

from __future__ import annotations

import json

import pytest
import responses
from singer_sdk.exceptions import FatalAPIError
from tap_gruponos_wms.errors import WmsResponseError
from tap_gruponos_wms.pagination import parse_timestamp
from wms_simulator import Fault

from .mock_api import API, CONFIG, DESCRIBE, ENTITIES, STATE, rec

STREAM, ENTITY = "order_details", "order_dtl"


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


def test_records_lacking_id_fail_clearly(api, run_tap) -> None:
    api.get(f"{API}order_dtl/", json={"results": [{"foo": 1}]})
    with pytest.raises(WmsResponseError, match="field 'id' is missing") as error:
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
        mock.get(API, json={"results": ENTITIES})
        for entity in ("order_hdr", "order_dtl", "allocation"):
            mock.get(f"{API}{entity}/describe/", json=DESCRIBE)
        with pytest.raises(WmsResponseError, match="Date header"):
            run_tap(CONFIG, state=STATE, streams=["order_details"])


def first_records(sim, count: int = 3) -> list[dict]:
    """The first records of the entity in the window's order (mod_ts, id), as served."""
    return sorted(sim.records(ENTITY), key=lambda r: (parse_timestamp(r["mod_ts"]), r["id"]))[
        :count
    ]


def serve_page(sim, records: list[dict]) -> None:
    body = json.dumps({"results": records})
    sim.add_faults(Fault(status=200, body=body, entity=ENTITY, path_contains="page_size"))


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        (lambda r: r.pop("id"), ["order_dtl: record 2 of the page", "field 'id' is missing"]),
        (lambda r: r.update(id="7"), ["order_dtl: record 2 of the page", "field 'id'"]),
        (lambda r: r.pop("mod_ts"), ["order_dtl: record id {id}: field 'mod_ts' is missing"]),
        (lambda r: r.update(mod_ts=None), ["order_dtl: record id {id}: field 'mod_ts' is null"]),
        (
            lambda r: r.update(mod_ts="26/11/2026 10:00"),
            ["order_dtl: record id {id}: field 'mod_ts' is not a date-time: '26/11/2026 10:00'"],
        ),
        (
            lambda r: r.update(mod_ts=20261126),
            ["order_dtl: record id {id}: field 'mod_ts' is not a date-time"],
        ),
    ],
    ids=["no-id", "text-id", "no-mod-ts", "null-mod-ts", "text-mod-ts", "number-mod-ts"],
)
def test_a_bad_record_fails_naming_entity_id_and_field_before_its_page_is_emitted(
    sim, sim_config, tap_cli, change, needles
) -> None:
    page = first_records(sim)
    bad = dict(page[1])
    change(bad)
    serve_page(sim, [page[0], bad, page[2]])

    run = tap_cli(sim_config)

    run.assert_one_line_failure(*(n.format(id=page[1]["id"]) for n in needles))
    assert run.output.records(STREAM) == []
    assert not any(
        STREAM in s.get("bookmarks", {}) and s["bookmarks"][STREAM].get("replication_key_value")
        for s in run.output.states
    )


@pytest.mark.parametrize(
    ("fault", "needles"),
    [
        (Fault(status=502, times=9, entity=ENTITY), ["answered 502", "gave up after 2 attempts"]),
        (Fault(status=400, entity=ENTITY), ["order_dtl: GET", "answered 400"]),
        (
            Fault(status=200, body="<html>Maintenance</html>", entity=ENTITY),
            ["order_dtl: GET", "not JSON", "text/html"],
        ),
        (Fault(truncate_body=True, entity=ENTITY, path_contains="page_size"), ["not JSON"]),
        (
            Fault(status=404, body="<html>Not Found</html>", entity=ENTITY),
            ["answered 404 (check base_url and api_version)"],
        ),
        (Fault(status=403, entity=ENTITY), ["lgfapi_read_access", "order_dtl"]),
    ],
    ids=["5xx", "400", "html", "truncated", "proxy-404", "403"],
)
def test_every_http_failure_is_one_line_and_exit_1(
    sim, sim_config, tap_cli, fault, needles
) -> None:
    sim.add_faults(fault)
    run = tap_cli({**sim_config, "max_retries": 1})
    run.assert_one_line_failure(*needles)
    assert "wms_pass" not in run.stderr


def test_a_keyset_the_server_does_not_honour_is_one_line(sim, sim_config, tap_cli) -> None:
    serve_page(sim, list(reversed(first_records(sim))))
    run = tap_cli(sim_config)
    run.assert_one_line_failure("order_dtl: ordering=mod_ts,id was not honoured")
    assert run.output.records(STREAM) == []


def test_a_describe_404_names_base_url_and_api_version(sim, sim_config, tap_cli) -> None:
    sim.add_faults(Fault(status=404, entity=ENTITY, path_contains="describe"))
    run = tap_cli(sim_config, "--discover")
    run.assert_one_line_failure(
        "order_dtl/describe/ answered 404", "check base_url and api_version"
    )


def test_an_entity_list_without_the_entity_fails_naming_it(run_tap) -> None:
    with responses.RequestsMock() as mock:
        mock.get(API, json={"results": ["order_hdr", "allocation"]}, headers={"Date": "x"})
        for entity in ("order_hdr", "order_dtl", "allocation"):
            mock.get(f"{API}{entity}/describe/", json=DESCRIBE)
        with pytest.raises(WmsResponseError, match="does not list entity 'order_dtl'"):
            run_tap(CONFIG, state=STATE, streams=["order_details"])
