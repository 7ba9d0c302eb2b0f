"""One stream's read as parts read at the same time: ranges of ids for a full read, sub-windows
of `mod_ts` for an incremental one. Pure logic (no HTTP, no threads), so each decision is
testable on its own; `walk` runs it.

A read starts as the parts it must cover (one, or the gaps a resumed read left) and splits
while it runs (work stealing): a reader with nothing left to read halves the part with the
most records left, by key, if that part still holds at least two pages. Each part is a keyset
walk of its own (`pagination`) up to its end; the split lowers the end of the part it cuts.
What a part holds is its latest query's `result_count`; where the ids of a part without an end
(a full read's last one, open to records created meanwhile) stop is estimated from the ids per
record it read so far, so splitting costs no request.

Records of a part are written in the order it reads them; parts interleave. So the bookmark of
an incremental read is the end of the longest prefix of parts written completely, or within the
first part not yet complete the point its own walk reached: never past a record not written.
Parts completed beyond that prefix (read ahead) are saved with the bookmark, so a run killed
midway resumes with only the parts it had not finished.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass, field

from tap_gruponos_wms.pagination import (
    End,
    Position,
    Step,
    bounded,
    frontier,
    midpoint,
    starting_at,
)

#: A part is split only while it holds at least this many pages more.
SPLIT_PAGES = 2


@dataclass(eq=False)
class Part:
    """A contiguous piece of the key space, [start, end), read by one keyset walk."""

    start: dt.datetime | int
    end: End
    position: Position
    #: Records left past its latest page, as that page's query counted (`result_count`);
    #: estimated for a part split off another. None: not known yet.
    left: int | None = None
    taken: int = 0  # records its pages held (for the density of an open part's ids)
    #: Records its first query counted, for a part the read started with (the total).
    first_count: int | None = None
    initial: bool = True
    busy: bool = False  # a reader has it
    read: bool = False  # its last page was read
    written: bool = False  # ... and its records written
    #: Within it, the point before which every record was written (incremental reads).
    safe: dt.datetime | None = None

    @classmethod
    def covering(cls, start: dt.datetime | int, end: End) -> Part:
        return cls(start, end, starting_at(start, end))

    @property
    def query(self) -> Position:
        """Its next query, up to its current end."""
        return bounded(self.position, self.end)


@dataclass
class SplitRead:
    """The parts of one stream's read, in key order, and what each reader does next."""

    parts: list[Part]
    page_size: int
    splits: int = field(default=0)

    def take(self) -> Part | None:
        """A part to read: the first no one reads yet, else the second half of the one with
        the most records left (None: nothing to take now)."""
        for part in self.parts:
            if not part.busy and not part.read:
                part.busy = True
                return part
        return self._split()

    def _large(self, part: Part) -> bool:
        """Being read, with at least SPLIT_PAGES pages left: worth a second reader."""
        return part.busy and not part.read and (part.left or 0) >= SPLIT_PAGES * self.page_size

    def _split(self) -> Part | None:
        candidates = [p for p in self.parts if self._large(p)]
        for part in sorted(candidates, key=lambda p: -(p.left or 0)):
            lo = frontier(part.position)
            hi = part.end if part.end is not None else _open_end(part, lo)
            mid = midpoint(lo, hi) if hi is not None else None
            if mid is None:
                continue
            rest = Part.covering(mid, part.end)
            rest.initial = False
            share = (mid - lo) / (hi - lo)  # records assumed spread evenly over the keys
            rest.left = round((part.left or 0) * (1 - share))
            part.left = (part.left or 0) - rest.left
            part.end = mid
            rest.busy = True
            self.parts.insert(self.parts.index(part) + 1, rest)
            self.splits += 1
            return rest
        return None

    def needs_open_end(self) -> bool:
        """Whether a split waits for where the ids end (a part without an end is large)."""
        return self.open_end_estimate is None and any(
            p.end is None
            and p.busy
            and not p.read
            and (p.left or 0) >= SPLIT_PAGES * self.page_size
            for p in self.parts
        )

    def answered(self, part: Part, step: Step, count: int | None, clipped: bool) -> None:
        """A page of ``part`` was read (its records are about to be written)."""
        if count is not None:
            part.left = max(0, count - len(step.records))
            if part.initial and part.first_count is None:
                part.first_count = count
        part.taken += len(step.records)
        if clipped or step.next is None:
            part.read, part.busy, part.left = True, False, 0
        else:
            part.position = step.next

    def wrote(self, part: Part, step: Step, done: bool) -> None:
        """The records of a page of ``part`` were written; ``done``: its last page."""
        if step.bookmark is not None:
            part.safe = step.bookmark
        if done:
            part.written = True

    @property
    def complete(self) -> bool:
        return all(part.written for part in self.parts)

    @property
    def reading(self) -> bool:
        """Whether some part has pages left to read."""
        return any(not part.read for part in self.parts)

    def total(self) -> int | None:
        """The records of the whole read, as the first query of each part it started with
        counted them (None until each has answered; changes made meanwhile move it a little)."""
        counts = [p.first_count for p in self.parts if p.initial]
        return None if None in counts else sum(t.cast("int", c) for c in counts)

    def bookmark(self) -> dt.datetime | None:
        """Every record with ``mod_ts`` before this was written (incremental reads)."""
        point = None
        for part in self.parts:
            if not part.written:
                return part.safe or t.cast("dt.datetime", part.start)
            point = t.cast("dt.datetime", part.end)
        return point

    def read_ahead(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """Parts written completely after the first one that is not: [start, end) each."""
        ahead: list[tuple[dt.datetime, dt.datetime]] = []
        behind = False
        for part in self.parts:
            if not part.written:
                behind = True
            elif behind:
                ahead.append((t.cast("dt.datetime", part.start), t.cast("dt.datetime", part.end)))
        return ahead


def _open_end(part: Part, lo: dt.datetime | int) -> int | None:
    """Where the ids of a part without an end likely stop: past its frontier as many ids per
    record as it read so far, for the records it has left (None: nothing read yet)."""
    if not part.taken or not isinstance(lo, int) or not isinstance(part.start, int):
        return None
    per_record = max(1.0, (lo - part.start) / part.taken)
    return lo + round(per_record * (part.left or 0)) + 1


def gaps(
    lo: dt.datetime, hi: dt.datetime, done: t.Iterable[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """[lo, hi) without the ``done`` intervals: the windows still to read."""
    out: list[tuple[dt.datetime, dt.datetime]] = []
    cursor = lo
    for start, end in sorted(done):
        if end <= cursor or start >= hi:
            continue
        if start > cursor:
            out.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < hi:
        out.append((cursor, hi))
    return out
