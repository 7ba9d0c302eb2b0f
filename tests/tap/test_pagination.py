"""Each decision of the keyset walk, on hand-made pages (no HTTP)."""

from __future__ import annotations

import datetime as dt

import pytest
from tap_gruponos_wms.pagination import IdKeyset, KeysetError, Window, advance, parse_timestamp

UTC = dt.timezone.utc
LO = dt.datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
HI = dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
S = dt.datetime(2026, 11, 26, 11, 10, 5, tzinfo=UTC)


def rec(rid: int, moment: dt.datetime) -> dict:
    local = moment.astimezone(dt.timezone(dt.timedelta(hours=-3)))
    return {"id": rid, "mod_ts": local.isoformat(timespec="microseconds")}


def at(seconds: float) -> dt.datetime:
    return S + dt.timedelta(seconds=seconds)


def test_window_params_are_whole_utc_seconds_ordered_by_mod_ts_then_id() -> None:
    window = Window(LO + dt.timedelta(microseconds=900), HI)
    assert window.params() == {
        "mod_ts__gte": "2026-11-26T11:00:00+00:00",
        "mod_ts__lt": "2026-11-26T12:00:00+00:00",
        "ordering": "mod_ts,id",
    }


def test_a_page_that_is_not_full_ends_the_window_at_hi() -> None:
    page = [rec(1, at(0)), rec(2, at(1))]
    step = advance(Window(LO, HI), page, page_size=3)
    assert (step.records, step.bookmark, step.next) == (page, HI, None)


def test_a_full_page_emits_the_seconds_before_its_last_and_restarts_at_that_second() -> None:
    page = [rec(1, at(-2.5)), rec(2, at(-1)), rec(3, at(0.1)), rec(4, at(0.9))]
    step = advance(Window(LO, HI), page, page_size=4)
    assert [r["id"] for r in step.records] == [1, 2]
    assert step.bookmark == S
    assert step.next == Window(S, HI)


def test_a_full_page_within_one_second_drains_that_second_by_id_from_the_start() -> None:
    page = [rec(9, at(0.1)), rec(4, at(0.2)), rec(7, at(0.3))]
    step = advance(Window(LO, HI), page, page_size=3)
    assert step.records == []
    assert step.bookmark is None
    assert step.next == IdKeyset(last_id=0, second=S, window=Window(LO, HI))
    assert step.next.params() == {
        "ordering": "id",
        "id__gt": 0,
        "mod_ts__gte": "2026-11-26T11:10:05+00:00",
        "mod_ts__lt": "2026-11-26T11:10:06+00:00",
    }


def test_draining_a_second_continues_by_id_then_resumes_the_window_after_it() -> None:
    drain = IdKeyset(second=S, window=Window(LO, HI))
    full = advance(drain, [rec(2, at(0.5)), rec(5, at(0.1))], page_size=2)
    assert full.next == IdKeyset(last_id=5, second=S, window=Window(LO, HI))
    assert full.bookmark is None
    last = advance(full.next, [rec(8, at(0.3))], page_size=2)
    assert last.bookmark == at(1)
    assert last.next == Window(at(1), HI)


def test_draining_the_last_second_of_the_window_ends_it() -> None:
    last_second = HI - dt.timedelta(seconds=1)
    step = advance(IdKeyset(second=last_second, window=Window(LO, HI)), [], page_size=2)
    assert (step.bookmark, step.next) == (HI, None)


def test_full_table_walks_by_id_until_a_page_is_not_full() -> None:
    step = advance(IdKeyset(), [rec(3, at(0)), rec(8, at(0))], page_size=2)
    assert step.next == IdKeyset(last_id=8)
    end = advance(step.next, [rec(9, at(0))], page_size=2)
    assert (end.next, end.bookmark) == (None, None)


def test_a_server_ignoring_the_keyset_is_an_error_not_an_endless_loop() -> None:
    with pytest.raises(KeysetError, match="id__gt=8"):
        advance(IdKeyset(last_id=8), [rec(3, at(0)), rec(8, at(0))], page_size=2)
    with pytest.raises(KeysetError, match="mod_ts__gte"):
        advance(Window(S, HI), [rec(1, at(-5)), rec(2, at(-5))], page_size=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T08:10:05.1-03:00", dt.datetime(2026, 11, 26, 11, 10, 5, 100000, tzinfo=UTC)),
        ("2026-11-26T11:10:05.1234567Z", dt.datetime(2026, 11, 26, 11, 10, 5, 123456, tzinfo=UTC)),
        ("2026-11-26T11:10:05", dt.datetime(2026, 11, 26, 11, 10, 5, tzinfo=UTC)),
    ],
)
def test_timestamps_parse_with_any_fraction_and_default_to_utc(text, expected) -> None:
    assert parse_timestamp(text) == expected


def test_a_page_out_of_mod_ts_order_is_an_error_not_a_silent_skip() -> None:
    unsorted = [rec(1, at(-3)), rec(2, at(0.5)), rec(3, at(-2))]
    with pytest.raises(KeysetError, match="ordering=mod_ts,id"):
        advance(Window(LO, HI), unsorted, page_size=3)
    with pytest.raises(KeysetError, match="mod_ts__lt"):
        advance(Window(LO, HI), [rec(1, at(0)), rec(2, HI - S + at(0))], page_size=3)
