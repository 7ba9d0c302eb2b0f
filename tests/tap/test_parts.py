"""How a read is split into parts and what bookmark its written parts allow (no HTTP)."""

from __future__ import annotations

import datetime as dt

from tap_gruponos_wms.pagination import IdKeyset, Step, Window
from tap_gruponos_wms.parts import Part, SplitRead, gaps

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_a_reader_takes_pending_parts_first_then_halves_the_one_with_most_left() -> None:
    read = SplitRead([Part.covering(at(0), at(60))], page_size=10)
    first = read.take()
    assert first is not None and read.take() is None  # nothing known yet: no split
    read.answered(first, Step([], None, Window(at(0), at(60))), count=100, clipped=False)
    second = read.take()
    assert second is not None
    assert (first.end, second.start, second.end) == (at(30), at(30), at(60))
    assert first.left + second.left == 100  # the estimate is shared, not invented
    assert read.parts == [first, second]


def test_a_part_with_less_than_two_pages_left_is_not_split() -> None:
    read = SplitRead([Part.covering(at(0), at(60))], page_size=10)
    part = read.take()
    read.answered(part, Step([], None, Window(at(0), at(60))), count=19, clipped=False)
    assert read.take() is None


def test_an_open_id_range_is_split_where_its_ids_likely_end() -> None:
    read = SplitRead([Part(0, None, IdKeyset())], page_size=10)
    part = read.take()
    page = [{"id": i} for i in range(2, 22, 2)]  # ten records, one id in two
    read.answered(part, Step(page, None, IdKeyset(last_id=20)), count=100, clipped=False)
    rest = read.take()
    # 90 records left at two ids each past id 21: they end near id 201
    assert rest is not None and rest.end is None and part.end == rest.start
    assert 100 <= rest.start <= 120
    assert rest.query.params() == {"ordering": "id", "id__gt": rest.start - 1}
    assert part.query.params() == {"ordering": "id", "id__gt": 20, "id__lt": rest.start}


def test_the_bookmark_is_the_end_of_the_written_prefix_or_where_the_next_part_got() -> None:
    parts = [Part.covering(at(start), at(start + 10)) for start in (0, 10, 20)]
    read = SplitRead(parts, page_size=10)
    first, second, third = read.parts
    assert read.bookmark() == at(0)
    read.wrote(third, Step([], at(30), None), done=True)
    assert read.bookmark() == at(0)  # a later part written changes nothing yet
    assert read.read_ahead() == [(at(20), at(30))]
    read.wrote(first, Step([], at(4), Window(at(4), at(10))), done=False)
    assert read.bookmark() == at(4)
    read.wrote(first, Step([], at(10), None), done=True)
    assert read.bookmark() == at(10)
    read.wrote(second, Step([], at(20), None), done=True)
    assert (read.bookmark(), read.read_ahead(), read.complete) == (at(30), [], True)


def test_the_total_is_what_the_first_query_of_each_starting_part_counted() -> None:
    read = SplitRead([Part.covering(at(0), at(10)), Part.covering(at(20), at(30))], page_size=10)
    a, b = read.take(), read.take()
    read.answered(a, Step([], None, Window(at(0), at(10))), count=50, clipped=False)
    assert read.total() is None
    read.answered(b, Step([], at(30), None), count=5, clipped=False)
    split_off = read.take()  # a part split off a starting one does not count twice
    read.answered(split_off, Step([], at(10), None), count=25, clipped=False)
    assert read.total() == 55


def test_gaps_leave_out_what_was_read() -> None:
    done = [(at(10), at(20)), (at(25), at(40)), (at(50), at(70))]
    assert gaps(at(0), at(60), done) == [(at(0), at(10)), (at(20), at(25)), (at(40), at(50))]
    assert gaps(at(0), at(60), []) == [(at(0), at(60))]
