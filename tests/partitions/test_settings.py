"""The orchestration settings and what they build: partitions, slices, jobs, schedules."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.definitions import build_definitions
from orchestration.meltano import MeltanoProject, state_id_of
from orchestration.settings import DEMO, SettingsError, load_settings
from orchestration.slices import REMAINDER, Slice

REPO = Path(__file__).resolve().parents[2]
UTC = timezone.utc


def _settings(tmp_path: Path, **document) -> Path:
    base = {
        "meltano_project": str(REPO),
        "environments": [{"name": "test", "facilities": ["FAC1"]}],
    }
    path = tmp_path / "partitions.yml"
    path.write_text(yaml.safe_dump(base | document))
    return path


def test_the_demo_settings_build_one_asset_per_table_and_every_job_and_schedule():
    settings, root = load_settings(DEMO)
    defs = build_definitions(settings, str(root))

    assert root == REPO
    tables = defs.resolve_asset_graph().get_all_asset_keys()
    assert {key.to_user_string() for key in tables} == {
        "wms/allocations",
        "wms/order_details",
        "wms/order_headers",
    }
    jobs = {job.name for job in defs.jobs}
    assert jobs == {
        "facility_incremental",
        "facility_full",
        "environment_incremental",
        "environment_full",
        "backfill_windows",
    }
    keys = defs.resolve_job_def("facility_incremental").partitions_def.get_partition_keys()
    assert keys == ["test/FAC1", "test/FAC2", "test/FAC3", f"test/{REMAINDER}", "test", "prod"]
    windows = defs.resolve_job_def("backfill_windows").partitions_def
    assert windows.get_partition_keys() == ["2026-07-01", "2026-08-01", "2026-09-01", "2026-10-01"]
    schedules = {s.name: (s.cron_schedule, s.job_name) for s in defs.schedules}
    assert schedules == {
        "facility_incremental_schedule": ("0 */2 * * *", "facility_incremental"),
        # test runs its live syncs per facility; prod, not split, as a whole
        "environment_incremental_schedule": ("0 */2 * * *", "environment_incremental"),
        "environment_full_schedule": ("0 0 * * 0", "environment_full"),
    }
    tick = dg.build_schedule_context(
        repository_def=defs.get_repository_def(),
        scheduled_execution_time=datetime(2026, 12, 6, tzinfo=UTC),
    )
    keys = {
        s.name: [r.partition_key for r in s.evaluate_tick(tick).run_requests]
        for s in defs.schedules
    }
    # every facility of test is loaded every 2 hours, a facility nobody listed by *other*
    assert keys["facility_incremental_schedule"] == [
        "test/FAC1",
        "test/FAC2",
        "test/FAC3",
        f"test/{REMAINDER}",
    ]
    assert keys["environment_incremental_schedule"] == ["prod"]
    assert keys["environment_full_schedule"] == ["test", "prod"]  # the reconciling job


def test_each_slice_has_its_own_state_id_and_narrowing():
    start = datetime(2026, 7, 1, tzinfo=UTC)
    end = datetime(2026, 8, 1, tzinfo=UTC)
    facility = Slice("test", facility="FAC1", key_column="wms_env", start=end)
    window = Slice("test", window=(start, end), key_column="wms_env")
    remainder = Slice("test", other_than=("FAC2", "FAC1"), key_column="wms_env")

    assert facility.state_suffix == "test-FAC1"
    assert window.state_suffix == "backfill-test-20260701T000000Z-20260801T000000Z"
    assert remainder.state_suffix.startswith("test-%2Aother%2A-")
    assert state_id_of("full-sync", "test-FAC1") == (
        "tap-gruponos-wms--full-to-target-gruponos-oracle:test-FAC1"
    )
    settings = facility.settings()
    assert settings["TAP_GRUPONOS_WMS_FACILITY_CODE"] == "FAC1"
    assert settings["TAP_GRUPONOS_WMS_START_DATE"] == "2026-08-01T00:00:00+00:00"
    assert "TAP_GRUPONOS_WMS_END_DATE" not in settings
    assert settings["TAP_GRUPONOS_WMS_KEY_COLUMN"] == "wms_env"
    assert settings["TAP_GRUPONOS_WMS_KEY_VALUE"] == "test"
    assert json.loads(settings["TARGET_GRUPONOS_ORACLE_FULL_SYNC_SCOPE"]) == {"wms_env": "test"}
    assert window.settings()["TAP_GRUPONOS_WMS_END_DATE"] == "2026-08-01T00:00:00+00:00"
    excluded = remainder.settings()["TAP_GRUPONOS_WMS_EXCLUDE_FACILITY_CODES"]
    assert json.loads(excluded) == ["FAC1", "FAC2"]


def test_state_ids_of_facilities_that_differ_in_one_character_differ():
    codes = ["FAC 1", "FAC_1", "FAC-1", "FAC%201", "FAC1", "fac1", "FAC/1", REMAINDER]
    suffixes = {Slice("test", facility=code).state_suffix for code in codes}
    remainders = {Slice("test", other_than=(code,)).state_suffix for code in codes}

    assert len(suffixes) == len(codes) and len(remainders) == len(codes)
    assert not suffixes & remainders


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"environments": []}, "setting environments: List should have at least 1 item"),
        (
            {"environments": [{"name": "test"}, {"name": "prod"}]},
            "setting key_column: several environments load the same tables",
        ),
        ({"environments": [{"name": "raizen-test"}]}, "setting environments.0.name: String"),
        (
            {"key_column": "order_nbr"},
            "setting key_column: 'order_nbr' is (or looks like) a field of the WMS",
        ),
        ({"key_column": "MOD_USER"}, "setting key_column: 'MOD_USER' is (or looks like)"),
        ({"key_column": "cust_field_7"}, "setting key_column: 'cust_field_7' is (or looks"),
        (
            {"environments": [{"name": "t", "facilities": ["F1", "F2", "F1"]}]},
            "setting environments.0.facilities: listed twice: ['F1']",
        ),
        (
            {"environments": [{"name": "t", "facilities": ["F1", REMAINDER]}]},
            f"setting environments.0.facilities: '{REMAINDER}' cannot be a partition key",
        ),
        (
            {"environments": [{"name": "t", "facilities": ["F1,F2"]}]},
            "setting environments.0.facilities: 'F1,F2' cannot be a partition key",
        ),
        (
            {"environments": [{"name": "t"}, {"name": "t"}], "key_column": "wms_env"},
            "setting environments: names repeat: ['t', 't']",
        ),
        ({"environments": [{"name": "t", "facility": ["F"]}]}, "environments.0.facility: Extra"),
        (
            {"backfill": {"environment": "test", "start": "2026-07-03", "end": "2026-09-01"}},
            "setting backfill: start 2026-07-03 must be the first of a month",
        ),
        (
            {"backfill": {"environment": "nope", "start": "2026-07-01", "end": "2026-09-01"}},
            "setting backfill.environment: 'nope' not in ['test']",
        ),
    ],
)
def test_a_mistake_in_the_settings_is_one_line_naming_file_and_setting(
    tmp_path, document, complaint
):
    path = _settings(tmp_path, **document)

    with pytest.raises(SettingsError) as raised:
        load_settings(path)

    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert complaint in message, message


def test_each_run_has_a_meltano_directory_of_its_own_removed_when_it_ends(tmp_path, monkeypatch):
    shared = tmp_path / ".meltano"
    (shared / "extractors" / "tap-gruponos-wms" / "venv").mkdir(parents=True)
    (shared / "meltano.db").write_text("")
    dead = shared / "runs" / "a-killed-run"
    (dead / "run" / "tap-gruponos-wms").mkdir(parents=True)
    (dead / ".lock").write_text("")  # no process holds it: its run is dead
    (dead / "run" / "tap-gruponos-wms" / "tap.config.json").write_text('{"password": "x"}')
    monkeypatch.setenv("MELTANO_SYS_DIR_ROOT", str(shared))
    project = MeltanoProject(tmp_path)

    with project.run_dir("run-1") as first, project.run_dir("run-2") as second:
        assert first != second and first.parent == second.parent == shared / "runs"
        assert (first / "extractors").resolve() == shared / "extractors"
        assert not (first / "meltano.db").exists()
        assert not dead.exists()  # a dead run's files, passwords included
        with project.run_dir("run-3"):
            assert first.exists() and second.exists()  # live: their locks are held

    assert list((shared / "runs").iterdir()) == []


def test_every_setting_is_in_the_runbooks_table():
    from orchestration.settings import Backfill, Orchestration, WmsEnvironment

    runbook = (REPO / "docs" / "operations.md").read_text()
    table = runbook.split("### Orchestration: partitioned runs on Dagster", 1)[1].split("###")[0]
    documented = set(re.findall(r"^\| `([a-z_\[\].]+)`", table, re.M))
    declared = set(Orchestration.model_fields) | {
        f"environments[].{name}" for name in WmsEnvironment.model_fields
    }
    assert declared <= documented, declared - documented
    assert all(f"`{name}`" in table for name in Backfill.model_fields)


def test_discovered_facilities_are_the_wms_facility_codes(tmp_path):
    from wms_simulator import WmsSimulator

    with WmsSimulator(orders=10, counts={"facility": 3}) as sim:
        path = _settings(
            tmp_path,
            environments=[
                {
                    "name": "test",
                    "env": {"TAP_GRUPONOS_WMS_BASE_URL": sim.base_url},
                    "facilities": "discover",
                }
            ],
        )
        settings, root = load_settings(path)
        defs = build_definitions(settings, str(root))

    keys = defs.resolve_job_def("facility_incremental").partitions_def.get_partition_keys()
    assert keys == ["test/FAC1", "test/FAC2", "test/FAC3", f"test/{REMAINDER}", "test"]


def test_a_wms_down_at_load_leaves_its_remainder_and_every_other_environment(tmp_path, caplog):
    from wms_simulator import WmsSimulator

    with WmsSimulator(orders=10) as stopped:
        down_url = stopped.base_url  # nothing answers there once it stopped
    with WmsSimulator(orders=10, counts={"facility": 2}) as up:
        path = _settings(
            tmp_path,
            key_column="wms_env",
            environments=[
                {
                    "name": "down",
                    "env": {"TAP_GRUPONOS_WMS_BASE_URL": down_url},
                    "facilities": "discover",
                },
                {"name": "up", "env": {"TAP_GRUPONOS_WMS_BASE_URL": up.base_url}},
            ],
        )
        settings, root = load_settings(path)
        defs = build_definitions(settings, str(root))

    keys = defs.resolve_job_def("facility_incremental").partitions_def.get_partition_keys()
    assert keys == [f"down/{REMAINDER}", "down", "up"]
    assert {s.name for s in defs.schedules} >= {
        "facility_incremental_schedule",
        "environment_incremental_schedule",
        "environment_full_schedule",
    }
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "down: facilities not discovered" in errors[0], errors
