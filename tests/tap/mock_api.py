"""A scripted lgfapi for unit tests: constants, record builder and query-matched pages."""

from __future__ import annotations

import typing as t

import responses
from responses import matchers

ROOT = "http://127.0.0.1:9/gruponos_test"
API = f"{ROOT}/wms/lgfapi/v10/entity/"
ENTITIES = ["order_hdr", "order_dtl", "allocation", "facility", "company"]
SERVER_DATE = "Thu, 26 Nov 2026 12:00:00 GMT"
HI = "2026-11-26T12:00:00+00:00"
LO = "2026-11-26T11:00:00+00:00"
CONFIG = {
    "base_url": ROOT,
    "username": "wms_user",
    "password": "wms_pass",
    "page_size": 3,
    "lookback_minutes": 0,
    "max_retries": 2,
}
DESCRIBE = {
    "parameters": [],
    "fields": {
        "id": {"type": "pk"},
        "order_id": {"type": "relation"},
        "mod_ts": {"type": "datetime"},
        "po_nbr": {"type": "varchar", "max_length": 20},
    },
}
NOT_FOUND = {"reference": "r-1", "code": "NOT_FOUND", "message": "No records found.", "details": {}}


def rec(rid: int, mod_ts: str) -> dict[str, t.Any]:
    """A record as lgfapi serves it; mod_ts given in UTC 'HH:MM:SS.ffffff' on the test day."""
    hour, rest = int(mod_ts[:2]), mod_ts[2:]
    local = f"2026-11-26T{hour - 3:02d}{rest}-03:00"
    return {
        "id": rid,
        "order_id": {"id": 10, "key": "ORD-10", "url": ""},
        "mod_ts": local,
        "po_nbr": None,
    }


def window(lo: str = LO, hi: str = HI, **extra: t.Any) -> dict[str, str]:
    params = {"page_size": "3", "mod_ts__gte": lo, "mod_ts__lt": hi, "ordering": "mod_ts,id"}
    return {**params, **{k: str(v) for k, v in extra.items()}}


def second(lo: str, hi: str, after: int) -> dict[str, str]:
    return {
        "page_size": "3",
        "mod_ts__gte": lo,
        "mod_ts__lt": hi,
        "ordering": "id",
        "id__gt": str(after),
    }


def page(
    mock: responses.RequestsMock,
    params: dict[str, str],
    records: list[dict] | None,
    entity: str = "order_dtl",
) -> None:
    if records is None:
        mock.get(
            f"{API}{entity}/",
            status=404,
            json=NOT_FOUND,
            match=[matchers.query_param_matcher(params)],
        )
    else:
        mock.get(
            f"{API}{entity}/",
            json={"results": records},
            match=[matchers.query_param_matcher(params)],
        )


STATE = {"bookmarks": {"order_details": {"replication_key": "mod_ts", "replication_key_value": LO}}}
