"""The three lgfapi entities this tap extracts.

Each is read on its own `mod_ts` (a detail or an allocation changes without its parent
changing). Facility and company narrowing follows each entity's path to `order_hdr`:
`allocation` has no facility/company of its own.
"""

from __future__ import annotations

from tap_gruponos_wms.client import WmsStream


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
