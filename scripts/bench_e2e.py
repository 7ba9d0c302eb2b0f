#!/usr/bin/env python3
"""Benchmark the whole pipeline against its stages, on the same simulator data, in one run.

For each stream set (the three mission streams; the README's recommended 15 entities) and
each read (incremental: the `incremental-sync` job's; full table: `full-sync`'s), all into
SQLite with the project's target settings (upsert, add_record_metadata):

- the tap alone, into /dev/null;
- the target alone, from the tap's output saved to a file before;
- `tap | target`, two processes and a pipe;
- `meltano run <job>` (a fresh Meltano state and warehouse each time).

Prints wall and CPU seconds and peak RSS of each (per process where there are several; under
Meltano, its children's CPU is sampled while they run), the simulator's CPU during each run
(it shares the machine's cores), and each pipeline's wall time over the slower stage alone.
"cores busy" is all CPU seconds, the simulator's included, over the wall time: at the
machine's core count a run cannot get faster without using less CPU.

    python scripts/bench_e2e.py                      # 25,000 orders: 225,000 mission records
    python scripts/bench_e2e.py --orders 5000 --sets mission --repeat 1   # quick look
    python scripts/bench_e2e.py --latency-ms 200     # a WMS answering as a remote one does
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from bench_tap import write_tap_files
from bench_target import Measure, run_measured, run_target
from demo import ROOT, recommended_env
from tap_gruponos_wms.streams import DEFAULT_ENTITIES, RECOMMENDED_ENTITIES
from wms_simulator.process import serving

BIN = Path(sys.executable).parent
SETS = {"mission": list(DEFAULT_ENTITIES), "recommended": list(RECOMMENDED_ENTITIES)}
# The target's settings in meltano.yml, for its runs without Meltano.
TARGET_CONFIG = {"load_method": "upsert", "add_record_metadata": True}
READS = {"incremental": ("incremental-sync", None), "full": ("full-sync", "FULL_TABLE")}


@dataclass
class Run:
    """One measured run: wall time, CPU and peak RSS of each process, the simulator's CPU."""

    wall: float
    processes: dict[str, Measure] = field(default_factory=dict)
    simulator_cpu: float = 0.0

    @property
    def cpu(self) -> float:
        return sum(m.cpu for m in self.processes.values())

    @property
    def cores_busy(self) -> float:
        return (self.cpu + self.simulator_cpu) / self.wall


def median_run(runs: list[Run]) -> Run:
    """Median wall and CPU of each process over repeats; the largest peak RSS."""
    names = runs[0].processes
    return Run(
        statistics.median(r.wall for r in runs),
        {
            name: Measure(
                statistics.median(r.processes[name].wall for r in runs),
                statistics.median(r.processes[name].cpu for r in runs),
                max(r.processes[name].rss for r in runs),
            )
            for name in names
        },
        statistics.median(r.simulator_cpu for r in runs),
    )


class Simulator:
    """The simulator process's CPU seconds (it is this script's child: `serving`)."""

    def __init__(self) -> None:
        me = psutil.Process()
        self.process = next(c for c in me.children() if "wms_simulator" in " ".join(c.cmdline()))

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def measure(self, run: t.Callable[[], Run]) -> Run:
        before = self.cpu()
        result = run()
        result.simulator_cpu = self.cpu() - before
        return result


def tap_alone(command: list[str]) -> Run:
    measure = run_measured(command)
    return Run(measure.wall, {"tap": measure})


