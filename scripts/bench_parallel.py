"""Benchmark `max_parallel_streams`: the same tap, the same simulator data, the same run, with
several streams at once against one at a time.

The simulator runs as its own process (`wms-simulator serve`); each tap run is a subprocess
whose whole wall time and peak RSS (wait4) are measured, as in bench_tap.py. Prints:
1. the three mission streams against 200 ms per request, max_parallel_streams=3 vs =1
   (goal <= 0.45x; 0.33x is the ideal, when the three streams have as many pages);
2. the same for the recommended 15 entities;
3. without latency, parallel vs sequential (goal: not slower by more than 5 %);
4. peak RSS of a parallel run of the 15 entities at 100,000 and 400,000 records (flat).

    python scripts/bench_parallel.py                 # the figures of the README
    python scripts/bench_parallel.py --orders 3000 --cpu-orders 20000 --repeat 1   # quick
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_tap import Run, measure
from tap_gruponos_wms.streams import DEFAULT_ENTITIES, RECOMMENDED_ENTITIES
from wms_simulator.process import serving

MISSION = list(DEFAULT_ENTITIES)
RECOMMENDED = list(RECOMMENDED_ENTITIES)


@contextmanager
def simulator(orders: int, details: int, latency_ms: int) -> Iterator[str]:
    """Orders with `details` details of one allocation each (1: three streams of one size)."""
    with serving(
        "--port", "0", "--orders", str(orders), "--details-per-order", str(details),
        "--allocations-per-detail", "1", "--latency-ms", str(latency_ms),
    ) as base_url:  # fmt: skip
        yield base_url


def tap_command(
    base_url: str, workdir: Path, entities: list[str], parallel: int, page_size: int
) -> list[str]:
    config = workdir / f"config-{len(entities)}-{parallel}.json"
    settings = {
        "base_url": base_url,
        "username": "wms_user",
        "password": "wms_pass",
        "page_size": page_size,
        "entities": entities,
        "max_parallel_streams": parallel,
    }
    config.write_text(json.dumps(settings))
    return [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)]


def compare(
    base_url: str, workdir: Path, entities: list[str], args: argparse.Namespace
) -> tuple[Run, Run]:
    """Best of `repeat` runs each, interleaved so both see the same machine load."""
    runs: dict[int, list[Run]] = {1: [], 3: []}
    for _ in range(args.repeat):
        for parallel in (1, 3):
            command = tap_command(base_url, workdir, entities, parallel, args.page_size)
            label = f"{len(entities)} entities, max_parallel_streams={parallel}"
            runs[parallel].append(measure(label, command, b'{"type":"RECORD"'))
    sequential, parallel = (min(runs[n], key=lambda r: r.seconds) for n in (1, 3))
    if sequential.records != parallel.records:
        raise SystemExit(f"record counts differ: {sequential.records} vs {parallel.records}")
    print(sequential.line())
    print(parallel.line())
    return sequential, parallel


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20_000, help="for the latency runs")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--cpu-orders", type=int, default=40_000, help="for the no-latency run")
    # Both with full pages in every stream: below that, short pages alone lower the peak.
    parser.add_argument("--rss-small", type=int, default=10_000, help="orders")
    parser.add_argument("--rss-large", type=int, default=40_000, help="orders")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(f"== 1. three mission streams, {args.orders:,} records each, {args.latency_ms} ms")
        with simulator(args.orders, 1, args.latency_ms) as url:
            one, three = compare(url, workdir, MISSION, args)
        print(
            f"parallel / sequential wall time: {three.seconds / one.seconds:.2f}x (goal <= 0.45x)"
        )

        print(f"\n== 2. the recommended {len(RECOMMENDED)} entities, same simulator settings")
        with simulator(args.orders, 1, args.latency_ms) as url:
            one, three = compare(url, workdir, RECOMMENDED, args)
        print(f"parallel / sequential wall time: {three.seconds / one.seconds:.2f}x")

        print(f"\n== 3. no latency: three mission streams, {args.cpu_orders:,} records each")
        with simulator(args.cpu_orders, 1, 0) as url:
            one, three = compare(url, workdir, MISSION, args)
        print(
            f"parallel / sequential wall time: {three.seconds / one.seconds:.2f}x (goal <= 1.05x)"
        )

        print("\n== 4. peak RSS, 15 entities, max_parallel_streams=3")
        for orders in (args.rss_small, args.rss_large):
            with simulator(orders, 3, 0) as url:
                command = tap_command(url, workdir, RECOMMENDED, 3, args.page_size)
                print(measure(f"{orders:,} orders", command, b'{"type":"RECORD"').line())


if __name__ == "__main__":
    main()
