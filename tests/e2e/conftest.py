"""The Meltano project run for real: `meltano` subprocesses, the WMS simulator, SQLite.

One `meltano install` serves the whole run (every pytest-xdist worker), into a temporary
directory, so the suite neither disturbs nor depends on the checkout's own .meltano (a demo
or another suite may be using it). Each test gets its own Meltano directory
(MELTANO_SYS_DIR_ROOT: run files, logs) linking to those plugin venvs, so tests running at
once never share Meltano's per-plugin run files, and its own simulator, SQLite warehouse and
Meltano system database (so its own job state), through the environment variables a
production deployment would use.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from wms_simulator import WmsSimulator

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MELTANO = str(BIN / "meltano")

# stream -> (WMS entity, analytics table)
STREAMS = {
    "allocations": ("allocation", "WMS_ALLOCATIONS"),
    "order_headers": ("order_hdr", "WMS_ORDER_HEADERS"),
    "order_details": ("order_dtl", "WMS_ORDER_DETAILS"),
}
INCREMENTAL_STATE_ID = "dev:tap-gruponos-wms-to-target-gruponos-oracle"
FULL_STATE_ID = "dev:tap-gruponos-wms--full-to-target-gruponos-oracle"
_OWN_PREFIXES = ("TAP_GRUPONOS_WMS", "TARGET_GRUPONOS_ORACLE", "MELTANO_")


def clean_environ() -> dict[str, str]:
    """The caller's environment without settings that would leak into the project."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}


