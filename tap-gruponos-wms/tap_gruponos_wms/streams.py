"""The lgfapi entities this tap extracts: three mission streams with fixed names and paths,
and one generic stream type for every other entity.

Each is read on its own `mod_ts` (a detail or an allocation changes without its parent
changing) or, for an entity whose `describe` has no `mod_ts`, in full by id. The mission
streams keep the facility/company paths they always used (`allocation` has no facility or
company of its own); other entities derive theirs from the metadata (`relations`).
"""

from __future__ import annotations

import typing as t
from functools import cached_property

from tap_gruponos_wms.client import WmsStream
from tap_gruponos_wms.relations import narrowing_filter

#: The entities read when the `entities` setting is not given (today's three streams).
DEFAULT_ENTITIES = ("order_hdr", "order_dtl", "allocation")
#: The README's recommended set: the mission entities and those that explain them.
RECOMMENDED_ENTITIES = (
    *DEFAULT_ENTITIES,
    "facility",
    "company",
    "item",
    "location",
    "inventory",
    "container",
    "order_type",
    "order_status",
    "ib_shipment",
    "ib_shipment_dtl",
    "purchase_order_hdr",
    "purchase_order_dtl",
)


class OrderHeadersStream(WmsStream):
    name = "order_headers"
    entity = "order_hdr"
    facility_filter = "facility_id__code"
    company_filter = "company_id__code"


class OrderDetailsStream(WmsStream):
    name = "order_details"
    entity = "order_dtl"
    facility_filter = "order_id__facility_id__code"
    company_filter = "order_id__company_id__code"


class AllocationsStream(WmsStream):
    name = "allocations"
    entity = "allocation"
    facility_filter = "order_dtl_id__order_id__facility_id__code"
    company_filter = "order_dtl_id__order_id__company_id__code"


STREAM_TYPES: tuple[type[WmsStream], ...] = (
    AllocationsStream,
    OrderHeadersStream,
    OrderDetailsStream,
)
MISSION_TYPES = {stream_type.entity: stream_type for stream_type in STREAM_TYPES}


class EntityStream(WmsStream):
    """Any other entity: the stream (and table) is named after it; INCREMENTAL on `mod_ts`
    when `describe` lists it, else FULL_TABLE; narrowed along the shortest relation chain."""

    def __init__(self, tap: t.Any, entity: str) -> None:
        self.name = entity
        self.entity = entity
        super().__init__(tap)
        self.replication_key = "mod_ts" if self._has_mod_ts else None

    @property
    def _has_mod_ts(self) -> bool:
        return "mod_ts" in self.schema["properties"]

    def apply_catalog(self, catalog: t.Any) -> None:
        """The catalog's choices, except INCREMENTAL for an entity without `mod_ts` (Meltano's
        `metadata: '*'` asks it of every stream): such an entity can only be read in full."""
        super().apply_catalog(catalog)
        if not self._has_mod_ts and (self.replication_key or self.forced_replication_method):
            if self.forced_replication_method != "FULL_TABLE":
                self.logger.info("%s: no mod_ts in describe; read in full", self.entity)
            self.replication_key = None
            self.forced_replication_method = "FULL_TABLE"

    @cached_property
    def facility_filter(self) -> str | None:  # type: ignore[override]
        return self._derived_filter("facility")

    @cached_property
    def company_filter(self) -> str | None:  # type: ignore[override]
        return self._derived_filter("company")

    def _derived_filter(self, dimension: str) -> str | None:
        chain = self._tap.relation_graph().chain(self.entity, dimension)
        if chain is None:
            self.logger.info(
                "%s: no relation reaches %s; read for every %s (%s_code not applied)",
                self.entity,
                dimension,
                dimension,
                dimension,
            )
            return None
        return narrowing_filter(chain)


def build_stream(tap: t.Any, entity: str) -> WmsStream:
    mission = MISSION_TYPES.get(entity)
    return mission(tap) if mission else EntityStream(tap, entity)
