"""The incremental window [bookmark - lookback, server clock): the exact keyset queries sent and
the bookmarks they leave, against `responses`."""

from __future__ import annotations

import pytest

from .mock_api import CONFIG, HI, LO, STATE, page, rec, second, window


def test_window_is_read_by_keyset_with_whole_second_utc_bounds(api, run_tap) -> None:
    page(
        api,
        window(),
        [rec(1, "11:10:00.100000"), rec(2, "11:10:05.200000"), rec(3, "11:10:05.700000")],
    )
    page(
        api,
        window(lo="2026-11-26T11:10:05+00:00"),
        [rec(2, "11:10:05.200000"), rec(3, "11:10:05.700000")],
    )

    out = run_tap(CONFIG, state=STATE, streams=["order_details"])

    assert out.ids("order_details") == [1, 2, 3]
    bookmarks = [out.bookmark("order_details", s) for s in out.states]
    assert "2026-11-26T11:10:05+00:00" in bookmarks
    assert out.bookmark("order_details") == HI


def test_second_shared_by_more_records_than_a_page_is_drained_by_id(api, run_tap) -> None:
    s, s1 = "2026-11-26T11:10:05+00:00", "2026-11-26T11:10:06+00:00"
    crowded = {7: ".100000", 3: ".200000", 9: ".300000", 5: ".400000"}
    by_time = [rec(i, f"11:10:05{us}") for i, us in crowded.items()]
    by_id = sorted(by_time, key=lambda r: r["id"])
    page(api, window(), by_time[:3])
    page(api, second(s, s1, 0), by_id[:3])
    page(api, second(s, s1, 7), by_id[3:])
    page(api, window(lo=s1), None)

    out = run_tap(CONFIG, state=STATE, streams=["order_details"])

    assert sorted(out.ids("order_details")) == [3, 5, 7, 9]
    assert len(out.ids("order_details")) == 4
    bookmarks = [out.bookmark("order_details", st) for st in out.states]
    assert s1 in bookmarks
    assert bookmarks[-1] == HI


def test_no_changes_404_emits_nothing_and_keeps_the_bookmark_moving_forward(api, run_tap) -> None:
    page(api, window(), None)

    out = run_tap(CONFIG, state=STATE, streams=["order_details"])

    assert out.records("order_details") == []
    assert all(out.bookmark("order_details", st) >= LO for st in out.states)
    assert out.bookmark("order_details") == HI


def test_bookmark_never_moves_back_when_end_date_precedes_it(api, run_tap) -> None:
    config = {**CONFIG, "end_date": "2026-11-26T10:00:00+00:00"}
    out = run_tap(config, state=STATE, streams=["order_details"])
    assert out.records("order_details") == []
    assert out.bookmark("order_details") == LO


def test_first_run_starts_at_start_date_floored_to_the_second(api, run_tap) -> None:
    config = {**CONFIG, "start_date": "2026-11-26T11:30:00.750Z", "lookback_minutes": 5}
    page(api, window(lo="2026-11-26T11:30:00+00:00"), [rec(4, "11:31:00.000000")])

    out = run_tap(config, streams=["order_details"])

    assert out.ids("order_details") == [4]
    assert out.records("order_details")[0]["order_key"] == "ORD-10"


@pytest.mark.parametrize(
    ("start_date", "lo"),
    [
        (None, "2026-11-26T10:55:00+00:00"),  # bookmark 11:00 minus 5 minutes
        ("2026-11-26T10:58:00+00:00", "2026-11-26T10:58:00+00:00"),  # never before start_date
        ("2026-11-26T11:20:00+00:00", "2026-11-26T11:20:00+00:00"),  # a later start_date wins
    ],
)
def test_later_runs_start_at_the_bookmark_minus_lookback(api, run_tap, start_date, lo) -> None:
    config = {**CONFIG, "lookback_minutes": 5}
    if start_date:
        config["start_date"] = start_date
    page(api, window(lo=lo), [rec(4, "11:31:00.000000")])

    out = run_tap(config, state=STATE, streams=["order_details"])

    assert out.ids("order_details") == [4]
