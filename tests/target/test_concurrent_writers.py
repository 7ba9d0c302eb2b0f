"""A full sync and other runs writing the same table at once (the weekly full sync and the
2-hourly incremental fire together): the full sync's ACTIVATE_VERSION retires only rows it
did not see *and* that no other run wrote after it started."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone

from .target_testkit import TARGET_CMD, activate, detail, record, schema, singer_text

T0 = "2026-01-05T10:00:00.000000-03:00"
T1 = "2026-01-05T11:00:00.000000-03:00"
T2 = "2026-01-05T12:00:00.000000-03:00"


def test_rows_another_run_writes_during_a_full_sync_are_not_retired(loader) -> None:
    # Before: rows 1-4 loaded; the WMS then deletes row 4 (the full sync will not see it).
    loader.run([schema(), *(detail(i, T0) for i in (1, 2, 3, 4))])
    full = subprocess.Popen(
        [*TARGET_CMD, "--config", str(loader.config_file())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert full.stdin is not None
    # The full sync reads rows 1-3 (version 7), then waits on its last page...
    extracted = datetime.now(timezone.utc).isoformat()  # as a tap stamps what it read
    first_pages = [
        schema(),
        *({**record(version=7, id=i, mod_ts=T0), "time_extracted": extracted} for i in (1, 2, 3)),
    ]
    full.stdin.write(singer_text(first_pages))
    full.stdin.flush()
    # ...while an incremental run inserts row 5 (created after the full sync passed its place)
    # and updates row 2 (seen by the full sync in its older version).
    loader.run([schema(), detail(5, T1), detail(2, T2, cust_field_1="NEWER")])
    _, err = full.communicate(singer_text([activate(7)]), timeout=60)
    assert full.returncode == 0, err

    rows = {r["ID"]: r for r in loader.rows()}
    retired = {i for i, r in rows.items() if r["SDC_DELETED_AT"] is not None}
    assert retired == {4}, "only the row the WMS deleted before the full sync started"
    assert rows[2]["CUST_FIELD_1"] == "NEWER", "the newer version written meanwhile stays"
    assert rows[5]["SDC_DELETED_AT"] is None


def test_a_full_sync_replayed_later_keeps_rows_written_after_its_records_were_extracted(
    loader,
) -> None:
    """A full sync written to a file and loaded afterwards started when its first record was
    extracted, not when the target started."""
    loader.run([schema(), detail(1, T0), detail(2, T0)])
    extracted_long_ago = "2020-01-01T00:00:00.000000Z"
    replay = [
        schema(),
        {**record(version=3, id=1, mod_ts=T0), "time_extracted": extracted_long_ago},
        activate(3),
    ]
    loader.run(replay)
    rows = {r["ID"]: r for r in loader.rows()}
    assert rows[2]["SDC_DELETED_AT"] is None, "written after the replayed sync began: kept"
