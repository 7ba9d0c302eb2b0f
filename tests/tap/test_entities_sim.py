"""The `entities` setting against the simulator: every entity it serves, stream names,
replication per entity and facility/company narrowing derived from the relations."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import typing as t

import pytest
from tap_gruponos_wms.errors import SettingsError
from tap_gruponos_wms.streams import DEFAULT_ENTITIES
from tap_gruponos_wms.tap import TapGruponosWms
from wms_simulator.schema import FIELDS

MISSION = {"order_hdr": "order_headers", "order_dtl": "order_details", "allocation": "allocations"}


def stream_of(entity: str) -> str:
    return MISSION.get(entity, entity)


def flattened(entity: str, record: dict[str, t.Any]) -> dict[str, t.Any]:
    """A record as the tap must emit it: relations as X_id + X_key, no *_set links."""
    out: dict[str, t.Any] = {}
    for name, value in record.items():
        if name.endswith("_set"):
            continue
        if FIELDS[entity][name].type == "relation" and name != "status_id":
            out[name] = None if value is None else value["id"]
            out[f"{name.removesuffix('_id')}_key"] = None if value is None else value["key"]
        else:
            out[name] = value
    return json.loads(json.dumps(out))


def test_every_simulator_entity_is_extracted_field_for_field(sim, sim_config, run_tap) -> None:
    out = run_tap({**sim_config, "entities": ["*"]})

    counts = sim.counts()
    assert len(counts) == 15
    for entity in counts:
        stream = stream_of(entity)
        got = sorted(out.records(stream), key=lambda r: r["id"])
        want = sorted((flattened(entity, r) for r in sim.records(entity)), key=lambda r: r["id"])
        assert got == want, f"{stream} differs from the simulator"
        schema = next(m for m in out.of_type("SCHEMA") if m["stream"] == stream)
        assert set(schema["schema"]["properties"]) == set(want[0]), stream


def test_mission_streams_keep_their_names_and_others_are_named_after_the_entity(
    sim, sim_config
) -> None:
    tap = TapGruponosWms(config={**sim_config, "entities": ["item", "order_dtl", "order_status"]})
    assert set(tap.streams) == {"order_details", "item", "order_status"}
    assert tap.streams["item"].replication_method == "INCREMENTAL"
    assert tap.streams["order_status"].replication_method == "FULL_TABLE"
    default = TapGruponosWms(config=sim_config)
    assert set(default.streams) == {"allocations", "order_headers", "order_details"}
    assert list(DEFAULT_ENTITIES) == ["order_hdr", "order_dtl", "allocation"]


def test_default_entities_give_the_same_output_as_naming_them(sim, sim_config, run_tap) -> None:
    def comparable(config: dict) -> list[dict]:
        one_at_a_time = {"max_parallel_streams": 1, "max_concurrent_requests": 1}
        messages = run_tap({**config, **one_at_a_time}).messages
        for message in messages:
            message.pop("time_extracted", None)
            if message["type"] == "STATE":  # bookmarks end at the server clock of each run
                message["value"] = sorted(message["value"].get("bookmarks", {}))
        return messages

    assert comparable(sim_config) == comparable({**sim_config, "entities": list(DEFAULT_ENTITIES)})


def test_an_entity_the_api_does_not_list_fails_at_the_start_naming_it(sim, sim_config) -> None:
    with pytest.raises(SettingsError, match="entities: 'itme' not listed"):
        TapGruponosWms(config={**sim_config, "entities": ["item", "itme"]}).streams  # noqa: B018
    assert not [e for e in sim.request_log if e["entity"] == "item" and "describe" not in e["path"]]


def test_an_entity_without_mod_ts_is_read_in_full_then_activated(sim, sim_config, run_tap) -> None:
    out = run_tap({**sim_config, "entities": ["order_status"]})

    mine = [m for m in out.messages if m.get("stream") == "order_status"]
    assert [m["type"] for m in mine[:1]] == ["SCHEMA"]
    assert mine[-1]["type"] == "ACTIVATE_VERSION"
    records = [m for m in mine if m["type"] == "RECORD"]
    assert {m["record"]["id"] for m in records} == {r["id"] for r in sim.records("order_status")}
    assert {m["version"] for m in records} == {mine[-1]["version"]}
    requests = [e for e in sim.request_log if e["entity"] == "order_status" and e["query"]]
    assert all(q["query"]["ordering"] == "id" and "mod_ts__gte" not in q["query"] for q in requests)


def test_catalog_asking_incremental_for_an_entity_without_mod_ts_still_reads_it_in_full(
    sim, sim_config, run_tap
) -> None:
    out = run_tap(
        {**sim_config, "entities": ["order_status", "item"]},
        streams=["order_status", "item"],
        method="INCREMENTAL",
    )
    assert len(out.records("order_status")) == 10
    assert out.of_type("ACTIVATE_VERSION")[0]["stream"] == "order_status"
    assert out.bookmark("item") is not None


def _chain_value(sim, entity: str, record: dict, path: list[str]) -> t.Any:
    """Follow relation fields through the simulator's records; the last one's key."""
    *hops, last = path
    current = record
    for hop in hops:
        target = current[hop]["url"].rsplit("/entity/", 1)[1].split("/")[0]
        current = next(r for r in sim.records(target) if r["id"] == current[hop]["id"])
    return current[last] if last == "code" else current[last]["key"]


@pytest.mark.parametrize(
    ("entity", "setting", "code", "path"),
    [
        ("facility", "facility_code", "FAC2", ["code"]),  # the entity itself
        ("company", "company_code", "OTHERCO", ["code"]),
        ("location", "facility_code", "FAC2", ["facility_id"]),  # depth 1
        ("item", "company_code", "OTHERCO", ["company_id"]),
        ("inventory", "facility_code", "FAC2", ["facility_id"]),
        ("ib_shipment_dtl", "facility_code", "FAC2", ["ib_shipment_id", "facility_id"]),  # 2
        ("purchase_order_dtl", "company_code", "OTHERCO", ["purchase_order_id", "company_id"]),
        ("allocation", "facility_code", "FAC2", ["order_dtl_id", "order_id", "facility_id"]),
    ],
)
def test_narrowing_by_facility_and_company_at_each_depth(
    sim, sim_config, run_tap, entity, setting, code, path
) -> None:
    out = run_tap({**sim_config, "entities": [entity], setting: code})

    want = {r["id"] for r in sim.records(entity) if _chain_value(sim, entity, r, path) == code}
    assert want and len(want) < sim.counts()[entity]
    assert set(out.ids(stream_of(entity))) == want
    reads = [e for e in sim.request_log if e["entity"] == entity and "ordering" in e["query"]]
    chain = "__".join([*path[:-1], path[-1]] if path == ["code"] else [*path, "code"])
    assert reads and all(e["query"].get(chain) == code for e in reads)


def test_entity_without_a_chain_is_read_in_full_with_one_info_line(
    sim, sim_config, run_tap, caplog
) -> None:
    caplog.set_level(logging.INFO)
    out = run_tap({**sim_config, "entities": ["item", "order_type"], "facility_code": "FAC1"})

    assert len(out.records("item")) == sim.counts()["item"]
    assert len(out.records("order_type")) == 3
    lines = [r.getMessage() for r in caplog.records if "no relation reaches facility" in r.message]
    assert sorted(line.split(":")[0] for line in lines) == ["item", "order_type"]


def test_an_unlisted_entity_is_one_error_line_and_exit_1_from_the_command(
    sim, sim_config, tmp_path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**sim_config, "entities": ["nope"]}))
    done = subprocess.run(
        [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert done.returncode == 1
    assert len(errors) == 1 and "setting entities: 'nope' not listed" in errors[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
