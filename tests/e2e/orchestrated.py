"""One test's Dagster deployment: settings like orchestration/demo.yml's over its own
simulators, warehouse, Dagster instance and Meltano system database, and partition runs as
real `dagster job execute` processes (the `orchestrate` fixture of conftest builds one)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import yaml
from conftest import BIN, MELTANO, REPO, STREAMS, analytics_row, normalize
from wms_simulator import WmsSimulator

from orchestration.settings import SETTINGS_ENV, load_settings

KEY = "WMS_ENV"
DAGSTER = str(BIN / "dagster")


@dataclass(frozen=True)
class PartitionRun:
    """One `dagster job execute` of a partition: its exit code, output and Dagster run."""

    key: str
    returncode: int
    output: str
    run: dg.DagsterRun | None

    @property
    def success(self) -> bool:
        return self.returncode == 0 and self.run is not None and self.run.is_success


@dataclass
class Started:
    """A `dagster job execute` still running (its own session: a process group to kill)."""

    job: str
    key: str
    process: subprocess.Popen

    def tree(self) -> list[psutil.Process]:
        """The process and everything it started (meltano, the tap, the target)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@dataclass
class Orchestrated:
    """One test's Dagster definitions over its simulators, warehouse and Meltano state."""

    settings: Path
    warehouse: Path
    dagster_home: Path
    env: dict[str, str]

    def process_env(self) -> dict[str, str]:
        return self.env | {"DAGSTER_HOME": str(self.dagster_home), SETTINGS_ENV: str(self.settings)}

    def start(self, job: str, key: str, **env: str) -> Started:
        """``job`` of partition ``key`` in a `dagster job execute` of its own, started."""
        command = [DAGSTER, "job", "execute", "-m", "orchestration.definitions", "-j", job]
        command += ["--tags", json.dumps({"dagster/partition": key})]
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=self.process_env() | env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        return Started(job, key, process)

    def finish(self, started: Started, timeout: float = 600) -> PartitionRun:
        output, _ = started.process.communicate(timeout=timeout)
        return PartitionRun(started.key, started.process.returncode, output, self.last_run(started))

    def run(self, job: str, *partitions: str) -> list[PartitionRun]:
        """The partitions of ``job`` all at once, each in its own `dagster job execute`
        process (Dagster's in-process execution is not made for threads)."""
        with ThreadPoolExecutor(len(partitions)) as pool:
            return list(pool.map(lambda key: self.finish(self.start(job, key)), partitions))

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.dagster_home))

    def last_run(self, started: Started) -> dg.DagsterRun | None:
        """The newest Dagster run of the started job and partition."""
        runs_of = dg.RunsFilter(job_name=started.job, tags={"dagster/partition": started.key})
        with self.instance() as instance:
            runs = instance.get_runs(runs_of, limit=1)
        return runs[0] if runs else None

    def events(self, run: dg.DagsterRun) -> list[dg.EventLogEntry]:
        with self.instance() as instance:
            return list(instance.all_logs(run.run_id))

    def materialized(self, run: dg.DagsterRun | None) -> dict[str, dict[str, t.Any]]:
        """The metadata of each table the run materialised, by stream."""
        assert run is not None
        tables = {}
        for entry in self.events(run):
            event = entry.dagster_event
            if event is None or event.event_type_value != "ASSET_MATERIALIZATION":
                continue
            materialization = event.step_materialization_data.materialization
            metadata = {name: value.value for name, value in materialization.metadata.items()}
            tables[materialization.asset_key.path[-1]] = metadata
        return tables

    def table(self, stream: str) -> dict[tuple[str, int], dict[str, t.Any]]:
        """{(environment, ID): business columns}, values normalized."""
        with sqlite3.connect(self.warehouse) as db:
            cursor = db.execute(f"SELECT * FROM {STREAMS[stream][1]}")
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, map(normalize, r), strict=True)) for r in cursor]
        keyed = {(r[KEY], int(r["ID"])): r for r in rows}
        assert len(keyed) == len(rows), f"{stream}: a key twice"
        return keyed

    def audit(self) -> list[dict]:
        if not self.warehouse.exists():
            return []
        with sqlite3.connect(self.warehouse) as db:
            db.row_factory = sqlite3.Row
            try:
                return [dict(r) for r in db.execute("SELECT * FROM SDC_LOAD_AUDIT")]
            except sqlite3.OperationalError:  # no table yet
                return []

    def state(self, state_id: str) -> dict:
        out = subprocess.run(
            [MELTANO, "state", "get", state_id],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out) if out.strip() else {}


def build(
    tmp_path: Path,
    env: dict[str, str],
    sims: dict[str, WmsSimulator],
    facilities: dict[str, list[str] | str] | None = None,
    warehouse: str = "warehouse.db",
    **settings: t.Any,
) -> Orchestrated:
    """The settings file, the Dagster instance (migrated) and the variables of one test."""
    db = tmp_path / warehouse
    environments = [
        {
            "name": name,
            "env": {
                "TAP_GRUPONOS_WMS_BASE_URL": sim.base_url,
                "TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL": f"sqlite:///{db}",
            },
            "facilities": (facilities or {}).get(name, []),
        }
        for name, sim in sims.items()
    ]
    document = {
        "meltano_project": str(REPO),
        "key_column": "wms_env",
        "retry_delay_seconds": 0.5,
        "environments": environments,
        **settings,
    }
    path = tmp_path / f"{warehouse}.partitions.yml"
    path.write_text(yaml.safe_dump(document))
    load_settings(path)  # valid as written
    home = tmp_path / "dagster"
    home.mkdir(exist_ok=True)
    with dg.DagsterInstance.from_config(str(home)) as instance:  # its storage, migrated
        instance.get_runs(limit=1)  # once: concurrent first runs would race on it
    return Orchestrated(path, db, home, env)


def assert_succeeded(runs: list[PartitionRun]) -> None:
    for run in runs:
        assert run.success, f"{run.key}: exit {run.returncode}\n{run.output[-6000:]}"


def expected(sim: WmsSimulator, stream: str, environment: str) -> dict:
    return {(environment, r["id"]): analytics_row(r) for r in sim.records(STREAMS[stream][0])}


def assert_tables_hold(run: Orchestrated, sims: dict[str, WmsSimulator]) -> None:
    """Every table holds each environment's records field by field, and nothing else live."""
    for stream in STREAMS:
        table = run.table(stream)
        want = {k: v for name, sim in sims.items() for k, v in expected(sim, stream, name).items()}
        live = {k for k, row in table.items() if row["SDC_DELETED_AT"] is None}
        assert live == set(want), stream
        for key, fields in want.items():
            assert {c: table[key].get(c) for c in fields} == fields, (stream, key)
