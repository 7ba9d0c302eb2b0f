"""Ordinary mistakes that used to succeed empty and move every bookmark past data never read
(wrong environment, start_date in the future, an unknown facility or company code) fail with
one line; a corrected re-run from the state the mistaken run left delivers every record
changed in between. Through the real executable against the simulator."""

from __future__ import annotations

import json
import time

import pytest
from tap_gruponos_wms.pagination import parse_timestamp

STREAMS = {"order_headers": "order_hdr", "order_details": "order_dtl", "allocations": "allocation"}


def next_second() -> None:
    """Let the server clock pass a whole second (a run reads up to the second it starts)."""
    time.sleep(1.05 - (time.time() % 1))


def change_every_entity(sim) -> dict[str, set[int]]:
    """Modify some records of each entity and add a whole order; the ids per stream."""
    changed = {stream: set(sim.modify(entity, count=3)) for stream, entity in STREAMS.items()}
    for stream, entity in STREAMS.items():
        changed[stream] |= set(sim.insert_order(details=1, allocations_per_detail=1)[entity])
    return changed


def in_scope(sim, setting: str, code: str) -> dict[str, set[int]]:
    """Ids per stream of the records whose order has this facility / company code."""
    field = {"facility_code": "facility_id", "company_code": "company_id"}[setting]
    orders = {r["id"] for r in sim.records("order_hdr") if r[field]["key"] == code}
    details = {r["id"] for r in sim.records("order_dtl") if r["order_id"]["id"] in orders}
    allocations = {r["id"] for r in sim.records("allocation") if r["order_dtl_id"]["id"] in details}
    return {"order_headers": orders, "order_details": details, "allocations": allocations}


def delivered(run) -> dict[str, set[int]]:
    return {stream: set(run.output.ids(stream)) for stream in STREAMS}


def assert_bookmarks_not_moved(run, state: dict) -> None:
    """The mistaken run's state holds no bookmark later than the one it started from."""
    before = state.get("bookmarks", {})
    for stream, bookmark in run.state_after(state).get("bookmarks", {}).items():
        value = bookmark.get("replication_key_value")
        start = before.get(stream, {}).get("replication_key_value")
        assert value is None or (start and parse_timestamp(value) <= parse_timestamp(start))


@pytest.fixture
def catalog(tap_cli, sim_config) -> dict:
    run = tap_cli(sim_config, "--discover")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("environment", ["raizen_prod", "gruponos_tst"])
def test_wrong_environment_with_a_pinned_catalog_fails_and_the_corrected_run_loses_nothing(
    sim, sim_config, tap_cli, catalog, environment
) -> None:
    first = tap_cli(sim_config, catalog=catalog)
    assert first.returncode == 0, first.stderr
    next_second()
    changed = change_every_entity(sim)
    next_second()
    wrong = {**sim_config, "base_url": sim.base_url.replace("gruponos_test", environment)}

    mistaken = tap_cli(wrong, catalog=catalog, state=first.output.last_state)

    line = mistaken.assert_one_line_failure("check base_url and api_version", f"/{environment}/")
    assert "wms_pass" not in mistaken.stderr and "wms_user" not in line
    assert mistaken.output.of_type("RECORD") == []
    assert_bookmarks_not_moved(mistaken, first.output.last_state)

    corrected = tap_cli(
        sim_config, catalog=catalog, state=mistaken.state_after(first.output.last_state)
    )
    assert corrected.returncode == 0, corrected.stderr
    for stream, ids in changed.items():
        assert ids <= delivered(corrected)[stream], stream


def test_wrong_environment_full_table_fails_before_any_activate_version(
    sim, sim_config, tap_cli, catalog
) -> None:
    for entry in catalog["streams"]:
        entry["replication_method"] = "FULL_TABLE"
    wrong = {**sim_config, "base_url": sim.base_url.replace("gruponos_test", "raizen_prod")}

    mistaken = tap_cli(wrong, catalog=catalog)

    mistaken.assert_one_line_failure("check base_url and api_version", "/raizen_prod/")
    assert mistaken.output.of_type("ACTIVATE_VERSION") == []


