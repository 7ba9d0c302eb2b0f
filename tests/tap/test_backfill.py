"""Backfills: start_date / end_date bound the window read and the bookmark left."""

from __future__ import annotations

from tap_gruponos_wms.pagination import parse_timestamp

STREAM, ENTITY = "order_details", "order_dtl"


def test_backfill_reads_only_start_to_end_date_and_bookmarks_end_date(
    sim, sim_config, run_tap
) -> None:
    stamps = sorted(parse_timestamp(r["mod_ts"]) for r in sim.records(ENTITY))
    start, end = stamps[10].replace(microsecond=0), stamps[40].replace(microsecond=0)
    config = {**sim_config, "start_date": start.isoformat(), "end_date": end.isoformat()}

    out = run_tap(config, streams=[STREAM])

    expected = {r["id"] for r in sim.records(ENTITY) if start <= parse_timestamp(r["mod_ts"]) < end}
    assert set(out.ids(STREAM)) == expected
    assert parse_timestamp(out.bookmark(STREAM)) == end
