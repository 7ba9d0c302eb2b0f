"""What the tap logs for people: progress while reading, a summary per stream, a failure
nobody anticipated, the end of a run whose target died."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
import typing as t

import pytest
from tap_gruponos_wms.client import WmsStream
from tap_gruponos_wms.progress import ReadProgress, duration
from tap_gruponos_wms.tap import TapGruponosWms
from wms_simulator import Fault


def test_tap_whose_target_stops_reading_exits_1_with_one_line_and_no_traceback(
    sim, sim_config, tmp_path
) -> None:
    sim.latency_ms = 20  # still reading the WMS when the reader goes away
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sim_config))
    tap = subprocess.Popen(
        [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tap.stdout is not None
    tap.stdout.readline()
    tap.stdout.close()  # the target dies
    _, stderr = tap.communicate(timeout=60)

    assert tap.returncode == 1
    assert "Traceback" not in stderr
    assert "BrokenPipe" not in stderr
    lines = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(lines) == 1
    assert lines[0].endswith("the target stopped reading; see its error")


@pytest.fixture
def root_logger_restored() -> t.Iterator[None]:
    """The SDK's CLI adds a handler to the root logger and sets its level: undo that after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.usefixtures("root_logger_restored")
def test_unexpected_failure_is_one_error_line_with_type_and_message_and_no_secret(
    sim_config, tmp_path, monkeypatch, caplog
) -> None:
    def broken(self, context):
        # one stream fails, so which of the parallel streams fails first is not left to chance
        if self.entity != "allocation":
            return iter(())
        raise RuntimeError(f"boom near {self.config['password']}")

    monkeypatch.setattr(WmsStream, "get_records", broken)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sim_config))
    command = TapGruponosWms.cli  # sets up the SDK's logging, so caplog's level comes after
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SystemExit) as exited:
        command(["--config", str(config)])

    assert exited.value.code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # the failed stream's entity comes first (streams run in parallel: it says which failed)
    assert [r.getMessage() for r in errors] == ["RuntimeError: allocation: boom near ***"]
    assert errors[0].exc_info is None  # no traceback at error level
    traces = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(m.startswith("Traceback of the failure above:\n") for m in traces)
    assert "in broken" in caplog.text
    assert "wms_pass" not in caplog.text


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(ReadProgress, "clock", staticmethod(fake))
    return fake


def progress_lines(caplog: pytest.LogCaptureFixture, stream: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith(f"{stream}: ") and "records emitted" in r.getMessage()
    ]


def test_progress_is_logged_at_most_every_30_seconds_with_total_percent_rate_and_eta(
    clock, caplog
) -> None:
    caplog.set_level(logging.INFO)
    progress = ReadProgress("order_details", logging.getLogger("tap-gruponos-wms.test"))
    progress.start()
    progress.page_answered()
    progress.expect(4000)  # the first query: 4000 records to read
    clock.now += 29.9
    progress.emitted(1000)
    assert progress_lines(caplog, "order_details") == []

    clock.now += 0.1  # 30 s after the start
    progress.page_answered()
    progress.emitted(1000)
    clock.now += 10
    progress.emitted(500)  # 10 s after the last line: nothing
    assert progress_lines(caplog, "order_details") == [
        "order_details: 2000 records emitted of 4000 expected (50%), 67 records/s, about 30 s left"
    ]

    clock.now += 20
    progress.finish("2026-01-05T10:00:00+00:00")
    assert progress_lines(caplog, "order_details")[-1] == (
        "order_details: 2500 records emitted, all expected (100%), 42 records/s, done in 60 s"
    )


def test_progress_without_a_result_count_leaves_out_what_it_cannot_know(clock, caplog) -> None:
    caplog.set_level(logging.INFO)
    progress = ReadProgress("allocations", logging.getLogger("tap-gruponos-wms.test"))
    progress.start()
    progress.page_answered()
    progress.expect(None)  # no result_count
    clock.now += 30
    progress.emitted(300)
    assert progress_lines(caplog, "allocations") == [
        "allocations: 300 records emitted, 10 records/s"
    ]


def test_durations_read_as_seconds_minutes_or_hours() -> None:
    assert [duration(s) for s in (0.25, 42, 600, 7500)] == ["0.2 s", "42 s", "10 min", "2 h 05 min"]


def test_run_logs_progress_per_stream_and_one_summary_line_per_stream(
    sim, sim_config, run_tap, caplog, monkeypatch
) -> None:
    monkeypatch.setattr(ReadProgress, "interval", 0.0)  # a line after every page
    caplog.set_level(logging.INFO)
    sim.add_faults(Fault(status=503, times=1, entity="order_dtl"))

    output = run_tap({**sim_config, "max_concurrent_requests": 1})  # pages one after another

    details = progress_lines(caplog, "order_details")
    pattern = re.compile(
        r"order_details: (\d+) records emitted of 60 expected \((\d+)%\), \d+ records/s, "
        r"about [\d.]+ s left"
    )
    counts = [int(pattern.fullmatch(line).group(1)) for line in details[:-1]]  # type: ignore[union-attr]
    assert counts == sorted(counts) and counts[-1] == 60  # one line per page, up to the total
    assert details[-1].startswith("order_details: 60 records emitted, all expected (100%)")
    summaries = [r.getMessage() for r in caplog.records if "run summary" in r.getMessage()]
    assert len(summaries) == 3
    detail_summary = next(s for s in summaries if s.startswith("order_details: "))
    bookmark = output.bookmark("order_details")
    assert detail_summary.startswith(
        "order_details: run summary: 60 records, 7 pages, 10 requests, 1 retries, 0 404s, "
    )
    assert detail_summary.endswith(f"final bookmark {bookmark}")


def test_summary_counts_lgfapi_404_of_a_run_without_changes(
    sim, sim_config, run_tap, caplog
) -> None:
    first = run_tap(sim_config, streams=["order_headers"])
    time.sleep(1.05 - time.time() % 1.0)  # the next run's window starts after the first's
    caplog.set_level(logging.INFO)
    caplog.clear()

    run_tap(sim_config, state=first.last_state, streams=["order_headers"])

    summary = next(r.getMessage() for r in caplog.records if "run summary" in r.getMessage())
    assert summary.startswith("order_headers: run summary: 0 records, 0 pages, 2 requests, ")
    assert ", 1 404s, " in summary