@pytest.mark.parametrize(
    "mode", [(), ("--discover",), ("--test",)], ids=["sync", "discover", "test"]
)
def test_wrong_environment_without_a_catalog_is_one_line_naming_the_url(
    sim, sim_config, tap_cli, mode
) -> None:
    wrong = {**sim_config, "base_url": sim.base_url.replace("gruponos_test", "raizen_prod")}
    run = tap_cli(wrong, *mode)
    run.assert_one_line_failure(
        "check base_url and api_version", sim.base_url.replace("gruponos_test", "raizen_prod")
    )


@pytest.mark.parametrize("version", ["v9", "v10"])
def test_an_api_version_the_environment_answers_is_fine(sim_config, tap_cli, version) -> None:
    run = tap_cli({**sim_config, "api_version": version})
    assert run.returncode == 0, run.stderr


def test_start_date_after_the_server_clock_fails_and_the_corrected_run_loses_nothing(
    sim, sim_config, tap_cli
) -> None:
    future = {**sim_config, "start_date": "2099-01-01T00:00:00Z"}

    mistaken = tap_cli(future)

    mistaken.assert_one_line_failure("setting start_date 2099-01-01T00:00:00+00:00", "WMS clock")
    assert mistaken.output.of_type("RECORD") == []
    assert_bookmarks_not_moved(mistaken, {})

    next_second()
    changed = change_every_entity(sim)
    next_second()
    corrected = tap_cli(sim_config, state=mistaken.state_after({}))
    assert corrected.returncode == 0, corrected.stderr
    for stream, entity in STREAMS.items():
        assert delivered(corrected)[stream] == {r["id"] for r in sim.records(entity)}
        assert changed[stream] <= delivered(corrected)[stream]


@pytest.mark.parametrize(
    ("setting", "value", "entity"),
    [("facility_code", "NOPE", "facility"), ("company_code", "GRUPONSO", "company")],
)
def test_unknown_facility_or_company_code_fails_and_the_corrected_run_loses_nothing(
    sim, sim_config, tap_cli, setting, value, entity
) -> None:
    right = {"facility_code": "FAC1", "company_code": "GRUPONOS"}[setting]
    first = tap_cli({**sim_config, setting: right})
    assert first.returncode == 0, first.stderr
    next_second()
    changed = change_every_entity(sim)
    next_second()

    mistaken = tap_cli({**sim_config, setting: value}, state=first.output.last_state)

    mistaken.assert_one_line_failure(f"setting {setting}", f"no {entity} with code '{value}'")
    assert mistaken.output.of_type("RECORD") == []
    assert_bookmarks_not_moved(mistaken, first.output.last_state)

    corrected = tap_cli(
        {**sim_config, setting: right}, state=mistaken.state_after(first.output.last_state)
    )
    assert corrected.returncode == 0, corrected.stderr
    scope = in_scope(sim, setting, right)
    for stream, ids in changed.items():
        assert ids & scope[stream] <= delivered(corrected)[stream] <= scope[stream], stream
    assert any(ids & scope[s] for s, ids in changed.items()), "some changes are in scope"


def test_a_known_facility_without_changes_is_a_normal_empty_run(sim, sim_config, tap_cli) -> None:
    config = {**sim_config, "facility_code": "FAC2", "company_code": "OTHERCO"}
    first = tap_cli(config)
    assert first.returncode == 0, first.stderr
    next_second()

    again = tap_cli(config, state=first.output.last_state)

    assert again.returncode == 0, again.stderr
    assert again.errors == []
    assert again.output.of_type("RECORD") == []
    checks = [e for e in sim.request_log if e.get("entity") in {"facility", "company"}]
    assert [e["query"].get("code") for e in checks][-2:] == ["FAC2", "OTHERCO"]