def pipe(tap: list[str], target: list[str]) -> Run:
    """`tap | target`, each process measured by wait4."""
    started = time.perf_counter()
    producer = subprocess.Popen(tap, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    consumer = subprocess.Popen(
        target, stdin=producer.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert producer.stdout is not None
    producer.stdout.close()  # the target alone holds the read end
    processes = {}
    for name, process in (("tap", producer), ("target", consumer)):
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{name} failed in the pipe")
        elapsed = time.perf_counter() - started
        processes[name] = Measure(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
    return Run(time.perf_counter() - started, processes)


def _role(process: psutil.Process) -> str:
    line = " ".join(process.cmdline())
    return "tap" if "tap-gruponos-wms" in line else "target" if "target-gruponos" in line else ""


def meltano_run(job: str, env: dict[str, str]) -> Run:
    """`meltano run job`: the whole tree by wait4; tap and target CPU and RSS sampled every
    50 ms while they run (Meltano's own = the tree's CPU minus theirs)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "meltano"), "run", job],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen: dict[int, tuple[str, float, float]] = {}  # pid -> role, cpu, peak rss
    done = threading.Event()

    def sample() -> None:
        parent = psutil.Process(process.pid)
        while not done.wait(0.05):
            try:
                children = parent.children(recursive=True)
            except psutil.Error:  # a child ended while being listed
                continue
            for child in children:
                try:
                    with child.oneshot():
                        role, times, rss = _role(child), child.cpu_times(), child.memory_info()
                except psutil.Error:
                    continue
                known, _, peak = seen.get(child.pid, ("", 0, 0))
                # an ended child not yet reaped has no command line left: keep its role
                seen[child.pid] = (
                    role or known,
                    times.user + times.system,
                    max(rss.rss / 2**20, peak),
                )

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"meltano run {job} failed; run it by hand to see why")
    processes = {}
    for role in ("tap", "target"):
        mine = [(cpu, rss) for r, cpu, rss in seen.values() if r == role]
        processes[role] = Measure(
            wall, sum(c for c, _ in mine), max((r for _, r in mine), default=0.0)
        )
    total = usage.ru_utime + usage.ru_stime
    own = total - processes["tap"].cpu - processes["target"].cpu
    processes["meltano"] = Measure(wall, own, usage.ru_maxrss / 1024)
    return Run(wall, processes)


@contextmanager
def simulator(orders: int, latency_ms: int) -> Iterator[str]:
    with serving(
        "--port", "0", "--orders", str(orders), "--details-per-order", "4",
        "--allocations-per-detail", "1", "--latency-ms", str(latency_ms),
    ) as base_url:  # fmt: skip
        yield base_url


def meltano_env(base_url: str, entities: list[str], workdir: Path, sys_dir: Path) -> dict:
    """The `dev` environment on this simulator, a new warehouse and a new Meltano state."""
    for name in ("warehouse.db", "meltano.db"):
        (workdir / name).unlink(missing_ok=True)
    own = ("TAP_GRUPONOS", "TARGET_GRUPONOS", "MELTANO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(
        MELTANO_SYS_DIR_ROOT=str(sys_dir),
        MELTANO_ENVIRONMENT="dev",
        MELTANO_DATABASE_URI=f"sqlite:///{workdir / 'meltano.db'}",
        TAP_GRUPONOS_WMS_BASE_URL=base_url,
        TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL=f"sqlite:///{workdir / 'warehouse.db'}",
    )
    return env | (recommended_env() if entities != SETS["mission"] else {})


def bench_read(
    base_url: str, entities: list[str], read: str, args: argparse.Namespace, work: Path
) -> dict[str, Run]:
    """The four runs of one stream set and read, `repeat` times interleaved, as medians."""
    job, method = READS[read]
    tap = write_tap_files(base_url, work, args.page_size, entities=entities, method=method)
    target_config = work / "target-pipe.json"
    singer = work / f"{read}.singer"
    with singer.open("wb") as out:  # the target's input; also warms the simulator up
        subprocess.run(tap, stdout=out, stderr=subprocess.DEVNULL, check=True)
    sim = Simulator()
    runs: dict[str, list[Run]] = {}
    for _ in range(args.repeat):
        (work / "pipe.db").unlink(missing_ok=True)
        target_config.write_text(
            json.dumps({"sqlalchemy_url": f"sqlite:///{work / 'pipe.db'}", **TARGET_CONFIG})
        )
        target = [str(BIN / "target-gruponos-oracle"), "--config", str(target_config)]
        env = meltano_env(base_url, entities, work, args.meltano_dir)
        steps: dict[str, t.Callable[[], Run]] = {
            "tap alone": lambda: tap_alone(tap),
            "target alone": lambda: _target_alone(singer, work),
            "tap | target": lambda: pipe(tap, target),  # noqa: B023  (called in this round)
            f"meltano run {job}": lambda: meltano_run(job, env),  # noqa: B023
        }
        for name, step in steps.items():
            runs.setdefault(name, []).append(sim.measure(step))
    return {name: median_run(each) for name, each in runs.items()}


def _target_alone(singer: Path, work: Path) -> Run:
    measure = run_target(singer, work, "alone", **TARGET_CONFIG)
    return Run(measure.wall, {"target": measure})


def report(title: str, records: int, runs: dict[str, Run]) -> None:
    slower = max(runs["tap alone"].wall, runs["target alone"].wall)
    print(f"\n== {title}: {records:,} records")
    print(f"{'run':30} {'wall s':>6} {'x slower':>8} {'cores busy':>10}  CPU s / peak RSS MB")
    for name, run in runs.items():
        ratio = f"{run.wall / slower:8.2f}" if "|" in name or "meltano" in name else " " * 8
        parts = [f"{p} {m.cpu:.2f}/{m.rss:.0f}" for p, m in run.processes.items()]
        parts.append(f"simulator {run.simulator_cpu:.2f}")
        print(f"{name:30} {run.wall:6.2f} {ratio} {run.cores_busy:10.2f}  {', '.join(parts)}")


def count_records(singer: Path) -> int:
    with singer.open("rb") as lines:
        return sum(line.startswith(b'{"type":"RECORD"') for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=25_000, help="4 details, 1 allocation each")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs; medians count")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--reads", nargs="+", choices=list(READS), default=list(READS))
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="the simulator's time per request (0: it only competes for the CPU)",
    )
    args = parser.parse_args()

    print(
        f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.2f}; "
        f"simulator latency {args.latency_ms} ms per request"
    )
    with tempfile.TemporaryDirectory() as tmp:
        args.meltano_dir = Path(tmp) / "meltano"
        subprocess.run(
            [str(BIN / "meltano"), "install"],
            cwd=ROOT,
            env={**os.environ, "MELTANO_SYS_DIR_ROOT": str(args.meltano_dir)},
            capture_output=True,
            check=True,
        )
        for set_name in args.sets:
            with simulator(args.orders, args.latency_ms) as base_url:
                for read in args.reads:
                    work = Path(tmp) / f"{set_name}-{read}"
                    work.mkdir()
                    runs = bench_read(base_url, SETS[set_name], read, args, work)
                    records = count_records(work / f"{read}.singer")
                    report(f"{set_name} streams, {read} read", records, runs)
    print(
        f"\nmedians of {args.repeat}; x slower: wall time over the slower of tap alone and "
        f"target alone; load average at the end {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
