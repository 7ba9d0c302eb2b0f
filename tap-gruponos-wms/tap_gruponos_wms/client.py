"""The stream of one lgfapi entity: its schema and records as Singer wants them, read
incrementally by a fixed `mod_ts` window (`incremental`) or in full by `id` (`full_table`),
over the keyset walk (`walk`) and the requests of `api`."""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
from functools import cached_property

from singer_sdk.singerlib import RecordMessage

from tap_gruponos_wms.errors import SettingsError
from tap_gruponos_wms.full_table import FullTableRead
from tap_gruponos_wms.incremental import IncrementalRead
from tap_gruponos_wms.pagination import UTC
from tap_gruponos_wms.schema import flatten_record, relation_fields, schema_from_describe

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from singer_sdk.helpers.types import Context

#: The property setting key_column adds (its description marks it ours in a catalog).
SOURCE_KEY_DESCRIPTION = "The WMS environment the record comes from (tap setting key_value)."
SOURCE_KEY_PROPERTY = {"type": ["string"], "maxLength": 128, "description": SOURCE_KEY_DESCRIPTION}


def source_key(config: Mapping[str, t.Any]) -> tuple[str, str] | None:
    """(key_column, key_value) when both are set."""
    column, value = config.get("key_column"), config.get("key_value")
    return (str(column), str(value)) if column and value else None


class WmsStream(IncrementalRead, FullTableRead):
    """One lgfapi entity, read incrementally by a fixed `mod_ts` window or in full by `id`.

    Offset paging is never used: every request is the first page of a query narrowed by a
    keyset (see `pagination`).
    """

    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)

    def __init__(self, tap: t.Any) -> None:
        self._source_key = source_key(tap.config)
        super().__init__(tap)
        self._warned_unknown_fields = False
        if self._source_key:
            self.primary_keys = (self._source_key[0], "id")

    # -- schema and records ---------------------------------------------------------------

    @property
    def schema(self) -> dict:
        """From the input catalog when given (no API call), else from `describe`; with the
        source key column (setting key_column) added."""
        if self._schema is None:
            catalog = self._tap.input_catalog
            entry = catalog.get_stream(self.name) if catalog else None
            if entry is not None:
                schema = entry.schema.to_dict()
            else:
                schema = schema_from_describe(self.entity, self.describe(self.entity))
            self._schema = self._with_source_key(schema)
        return self._schema

    def apply_catalog(self, catalog: t.Any) -> None:
        """The catalog's choices; with key_column, its column in the schema and the key."""
        super().apply_catalog(catalog)
        if self._source_key and getattr(self, "_input_schema", None) is not None:
            self._input_schema = self._with_source_key(self._input_schema)
            self.primary_keys = (self._source_key[0], "id")

    def _with_source_key(self, schema: dict) -> dict:
        """``schema`` with the key_column property, refused when the entity has a field of
        that name: every record's value of it would become the environment's name."""
        if not self._source_key:
            return schema
        column = self._source_key[0]
        existing = schema["properties"].get(column)
        if existing is not None and existing.get("description") != SOURCE_KEY_DESCRIPTION:
            msg = (
                f"setting key_column: {column!r} is a field of entity {self.entity} (stream "
                f"{self.name}): its values would all become key_value; name a column the WMS "
                "does not have, e.g. wms_env"
            )
            raise SettingsError(msg)
        properties = {**schema["properties"], column: SOURCE_KEY_PROPERTY}
        return {**schema, "properties": properties}

    @cached_property
    def _relations(self) -> tuple[tuple[str, str], ...]:
        return relation_fields(self.effective_schema)

    @cached_property
    def _selected(self) -> frozenset[str]:
        """Properties the catalog selects, computed once instead of once per record."""
        return frozenset(
            name
            for name in self.effective_schema["properties"]
            if self.mask.get(("properties", name), True)
        )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        record = flatten_record(row, self._relations, self._selected)
        if self._source_key:
            column, value = self._source_key
            record[column] = value
        if not self._warned_unknown_fields:
            known = set(self.effective_schema["properties"])
            if unknown := sorted(n for n in row if n not in known and not n.endswith("_set")):
                self.logger.warning(
                    "%s: fields not in the catalog schema are dropped (re-run discovery "
                    "to get them): %s",
                    self.entity,
                    unknown,
                )
            self._warned_unknown_fields = True
        return record

    def _generate_record_messages(self, record: dict) -> Iterator[RecordMessage]:
        """The SDK's version, minus its per-record deselection and type conformance.

        `post_process` already limited the record to the selected properties, and the values
        are JSON whose types the schema was derived from (describe); the SDK's generic walk
        over every value was most of the tap's CPU time and changed nothing.
        """
        extracted = dt.datetime.now(UTC)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted,
                )

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        if level >= logging.ERROR and message.startswith("An unhandled error occurred"):
            level = logging.DEBUG  # the SDK's echo of a failure that `errors` reports in full
        super().log(message, *args, level=level, **kwargs)

    # -- reading --------------------------------------------------------------------------

    def sync(self, context: Context | None = None) -> None:
        """The SDK's sync between the first and the last progress line of the stream."""
        self.progress.start()
        super().sync(context)
        bookmark = self.get_context_state(context).get("replication_key_value")
        self.progress.finish(None if bookmark is None else str(bookmark))

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        clock, listed = self._entity_list()
        self._tap.check_codes_once(self, listed)
        if self.replication_method == "FULL_TABLE":
            yield from self._read_full_table(context)
        else:
            yield from self._read_window(context, clock)
