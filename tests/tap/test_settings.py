"""Setting mistakes, through the real executable in each mode: one ERROR line naming the
setting, exit code 1, no traceback; unknown setting names are a warning, not a failure."""

from __future__ import annotations

import pytest

from .mock_api import CONFIG

MODES = [(), ("--discover",), ("--test",)]
OFFLINE = {**CONFIG, "base_url": "http://127.0.0.1:9/gruponos_test"}  # nothing listens there


def without(config: dict, name: str) -> dict:
    return {k: v for k, v in config.items() if k != name}


@pytest.mark.parametrize("mode", MODES, ids=["sync", "discover", "test"])
@pytest.mark.parametrize(
    ("config", "needles"),
    [
        (without(OFFLINE, "base_url"), ["setting base_url is missing"]),
        ({**OFFLINE, "base_url": ""}, ["setting base_url is missing"]),
        ({**OFFLINE, "base_url": "   "}, ["setting base_url is missing"]),
        (
            {**OFFLINE, "base_url": "ta29.wms.ocs.oraclecloud.com/raizen_test"},
            ["setting base_url must start with https://", "ta29.wms.ocs.oraclecloud.com"],
        ),
        (
            {**OFFLINE, "start_date": "26/11/2026"},
            ["setting start_date is not an ISO-8601 date-time", "26/11/2026"],
        ),
        (
            {**OFFLINE, "end_date": "tomorrow"},
            ["setting end_date is not an ISO-8601 date-time", "tomorrow"],
        ),
    ],
    ids=["missing-base-url", "empty-base-url", "blank-base-url", "no-scheme", "start", "end"],
)
def test_a_setting_mistake_is_one_line_naming_the_setting_in_every_mode(
    tap_cli, config, needles, mode
) -> None:
    run = tap_cli(config, *mode)
    run.assert_one_line_failure(*needles)
    assert run.output.of_type("RECORD") == []
    assert "wms_pass" not in run.stderr


@pytest.mark.parametrize(
    ("config", "needles"),
    [
        (
            {**OFFLINE, "start_date": "2026-11-26T00:00:00Z", "end_date": "2026-11-26T00:00:00Z"},
            ["setting end_date", "is not after start_date"],
        ),
        (
            {**OFFLINE, "start_date": "2026-11-26", "end_date": "2026-11-01"},
            ["setting end_date 2026-11-01 is not after start_date 2026-11-26"],
        ),
        (
            {
                **OFFLINE,
                "base_url": "https://wms_user:s3cret@ta29.example/raizen_test/wms/lgfapi/v10",
            },
            ["setting base_url must be the environment root", "https://ta29.example/raizen_test"],
        ),
        (without(OFFLINE, "password"), ["auth_method 'basic' needs the setting(s): password"]),
        ({**OFFLINE, "api_version": "v11"}, ["invalid settings", "api_version"]),
        ({**OFFLINE, "page_size": 0}, ["invalid settings", "page_size"]),
    ],
    ids=["empty-window", "end-before-start", "lgfapi-path", "password", "api-version", "page-size"],
)
def test_settings_that_contradict_or_break_the_schema_are_one_line(
    tap_cli, config, needles
) -> None:
    run = tap_cli(config)
    line = run.assert_one_line_failure(*needles)
    assert "s3cret" not in run.stderr + line
    assert "wms_pass" not in run.stderr


@pytest.mark.parametrize("mode", MODES, ids=["sync", "discover", "test"])
def test_an_unknown_setting_name_is_warned_about_once_and_the_run_goes_on(
    tap_cli, sim, sim_config, mode
) -> None:
    run = tap_cli({**sim_config, "pagesize": 5, "facilty_code": "FAC1"}, *mode)

    assert run.returncode == 0, run.stderr
    unknown = [line for line in run.warnings if "unknown setting" in line]
    assert len(unknown) == 1, run.warnings
    assert "facilty_code, pagesize" in unknown[0]
    if not mode:
        assert len(run.output.ids("order_details")) == len(sim.records("order_dtl"))


def test_known_settings_raise_no_warning(tap_cli, sim_config) -> None:
    run = tap_cli(sim_config)
    assert run.returncode == 0, run.stderr
    assert run.warnings == []
