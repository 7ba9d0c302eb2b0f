"""Keyset walks over lgfapi lists: which query comes next, what a page lets us emit, and the
safe bookmark after it. Pure logic, no HTTP, so each decision is testable on its own.

Offset paging (`page=N`) is never used: rows that change during a read shift the offsets and
records get skipped. Every request is page 1 of a query narrowed by a keyset instead.

A `Window` reads lo <= mod_ts < hi with `ordering=mod_ts,id`. A page that is not full ends
the window. In a full page, let S be the whole second of its last record: records before
second S are complete (the order guarantees every record of those seconds was in the page),
so they are emitted and the next query starts at S, re-reading only that second's tail.
When the whole page lies in second S (more records share a second than a page holds), that
second is read alone by `IdKeyset` (`ordering=id`, `id__gt=last`), then the window goes on at
S + 1 s. Query values are whole seconds (lgfapi may reject sub-second ones), so a keyset on
(mod_ts, id) at microsecond precision cannot be sent; this is its exact equivalent. Within
second S the drain starts from id 0, not from the page's last id: the page is sorted by
microseconds first, so its last id says nothing about the ids of that second it lacked.

A read split into parts (see `parts`) walks each part the same way, up to the part's end: a
window's `hi`, or `below` for a range of ids. A part's end may be lowered while its page is
in flight (the rest became a part of its own): `clip` drops what the page holds at or past the
new end, and a clipped page ends the part, since everything before the end came before it.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from dataclasses import dataclass, replace
from itertools import pairwise

UTC = dt.timezone.utc
ONE_SECOND = dt.timedelta(seconds=1)

Record = dict[str, t.Any]
_FRACTION = re.compile(r"\.(\d+)")


class KeysetError(RuntimeError):
    """The server did not honour a filter or ordering the walk relies on."""


def parse_timestamp(value: str) -> dt.datetime:
    """ISO-8601 -> aware datetime; a value without an offset is taken as UTC."""
    text = value.replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:  # Python 3.10 takes only 3 or 6 fractional digits
        parsed = dt.datetime.fromisoformat(
            _FRACTION.sub(lambda m: "." + m.group(1).ljust(6, "0")[:6], text)
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_timestamp(moment: dt.datetime) -> str:
    """Whole seconds with an explicit offset: lgfapi reads offset-less values in facility
    local time and may reject sub-second values."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def whole_second(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


@dataclass(frozen=True)
class Window:
    lo: dt.datetime
    hi: dt.datetime

    def params(self) -> dict[str, t.Any]:
        return {
            "mod_ts__gte": format_timestamp(self.lo),
            "mod_ts__lt": format_timestamp(self.hi),
            "ordering": "mod_ts,id",
        }


@dataclass(frozen=True)
class IdKeyset:
    """All records (full table) or those of ids below `below` (a range of a split full read),
    or those of one whole `second` of a `window`, by id."""

    last_id: int = 0
    second: dt.datetime | None = None
    window: Window | None = None
    below: int | None = None

    def params(self) -> dict[str, t.Any]:
        params: dict[str, t.Any] = {"ordering": "id", "id__gt": self.last_id}
        if self.below is not None:
            params["id__lt"] = self.below
        if self.second is not None:
            params["mod_ts__gte"] = format_timestamp(self.second)
            params["mod_ts__lt"] = format_timestamp(self.second + ONE_SECOND)
        return params


Position = Window | IdKeyset
#: Where a part of a split read ends (exclusive): a whole second, an id, or None (every id).
End = dt.datetime | int | None


def bounded(position: Position, end: End) -> Position:
    """``position`` read only up to ``end``."""
    if isinstance(position, Window):
        return replace(position, hi=end)
    if position.window is not None:  # draining one second of a window
        return replace(position, window=replace(position.window, hi=end))
    return replace(position, below=end)


