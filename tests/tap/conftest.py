"""Fixtures for the tap's tests: an in-process tap runner that captures Singer output, and
the WMS simulator (a real HTTP server on 127.0.0.1) for integration tests."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import responses
from tap_gruponos_wms.client import WmsStream
from tap_gruponos_wms.tap import TapGruponosWms
from tap_gruponos_wms.writer import SingerOutputWriter

from .mock_api import API, DESCRIBE, ENTITIES, SERVER_DATE


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
        mock.get(API, json={"results": ENTITIES}, headers={"Date": SERVER_DATE})
        for entity, code in (("facility", "FAC1"), ("company", "GRUPONOS")):
            mock.get(f"{API}{entity}/", json={"results": [{"id": 1, "code": code}]})
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


@dataclass
class CliRun:
    """A finished `tap-gruponos-wms` process: exit code, parsed stdout, stderr lines."""

    returncode: int
    output: SingerOutput
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        """The ERROR lines (the console format is `time | LEVEL | logger | message`)."""
        return [line for line in self.stderr.splitlines() if "| ERROR " in line]

    @property
    def warnings(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "| WARNING " in line]

    def state_after(self, given: dict | None) -> dict:
        """The state this run leaves: its last STATE, else the one it was given."""
        return self.output.last_state if self.output.states else (given or {})

    def assert_one_line_failure(self, *needles: str) -> str:
        """Exit 1, exactly one ERROR line holding every needle, no traceback."""
        assert self.returncode == 1, self.stderr
        assert "Traceback" not in self.stderr, self.stderr
        assert len(self.errors) == 1, self.errors
        line = self.errors[0]
        for needle in needles:
            assert needle in line, (needle, line)
        return line


@pytest.fixture
def tap_cli(tmp_path: Path) -> t.Callable[..., CliRun]:
    """Run the real tap executable (`python -m tap_gruponos_wms.tap`) in a subprocess."""

    def run(
        config: dict[str, t.Any],
        *args: str,
        catalog: dict | None = None,
        state: dict | None = None,
    ) -> CliRun:
        command = [sys.executable, "-m", "tap_gruponos_wms.tap", *args]
        for option, value in (("--config", config), ("--catalog", catalog), ("--state", state)):
            if value is not None:
                path = tmp_path / f"{option[2:]}-{uuid.uuid4().hex}.json"
                path.write_text(json.dumps(value))
                command += [option, str(path)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        lines = [] if "--discover" in args else done.stdout.splitlines()
        messages = [json.loads(line) for line in lines]
        return CliRun(done.returncode, SingerOutput(messages), done.stdout, done.stderr)

    return run
