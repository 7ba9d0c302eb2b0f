"""What the tap logs for people: the end of a run whose target died."""

from __future__ import annotations

import json
import subprocess
import sys


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
