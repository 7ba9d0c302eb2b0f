"""ACTIVATE_VERSION retires older rows only once the new version is complete.

singer-sdk taps send it once, before the records of a full-table stream; our tap and older
Singer taps send it after the last record. The SDK cases run the real singer-sdk test tap.
"""

from __future__ import annotations

import re

import pytest

from .target_testkit import activate, one_error, record, schema, sdk_tap_into_target

T0 = "2026-01-05T10:00:00.000000-03:00"
OLD = [schema(), *(record(version=1, id=i, mod_ts=T0) for i in (1, 2, 3)), activate(1)]


def _retired_count(stderr: str) -> list[int]:
    return [int(n) for n in re.findall(r"active: (\d+) older rows", stderr)]


def _live(loader) -> list[int]:
    return [r["ID"] for r in loader.rows() if r["SDC_DELETED_AT"] is None]


def _sdk_full_sync(rows: list[int], **config) -> dict:
    records = [{"id": i, "status_id": 9, "mod_ts": "2026-01-06T10:00:00Z"} for i in rows]
    return {"records": records, "emit_activate_version_messages": True, **config}


@pytest.mark.parametrize("hard_delete", [False, True], ids=["soft", "hard"])
def test_sdk_full_sync_dying_after_its_opening_activate_version_retires_nothing(
    loader, hard_delete
):
    loader.run(OLD)

    result, tap_exit = sdk_tap_into_target(
        loader, _sdk_full_sync([1, 2], fail_after=1), hard_delete=hard_delete
    )

    assert tap_exit != 0  # the sync died after one record
    assert result.returncode == 0, result.stderr
    assert _live(loader) == [1, 2, 3]
    assert _retired_count(result.stderr) == []


def test_sdk_full_sync_that_completes_retires_nothing_and_says_why_once(loader):
    loader.run(OLD)

    result, tap_exit = sdk_tap_into_target(loader, _sdk_full_sync([1]))

    assert (tap_exit, result.returncode) == (0, 0), result.stderr
    assert _live(loader) == [1, 2, 3]
    assert loader.rows()[0]["STATUS_ID"] == 9  # its records were loaded
    notes = [line for line in result.stderr.splitlines() if "not reconciled" in line]
    assert len(notes) == 1, result.stderr
    assert "stream 'order_details'" in notes[0]
    assert "came before the records" in notes[0]


def test_opening_then_closing_activate_version_retires_when_complete(loader):
    loader.run(OLD)

    result = loader.run_process(
        [schema(), activate(2), record(version=2, id=1, mod_ts=T0), activate(2)]
    )

    assert result.returncode == 0, result.stderr
    assert _live(loader) == [1]
    assert _retired_count(result.stderr) == [2]
    assert "not reconciled" not in result.stderr


def test_second_activate_version_of_the_same_version_completes_it(loader):
    loader.run(OLD)

    result = loader.run_process([schema(), activate(2), activate(2)], hard_delete=True)

    assert result.returncode == 0, result.stderr
    assert loader.rows() == []  # an empty full sync: every older row is gone at the source
    assert _retired_count(result.stderr) == [3]


def test_a_lone_opening_activate_version_retires_nothing(loader):
    loader.run(OLD)

    result = loader.run_process([schema(), activate(2)], hard_delete=True)

    assert result.returncode == 0, result.stderr
    assert [r["ID"] for r in loader.rows()] == [1, 2, 3]
    assert "not reconciled" in result.stderr


def test_activate_version_after_the_records_retires_as_before(loader):
    loader.run(OLD)

    result = loader.run_process([schema(), record(version=2, id=3, mod_ts=T0), activate(2)])

    assert result.returncode == 0, result.stderr
    assert _live(loader) == [3]
    assert _retired_count(result.stderr) == [2]


def test_the_log_counts_only_rows_actually_retired(loader):
    loader.run(OLD)
    loader.run(
        [
            schema(),
            record(version=2, id=1, mod_ts=T0),
            record(version=2, id=2, mod_ts=T0),
            activate(2),
        ]
    )

    # id 3 was already soft-deleted by version 2: version 3 retires only id 2
    result = loader.run_process([schema(), record(version=3, id=1, mod_ts=T0), activate(3)])

    assert _retired_count(result.stderr) == [1]
    assert _live(loader) == [1]


ENV_PROPERTIES = {"wms_env": {"type": "string"}, "id": {"type": "integer"}}


def _env_full_sync(env: str, version: int, ids: list[int]) -> list[dict]:
    return [
        schema(properties=ENV_PROPERTIES, keys=("wms_env", "id"), bookmarks=None),
        *(record(version=version, wms_env=env, id=i) for i in ids),
        activate(version),
    ]


@pytest.mark.parametrize("hard_delete", [False, True], ids=["soft", "hard"])
def test_full_sync_scope_retires_only_the_rows_of_its_own_source(loader, hard_delete):
    test, prod = {"full_sync_scope": {"wms_env": "test"}}, {"full_sync_scope": {"wms_env": "prod"}}
    loader.run(_env_full_sync("test", 1, [1, 2, 3]), **test)
    loader.run(_env_full_sync("prod", 1, [1, 2, 3]), **prod)  # the same ids, another WMS

    loader.run(_env_full_sync("test", 2, [1, 2]), hard_delete=hard_delete, **test)

    rows = loader.rows(order="WMS_ENV, ID")
    live = [(r["WMS_ENV"], r["ID"]) for r in rows if r["SDC_DELETED_AT"] is None]
    assert live == [("prod", 1), ("prod", 2), ("prod", 3), ("test", 1), ("test", 2)]


def test_full_sync_scope_naming_a_property_the_stream_lacks_fails_before_loading(loader):
    result = loader.run_process(
        [schema(), record(version=1, id=1, mod_ts=T0), activate(1)],
        full_sync_scope={"wms_env": "test"},
    )

    line = one_error(result)
    assert "setting full_sync_scope: stream 'order_details' has no property 'wms_env'" in line
    assert not loader.db.exists() or not loader.columns()
