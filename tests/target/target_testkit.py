"""Helpers for the target tests: Singer messages, running the target, reading tables."""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
import subprocess
import sys
import typing as t
from pathlib import Path

from target_gruponos_oracle.target import TargetGruponosOracle

# The installed console script, next to the interpreter running the tests.
TARGET_CMD = [str(Path(sys.executable).with_name("target-gruponos-oracle"))]

DETAIL_PROPERTIES = {
    "id": {"type": "integer"},
    "order_id_id": {"type": ["integer", "null"]},
    "order_id_key": {"type": ["string", "null"], "maxLength": 30},
    "ord_qty": {"type": ["number", "null"]},
    "status_id": {"type": ["integer", "null"]},
    "cust_field_1": {"type": ["string", "null"], "maxLength": 50},
    "cust_date_1": {"type": ["string", "null"], "format": "date"},
    "is_back_order": {"type": ["boolean", "null"]},
    "mod_ts": {"type": ["string", "null"], "format": "date-time"},
}


def schema(
    stream: str = "order_details",
    properties: dict | None = None,
    keys: t.Sequence[str] = ("id",),
    bookmarks: t.Sequence[str] | None = ("mod_ts",),
) -> dict:
    message = {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties or DETAIL_PROPERTIES},
        "key_properties": list(keys),
    }
    if bookmarks:
        message["bookmark_properties"] = list(bookmarks)
    return message


def record(stream: str = "order_details", version: int | None = None, **fields: t.Any) -> dict:
    message = {"type": "RECORD", "stream": stream, "record": fields}
    if version is not None:
        message["version"] = version
    return message


def detail(id_: int, mod_ts: str = "2026-01-05T10:00:00.000000-03:00", **fields: t.Any) -> dict:
    """An order-detail RECORD with sensible defaults."""
    values = {
        "id": id_,
        "order_id_id": 7,
        "order_id_key": "ORD-7",
        "ord_qty": 1.5,
        "mod_ts": mod_ts,
    }
    values.update(fields)
    return record(**values)


def state(value: t.Any) -> dict:
    return {"type": "STATE", "value": {"bookmarks": {"order_details": {"n": value}}}}


def activate(version: int, stream: str = "order_details") -> dict:
    return {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}


def singer_text(messages: t.Iterable[dict | str]) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


class Loader:
    """Runs the target on a SQLite file, in-process or as a real subprocess."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "wms.db"
        self.tmp_path = tmp_path
        self.config: dict[str, t.Any] = {"sqlalchemy_url": f"sqlite:///{self.db}"}

    def run(self, messages: t.Iterable[dict | str], **config: t.Any) -> list[dict]:
        """Load in-process; returns the STATE values written to stdout."""
        out = io.StringIO()
        target = TargetGruponosOracle(config={**self.config, **config}, validate_config=True)
        stdout, sys.stdout = sys.stdout, out
        try:
            target.listen(io.StringIO(singer_text(messages)))
        finally:
            sys.stdout = stdout
        return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]

    def config_file(self, **config: t.Any) -> Path:
        path = self.tmp_path / "config.json"
        path.write_text(json.dumps({**self.config, **config}))
        return path

    def run_process(
        self, messages: t.Iterable[dict | str], **config: t.Any
    ) -> subprocess.CompletedProcess:
        """Load with the console entry point in a subprocess (stdout, stderr, exit code)."""
        return subprocess.run(
            [*TARGET_CMD, "--config", str(self.config_file(**config))],
            input=singer_text(messages),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start_process(self, **config: t.Any) -> subprocess.Popen:
        """Start the target with pipes, for tests that feed it gradually or kill it."""
        return subprocess.Popen(
            [*TARGET_CMD, "--config", str(self.config_file(**config))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def rows(self, table: str = "WMS_ORDER_DETAILS", order: str = "ID") -> list[dict]:
        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]

    def columns(self, table: str = "WMS_ORDER_DETAILS") -> dict[str, str]:
        with sqlite3.connect(self.db) as conn:
            return {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({table})")}


def one_error(result: subprocess.CompletedProcess) -> str:
    """The single ERROR line of a run that failed cleanly (exit 1, no traceback)."""
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return errors[0]


def states_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


SDK_TAP = Path(__file__).with_name("sdk_tap.py")


def sdk_tap_into_target(
    loader: Loader, tap_config: dict, **target_config: t.Any
) -> tuple[subprocess.CompletedProcess, int]:
    """``sdk_tap.py | target-gruponos-oracle``, two real processes joined by a pipe.

    Returns the target's result and the tap's exit code.
    """
    tap_config_file = loader.tmp_path / "tap_config.json"
    tap_config_file.write_text(json.dumps(tap_config))
    with subprocess.Popen(
        [sys.executable, str(SDK_TAP), "--config", str(tap_config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as tap:
        result = subprocess.run(
            [*TARGET_CMD, "--config", str(loader.config_file(**target_config))],
            stdin=tap.stdout,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return result, tap.returncode


def batch_file(path: Path, rows: t.Iterable[dict], *, compress: bool = True) -> str:
    """A BATCH file as singer-sdk's JSON Lines batcher writes it; returns its file:// URL."""
    from singer_sdk.singerlib.json import serialize_json

    data = "".join(serialize_json(row) + "\n" for row in rows).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path.as_uri()


def batch(
    *urls: str, stream: str = "order_details", fmt: str = "jsonl", compression: str = "gzip"
) -> dict:
    return {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": fmt, "compression": compression},
        "manifest": list(urls),
    }
