"""Full-table reads: every record by id, each carrying the snapshot's version, and
ACTIVATE_VERSION once the whole entity was read."""

from __future__ import annotations

import typing as t

from tap_gruponos_wms.pagination import IdKeyset
from tap_gruponos_wms.parts import Part
from tap_gruponos_wms.walk import KeysetWalk

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context


class FullTableRead(KeysetWalk):
    """FULL_TABLE: the whole entity (or its narrowed part) by id, with ACTIVATE_VERSION after
    a complete read of the whole entity."""

    @property
    def reads_whole_entity(self) -> bool:
        """Whether a full-table read sees every record of the entity, so that a row it did
        not see is one the WMS deleted: the only case in which ACTIVATE_VERSION is true.

        ACTIVATE_VERSION tells a target "the table now holds this version and nothing
        else"; after a read narrowed by a facility, a company or a relation chain, it would
        retire every row outside the narrowed scope. The rule is read off the query itself
        (`_narrowing`), so any filter added there counts. `start_date`/`end_date` do not
        narrow a full-table read (it walks every id), and stream maps shape what the target
        stores rather than what is read.
        """
        return not self._narrowing()

    def _read_full_table(self, context: Context | None) -> Iterator[dict]:
        # Every record carries this snapshot's version (the SDK's scheme: run start,
        # epoch seconds), narrowed or not, so the next whole-entity read reconciles all
        # rows; ACTIVATE_VERSION follows its last record only, see below.
        self._stream_version = self._initialized_at // 1000
        whole = self.reads_whole_entity
        if not whole:
            self._log_deletions_left_to_whole_sync()
        read = 0
        for record in self._read_parts([Part(0, None, IdKeyset())]):
            read += 1
            yield record
        if whole:
            self._activate_complete_version(read)

    @property
    def emit_activate_version_messages(self) -> bool:
        """Off, so the SDK does not send ACTIVATE_VERSION before the first record.

        A target retires rows of older versions when it receives ACTIVATE_VERSION. Sent
        before the snapshot is read (the SDK's place), a failed or interrupted full sync
        would leave the table emptied (hard delete) or all soft-deleted. `get_records`
        versions every full-table record and sends it once the snapshot is complete, and
        only when the read covered the whole entity (`reads_whole_entity`).
        """
        return False

    def _activate_complete_version(self, records_read: int) -> None:
        """ACTIVATE_VERSION once the whole entity was read: the table holds this version only.

        A target cannot tell a lone ACTIVATE_VERSION after zero records from the one singer-sdk
        taps send before their records (a full sync that may still die), so a careful target
        retires nothing on it. An empty entity is complete: a second ACTIVATE_VERSION of the
        same version says so (harmless to targets that act on the first).
        """
        for _ in range(1 if records_read else 2):
            self._write_activate_version_message(self._stream_version)

    def _log_deletions_left_to_whole_sync(self) -> None:
        scope = ", ".join(f"{name}={value}" for name, value in self._narrowing().items())
        self.logger.warning(
            "%s: full-table read narrowed by %s sends no ACTIVATE_VERSION: a narrowed read "
            "cannot tell which rows outside it still exist and would retire them all. Rows "
            "the WMS deleted are retired only by a full sync of the whole entity (without "
            "facility_code or company_code)",
            self.name,
            scope,
        )
