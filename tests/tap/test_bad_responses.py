"""Answers that are not what lgfapi answers fail clearly instead of ending a window early."""

from __future__ import annotations

import pytest
import responses
from singer_sdk.exceptions import FatalAPIError
from tap_gruponos_wms.client import WmsResponseError
from wms_simulator import Fault

from .mock_api import API, CONFIG, DESCRIBE, STATE, rec

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


def test_records_lacking_id_or_mod_ts_fail_clearly(api, run_tap) -> None:
    api.get(f"{API}order_dtl/", json={"results": [{"foo": 1}]})
    with pytest.raises(WmsResponseError, match="lacking id/mod_ts") as error:
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
