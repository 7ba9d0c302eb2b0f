#!/usr/bin/env python3
"""Benchmark partitioned runs on Dagster against the simulator at 200 ms per request.

On the same data (the simulator as its own process, `--facilities` facilities), each from
an empty warehouse and empty state, prints the wall time of:

1. the facility partitions one after another (each `dagster job execute` of
   `facility_incremental`, a process per partition, as the tests and the daemon run them);
2. the same partitions all at once;
3. one unnarrowed run of the same data (`environment_incremental`), for reference;
4. the bare `meltano run incremental-sync` of each facility (the same settings, state id
   and Meltano directory as its partition): Dagster's overhead per partition run is the
   Dagster run's wall time minus this.

    python scripts/bench_partitions.py                     # 16,000 orders, 4 facilities
    python scripts/bench_partitions.py --orders 4000 --page-size 250   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import yaml
from wms_simulator.process import serving

from orchestration.meltano import MeltanoProject
from orchestration.settings import SETTINGS_ENV, load_settings
from orchestration.slices import Slice

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class Mode:
    """One measured mode: its own warehouse, Meltano state and Dagster instance."""

    def __init__(self, workdir: Path, name: str, base_url: str, args: argparse.Namespace) -> None:
        self.dir = workdir / name
        self.dir.mkdir()
        self.env = {
            "TAP_GRUPONOS_WMS_BASE_URL": base_url,
            "TAP_GRUPONOS_WMS_PAGE_SIZE": str(args.page_size),
            "TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL": f"sqlite:///{self.dir / 'warehouse.db'}",
            "MELTANO_DATABASE_URI": f"sqlite:///{self.dir / 'meltano.db'}",
        }
        self.facilities = [f"FAC{n}" for n in range(1, args.facilities + 1)]
        settings = {
            "meltano_project": str(ROOT),
            "max_retries": 0,
            "environments": [{"name": "test", "env": self.env, "facilities": self.facilities}],
        }
        self.settings = self.dir / "partitions.yml"
        self.settings.write_text(yaml.safe_dump(settings))
        load_settings(self.settings)
        home = self.dir / "dagster"
        home.mkdir()
        shutil.copy(ROOT / "orchestration" / "dagster.yaml", home)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.get_runs(limit=1)  # storage created before concurrent runs
        self.process_env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            SETTINGS_ENV: str(self.settings),
        }
        MeltanoProject(ROOT).ensure_database(self.env)

    def dagster(self, job: str, key: str) -> float:
        """Wall seconds of one `dagster job execute` of a partition."""
        command = [str(BIN / "dagster"), "job", "execute", "-m", "orchestration.definitions"]
        command += ["-j", job, "--tags", json.dumps({"dagster/partition": key})]
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, env=self.process_env, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"{job} {key} failed:\n{done.stderr.decode()[-3000:]}")
        return time.monotonic() - started

    def bare(self, facility: str) -> float:
        """Wall seconds of the partition's `meltano run`, without Dagster."""
        part = Slice("test", facility=facility)
        with MeltanoProject(ROOT).run_dir(str(uuid.uuid4())) as own:
            variables = {
                **self.env,
                **part.settings(),
                "MELTANO_RUN_STATE_ID_SUFFIX": part.state_suffix,
                "MELTANO_SYS_DIR_ROOT": str(own),
            }
            env = {**os.environ, **variables, "MELTANO_PROJECT_ROOT": str(ROOT)}
            started = time.monotonic()
            command = [str(BIN / "meltano"), "run", "--no-install", "incremental-sync"]
            subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=True)
            return time.monotonic() - started

    def partitions(self) -> list[str]:
        return [f"test/{code}" for code in self.facilities]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=16_000)
    parser.add_argument("--facilities", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()
    MeltanoProject(ROOT).ensure_installed()
    serve = ["--port", "0", "--orders", str(args.orders), "--latency-ms", str(args.latency_ms)]
    serve += ["--count", f"facility={args.facilities}"]
    with tempfile.TemporaryDirectory() as tmp, serving(*serve) as base_url:
        workdir = Path(tmp)
        load = os.getloadavg()[0]
        print(
            f"{args.orders:,} orders ({args.orders * 7:,} records), {args.facilities} "
            f"facilities, page_size {args.page_size}, {args.latency_ms} ms per request; "
            f"load {load:.1f}"
        )
        one_by_one = Mode(workdir, "sequential", base_url, args)
        each = [one_by_one.dagster("facility_incremental", key) for key in one_by_one.partitions()]
        sequential = sum(each)
        print(f"1. {args.facilities} partitions one after another: {sequential:.1f} s")

        together = Mode(workdir, "concurrent", base_url, args)
        started = time.monotonic()
        with ThreadPoolExecutor(args.facilities) as pool:
            keys = together.partitions()
            list(pool.map(lambda key: together.dagster("facility_incremental", key), keys))
        concurrent = time.monotonic() - started
        ratio = concurrent / sequential
        print(f"2. the same partitions at once: {concurrent:.1f} s, {ratio:.2f}x (goal <= 0.35x)")

        whole = Mode(workdir, "unnarrowed", base_url, args)
        unnarrowed = whole.dagster("environment_incremental", "test")
        print(f"3. one unnarrowed run of the same data: {unnarrowed:.1f} s")

        bare = Mode(workdir, "bare", base_url, args)
        plain = [bare.bare(code) for code in bare.facilities]
        overheads = [d - b for d, b in zip(each, plain, strict=True)]
        print(
            f"4. bare meltano run per facility: {statistics.mean(plain):.1f} s; Dagster's overhead"
            f" per partition run: {statistics.mean(overheads):.1f} s"
            f" (min {min(overheads):.1f}, max {max(overheads):.1f})"
        )


if __name__ == "__main__":
    main()
