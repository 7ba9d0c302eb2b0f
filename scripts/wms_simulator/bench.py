"""Benchmark: data generation and page latency at benchmark sizes, printed as figures.

python -m wms_simulator.bench --details 200000
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta

import psutil
import requests

from .clock import from_us
from .simulator import WmsSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wms_simulator.bench", description=__doc__)
    parser.add_argument("--details", type=int, default=200_000, help="order_dtl records")
    parser.add_argument("--details-per-order", type=int, default=4)
    parser.add_argument("--allocations-per-detail", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument(
        "--repeat", type=int, default=5, help="repeats of each measured query after the first"
    )
    args = parser.parse_args(argv)

    process = psutil.Process(os.getpid())
    rss_before = process.memory_info().rss
    started, cpu_started = time.perf_counter(), time.process_time()
    sim = WmsSimulator(
        orders=args.details // args.details_per_order,
        details_per_order=args.details_per_order,
        allocations_per_detail=args.allocations_per_detail,
    )
    generated, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    counts = sim.counts()
    print(
        f"generate {counts}: {generated:.2f} s (cpu {cpu:.2f} s), "
        f"+{(process.memory_info().rss - rss_before) / 2**20:.0f} MiB RSS"
    )
    with sim:
        _measure_pages(sim, args)
    return 0


def _measure_pages(sim: WmsSimulator, args: argparse.Namespace) -> None:
    session = requests.Session()
    session.auth = ("wms_user", "wms_pass")
    api = f"{sim.base_url}/wms/lgfapi/v10/entity"
    index = sim.store.tables["order_dtl"].index
    median = from_us(index[len(index) // 2][0]).replace(microsecond=0) + timedelta(seconds=1)
    window = {
        "mod_ts__gte": median.isoformat(),
        "mod_ts__lt": from_us(index[-1][0] + 10**6).replace(microsecond=0).isoformat(),
        "ordering": "mod_ts,id",
    }
    size = {"page_size": args.page_size}
    fac1 = {"order_dtl_id__order_id__facility_id__code": "FAC1"}
    queries = {
        "order_dtl mod_ts window from the median, ordering=mod_ts,id": {**window, **size},
        "order_dtl same, page_mode=sequenced": {**window, "page_mode": "sequenced", **size},
        "order_dtl ordering=id, id__gt=<half>": {
            "ordering": "id",
            "id__gt": len(index) // 2,
            **size,
        },
        "order_dtl middle page of ordering=mod_ts,id": {
            "ordering": "mod_ts,id",
            "page": max(1, len(index) // args.page_size // 2),
            **size,
        },
        "allocation facility chain filter + mod_ts window": {**window, **fac1, **size},
    }
    print(
        f"server time per request, wall (thread cpu) from Server-Timing (page_size="
        f"{args.page_size}; first after a data change, then median of {args.repeat}):"
    )
    for label, params in queries.items():
        entity = label.split()[0]
        sim.modify(entity, ids=[1])  # a new data version: the first request finds no cache
        timings = []
        for _ in range(args.repeat + 1):
            response = session.get(f"{api}/{entity}/", params=params, timeout=120)
            response.raise_for_status()
            timings.append(_server_timing(response))
        cpu = statistics.median(t["cpu"] for t in timings[1:])
        print(
            f"  {label}: {timings[0]['total']:.0f} ms (cpu {timings[0]['cpu']:.0f}), then "
            f"{statistics.median(t['total'] for t in timings[1:]):.0f} ms (cpu {cpu:.0f}) "
            f"({len(response.json()['results'])} records, {len(response.content) / 1e6:.1f} MB)"
        )
    print(
        "whole-table reads as the tap does them (page 1 of a new query each time; client "
        "time included):"
    )
    _keyset_read(session, f"{api}/order_dtl/", size, "order_dtl by id keyset")
    _keyset_read(
        session,
        f"{api}/allocation/",
        {**size, **fac1},
        "allocation by id keyset, facility FAC1 through order_dtl -> order_hdr",
    )


def _server_timing(response: requests.Response) -> dict[str, float]:
    """The simulator's Server-Timing header: {"total": ms, "cpu": ms} for this request."""
    parts = (item.split(";dur=") for item in response.headers["Server-Timing"].split(", "))
    return {name: float(value) for name, value in parts}


def _keyset_read(session: requests.Session, url: str, params: dict, label: str) -> None:
    t0, last, records, pages = time.perf_counter(), 0, 0, 0
    while True:
        response = session.get(
            url, params={**params, "ordering": "id", "id__gt": last}, timeout=120
        )
        if response.status_code == 404:
            break
        response.raise_for_status()
        results = response.json()["results"]
        records, pages, last = records + len(results), pages + 1, results[-1]["id"]
    elapsed = time.perf_counter() - t0
    print(
        f"  {label}: {records} records, {pages} pages in {elapsed:.1f} s "
        f"({elapsed / pages * 1000:.0f} ms/page, {records / elapsed:.0f} records/s)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
