"""Incremental reads: the fixed `mod_ts` window of a run and the bookmark that is a safe
resume point."""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_gruponos_wms.errors import SettingsError
from tap_gruponos_wms.pagination import (
    UTC,
    format_timestamp,
    parse_timestamp,
    whole_second,
)
from tap_gruponos_wms.parts import Part, SplitRead, gaps
from tap_gruponos_wms.walk import KeysetWalk

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

BEGINNING = dt.datetime(1970, 1, 1, tzinfo=UTC)
#: State key of the sub-windows a run read completely past its bookmark ([start, end) each).
READ_AHEAD = "read_ahead"


class IncrementalRead(KeysetWalk):
    """Incremental runs read the window [lo, hi): hi is the server clock (HTTP `Date`) when the
    run starts, capped by `end_date`; lo is the bookmark (or `start_date`) minus
    `lookback_minutes`. Records modified during the run get a `mod_ts` >= hi and are left
    to the next run, so the window's contents only change by late commits, which the
    lookback re-reads.
    """

    replication_key = "mod_ts"

    def _window(
        self, context: Context | None, clock: dt.datetime
    ) -> tuple[dt.datetime, dt.datetime]:
        """[bookmark - lookback, server clock), never starting before `start_date` nor
        ending after `end_date`."""
        lo = BEGINNING
        if start_date := self.config.get("start_date"):
            lo = parse_timestamp(str(start_date))
            if lo > clock:  # an empty window would bookmark the clock, skipping [clock, lo)
                msg = (
                    f"setting start_date {format_timestamp(lo)} is after the WMS clock "
                    f"{format_timestamp(clock)}: nothing could be read; set a past start_date"
                )
                raise SettingsError(msg)
        if bookmark := self.get_context_state(context).get("replication_key_value"):
            lookback = dt.timedelta(minutes=float(self.config.get("lookback_minutes", 0)))
            lo = max(lo, parse_timestamp(str(bookmark)) - lookback)
        lo = whole_second(lo)
        hi = clock
        if end_date := self.config.get("end_date"):
            hi = min(hi, whole_second(parse_timestamp(str(end_date))))
        return lo, hi

    def _read_window(self, context: Context | None, clock: dt.datetime) -> Iterator[dict]:
        """The records of this run's window (without what a killed run read ahead), in
        sub-windows read at once, then the bookmark at its end."""
        lo, hi = self._window(context, clock)
        self.logger.info(
            "%s: reading mod_ts in [%s, %s)",
            self.entity,
            format_timestamp(lo),
            format_timestamp(hi),
        )
        parts = [Part.covering(a, b) for a, b in gaps(lo, hi, self._read_before(context))]
        if parts:
            yield from self._read_parts(parts, lambda read: self._save_read(context, read))
        self._save_bookmark(context, hi, read_ahead=[])

    def _read_before(self, context: Context | None) -> list[tuple[dt.datetime, dt.datetime]]:
        """What a killed run read completely past its bookmark, less the last lookback of
        each sub-window: a transaction committing late lands there (it was read at or after
        the sub-window's end, and commits within the lookback of its mod_ts)."""
        lookback = dt.timedelta(minutes=float(self.config.get("lookback_minutes", 0)))
        ahead = self.get_context_state(context).get(READ_AHEAD) or []
        done = []
        for start, end in ahead:
            start, end = parse_timestamp(start), parse_timestamp(end) - lookback
            if start < end:
                done.append((start, end))
        return done

    def _save_read(self, context: Context | None, read: SplitRead) -> None:
        """After a page was written: the bookmark it allows, and what was read ahead of it."""
        point = read.bookmark()
        if point is not None:
            self._save_bookmark(context, point, read_ahead=read.read_ahead())

    # -- state ----------------------------------------------------------------------------
    # The SDK's default bookmark is "max replication key seen", checked for sort order
    # record by record. That loses records here: a record modified during the run moves
    # past the max seen, and a bookmark taken mid-second skips the rest of that second.
    # Our bookmark is a safe resume point instead: every record with mod_ts below it has
    # been emitted. `_save_read` advances it after each page is written, to the end of the
    # sub-windows written completely (or within the first one not yet, see `parts`), and the
    # run ends it at hi. Records therefore never move the bookmark themselves.

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """Bookmarks move in `_save_bookmark` only (see the comment above)."""

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the bookmark never passes hi, the server clock at the run's start."""
        return

    def _save_bookmark(
        self,
        context: Context | None,
        point: dt.datetime,
        read_ahead: list[tuple[dt.datetime, dt.datetime]] | None = None,
    ) -> None:
        """Move the bookmark forward to `point` (never backwards), note the sub-windows read
        completely past it (``read_ahead``, when given), and emit STATE if either changed."""
        with self._tap.run_control.lock:  # other streams' threads serialise the whole state
            state = self.get_context_state(context)
            changed = False
            current = state.get("replication_key_value")
            if not current or parse_timestamp(str(current)) < point:
                state["replication_key"] = self.replication_key
                state["replication_key_value"] = format_timestamp(point)
                changed = True
            if read_ahead is not None:
                ahead = [[format_timestamp(a), format_timestamp(b)] for a, b in read_ahead]
                if ahead != state.get(READ_AHEAD, []):
                    changed = True
                    if ahead:
                        state[READ_AHEAD] = ahead
                    else:
                        state.pop(READ_AHEAD, None)
            if changed:
                self.state_manager.is_flushed = False
                self._write_state_message()
