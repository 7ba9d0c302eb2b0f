"""What the target logs for people: any failure as one line (traceback at debug), progress."""

from __future__ import annotations

import json
import logging
import os
import subprocess

from target_gruponos_oracle.logs import Throttle, log_unexpected, redact, remember_secrets
from target_gruponos_oracle.target import TargetGruponosOracle

from .target_testkit import TARGET_CMD, detail, schema, singer_text


def _run_with_a_failing_stream_map(tmp_path, **env: str) -> subprocess.CompletedProcess:
    # a stream map expression that raises on the first record: nothing the target anticipates
    config = {
        "sqlalchemy_url": f"sqlite:///{tmp_path / 'wms.db'}",
        "stream_maps": {"order_details": {"boom": "int('x')"}},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    return subprocess.run(
        [*TARGET_CMD, "--config", str(tmp_path / "config.json")],
        input=singer_text([schema(), detail(1)]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


def test_unexpected_exception_is_one_error_line_with_its_type_and_message(tmp_path):
    result = _run_with_a_failing_stream_map(tmp_path)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].endswith("ValueError: invalid literal for int() with base 10: 'x'")
    assert "Traceback" not in result.stderr


def test_failure_before_loading_starts_is_one_error_line_too(tmp_path):
    # click reads --config before the target's invoke runs
    result = subprocess.run(
        [*TARGET_CMD, "--config", str(tmp_path / "missing.json")],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].endswith(
        f"FileNotFoundError: File at '{tmp_path / 'missing.json'}' was not found."
    )
    assert "Traceback" not in result.stderr


def test_unexpected_exception_traceback_appears_at_debug_level(tmp_path):
    result = _run_with_a_failing_stream_map(tmp_path, TARGET_GRUPONOS_ORACLE_LOGLEVEL="DEBUG")

    assert result.returncode == 1
    assert "Traceback of the failure above" in result.stderr
    assert "in _process_record_message" in result.stderr


def test_unexpected_failure_lines_never_show_a_secret(caplog):
    remember_secrets(
        {"password": "Hunter-22", "username": "wms_loader"}, TargetGruponosOracle.config_jsonschema
    )
    error = RuntimeError("login wms_loader/Hunter-22 to oracle://wms_loader:pw-in-url@db:1521/X")
    with caplog.at_level(logging.DEBUG):
        try:
            raise error
        except RuntimeError as exc:
            log_unexpected(logging.getLogger("target-gruponos-oracle"), exc)

    assert "Hunter-22" not in caplog.text
    assert "pw-in-url" not in caplog.text
    assert "RuntimeError: login wms_loader/*** to oracle://wms_loader:***@db:1521/X" in caplog.text
    assert "Traceback of the failure above" in caplog.text


def test_short_secrets_are_not_masked_inside_ordinary_words():
    remember_secrets({"password": "id"}, TargetGruponosOracle.config_jsonschema)
    assert redact("stream 'x', field 'id'") == "stream 'x', field 'id'"


class TickingClock:
    """Each reading is 10 s after the previous one."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 10.0
        return self.now


def test_progress_of_committed_rows_is_logged_at_most_every_30_seconds_per_stream(
    loader, caplog, monkeypatch
):
    monkeypatch.setattr(Throttle, "clock", staticmethod(TickingClock()))
    caplog.set_level(logging.INFO)

    loader.run([schema(), *(detail(i) for i in range(1, 7))], batch_size_rows=1)

    lines = [r.getMessage() for r in caplog.records if "records committed" in r.getMessage()]
    # one batch per record, 10 s apart: a line 30 s and 60 s after the stream began
    assert [line.split(": ")[1].split(" (")[0] for line in lines] == [
        "3 records committed",
        "6 records committed",
    ]
    assert lines[0].startswith("Loading stream 'order_details' into WMS_ORDER_DETAILS: ")
    assert lines[0].endswith(" rows/s")
    assert not [r for r in caplog.records if r.getMessage().startswith("Committed ")]
