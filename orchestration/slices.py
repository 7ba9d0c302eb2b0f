"""What one partition run reads, as the Meltano settings that narrow the run to it.

A slice is a WMS environment (or the project's default one), optionally narrowed to one
facility, to every facility but some (a remainder), to a `mod_ts` window, or to some streams.
Its state id suffix keeps its bookmarks apart from every other slice's: no slice ever reads or
moves another's bookmark. The suffix is injective: its parts are joined by ``-`` and any other
character than a letter, a digit, ``_`` or ``.`` in a part is percent-encoded (``FAC 1`` is
``FAC%201``, ``FAC-1`` is ``FAC%2D1``), so no two slices share one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

EXTRACTOR, LOADER = "tap-gruponos-wms", "target-gruponos-oracle"
TAP, TARGET = "TAP_GRUPONOS_WMS", "TARGET_GRUPONOS_ORACLE"  # their settings' variable prefixes
#: The part of a remainder slice's suffix (every facility but the listed ones).
REMAINDER = "*other*"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.]")


def encoded(part: str) -> str:
    """``part`` with every character but letters, digits, ``_`` and ``.`` percent-encoded."""
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), part)


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
    ``facility``: only this facility; ``other_than``: every facility but these (a remainder);
    ``window``: [start, end) of `mod_ts` (a backfill); ``streams``: only these streams;
    ``start``: the `start_date` of a slice without a window (where its first run begins).
    """

    source: str = ""
    facility: str | None = None
    window: tuple[datetime, datetime] | None = None
    streams: tuple[str, ...] = ()
    key_column: str | None = None
    start: datetime | None = None
    other_than: tuple[str, ...] | None = None

    @property
    def state_suffix(self) -> str:
        """``--state-id-suffix``: e.g. ``test-FAC1``, ``backfill-test-<from>-<to>``; for a
        remainder, ``test-%2Aother%2A-<digest of the facilities it leaves out>``: when that
        list changes, the remainder reads its facilities from their start again (one it no
        longer leaves out may hold changes its bookmark passed)."""
        parts = ["backfill"] if self.window else []
        parts += [encoded(p) for p in (self.source, self.facility) if p]
        if self.other_than is not None:
            listed = ",".join(sorted(self.other_than)).encode()
            parts += [encoded(REMAINDER), hashlib.sha1(listed).hexdigest()[:8]]
        parts += [encoded(stream) for stream in self.streams]
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
        if self.other_than:
            env[f"{TAP}_EXCLUDE_FACILITY_CODES"] = json.dumps(sorted(self.other_than))
        if self.streams:  # Meltano's `select` extra: these streams, all of their fields
            env[f"{TAP}__SELECT"] = json.dumps([f"{stream}.*" for stream in self.streams])
        if self.key_column:
            env |= source_key_settings(self.key_column, self.source)
        return env


def source_key_settings(column: str, source: str) -> dict[str, str]:
    """Every row carries ``column`` = ``source`` in its key (the tap's key_column, refused
    where the WMS has a field of that name), and a full sync retires only the rows of its own
    source: ids of two WMS environments collide in one table otherwise."""
    return {
        f"{TAP}_KEY_COLUMN": column,
        f"{TAP}_KEY_VALUE": source,
        f"{TARGET}_FULL_SYNC_SCOPE": json.dumps({column: source}),
    }
