"""Backfills through scripts/backfill.py, and state-file replays through plain pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import (
    BIN,
    INCREMENTAL_STATE_ID,
    REPO,
    Pipeline,
    changed_ids,
    run,
    snapshot,
    wait_past_this_second,
)

pytestmark = pytest.mark.e2e


def test_backfill_replay_of_an_old_window_leaves_newer_rows_and_incremental_state_untouched(
    pipeline: Pipeline,
) -> None:
    sim = pipeline.sim
    pipeline.run_job("incremental-sync")
    details = sim.records("order_dtl")
    victim = details[0]["id"]
    oldest = min(datetime.fromisoformat(r["mod_ts"]) for r in details)
    sim.modify("order_dtl", ids=[victim], changes={"po_nbr": "PO-NEWER"})
    wait_past_this_second()
    pipeline.run_job("incremental-sync")
    newer_row = pipeline.table("order_details")[victim]
    assert newer_row["PO_NBR"] == "PO-NEWER"
    incremental_state = pipeline.state(INCREMENTAL_STATE_ID)
    before = snapshot(pipeline)
    allocations_before = pipeline.table("allocations")

    # The WMS now serves an older version of the row inside the window (a restored copy,
    # a stale replica): replaying that window must not bring it back.
    sim.modify("order_dtl", ids=[victim], changes={"po_nbr": "PO-OLDER"})
    sim.set_mod_ts("order_dtl", [victim], oldest + timedelta(minutes=1))
    start, end = oldest - timedelta(days=1), datetime.now(oldest.tzinfo) + timedelta(days=1)
    backfill = run(
        [
            sys.executable,
            "scripts/backfill.py",
            "--stream",
            "order_details",
            "--from",
            start.isoformat(),
            "--to",
            end.isoformat(),
        ],
        env=pipeline.env(),
    )

    assert "backfill-order_details-" in backfill.stdout
    assert pipeline.table("order_details")[victim] == newer_row
    assert changed_ids(before, snapshot(pipeline)) == {
        "allocations": set(),
        "order_headers": set(),
        "order_details": set(),
    }
    assert pipeline.table("allocations") == allocations_before, "only the chosen stream runs"
    assert pipeline.state(INCREMENTAL_STATE_ID) == incremental_state


def _plugin_configs(pipeline: Pipeline, tmp) -> tuple[str, str]:
    """tap.json and target.json as `meltano config --unsafe print <plugin>` renders them (dev)."""
    paths = []
    for plugin in ("tap-gruponos-wms", "target-gruponos-oracle"):
        config = json.loads(pipeline.meltano("config", "--unsafe", "print", plugin).stdout)
        path = tmp / f"{plugin}.json"
        path.write_text(json.dumps(config))
        paths.append(str(path))
    return paths[0], paths[1]


def _pipe(tap_config: str, target_config: str, state: str | None, out: Path) -> None:
    """`tap --config ... [--state ...] | target --config ... > out`, as a shell would."""
    tap_cmd = [str(BIN / "tap-gruponos-wms"), "--config", tap_config]
    if state:
        tap_cmd += ["--state", state]
    tap_log, target_log = out.with_suffix(".tap.log"), out.with_suffix(".target.log")
    with open(tap_log, "w") as tap_err, open(target_log, "w") as target_err, open(out, "w") as sink:
        tap = subprocess.Popen(tap_cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=tap_err)
        target = subprocess.run(
            [str(BIN / "target-gruponos-oracle"), "--config", target_config],
            cwd=REPO,
            stdin=tap.stdout,
            stdout=sink,
            stderr=target_err,
            check=False,
        )
        tap.stdout.close()
        tap.wait()
    assert (tap.returncode, target.returncode) == (0, 0), (
        tap_log.read_text()[-3000:] + target_log.read_text()[-3000:]
    )


def _last_state(path, dest) -> str:
    """The last line of the target's output, as the state for the next run."""
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    dest.write_text(lines[-1])
    return str(dest)


def test_plain_pipe_state_file_resumes_exactly_where_the_run_ended(
    pipeline: Pipeline, tmp_path
) -> None:
    tap_config, target_config = _plugin_configs(pipeline, tmp_path)
    first = tmp_path / "state1.json"
    _pipe(tap_config, target_config, None, first)
    pipeline.assert_tables_equal_simulator()
    before = snapshot(pipeline)

    modified = set(pipeline.sim.modify("order_dtl", count=2))
    wait_past_this_second()
    second = tmp_path / "state2.json"
    _pipe(tap_config, target_config, _last_state(first, tmp_path / "s1.json"), second)
    assert changed_ids(before, snapshot(pipeline))["order_details"] == modified
    pipeline.assert_tables_equal_simulator()

    after = snapshot(pipeline)
    third = tmp_path / "state3.json"
    _pipe(tap_config, target_config, _last_state(second, tmp_path / "s2.json"), third)
    assert snapshot(pipeline) == after
    assert json.loads(third.read_text().splitlines()[-1])["bookmarks"], "state carries bookmarks"
