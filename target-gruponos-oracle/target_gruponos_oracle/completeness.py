"""What the input proves about each stream when it ends: a complete full sync, a STATE after
the stream's last message, or neither (the tap stopped early).

Singer has no end-of-stream message, and a failed tap's pipe ends like a finished one's. What
the input can prove is narrower: a full sync is complete at the ACTIVATE_VERSION that follows
its records, and a finished tap ends every incremental stream with a STATE (singer-sdk taps
always write one at the end). A stream the input leaves without either is ``incomplete``.
"""

from __future__ import annotations

import datetime
import typing as t
from dataclasses import dataclass, field

SUCCEEDED = "succeeded"
INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class Outcome:
    """A stream's status at the end of the input, and why when it is not plain success."""

    status: str
    message: str | None = None


@dataclass
class FullSyncs:
    """The full-table versions of each stream this run saw records or ACTIVATE_VERSION of.

    A version is complete at an ACTIVATE_VERSION that follows records of it (our tap, and
    the closing message of older Singer taps) or at a second ACTIVATE_VERSION of it.
    singer-sdk taps send one only before the records: retiring older rows there would leave
    live rows retired if the sync then died, so an opening ACTIVATE_VERSION retires nothing.
    """

    loaded: dict[str, set[int]] = field(default_factory=dict)  # versions records carried
    announced: dict[str, set[int]] = field(default_factory=dict)
    completed: dict[str, set[int]] = field(default_factory=dict)
    open: dict[str, int] = field(default_factory=dict)  # announced, not (yet) complete
    latest: dict[str, int] = field(default_factory=dict)  # of the last versioned message
    #: (stream, version) -> the earliest `time_extracted` seen of it (epoch seconds)
    extracted: dict[tuple[str, int], float] = field(default_factory=dict)

    def record(self, stream: str, version: int, time_extracted: t.Any = None) -> None:
        """A record of ``stream`` carried ``version`` (its first one, its extraction time)."""
        versions = self.loaded.setdefault(stream, set())
        if version not in versions:
            versions.add(version)
            if (moment := _epoch(time_extracted)) is not None:
                self.extracted[stream, version] = moment
        self.latest[stream] = version

    def started(self, stream: str, version: int, target_started: float) -> float:
        """When the full sync ``version`` of ``stream`` began, as early as this run can tell:
        its first record's extraction (right after the tap's first page; also for a file
        replayed later), or the target's start if earlier or if records carry no
        `time_extracted`. The earlier the start, the more rows are kept."""
        return min(target_started, self.extracted.get((stream, version), target_started))

    def activate(self, stream: str, version: int) -> bool:
        """An ACTIVATE_VERSION arrived; True when it completes ``version``."""
        announced = self.announced.setdefault(stream, set())
        complete = version in announced or version in self.loaded.get(stream, ())
        announced.add(version)
        self.latest[stream] = version
        if not complete:
            self.open[stream] = version
            return False
        self.completed.setdefault(stream, set()).add(version)
        if self.open.get(stream) == version:
            del self.open[stream]
        return True

    def unfinished(self, stream: str) -> int | None:
        """The version of a full sync of ``stream`` whose records no ACTIVATE_VERSION
        announced or completed: a sync that stopped before its end (or read only part of
        the stream, which a careful tap leaves without ACTIVATE_VERSION)."""
        version = self.latest.get(stream)
        if version is None or version in self.completed.get(stream, ()):
            return None
        return None if version in self.announced.get(stream, ()) else version


@dataclass
class InputEnds:
    """Where each stream's messages stand against the STATE messages of the input.

    ``last_line``: the stream's last SCHEMA, RECORD, BATCH or ACTIVATE_VERSION; ``settled``:
    its last completing ACTIVATE_VERSION. A stream is covered when a STATE or a completing
    ACTIVATE_VERSION came after its last message.
    """

    full_syncs: FullSyncs = field(default_factory=FullSyncs)
    last_line: dict[str, int] = field(default_factory=dict)
    settled: dict[str, int] = field(default_factory=dict)
    tracks_state: set[str] = field(default_factory=set)  # streams declaring bookmarks
    last_state_line: int = 0

    def schema(self, stream: str, line: int, *, bookmarked: bool) -> None:
        """A SCHEMA of ``stream``; ``bookmarked``: it declares bookmark properties."""
        self.last_line[stream] = line
        if bookmarked:
            self.tracks_state.add(stream)

    def message(self, stream: str, line: int) -> None:
        """A RECORD, BATCH or ACTIVATE_VERSION of ``stream``."""
        self.last_line[stream] = line

    def completed(self, stream: str, line: int) -> None:
        """An ACTIVATE_VERSION that completed a full sync of ``stream``."""
        self.settled[stream] = line

    def state(self, line: int) -> None:
        self.last_state_line = line

    def outcome(self, stream: str) -> Outcome:
        """What the input proves about ``stream`` at its end (see the module docstring).

        Streams with bookmark properties, and full syncs announced before their records
        (singer-sdk's), need a STATE after their last message; a stream without either
        gives the input nothing to prove it by and counts as succeeded.
        """
        syncs = self.full_syncs
        if (version := syncs.unfinished(stream)) is not None:
            return Outcome(
                INCOMPLETE,
                f"the full sync (version {version}) did not reach its end: no ACTIVATE_VERSION "
                "followed its records (the tap stopped before the end, or read only part of "
                "the stream, as a full sync narrowed to a facility does); no rows were retired",
            )
        announced = syncs.open.get(stream)  # a full sync announced, never completed
        needs_state = stream in self.tracks_state or announced is not None
        covered = max(self.last_state_line, self.settled.get(stream, 0))
        if needs_state and self.last_line.get(stream, 0) > covered:
            message = (
                "the input ended without a STATE after the stream's last message: the tap "
                "stopped before finishing it; the rows loaded are kept and the bookmark stays "
                "at the last STATE"
            )
            if announced is not None:
                message += f"; {deletions_not_reconciled(announced)}"
            return Outcome(INCOMPLETE, message)
        if announced is not None:
            return Outcome(SUCCEEDED, deletions_not_reconciled(announced))
        return Outcome(SUCCEEDED)


def _epoch(text: t.Any) -> float | None:
    """An ISO-8601 `time_extracted` as epoch seconds (None when absent or unreadable)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)).timestamp()


def deletions_not_reconciled(version: int) -> str:
    """Why a full sync announced only before its records retired nothing."""
    return (
        f"deletions not reconciled: ACTIVATE_VERSION {version} came before the records and "
        "none followed them (singer-sdk taps send only that one), so rows missing from this "
        "full sync were not retired"
    )
