"""Reading one stream's parts (see `parts`): readers fetch pages at the same time, the stream's
own thread writes them, and each safe bookmark is saved once the records below it are written.

Up to `max_concurrent_requests` readers per stream take parts, walk each by its keyset, and
hand every page to the stream's thread through a queue of as many pages. Every request also
takes a slot of the run's request budget (`parallel.RunControl`), so the WMS never has more
than `max_concurrent_requests` requests of the run in flight, whatever the number of streams.
With one reader this is the sequential walk: the next page is requested as soon as the current
one arrives, while its records are written. A reader that fails stops the stream's other
readers; the stream then fails with that error (and a full read sends no ACTIVATE_VERSION).
"""

from __future__ import annotations

import queue
import threading
import typing as t
from concurrent.futures import ThreadPoolExecutor

from tap_gruponos_wms.api import ApiRequests
from tap_gruponos_wms.errors import WmsResponseError
from tap_gruponos_wms.pagination import KeysetError, advance, clip
from tap_gruponos_wms.parts import Part, SplitRead

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tap_gruponos_wms.pagination import Step

#: Seconds an idle reader waits before it looks for a part to split again.
IDLE_WAIT = 0.5


class KeysetWalk(ApiRequests):
    """Reads a stream's records by keyset walks, narrowed to the configured facility/company."""

    #: Filter paths that narrow this entity to a facility / company code (None: no path).
    facility_filter: str | None
    company_filter: str | None

    def get_new_paginator(self) -> None:
        """Paging is the keyset walk of `_read_parts`, not an SDK paginator."""
        return

    def _narrowing(self) -> dict[str, t.Any]:
        """Filters every query of this stream carries that keep part of the entity out."""
        params: dict[str, t.Any] = {}
        if (facility := self.config.get("facility_code")) and self.facility_filter:
            params[self.facility_filter] = facility
        if (others := self.config.get("exclude_facility_codes")) and self.facility_filter:
            params[f"{self.facility_filter}__in!"] = ",".join(others)  # lgfapi's negated __in
        if (company := self.config.get("company_code")) and self.company_filter:
            params[self.company_filter] = company
        return params

    def _read_parts(
        self, parts: list[Part], written: Callable[[SplitRead], None] | None = None
    ) -> Iterator[dict[str, t.Any]]:
        """The records of ``parts``, split further while they are read; ``written`` is called
        after each page's records are written (to save the bookmark they allow)."""
        readers = _Readers(self, SplitRead(parts, self.page_size))
        yield from readers.records(written)


class _Readers:
    """The readers of one stream's parts and the queue of pages they fill."""

    def __init__(self, stream: KeysetWalk, read: SplitRead) -> None:
        self.stream = stream
        self.read = read
        self.count = stream._tap.max_concurrent_requests
        self.pages: queue.Queue = queue.Queue(maxsize=self.count)
        self.lock = threading.Condition()
        self.stopped = threading.Event()
        self.base = {"page_size": stream.page_size, **stream._narrowing()}

    def records(self, written: Callable[[SplitRead], None] | None) -> Iterator[dict[str, t.Any]]:
        tap = self.stream._tap
        pool = ThreadPoolExecutor(self.count, thread_name_prefix=f"{self.stream.name}-read")
        try:
            for _ in range(self.count):
                pool.submit(self._reader)
            while True:
                with self.lock:
                    if self.read.complete:
                        return
                tap.run_control.check(self.stream.name)  # another stream failed: stop here
                if self.pages.empty():  # the target gets what was read while the WMS answers
                    tap.flush_output()
                item = self.pages.get()
                if isinstance(item, BaseException):
                    raise item
                part, step, last = item
                yield from step.records
                with self.lock:
                    self.read.wrote(part, step, last)
                    total = self.read.total()
                    if written is not None:
                        written(self.read)
                self.stream.progress.expect(total)
                self.stream.progress.emitted(len(step.records))
        finally:
            self.stopped.set()
            with self.lock:
                self.lock.notify_all()
            while not self.pages.empty():  # readers blocked on a full queue may end
                self.pages.get_nowait()
            pool.shutdown(wait=True)

    # -- readers (pool threads) -----------------------------------------------------------

    def _reader(self) -> None:
        try:
            while (part := self._next_part()) is not None:
                self._walk(part)
        except BaseException as error:  # the stream's thread raises it
            self.stopped.set()
            self._put(error)

    def _next_part(self) -> Part | None:
        """A part to read, waiting while others are read and none can be split yet."""
        with self.lock:
            while not self._stopping():
                part = self.read.take()
                if part is not None:
                    return part
                if not self.read.reading:
                    return None
                self.lock.wait(IDLE_WAIT)
        return None

    def _walk(self, part: Part) -> None:
        """Read ``part`` page by page until its end, handing each page to the stream."""
        while not self._stopping():
            with self.lock:
                query = part.query
            page, count = self.stream._get_page({**self.base, **query.params()})
            with self.lock:
                kept = clip(page, part.end)
                step = self._step(part, kept)
                self.read.answered(part, step, count, clipped=len(kept) < len(page))
                last = part.read
                self.lock.notify_all()  # what it has left changed: idle readers may split it
            self._put((part, step, last))
            if last:
                return

    def _step(self, part: Part, page: list[dict[str, t.Any]]) -> Step:
        try:
            return advance(part.query, page, self.stream.page_size)
        except KeysetError as error:
            raise WmsResponseError(f"{self.stream.entity}: {error}") from None

    def _stopping(self) -> bool:
        return self.stopped.is_set() or self.stream._tap.run_control.stop.is_set()

    def _put(self, item: t.Any) -> None:
        while not self.stopped.is_set() or isinstance(item, BaseException):
            try:
                self.pages.put(item, timeout=IDLE_WAIT)
                return
            except queue.Full:
                if self.stopped.is_set():
                    return
