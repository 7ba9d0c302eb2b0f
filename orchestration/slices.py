"""What one partition run reads, as the Meltano settings that narrow the run to it.

A slice is a WMS environment (or the project's default one), optionally narrowed to one
facility, to a `mod_ts` window, or to some streams. Its state id suffix keeps its bookmarks
apart from every other slice's: no slice ever reads or moves another's bookmark.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import datetime, timezone

EXTRACTOR, LOADER = "tap-gruponos-wms", "target-gruponos-oracle"
TAP, TARGET = "TAP_GRUPONOS_WMS", "TARGET_GRUPONOS_ORACLE"  # their settings' variable prefixes


def moment(text: str) -> datetime:
    """A date (midnight UTC) or an ISO-8601 date-time (UTC when it has no offset)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from err
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def compact(value: datetime) -> str:
    """A window bound as it appears in a state id, e.g. 20260101T000000Z."""
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Slice:
    """The part of the WMS one run reads.

    ``source``: the WMS environment's name ("" for the project's own environment), also the
    value of ``key_column`` in every row when several environments share the tables;
    ``window``: [start, end) of `mod_ts` (a backfill); ``streams``: only these streams;
    ``start``: the `start_date` of a slice without a window (where its first run begins).
    """

    source: str = ""
    facility: str | None = None
    window: tuple[datetime, datetime] | None = None
    streams: tuple[str, ...] = ()
    key_column: str | None = None
    start: datetime | None = None

    @property
    def state_suffix(self) -> str:
        """``--state-id-suffix``: e.g. ``test-FAC1``, ``backfill-test-<from>-<to>``."""
        parts = ["backfill"] if self.window else []
        parts += [p for p in (self.source, self.facility) if p]
        parts += self.streams
        if self.window:
            parts += [compact(bound) for bound in self.window]
        return "-".join(parts)

    def settings(self) -> dict[str, str]:
        """The plugins' settings (as environment variables) that narrow a run to the slice."""
        env: dict[str, str] = {}
        if self.window:
            start, end = self.window
            env[f"{TAP}_START_DATE"], env[f"{TAP}_END_DATE"] = start.isoformat(), end.isoformat()
        elif self.start:
            env[f"{TAP}_START_DATE"] = self.start.isoformat()
        if self.facility:
            env[f"{TAP}_FACILITY_CODE"] = self.facility
        if self.streams:  # Meltano's `select` extra: these streams, all of their fields
            env[f"{TAP}__SELECT"] = json.dumps([f"{stream}.*" for stream in self.streams])
        if self.key_column:
            env |= source_key_settings(self.key_column, self.source)
        return env


def source_key_settings(column: str, source: str) -> dict[str, str]:
    """Every row carries ``column`` = ``source`` in its key, and a full sync retires only the
    rows of its own source: ids of two WMS environments collide in one table otherwise."""
    row_key = {"*": {column: f"config['{column}']", "__key_properties__": [column, "id"]}}
    return {
        f"{TAP}_STREAM_MAPS": json.dumps(row_key),
        f"{TAP}_STREAM_MAP_CONFIG": json.dumps({column: source}),
        f"{TARGET}_FULL_SYNC_SCOPE": json.dumps({column: source}),
    }
