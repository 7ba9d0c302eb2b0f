"""Fixtures for the tap's tests: an in-process tap runner that captures Singer output, and
the WMS simulator (a real HTTP server on 127.0.0.1) for integration tests."""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

import pytest
import responses
from tap_gruponos_wms.client import WmsStream
from tap_gruponos_wms.tap import TapGruponosWms
from tap_gruponos_wms.writer import SingerOutputWriter

from .mock_api import API, DESCRIBE, SERVER_DATE


class CapturingWriter(SingerOutputWriter):
    """Serialises messages exactly as the CLI does, but into a list."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def write_message(self, message: t.Any) -> None:
        self.lines.append(self.format_message(message).decode())


@dataclass
class SingerOutput:
    messages: list[dict[str, t.Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, t.Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return [m["record"] for m in self.of_type("RECORD") if m["stream"] == stream]

    def ids(self, stream: str) -> list[int]:
        return [r["id"] for r in self.records(stream)]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.of_type("STATE")]

    @property
    def last_state(self) -> dict[str, t.Any]:
        return self.states[-1]

    def bookmark(self, stream: str, state: dict[str, t.Any] | None = None) -> str | None:
        state = self.last_state if state is None else state
        return state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def catalog_for(tap: TapGruponosWms, streams: t.Iterable[str], method: str | None = None) -> dict:
    """The tap's discovered catalog with only `streams` selected (and a replication method)."""
    catalog = tap.catalog_dict
    wanted = set(streams)
    for entry in catalog["streams"]:
        root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        root["metadata"]["selected"] = entry["tap_stream_id"] in wanted
        if method:
            root["metadata"]["forced-replication-method"] = method
            entry["replication_method"] = method
    return catalog


@pytest.fixture
def run_tap() -> t.Callable[..., SingerOutput]:
    """Run a sync in-process and return its parsed Singer messages."""

    def run(
        config: dict[str, t.Any],
        *,
        state: dict | None = None,
        streams: t.Iterable[str] | None = None,
        method: str | None = None,
        raw: list[str] | None = None,
    ) -> SingerOutput:
        catalog = None
        if streams is not None or method is not None:
            discovery = TapGruponosWms(config=config, setup_mapper=False)
            catalog = catalog_for(discovery, streams or [s for s in discovery.streams], method)
        writer = CapturingWriter()
        tap = TapGruponosWms(config=config, state=state, catalog=catalog, message_writer=writer)
        try:
            tap.sync_all()
        finally:
            if raw is not None:
                raw.extend(writer.lines)
        return SingerOutput([json.loads(line) for line in writer.lines])

    return run


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry delays of milliseconds, so fault tests stay fast (Retry-After still applies)."""
    monkeypatch.setattr(WmsStream, "backoff_base_seconds", 0.01)


@pytest.fixture
def api() -> t.Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            API,
            json={"results": ["order_hdr", "order_dtl", "allocation"]},
            headers={"Date": SERVER_DATE},
        )
        for entity in ("order_hdr", "order_dtl", "allocation"):
            mock.get(f"{API}{entity}/describe/", json=DESCRIBE)
        yield mock


@pytest.fixture
def sim() -> t.Iterator[t.Any]:
    """A fresh simulator (20 orders, 60 details, 60 allocations) on 127.0.0.1."""
    from wms_simulator import WmsSimulator

    with WmsSimulator(orders=20, details_per_order=3, allocations_per_detail=1, seed=7) as server:
        yield server


@pytest.fixture
def sim_config(sim: t.Any) -> dict[str, t.Any]:
    return {
        "base_url": sim.base_url,
        "username": "wms_user",
        "password": "wms_pass",
        "page_size": 10,
        "lookback_minutes": 0,
        "max_retries": 3,
    }
