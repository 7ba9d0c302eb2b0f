"""Benchmark one request budget per run (`max_concurrent_requests`): each stream's pages read
at the same time (id ranges for a full read, mod_ts sub-windows for an incremental one)
against a WMS answering every request after 200 ms.

The simulator runs as its own process (`wms-simulator serve`) and counts the lgfapi requests
it answers at once (`GET /_sim/peak_in_flight`). Prints:
1. the tap alone on the three mission streams (90,000 records by default), full read and
   first incremental read: the defaults (max_parallel_streams 3, max_concurrent_requests 8)
   against one page at a time (1 and 1), in the same run; goal <= 0.25x; every record once;
2. with each run, the most requests the simulator answered at once (never above the budget);
3. `meltano run full-sync` of 225,000 mission records, with the defaults and one request at
   a time (the target writing into SQLite).

    python scripts/bench_split.py                 # the figures of the README
    python scripts/bench_split.py --orders 2000 --meltano-orders 5000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from wms_simulator.process import serving

ROOT = Path(__file__).resolve().parent.parent
MELTANO = str(Path(sys.executable).parent / "meltano")
BUDGETS = {
    "defaults (3 streams, 8 requests)": {"max_parallel_streams": 3, "max_concurrent_requests": 8},
    "one at a time (1, 1)": {"max_parallel_streams": 1, "max_concurrent_requests": 1},
}


def simulator(orders: int, latency_ms: int):
    """Orders of four details with one allocation each: 9 mission records per order."""
    return serving(
        "--port", "0", "--orders", str(orders), "--details-per-order", "4",
        "--allocations-per-detail", "1", "--latency-ms", str(latency_ms),
    )  # fmt: skip


def peak_in_flight(base_url: str) -> int:
    """The most requests answered at once since the last call."""
    root = base_url.rsplit("/", 1)[0]
    return int(requests.get(f"{root}/_sim/peak_in_flight", timeout=10).json()["peak_in_flight"])


def catalog(tap: list[str], method: str) -> dict:
    """The discovered catalog, every stream selected, read by ``method``."""
    found = json.loads(subprocess.run([*tap, "--discover"], capture_output=True, check=True).stdout)
    for entry in found["streams"]:
        root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        root["metadata"].update({"selected": True, "replication-method": method})
    return found


def tap_run(base_url: str, workdir: Path, budget: dict, method: str, page_size: int) -> dict:
    """One tap run: seconds, records, distinct (stream, id), peak requests at once."""
    settings = {"base_url": base_url, "username": "wms_user", "password": "wms_pass"}
    config = workdir / "config.json"
    config.write_text(json.dumps({**settings, "page_size": page_size, **budget}))
    tap = [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)]
    catalog_path = workdir / f"catalog-{method}.json"
    catalog_path.write_text(json.dumps(catalog(tap, method)))
    output = workdir / "output.jsonl"
    peak_in_flight(base_url)  # counting starts now
    started = time.perf_counter()
    with output.open("wb") as out:
        subprocess.run(
            [*tap, "--catalog", str(catalog_path)],
            stdout=out,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    seconds = time.perf_counter() - started
    peak = peak_in_flight(base_url)
    records, keys = 0, set()
    with output.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"'):
                message = json.loads(line)
                records += 1
                keys.add((message["stream"], message["record"]["id"]))
    return {"seconds": seconds, "records": records, "distinct": len(keys), "peak": peak}


def meltano_full_sync(base_url: str, workdir: Path, budget: dict, page_size: int) -> dict:
    """`meltano run full-sync` into a new SQLite warehouse: seconds and peak requests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    env |= {
        "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
        "MELTANO_SYS_DIR_ROOT": str(workdir / "meltano"),
        "TAP_GRUPONOS_WMS_BASE_URL": base_url,
        "TAP_GRUPONOS_WMS_PAGE_SIZE": str(page_size),
        "TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL": f"sqlite:///{workdir / 'warehouse.db'}",
    }
    env |= {f"TAP_GRUPONOS_WMS_{k.upper()}": str(v) for k, v in budget.items()}
    (workdir / "warehouse.db").unlink(missing_ok=True)
    peak_in_flight(base_url)
    started = time.perf_counter()
    subprocess.run(
        [MELTANO, "run", "full-sync"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return {"seconds": time.perf_counter() - started, "peak": peak_in_flight(base_url)}


def line(label: str, run: dict) -> str:
    counts = (
        f"{run['records']:>8,} records ({run['distinct']:,} distinct)" if "records" in run else ""
    )
    return (
        f"  {label:<34} {run['seconds']:>7.1f} s {counts}  at most {run['peak']} requests at once"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000, help="9 records each")
    parser.add_argument("--meltano-orders", type=int, default=25_000, help="9 records each")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        records = args.orders * 9
        print(f"== tap alone, {records:,} mission records, {args.latency_ms} ms per request")
        with simulator(args.orders, args.latency_ms) as url:
            for method in ("FULL_TABLE", "INCREMENTAL"):
                print(f"{method}:")
                runs = {
                    name: tap_run(url, workdir, b, method, args.page_size)
                    for name, b in BUDGETS.items()
                }
                for name, run in runs.items():
                    print(line(name, run))
                    if run["records"] != records or run["distinct"] != records:
                        raise SystemExit(f"{name}: not every record once")
                fast, slow = runs.values()
                ratio = fast["seconds"] / slow["seconds"]
                print(f"  defaults / one at a time: {ratio:.2f}x (goal <= 0.25x)")

        if args.meltano_orders:
            records = args.meltano_orders * 9
            print(f"\n== meltano run full-sync, {records:,} mission records, {args.latency_ms} ms")
            subprocess.run(
                [MELTANO, "install"],
                cwd=ROOT,
                check=True,
                capture_output=True,
                env={**os.environ, "MELTANO_SYS_DIR_ROOT": str(workdir / "meltano")},
            )
            with simulator(args.meltano_orders, args.latency_ms) as url:
                runs = {
                    n: meltano_full_sync(url, workdir, b, args.page_size)
                    for n, b in BUDGETS.items()
                }
                for name, run in runs.items():
                    print(line(name, run))
                fast, slow = runs.values()
                print(f"  defaults / one at a time: {fast['seconds'] / slow['seconds']:.2f}x")


if __name__ == "__main__":
    main()
