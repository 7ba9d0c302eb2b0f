"""Benchmark tap-gruponos-wms against the WMS simulator on 127.0.0.1.

The simulator runs as its own process (`wms-simulator serve`), so neither its CPU nor its
memory is counted for the clients, whose peak RSS comes from the kernel (wait4).

Prints, for `order_details`:
1. throughput, whole-process wall time and peak RSS of the tap (a subprocess writing Singer
   messages to a pipe this script counts) beside a minimal client (plain requests + json,
   the same page size, the same server, in the same run) as the reference;
2. the tap's peak RSS at a small and a large record count (it must stay flat);
3. the tap's throughput against a simulator that takes 200 ms per request, beside the
   sequential bound (pages/s x page size).

    python scripts/bench_tap.py                  # 100k records, 10k vs 200k, 200 ms latency
    python scripts/bench_tap.py --records 20000 --rss-small 2000 --rss-large 40000  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wms_simulator.process import serving

DETAILS_PER_ORDER = 4
STREAM = "order_details"

# The reference: what any client of this API must do at least (fetch each page, parse it,
# write each record as a JSON line), with plain offset paging and nothing else.
MINIMAL_CLIENT = """
import json, sys, requests
url, page_size = sys.argv[1], int(sys.argv[2])
session = requests.Session()
session.auth = ("wms_user", "wms_pass")
out = sys.stdout
page = 1
while True:
    response = session.get(url, params={"page_size": page_size, "page": page, "ordering": "id"})
    if response.status_code == 404:
        break
    response.raise_for_status()
    body = response.json()
    for record in body["results"]:
        out.write(json.dumps(record) + "\\n")
    if not body.get("next_page"):
        break
    page += 1
"""


@dataclass
class Run:
    label: str
    records: int
    seconds: float
    peak_rss_mb: float
    extracting_seconds: float  # first record to last record: without start-up

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    def line(self) -> str:
        return (
            f"{self.label:<34} {self.records:>8,} records {self.seconds:>7.2f} s "
            f"{self.rate:>9,.0f} rec/s  peak RSS {self.peak_rss_mb:>6.1f} MB"
        )


def measure(label: str, command: list[str], record_prefix: bytes) -> Run:
    """Run `command`, count the lines of its stdout starting with `record_prefix`; wall time
    of the whole process and its peak RSS (from the kernel, via wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    records, first, last = 0, 0.0, 0.0
    for line in process.stdout:
        if line.startswith(record_prefix):
            last = time.perf_counter()
            first = first or last
            records += 1
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{label}: {command[0]} exited with {process.returncode}")
    return Run(label, records, seconds, usage.ru_maxrss / 1024, last - first)


def write_tap_files(
    base_url: str,
    workdir: Path,
    page_size: int,
    *,
    entities: list[str] | None = None,
    streams: set[str] | None = None,
    method: str | None = None,
) -> list[str]:
    """Config and a discovered catalog selecting `streams` (default: only order_details;
    None with `entities`: every stream), read by `method` (None: the catalog's); the tap
    command line."""
    config = workdir / "config.json"
    settings = {"base_url": base_url, "username": "wms_user", "password": "wms_pass"}
    if entities:
        settings["entities"] = entities
    config.write_text(json.dumps({**settings, "page_size": page_size}))
    tap = [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)]
    catalog = json.loads(
        subprocess.run([*tap, "--discover"], capture_output=True, check=True).stdout
    )
    wanted = {STREAM} if streams is None and not entities else streams
    for entry in catalog["streams"]:
        root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        root["metadata"]["selected"] = wanted is None or entry["tap_stream_id"] in wanted
        if method:
            root["metadata"]["replication-method"] = method
    catalog_path = workdir / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    return [*tap, "--catalog", str(catalog_path)]


def run_tap(base_url: str, workdir: Path, page_size: int, label: str) -> Run:
    command = write_tap_files(base_url, workdir, page_size)
    return measure(label, command, b'{"type":"RECORD"')


def run_minimal(base_url: str, page_size: int) -> Run:
    url = f"{base_url}/wms/lgfapi/v10/entity/order_dtl/"
    command = [sys.executable, "-c", MINIMAL_CLIENT, url, str(page_size)]
    return measure("minimal client (requests + json)", command, b"{")


@contextmanager
def simulator(records: int, latency_ms: int = 0) -> Iterator[str]:
    """A `wms-simulator serve` process with `records` order details; yields its base URL."""
    orders = -(-records // DETAILS_PER_ORDER)
    with serving(
        "--port", "0", "--orders", str(orders), "--details-per-order", str(DETAILS_PER_ORDER),
        "--allocations-per-detail", "0", "--latency-ms", str(latency_ms),
    ) as base_url:  # fmt: skip
        yield base_url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each client; the best counts"
    )
    parser.add_argument("--rss-small", type=int, default=10_000)
    parser.add_argument("--rss-large", type=int, default=200_000)
    parser.add_argument("--latency-records", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(f"== 1. throughput: {args.records:,} {STREAM}, page_size {args.page_size}")
        with simulator(args.records) as base_url:
            minimal, tap = [], []
            for _ in range(args.repeat):  # interleaved, so both see the same machine load
                minimal.append(run_minimal(base_url, args.page_size))
                tap.append(run_tap(base_url, workdir, args.page_size, "tap-gruponos-wms"))
        best_minimal = min(minimal, key=lambda r: r.seconds)
        best_tap = min(tap, key=lambda r: r.seconds)
        print(best_minimal.line())
        print(best_tap.line())
        ratio = best_tap.seconds / best_minimal.seconds
        print(f"tap / minimal wall time: {ratio:.2f}x (goal <= 1.5x)")

        print(f"\n== 2. peak RSS of the tap: {args.rss_small:,} vs {args.rss_large:,} records")
        for count in (args.rss_small, args.rss_large):
            with simulator(count) as base_url:
                print(run_tap(base_url, workdir, args.page_size, f"tap, {count:,} records").line())

        print(f"\n== 3. {args.latency_ms} ms per request, {args.latency_records:,} records")
        with simulator(args.latency_records, latency_ms=args.latency_ms) as base_url:
            reference = run_minimal(base_url, args.page_size)
            run = run_tap(base_url, workdir, args.page_size, f"tap, {args.latency_ms} ms latency")
        bound = args.page_size * 1000 / args.latency_ms
        extracting = run.records / run.extracting_seconds
        print(reference.line())
        print(run.line())
        print(
            f"sequential bound: {1000 / args.latency_ms:.1f} pages/s x {args.page_size} = "
            f"{bound:,.0f} rec/s; the tap reaches {run.rate / bound:.0%} of it over the whole "
            f"process, {extracting / bound:.0%} from first to last record ({extracting:,.0f} rec/s)"
        )


if __name__ == "__main__":
    main()
