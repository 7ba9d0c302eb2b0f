"""scripts/backfill.py's command line: the window, the state id, the meltano invocation."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import REPO

pytestmark = pytest.mark.e2e

_spec = importlib.util.spec_from_file_location("backfill", REPO / "scripts" / "backfill.py")
backfill = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(backfill)


def test_dates_are_utc_midnight_and_the_state_id_names_stream_and_window() -> None:
    args = backfill.parse_args(
        [
            "--stream",
            "order_details",
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01T06:00:00-03:00",
            "--environment",
            "prod",
        ]
    )
    cmd, env, state_id = backfill.command(args)

    assert state_id == (
        "prod:tap-gruponos-wms-to-target-gruponos-oracle:"
        "backfill-order_details-20260101T000000Z-20260201T090000Z"
    )
    assert cmd[1:] == [
        "--environment",
        "prod",
        "run",
        "--state-id-suffix",
        state_id.rsplit(":", 1)[1],
        "tap-gruponos-wms",
        "target-gruponos-oracle",
    ]
    assert env["TAP_GRUPONOS_WMS_START_DATE"] == "2026-01-01T00:00:00+00:00"
    assert env["TAP_GRUPONOS_WMS_END_DATE"] == "2026-02-01T06:00:00-03:00"
    assert json.loads(env["TAP_GRUPONOS_WMS__SELECT"]) == ["order_details.*"]


def test_restart_ignores_the_backfills_saved_state() -> None:
    args = backfill.parse_args(
        ["--stream", "allocations", "--from", "2026-01-01", "--to", "2026-01-02", "--restart"]
    )
    assert "--full-refresh" in backfill.command(args)[0]


@pytest.mark.parametrize(
    ("window", "complaint"),
    [
        (["--from", "2026-02-01", "--to", "2026-01-01"], "is not before"),
        (["--from", "2026-01-01", "--to", "2026-01-01"], "is not before"),
        (["--from", "last tuesday", "--to", "2026-01-01"], "not an ISO date"),
    ],
)
def test_a_window_that_is_empty_or_not_a_date_is_refused(window, complaint, capsys) -> None:
    with pytest.raises(SystemExit):
        backfill.parse_args(["--stream", "allocations", *window])
    assert complaint in capsys.readouterr().err


def test_an_unknown_stream_is_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        backfill.parse_args(["--stream", "orders", "--from", "2026-01-01", "--to", "2026-01-02"])
    assert "invalid choice: 'orders'" in capsys.readouterr().err