def run(cmd: list[str], env: dict[str, str], check: bool = True, cwd: Path = REPO, **kw: Any):
    """Run a command (in the repository by default); on failure show its output."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugins' virtual environments, created once for the whole run (seconds, with uv):
    pytest-xdist workers share the base temporary directory's parent, and a lock."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    sys_dir = shared / "meltano-plugins"
    with open(shared / "meltano-plugins.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (sys_dir / "installed").exists():
            env = clean_environ() | {"MELTANO_SYS_DIR_ROOT": str(sys_dir)}
            run([MELTANO, "install"], env=env, timeout=900)
            (sys_dir / "installed").touch()
    return sys_dir


@pytest.fixture
def meltano_installed(installed_plugins: Path, tmp_path: Path) -> dict[str, str]:
    """This test's own Meltano directory, its plugin venvs the installed ones: the variables
    that point Meltano at it."""
    own = tmp_path / "meltano-dir"
    own.mkdir()
    for kind in ("extractors", "loaders"):
        (own / kind).symlink_to(installed_plugins / kind, target_is_directory=True)
    return {"MELTANO_SYS_DIR_ROOT": str(own)}


def checkout_copy(folder: Path) -> Path:
    """The checkout's files (tracked and new, not ignored) copied into ``folder``, with its
    ``.venv`` linked: where a documented command runs as written without writing into the
    checkout itself."""
    listed = run(["git", "ls-files", "-z", "-co", "--exclude-standard"], env=clean_environ())
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, folder / name)
    (folder / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    return folder


def free_port() -> int:
    """A port nothing listens on now (so no test binds a fixed one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_past_this_second() -> None:
    """Let the server clock leave the second in which the test changed WMS data.

    A run reads mod_ts up to the server's whole second when it starts (the HTTP Date header);
    changes made within that second belong, by design, to the next run. A run started right
    after a change could otherwise legitimately miss it.
    """
    time.sleep(1.05 - time.time() % 1.0)


def normalize(value: Any) -> Any:
    """One comparable form for a value as the API serves it and as the warehouse stores it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value)).normalize()
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        return _parse_text(value)
    return value


def _parse_text(value: str) -> Any:
    if len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            return normalize(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    if len(value) == 10 and value[4] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    try:
        return Decimal(value).normalize() if value.strip() and value[0] in "-0123456789" else value
    except InvalidOperation:
        return value


def analytics_row(record: dict[str, Any]) -> dict[str, Any]:
    """A WMS record as the pipeline should store it: relations split into X_ID and X_KEY,
    `*_set` links dropped, upper-case column names, values normalized."""
    row: dict[str, Any] = {}
    for name, value in record.items():
        if name.endswith("_set"):
            continue
        if isinstance(value, dict):
            row[name.upper()] = normalize(value["id"])
            row[f"{name[:-3].upper()}_KEY"] = normalize(value["key"])
        else:
            row[name.upper()] = normalize(value)
    return row


def business(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row without the pipeline's SDC_* metadata."""
    return {k: v for k, v in row.items() if not k.startswith("SDC_")}


@dataclass
class Pipeline:
    """One test's project: the simulator it reads, the warehouse it writes, its own state."""

    sim: WmsSimulator
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. the Meltano directory

    @property
    def warehouse(self) -> Path:
        return self.workdir / "warehouse.db"

    def env(self, **overrides: str) -> dict[str, str]:
        env = clean_environ()
        env.update(
            MELTANO_ENVIRONMENT="dev",
            MELTANO_DATABASE_URI=f"sqlite:///{self.workdir / 'meltano.db'}",
            TAP_GRUPONOS_WMS_BASE_URL=self.sim.base_url,
            TAP_GRUPONOS_WMS_PAGE_SIZE="40",
            TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL=f"sqlite:///{self.warehouse}",
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def meltano(self, *args: str, check: bool = True, **env: str):
        return run([MELTANO, *args], env=self.env(**env), check=check, timeout=600)

    def run_job(self, job: str, check: bool = True, **env: str):
        return self.meltano("run", job, check=check, **env)

    def state(self, state_id: str) -> dict[str, Any]:
        out = self.meltano("state", "get", state_id).stdout
        return json.loads(out) if out.strip() else {}

    def table(self, stream: str) -> dict[int, dict[str, Any]]:
        """The analytics table as {ID: row}, values normalized."""
        con = sqlite3.connect(self.warehouse)
        try:
            cur = con.execute(f'SELECT * FROM "{STREAMS[stream][1]}"')
            names = [d[0].upper() for d in cur.description]
            rows = [dict(zip(names, map(normalize, r), strict=True)) for r in cur]
        finally:
            con.close()
        by_id = {int(r["ID"]): r for r in rows}
        assert len(by_id) == len(rows), f"{stream}: duplicate IDs in {STREAMS[stream][1]}"
        return by_id

    def expected(self, stream: str) -> dict[int, dict[str, Any]]:
        """What the table should hold: the simulator's records right now."""
        return {r["id"]: analytics_row(r) for r in self.sim.records(STREAMS[stream][0])}

    def assert_tables_equal_simulator(self, deleted: dict[str, set[int]] | None = None) -> None:
        """Every live WMS record is stored field by field, and nothing else is live."""
        for stream in STREAMS:
            table, expected = self.table(stream), self.expected(stream)
            live = {i for i, r in table.items() if r.get("SDC_DELETED_AT") is None}
            assert live == set(expected), f"{stream}: live ids differ from the WMS"
            for rid, want in expected.items():
                got = {k: table[rid].get(k) for k in want}
                assert got == want, f"{stream} id {rid} differs from the WMS"
                # columns the record lacks (e.g. X_KEY of a null relation) hold nothing
                rest = {k: v for k, v in business(table[rid]).items() if k not in want}
                assert not any(v is not None for v in rest.values()), f"{stream} id {rid}: {rest}"
            gone = (deleted or {}).get(stream, set())
            assert set(table) - live == gone, f"{stream}: soft-deleted ids"


@pytest.fixture
def pipeline(meltano_installed: dict[str, str], tmp_path: Path) -> Iterator[Pipeline]:
    sim = WmsSimulator(orders=30, details_per_order=3, allocations_per_detail=1, seed=11)
    sim.start()
    try:
        yield Pipeline(sim=sim, workdir=tmp_path, extra_env=meltano_installed)
    finally:
        sim.stop()


def snapshot(pipeline: Pipeline) -> dict[str, dict[int, dict[str, Any]]]:
    """Business content of every table, for before/after comparisons."""
    return {s: {i: business(r) for i, r in pipeline.table(s).items()} for s in STREAMS}


def changed_ids(before: dict, after: dict) -> dict[str, set[int]]:
    """Per stream, the ids whose business content differs (inserted or updated)."""
    return {s: {i for i, row in after[s].items() if before[s].get(i) != row} for s in STREAMS}


@pytest.fixture
def orchestrate(meltano_installed: dict[str, str], tmp_path: Path):
    """Builds this test's Dagster deployment (`orchestrated.build`): its own warehouse,
    Dagster instance and Meltano system database; the session's installed plugins."""
    from orchestrated import build  # Dagster, imported by the tests that use it only

    env = clean_environ() | meltano_installed
    env |= {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TAP_GRUPONOS_WMS_PAGE_SIZE": "50",
    }
    return lambda *args, **kwargs: build(tmp_path, env, *args, **kwargs)
