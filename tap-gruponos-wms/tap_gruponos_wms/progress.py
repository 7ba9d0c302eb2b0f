"""How far a stream's read has come: counters per stream, and the lines people read from them.

While a stream is read the tap logs, at most every `ReadProgress.interval` seconds and once when
the stream ends, the records emitted, the total it expects, percent, rate and time left. The
expected total is what the first query of the read counted (`result_count`; for a read resumed
in several pieces, the sum of each piece's first query, `parts.SplitRead.total`): parts split
off later read within it, so it holds however many are read at once (changes the WMS makes
meanwhile may move it a little). At the end of the run, one summary line per stream: records,
pages, requests, retries, 404s, seconds, bookmark.

Each stream instance has its own `ReadProgress`. Requests are counted in the stream's fetch
thread, records in the thread that writes them, so updates take a lock; streams read in
parallel never share one.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t


def duration(seconds: float) -> str:
    """A readable duration: 0.4 s, 42 s, 12 min, 2 h 05 min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class ReadProgress:
    """The counters of one stream's read and its progress and summary lines."""

    #: Least seconds between two progress lines of a stream (tests shorten it).
    interval: t.ClassVar[float] = 30.0
    #: Monotonic seconds (tests replace it to move time without sleeping).
    clock: t.ClassVar[t.Callable[[], float]] = staticmethod(time.monotonic)

    def __init__(self, stream: str, logger: logging.Logger) -> None:
        self.stream = stream
        self.logger = logger
        self._lock = threading.Lock()
        self.records = 0
        self.pages = 0
        self.requests = 0
        self.retries = 0
        self.not_found = 0
        self.expected: int | None = None
        self.bookmark: str | None = None
        self._started: float | None = None
        self._ended: float | None = None
        self._logged_at = 0.0

    # -- events ---------------------------------------------------------------------------

    def start(self) -> None:
        self._started = self._logged_at = self.clock()

    def request_sent(self) -> None:
        with self._lock:
            self.requests += 1

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def page_answered(self) -> None:
        """A list query answered with records (a reader thread)."""
        with self._lock:
            self.pages += 1

    def nothing_matched(self) -> None:
        """lgfapi's 404 for a list query without matches (a reader thread)."""
        with self._lock:
            self.not_found += 1

    def expect(self, total: int | None) -> None:
        """The records the whole read holds (None: not known yet)."""
        with self._lock:
            self.expected = total

    def emitted(self, count: int) -> None:
        """`count` more records written; a progress line if `interval` has passed."""
        with self._lock:
            self.records += count
        now = self.clock()
        if now - self._logged_at >= self.interval:
            self._logged_at = now
            self.logger.info("%s", self.progress_line(), extra=self._extra())

    def finish(self, bookmark: str | None) -> None:
        """The read ended: the last progress line."""
        self._ended = self.clock()
        self.bookmark = bookmark
        with self._lock:
            self.expected = self.records
        self.logger.info("%s", self.progress_line(), extra=self._extra())

    # -- lines ----------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started is not None

    @property
    def seconds(self) -> float:
        if self._started is None:
            return 0.0
        return (self._ended if self._ended is not None else self.clock()) - self._started

    def progress_line(self) -> str:
        with self._lock:
            records, expected = self.records, self.expected
        seconds = self.seconds
        rate = records / seconds if seconds > 0 else 0.0
        if self._ended is not None:
            return (
                f"{self.stream}: {records} records emitted, all expected (100%), "
                f"{rate:.0f} records/s, done in {duration(seconds)}"
            )
        if expected is None or expected < records:
            return f"{self.stream}: {records} records emitted, {rate:.0f} records/s"
        percent = 100 * records / expected if expected else 100.0
        left = (expected - records) / rate if rate > 0 else None
        eta = f"about {duration(left)} left" if left is not None else "time left unknown"
        return (
            f"{self.stream}: {records} records emitted of {expected} expected "
            f"({percent:.0f}%), {rate:.0f} records/s, {eta}"
        )

    def summary_line(self) -> str:
        with self._lock:
            counts = (self.records, self.pages, self.requests, self.retries, self.not_found)
        records, pages, requests, retries, not_found = counts
        return (
            f"{self.stream}: run summary: {records} records, {pages} pages, {requests} requests, "
            f"{retries} retries, {not_found} 404s, {self.seconds:.1f} s, "
            f"final bookmark {self.bookmark or 'none'}"
        )

    def log_summary(self) -> None:
        self.logger.info("%s", self.summary_line(), extra=self._extra())

    def _extra(self) -> dict[str, t.Any]:
        """The counters as structured fields (Meltano's JSON log carries them)."""
        with self._lock:
            return {
                "stream_name": self.stream,
                "records": self.records,
                "expected": self.expected,
                "pages": self.pages,
                "requests": self.requests,
                "retries": self.retries,
                "not_found": self.not_found,
                "seconds": round(self.seconds, 3),
                "bookmark": self.bookmark,
            }
