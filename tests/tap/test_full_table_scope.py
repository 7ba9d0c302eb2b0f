"""A full-table read sends ACTIVATE_VERSION only when it read the whole entity."""

from __future__ import annotations

import logging

import pytest

from .mock_api import CONFIG, page, rec

# stream -> (entity, {setting: the filter path narrowing that entity by it})
PATHS = {
    "order_headers": (
        "order_hdr",
        {"facility_code": "facility_id__code", "company_code": "company_id__code"},
    ),
    "order_details": (
        "order_dtl",
        {
            "facility_code": "order_id__facility_id__code",
            "company_code": "order_id__company_id__code",
        },
    ),
    "allocations": (
        "allocation",
        {
            "facility_code": "order_dtl_id__order_id__facility_id__code",
            "company_code": "order_dtl_id__order_id__company_id__code",
        },
    ),
}
FULL = {"page_size": "3", "ordering": "id", "id__gt": "0"}
RECORDS = [rec(1, "11:00:00.0"), rec(2, "11:00:00.0")]


def versioned_kinds(out, stream: str) -> list[str]:
    return [m["type"] for m in out.messages if m.get("stream") == stream and "version" in m]


def scope_warnings(caplog: pytest.LogCaptureFixture, stream: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
        and r.getMessage().startswith(f"{stream}: full-table read narrowed")
    ]


@pytest.mark.parametrize(("setting", "value"), [("facility_code", "FAC1"), ("company_code", "C1")])
def test_narrowed_full_table_read_sends_no_activate_version_and_says_why_once_per_stream(
    api, run_tap, caplog, setting, value
) -> None:
    for entity, paths in PATHS.values():
        page(api, {**FULL, paths[setting]: value}, RECORDS, entity=entity)

    with caplog.at_level(logging.INFO):
        out = run_tap({**CONFIG, setting: value}, streams=list(PATHS), method="FULL_TABLE")

    assert not out.of_type("ACTIVATE_VERSION")
    for stream, (_, paths) in PATHS.items():
        assert out.ids(stream) == [1, 2]
        # still versioned, so the next whole-entity full sync reconciles these rows too
        assert versioned_kinds(out, stream) == ["RECORD", "RECORD"]
        warnings = scope_warnings(caplog, stream)
        assert len(warnings) == 1, f"{stream}: {warnings}"
        assert f"{paths[setting]}={value}" in warnings[0]
        assert "no ACTIVATE_VERSION" in warnings[0] and "whole entity" in warnings[0]


def test_whole_entity_full_table_read_sends_activate_version_after_its_last_record(
    api, run_tap, caplog
) -> None:
    for entity, _ in PATHS.values():
        page(api, FULL, RECORDS, entity=entity)

    with caplog.at_level(logging.INFO):
        out = run_tap(CONFIG, streams=list(PATHS), method="FULL_TABLE")

    for stream in PATHS:
        assert versioned_kinds(out, stream) == ["RECORD", "RECORD", "ACTIVATE_VERSION"]
        versions = {m.get("version") for m in out.messages if m.get("stream") == stream}
        assert len(versions - {None}) == 1
        assert not scope_warnings(caplog, stream)
