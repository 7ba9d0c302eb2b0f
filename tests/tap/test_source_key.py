"""key_column / key_value: several WMS environments load one set of tables, each record keyed
by its environment; a column the WMS already has is refused before any record is read."""

from __future__ import annotations

import json

import pytest

ENVIRONMENT = {"key_column": "wms_env", "key_value": "test"}


def test_every_record_carries_its_environment_first_in_its_key(sim, sim_config, run_tap) -> None:
    out = run_tap({**sim_config, **ENVIRONMENT})

    for schema in out.of_type("SCHEMA"):
        assert schema["key_properties"] == ["wms_env", "id"]
        assert schema["schema"]["properties"]["wms_env"]["type"] == ["string"]
    records = out.records("order_details")
    assert records and {r["wms_env"] for r in records} == {"test"}
    assert {r["id"] for r in records} == {r["id"] for r in sim.records("order_dtl")}


@pytest.mark.parametrize("column", ["order_nbr", "mod_user", "order_key"])
def test_a_key_column_the_wms_has_is_refused_before_any_record(sim_config, tap_cli, column) -> None:
    settings = {**sim_config, "key_column": column, "key_value": "test"}
    run = tap_cli(settings)
    line = run.assert_one_line_failure("key_column", repr(column))
    assert not run.output.of_type("RECORD") and not run.output.of_type("SCHEMA"), line
    assert tap_cli(settings, "--discover").returncode == 1


def test_a_catalog_from_another_discovery_is_checked_too(sim_config, tap_cli) -> None:
    catalog = json.loads(tap_cli(sim_config, "--discover").stdout)
    run = tap_cli({**sim_config, "key_column": "order_nbr", "key_value": "t"}, catalog=catalog)
    run.assert_one_line_failure("key_column", "'order_nbr'")
    ours = json.loads(tap_cli({**sim_config, **ENVIRONMENT}, "--discover").stdout)
    again = tap_cli({**sim_config, **ENVIRONMENT}, catalog=ours)
    assert again.returncode == 0, again.stderr


def test_key_column_without_key_value_is_one_line(sim_config, tap_cli) -> None:
    tap_cli({**sim_config, "key_column": "wms_env"}).assert_one_line_failure(
        "key_column", "key_value"
    )
