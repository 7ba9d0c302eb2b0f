"""The keyset walk of one query (see `pagination`): its pages, fetched one ahead, and the
safe bookmarks they allow."""

from __future__ import annotations

import typing as t
from concurrent.futures import ThreadPoolExecutor

from tap_gruponos_wms.api import ApiRequests
from tap_gruponos_wms.errors import WmsResponseError
from tap_gruponos_wms.pagination import KeysetError, Position, advance

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context


class KeysetWalk(ApiRequests):
    """Reads a stream's records by keyset walks, narrowed to the configured facility/company."""

    #: Filter paths that narrow this entity to a facility / company code (None: no path).
    facility_filter: str | None
    company_filter: str | None

    def get_new_paginator(self) -> None:
        """Paging is the keyset walk of `_walk`, not an SDK paginator."""
        return

    def _narrowing(self) -> dict[str, t.Any]:
        """Filters every query of this stream carries that keep part of the entity out."""
        params: dict[str, t.Any] = {}
        if (facility := self.config.get("facility_code")) and self.facility_filter:
            params[self.facility_filter] = facility
        if (company := self.config.get("company_code")) and self.company_filter:
            params[self.company_filter] = company
        return params

    def _walk(self, context: Context | None, position: Position) -> Iterator[dict[str, t.Any]]:
        """Records of a keyset walk (see `pagination`), saving each safe bookmark.

        The next page is requested as soon as the current one arrives (its keyset is known
        then), while the current page's records are being written: server time and the
        tap's own work overlap, with still only one request in flight. Records held for one
        large write are written before waiting on a page, so a slow WMS never keeps read
        records from the target.
        """
        base = {"page_size": self.page_size, **self._narrowing()}
        with ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-fetch") as fetcher:
            pending = fetcher.submit(self._get_page, {**base, **position.params()})
            while pending is not None:
                self._tap.run_control.check(self.name)  # another stream failed: stop here
                if not pending.done():  # the target gets what was read while the WMS answers
                    self._tap.flush_output()
                page = pending.result()
                self.progress.query_done()
                try:
                    step = advance(position, page, self.page_size)
                except KeysetError as error:
                    raise WmsResponseError(f"{self.entity}: {error}") from None
                pending = None
                if step.next is not None:
                    position = step.next
                    pending = fetcher.submit(self._get_page, {**base, **position.params()})
                yield from step.records
                self.progress.emitted(len(step.records))
                if step.bookmark is not None:
                    self._save_bookmark(context, step.bookmark)
