"""Under `meltano run`, a failed run shows its cause as an error-level line of the plugin that
failed, and the progress lines are info lines.

Meltano's JSON log format gives each line's level and the plugin (`name`) it came from, so
the assertions read what an alert on error-level lines would see.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Pipeline
from wms_simulator import Fault

pytestmark = pytest.mark.e2e

TAP = "tap-gruponos-wms"
TARGET = "target-gruponos-oracle"
TAP_PASSWORD = "wms_pass"  # the dev environment's, see meltano.yml


def logged(proc: Any) -> list[dict[str, Any]]:
    """Meltano's log lines (stderr, one JSON object each)."""
    events = []
    for line in proc.stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def errors_of(proc: Any, plugin: str) -> list[dict[str, Any]]:
    return [e for e in logged(proc) if e.get("level") == "error" and e.get("name") == plugin]


def run_failing(pipeline: Pipeline, **env: str) -> Any:
    proc = pipeline.meltano("--log-format=json", "run", "incremental-sync", check=False, **env)
    assert proc.returncode != 0
    assert TAP_PASSWORD not in proc.stdout + proc.stderr
    return proc


def assert_cause_logged(proc: Any, plugin: str, *fragments: str) -> None:
    """One of the plugin's error lines holds every fragment; none carries a traceback."""
    errors = errors_of(proc, plugin)
    messages = [e.get("event", "") for e in errors]
    assert any(all(f in m for f in fragments) for m in messages), messages
    assert not [e for e in errors if e.get("plugin_exception")], "traceback at error level"


def test_tap_refused_by_the_wms_logs_the_cause_at_error(pipeline: Pipeline) -> None:
    # fails in discovery, which Meltano runs before the pipeline
    proc = run_failing(pipeline, TAP_GRUPONOS_WMS_PASSWORD="Wrong-Pass-7")

    assert_cause_logged(proc, TAP, "401", "username")
    assert "Wrong-Pass-7" not in proc.stdout + proc.stderr


def test_tap_failing_during_the_read_logs_the_cause_at_error(pipeline: Pipeline) -> None:
    pipeline.sim.add_faults(Fault(status=500, times=50, path_contains="mod_ts__gte"))

    proc = run_failing(pipeline, TAP_GRUPONOS_WMS_MAX_RETRIES="0")

    assert_cause_logged(proc, TAP, "answered 500")


def test_target_rejecting_a_record_logs_stream_line_and_field_at_error(
    pipeline: Pipeline,
) -> None:
    pipeline.sim.modify("order_dtl", count=1, changes={"po_nbr": "P" * 80})

    proc = run_failing(pipeline)

    assert_cause_logged(proc, TARGET, "stream 'order_details'", "line", "po_nbr")


@pytest.mark.parametrize(
    ("url", "cause", "secret"),
    [
        (
            "sqlite:////proc/nope/x.db",
            "cannot create the folder '/proc/nope' of the SQLite file: No such file or directory",
            None,
        ),
        (
            "oracle+oracledb://wms_loader:Db-Secret-9@127.0.0.1:9/?service_name=NOPE",
            "127.0.0.1",
            "Db-Secret-9",
        ),
    ],
    ids=["sqlite-folder-not-creatable", "oracle-nothing-listening"],
)
def test_target_on_an_unusable_database_logs_the_cause_at_error(
    pipeline: Pipeline, url: str, cause: str, secret: str | None
) -> None:
    proc = run_failing(pipeline, TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL=url)

    assert_cause_logged(proc, TARGET, cause)
    if secret:
        assert secret not in proc.stdout + proc.stderr


def test_progress_and_run_summary_are_info_lines_gone_at_warning_level(
    pipeline: Pipeline,
) -> None:
    proc = pipeline.meltano("--log-format=json", "run", "full-sync")
    tap_info = [  # the full sync's tap is tap-gruponos-wms--full
        e["event"]
        for e in logged(proc)
        if e.get("name", "").startswith(TAP) and e["level"] == "info"
    ]
    for stream in ("allocations", "order_headers", "order_details"):
        assert any(m.startswith(f"{stream}: ") and "records emitted" in m for m in tap_info)
        assert any(m.startswith(f"{stream}: run summary: ") for m in tap_info)

    quiet = pipeline.meltano("--log-format=json", "--log-level=warning", "run", "full-sync")
    assert not [e for e in logged(quiet) if "records emitted" in e.get("event", "")]
    assert not [e for e in logged(quiet) if "run summary" in e.get("event", "")]