def clip(page: list[Record], end: End) -> list[Record]:
    """The records of ``page`` before ``end`` (a page is in key order, so a prefix)."""
    if end is None or not page:
        return page

    def before(record: Record) -> bool:
        if isinstance(end, int):
            return record["id"] < end
        return parse_timestamp(record["mod_ts"]) < end

    if before(page[-1]):  # the usual case: the end did not move during the request
        return page
    keep = 0
    while keep < len(page) and before(page[keep]):
        keep += 1
    return page[:keep]


def frontier(position: Position) -> dt.datetime | int:
    """The first key ``position`` has not read: where the rest of its part begins."""
    if isinstance(position, Window):
        return position.lo
    if position.second is not None:
        return position.second + ONE_SECOND
    return position.last_id + 1


def starting_at(key: dt.datetime | int, end: End) -> Position:
    """The first query of a part [key, end)."""
    if isinstance(key, int):
        return IdKeyset(last_id=key - 1, below=end)
    assert isinstance(end, dt.datetime)
    return Window(key, end)


def midpoint(lo: dt.datetime | int, hi: dt.datetime | int) -> dt.datetime | int | None:
    """A split point strictly between ``lo`` and ``hi`` (whole seconds for times), or None
    when there is none."""
    if isinstance(lo, int) and isinstance(hi, int):
        mid: dt.datetime | int = (lo + hi) // 2
    else:
        assert isinstance(lo, dt.datetime) and isinstance(hi, dt.datetime)
        mid = whole_second(lo + (hi - lo) / 2)
    return mid if lo < mid < hi else None


@dataclass(frozen=True)
class Step:
    """What one page gives: records to emit, then (if set) a bookmark that is safe once they
    are emitted (every record with mod_ts below it has been), and the next query."""

    records: list[Record]
    bookmark: dt.datetime | None
    next: Position | None


def advance(position: Position, page: list[Record], page_size: int) -> Step:
    """The step a page allows; raises KeysetError if the page breaks the query's order or
    bounds (trusting it could skip records silently, or loop)."""
    _check_order(position, page)
    full = len(page) >= page_size
    if isinstance(position, Window):
        return _advance_window(position, page) if full else Step(page, position.hi, None)
    if full:
        return Step(page, None, replace(position, last_id=page[-1]["id"]))
    if position.second is None or position.window is None:
        return Step(page, None, None)  # full table done
    after = position.second + ONE_SECOND
    rest = Window(after, position.window.hi) if after < position.window.hi else None
    return Step(page, after, rest)


def _advance_window(window: Window, page: list[Record]) -> Step:
    cut, second = _last_second(page)
    if cut:
        return Step(page[:cut], second, Window(second, window.hi))
    return Step([], None, IdKeyset(second=second, window=window))


def _last_second(page: list[Record]) -> tuple[int, dt.datetime]:
    """(index of the first record in the page's last whole second, that second)."""
    second = whole_second(parse_timestamp(page[-1]["mod_ts"]))
    cut = len(page) - 1
    while cut > 0 and parse_timestamp(page[cut - 1]["mod_ts"]) >= second:
        cut -= 1
    return cut, second


def _check_order(position: Position, page: list[Record]) -> None:
    if not page:
        return
    if isinstance(position, IdKeyset):
        ids = [record["id"] for record in page]
        below = position.below
        if (
            ids[0] <= position.last_id
            or (below is not None and ids[-1] >= below)
            or any(a >= b for a, b in pairwise(ids))
        ):
            bounds = f"id__gt={position.last_id}" + (f", id__lt={below}" if below else "")
            raise KeysetError(f"ordering=id with {bounds} was not honoured")
        return
    stamps = [parse_timestamp(record["mod_ts"]) for record in page]
    if stamps[0] < position.lo or stamps[-1] >= position.hi:
        raise KeysetError(
            f"mod_ts__gte={format_timestamp(position.lo)} / "
            f"mod_ts__lt={format_timestamp(position.hi)} were not honoured"
        )
    if any(a > b for a, b in pairwise(stamps)):
        raise KeysetError("ordering=mod_ts,id was not honoured")
