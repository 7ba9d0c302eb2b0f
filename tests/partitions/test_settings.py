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
from orchestration.slices import Slice

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


def test_the_demo_settings_build_every_partition_job_and_schedule():
    settings, root = load_settings(DEMO)
    defs = build_definitions(settings, str(root))

    assert root == REPO
    jobs = {job.name: job for job in defs.jobs}
    assert set(jobs) == {
        "facility_incremental",
        "facility_full",
        "environment_incremental",
        "environment_full",
        "backfill_windows",
    }
    facility = defs.resolve_job_def("facility_incremental").partitions_def
    assert facility.get_partition_keys() == ["test/FAC1", "test/FAC2", "test/FAC3"]
    windows = defs.resolve_job_def("backfill_windows").partitions_def
    assert windows.get_partition_keys() == ["2026-07-01", "2026-08-01", "2026-09-01", "2026-10-01"]
    schedules = {s.name: (s.cron_schedule, s.job_name) for s in defs.schedules}
    assert schedules == {
        "facility_incremental_schedule": ("0 */2 * * *", "facility_incremental"),
        "facility_full_schedule": ("0 0 * * 0", "facility_full"),
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
    assert keys["environment_incremental_schedule"] == ["prod"]
    assert keys["environment_full_schedule"] == ["test", "prod"]  # the reconciling job
    assert keys["facility_full_schedule"] == ["test/FAC1", "test/FAC2", "test/FAC3"]


def test_each_slice_has_its_own_state_id_and_narrowing():
    start = datetime(2026, 7, 1, tzinfo=UTC)
    end = datetime(2026, 8, 1, tzinfo=UTC)
    facility = Slice("test", facility="FAC1", key_column="wms_env", start=end)
    window = Slice("test", window=(start, end), key_column="wms_env")

    assert facility.state_suffix == "test-FAC1"
    assert window.state_suffix == "backfill-test-20260701T000000Z-20260801T000000Z"
    assert state_id_of("full-sync", "test-FAC1") == (
        "tap-gruponos-wms--full-to-target-gruponos-oracle:test-FAC1"
    )
    settings = facility.settings()
    assert settings["TAP_GRUPONOS_WMS_FACILITY_CODE"] == "FAC1"
    assert settings["TAP_GRUPONOS_WMS_START_DATE"] == "2026-08-01T00:00:00+00:00"
    assert "TAP_GRUPONOS_WMS_END_DATE" not in settings
    assert json.loads(settings["TAP_GRUPONOS_WMS_STREAM_MAPS"]) == {
        "*": {"wms_env": "config['wms_env']", "__key_properties__": ["wms_env", "id"]}
    }
    assert json.loads(settings["TAP_GRUPONOS_WMS_STREAM_MAP_CONFIG"]) == {"wms_env": "test"}
    assert json.loads(settings["TARGET_GRUPONOS_ORACLE_FULL_SYNC_SCOPE"]) == {"wms_env": "test"}
    assert window.settings()["TAP_GRUPONOS_WMS_END_DATE"] == "2026-08-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"environments": []}, "setting environments: List should have at least 1 item"),
        (
            {"environments": [{"name": "test"}, {"name": "prod"}]},
            "setting key_column: several environments load the same tables",
        ),
        ({"environments": [{"name": "raizen-test"}]}, "setting environments.0.name: String"),
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


def test_a_partitions_meltano_directory_links_the_installed_plugins_and_keeps_its_run_files(
    tmp_path, monkeypatch
):
    shared = tmp_path / ".meltano"
    (shared / "extractors" / "tap-gruponos-wms" / "venv").mkdir(parents=True)
    (shared / "run" / "tap-gruponos-wms").mkdir(parents=True)
    (shared / "meltano.db").write_text("")
    monkeypatch.setenv("MELTANO_SYS_DIR_ROOT", str(shared))
    own = MeltanoProject(tmp_path).run_dir("test-FAC1")
    leftover = own / "run" / "tap-gruponos-wms" / "tap.0f.config.json"
    leftover.parent.mkdir(parents=True)
    leftover.write_text('{"password": "x"}')

    again = MeltanoProject(tmp_path).run_dir("test-FAC1")

    assert again == own == shared / "partitions" / "test-FAC1"
    assert (own / "extractors").resolve() == shared / "extractors"
    assert not (own / "meltano.db").exists() and not (own / "run").is_symlink()
    assert not leftover.exists()  # a killed run's configuration, passwords included
    assert MeltanoProject(tmp_path).run_dir("test/FAC 2").name == "test_FAC_2"


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
    assert keys == ["test/FAC1", "test/FAC2", "test/FAC3"]
