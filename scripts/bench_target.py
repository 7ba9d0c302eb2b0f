#!/usr/bin/env python3
"""Benchmark target-gruponos-oracle on SQLite against a minimal loader (the floor).

Generates order-detail-like records (31 fields: timestamps with -03:00 offsets, decimals,
nulls) into a .singer file, then runs, each as its own process reading that file:

- the floor: json-parse each line (stdlib ``json``; also orjson and msgspec, faster parsers,
  for comparison), plain sqlite3 executemany of the same rows into a table of the same
  columns and types, committing per batch;
- the target with load_method=upsert and with append-only (validation on, the defaults).

Reports whole-process seconds, rows/s, the ratio to the floor and peak RSS (from wait4),
and peak RSS for two input sizes, to show memory follows the batch size, not the input.

    python scripts/bench_target.py                 # 200,000 records
    python scripts/bench_target.py --records 20000 # quick look
    python scripts/bench_target.py --repeat 3      # fastest of 3 runs each (shared machines)
    python scripts/bench_target.py --audit-cost --repeat 5  # upsert with/without the audit table,
                                                            # in this process (small difference)
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

STREAM = "order_details"
OFFSET = datetime.timezone(datetime.timedelta(hours=-3))

FIELDS: dict[str, dict] = {
    "id": {"type": "integer"},
    "order_id_id": {"type": ["integer", "null"]},
    "order_id_key": {"type": ["string", "null"], "maxLength": 50},
    "item_id_id": {"type": ["integer", "null"]},
    "item_id_key": {"type": ["string", "null"], "maxLength": 50},
    "seq_nbr": {"type": ["integer", "null"]},
    "ord_qty": {"type": ["number", "null"]},
    "orig_ord_qty": {"type": ["number", "null"]},
    "alloc_qty": {"type": ["number", "null"]},
    "cost": {"type": ["number", "null"]},
    "sale_price": {"type": ["number", "null"]},
    "status_id": {"type": ["integer", "null"]},
    **{f"cust_field_{i}": {"type": ["string", "null"], "maxLength": 50} for i in range(1, 6)},
    **{f"cust_date_{i}": {"type": ["string", "null"], "format": "date"} for i in (1, 2)},
    **{f"cust_decimal_{i}": {"type": ["number", "null"]} for i in (1, 2)},
    **{f"cust_number_{i}": {"type": ["integer", "null"]} for i in (1, 2)},
    "po_nbr": {"type": ["string", "null"], "maxLength": 50},
    "create_ts": {"type": ["string", "null"], "format": "date-time"},
    "create_user": {"type": ["string", "null"], "maxLength": 30},
    "mod_ts": {"type": ["string", "null"], "format": "date-time"},
    "mod_user": {"type": ["string", "null"], "maxLength": 30},
    "uom_id_id": {"type": ["integer", "null"]},
    "uom_id_key": {"type": ["string", "null"], "maxLength": 10},
}
# The floor's table: the same columns and declared types the target creates on SQLite.
SQLITE_TYPES = {"integer": "BIGINT", "number": "DECIMAL_TEXT", "date": "DATE"}


def _declared(prop: dict) -> str:
    types = [prop["type"]] if isinstance(prop["type"], str) else prop["type"]
    if prop.get("format") == "date-time":
        return "TIMESTAMP WITH TIME ZONE"
    if prop.get("format") == "date":
        return "DATE"
    if "string" in types:
        return f"VARCHAR({prop['maxLength']})"
    return SQLITE_TYPES[types[0]]


def _record(n: int, rng: random.Random, start: datetime.datetime) -> dict:
    created = start + datetime.timedelta(seconds=n * 3, microseconds=rng.randrange(1_000_000))
    modified = created + datetime.timedelta(minutes=rng.randrange(600))
    qty = rng.randrange(1, 500_000) / 1000

    def maybe(value: object, p_null: float = 0.3) -> object:
        return None if rng.random() < p_null else value

    return {
        "id": n + 1,
        "order_id_id": n // 4 + 1,
        "order_id_key": f"ORD-{n // 4 + 1:08d}",
        "item_id_id": rng.randrange(1, 5000),
        "item_id_key": f"ITEM-{rng.randrange(1, 5000):05d}",
        "seq_nbr": n % 4 + 1,
        "ord_qty": qty,
        "orig_ord_qty": qty,
        "alloc_qty": round(qty * rng.random(), 3),
        "cost": rng.randrange(100, 1_000_000) / 100,
        "sale_price": rng.randrange(100, 2_000_000) / 100,
        "status_id": rng.choice((0, 10, 20, 30, 90)),
        **{f"cust_field_{i}": maybe(f"custom {i}-{rng.randrange(1000)}") for i in range(1, 6)},
        "cust_date_1": maybe((created.date() + datetime.timedelta(days=7)).isoformat()),
        "cust_date_2": maybe(created.date().isoformat(), 0.8),
        "cust_decimal_1": maybe(rng.randrange(1, 10**6) / 10**4),
        "cust_decimal_2": maybe(rng.randrange(1, 10**6) / 10**4, 0.8),
        "cust_number_1": maybe(rng.randrange(1000)),
        "cust_number_2": maybe(rng.randrange(1000), 0.8),
        "po_nbr": maybe(f"PO-{rng.randrange(10**6):07d}"),
        "create_ts": created.isoformat(timespec="microseconds"),
        "create_user": f"user{rng.randrange(50)}",
        "mod_ts": modified.isoformat(timespec="microseconds"),
        "mod_user": f"user{rng.randrange(50)}",
        "uom_id_id": rng.randrange(1, 5),
        "uom_id_key": rng.choice(("EA", "BOX", "KG", "PAL")),
    }


def generate(path: Path, records: int) -> None:
    """Write SCHEMA, the RECORDs and a STATE every 10,000 records."""
    rng = random.Random(7)
    start = datetime.datetime(2026, 1, 1, 8, tzinfo=OFFSET)
    schema = {"type": "object", "properties": FIELDS}
    with path.open("w") as out:
        message = {"type": "SCHEMA", "stream": STREAM, "schema": schema, "key_properties": ["id"]}
        out.write(json.dumps({**message, "bookmark_properties": ["mod_ts"]}) + "\n")
        for n in range(records):
            record = _record(n, rng, start)
            out.write(json.dumps({"type": "RECORD", "stream": STREAM, "record": record}) + "\n")
            if (n + 1) % 10_000 == 0:
                value = {"bookmarks": {STREAM: {"replication_key_value": record["mod_ts"]}}}
                out.write(json.dumps({"type": "STATE", "value": value}) + "\n")


FLOOR = """
import sqlite3, sys, {module}
loads = {loads}
path, db, batch, fields, columns = sys.argv[1:]
batch, fields = int(batch), fields.split(",")
conn = sqlite3.connect(db)
conn.execute(f"CREATE TABLE WMS_ORDER_DETAILS ({{columns}})")
sql = f"INSERT INTO WMS_ORDER_DETAILS VALUES ({{','.join('?' * len(fields))}})"
rows = []
with open(path, "rb") as lines:
    for line in lines:
        message = loads(line)
        if message["type"] == "RECORD":
            record = message["record"]
            rows.append(tuple([record.get(f) for f in fields]))
            if len(rows) == batch:
                conn.executemany(sql, rows)
                conn.commit()
                rows = []
conn.executemany(sql, rows)
conn.commit()
"""


@dataclass
class Measure:
    """One process run: wall and CPU seconds, peak RSS in MB (from wait4)."""

    wall: float
    cpu: float
    rss: float


def run_measured(command: list[str], stdin_path: Path | None = None) -> Measure:
    """Run a process to completion and measure it."""
    stdin = stdin_path.open("rb") if stdin_path else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if stdin_path:
        stdin.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed with exit code {os.waitstatus_to_exitcode(status)}")
    return Measure(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


# singer-sdk's stock SQL target (default SQLSink/SQLConnector, validation on), for scale;
# it needs a Decimal adapter to load numbers into SQLite at all.
SDK_STOCK = """
import decimal, sqlite3
sqlite3.register_adapter(decimal.Decimal, str)
from singer_sdk.sql import SQLConnector, SQLSink, SQLTarget
class Sink(SQLSink):
    connector_class = SQLConnector
class Stock(SQLTarget):
    name = "stock-sdk-target"
    config_jsonschema = {"type": "object", "properties": {"sqlalchemy_url": {"type": "string"}}}
    default_sink_class = Sink
Stock.cli()
"""

FLOOR_PARSERS = ("json.loads", "orjson.loads", "msgspec.json.decode")


def best_of(repeat: int, run: t.Callable[..., Measure], *args: t.Any, **kw: t.Any) -> Measure:
    """The fastest of ``repeat`` runs (others' load on a shared machine only adds time)."""
    return fastest([run(*args, **kw) for _ in range(repeat)])


def fastest(runs: list[Measure]) -> Measure:
    """The least wall and CPU time among ``runs``, and the largest peak RSS."""
    return Measure(min(m.wall for m in runs), min(m.cpu for m in runs), max(m.rss for m in runs))


def run_floor(singer: Path, db: Path, batch: int, parser: str) -> Measure:
    db.unlink(missing_ok=True)
    columns = ", ".join(f"{name.upper()} {_declared(prop)}" for name, prop in FIELDS.items())
    code = FLOOR.format(module=parser.split(".")[0], loads=parser)
    argv = [str(singer), str(db), str(batch), ",".join(FIELDS), columns]
    return run_measured([sys.executable, "-c", code, *argv])


def run_target(singer: Path, workdir: Path, name: str, **config: object) -> Measure:
    db = workdir / f"{name}.db"
    db.unlink(missing_ok=True)
    config_path = workdir / f"{name}.json"
    config_path.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{db}", **config}))
    target = shutil.which("target-gruponos-oracle", path=str(Path(sys.executable).parent))
    return run_measured([target or "target-gruponos-oracle", "--config", str(config_path)], singer)


def run_sdk_stock(singer: Path, workdir: Path, batch: int) -> Measure:
    db = workdir / "sdk_stock.db"
    db.unlink(missing_ok=True)
    config = workdir / "sdk_stock.json"
    config.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{db}", "batch_size_rows": batch}))
    return run_measured([sys.executable, "-c", SDK_STOCK, "--config", str(config)], singer)


def load_in_process(singer: Path, db: Path, *, fresh: bool, **config: object) -> Measure:
    """The target's whole load of ``singer`` in this process (no start-up: imports are done,
    which takes their noise out of a small difference); peak RSS is not measured."""
    from target_gruponos_oracle.target import TargetGruponosOracle

    if fresh:
        db.unlink(missing_ok=True)
    target = TargetGruponosOracle(config={"sqlalchemy_url": f"sqlite:///{db}", **config})
    stdout, sys.stdout = sys.stdout, io.StringIO()  # the STATE lines
    started, cpu = time.perf_counter(), time.process_time()
    try:
        with singer.open("rb") as lines:
            target.listen(lines)
    finally:
        sys.stdout = stdout
    return Measure(time.perf_counter() - started, time.process_time() - cpu, 0.0)


def report_audit_cost(singer: Path, workdir: Path, batch: int, repeat: int) -> None:
    """Upsert with the audit table (the default) and without, in this process, alternating so
    that a change in the machine's load hits both alike. Each round loads a new database (the
    tables are created) and then the same records again into its tables."""
    runs: dict[tuple[str, bool], list[Measure]] = {}
    for _ in range(repeat):
        for audit, table in (("on", "SDC_LOAD_AUDIT"), ("off", "")):
            for fresh in (True, False):
                measure = load_in_process(
                    singer,
                    workdir / f"audit_{audit}.db",
                    fresh=fresh,
                    batch_size_rows=batch,
                    audit_table=table,
                )
                runs.setdefault((audit, fresh), []).append(measure)
    for fresh, label in ((True, "new database"), (False, "existing tables")):
        pairs = list(zip(runs["on", fresh], runs["off", fresh], strict=True))
        on, off = fastest([on for on, _ in pairs]), fastest([off for _, off in pairs])
        # each on/off pair ran back to back: the median of their ratios resists load changes
        wall = statistics.median(a.wall / b.wall for a, b in pairs) - 1
        cpu = statistics.median(a.cpu / b.cpu for a, b in pairs) - 1
        print(
            f"audit table cost, upsert into {label}, in-process, fastest of {repeat}: wall"
            f" {on.wall:.2f} s vs {off.wall:.2f} s without, cpu {on.cpu:.2f} s vs"
            f" {off.cpu:.2f} s; median of the pairs: wall {wall * 100:+.1f} %,"
            f" cpu {cpu * 100:+.1f} %"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the fastest counts")
    parser.add_argument(
        "--sdk-stock", action="store_true", help="also time singer-sdk's stock SQL sink (slow)"
    )
    parser.add_argument(
        "--audit-cost",
        action="store_true",
        help="also time upsert without the audit table (audit_table empty), alternating runs",
    )
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        singer = workdir / f"order_details_{args.records}.singer"
        if not singer.exists():
            generate(singer, args.records)
        small = workdir / f"order_details_{args.records // 4}.singer"
        if not small.exists():
            generate(small, args.records // 4)
        size_mb = singer.stat().st_size / 2**20
        print(f"{args.records:,} records, {len(FIELDS)} fields, {size_mb:.0f} MB", end="; ")
        print(f"batch {args.batch_size:,}")

        results: dict[str, Measure] = {}
        for loads in FLOOR_PARSERS:
            results[f"floor ({loads} + executemany)"] = best_of(
                args.repeat, run_floor, singer, workdir / "floor.db", args.batch_size, loads
            )
        json_floor = next(iter(results.values()))
        best_floor = min(results.values(), key=lambda m: m.wall)
        for method in ("upsert", "append-only"):
            results[f"target {method}"] = best_of(
                args.repeat,
                run_target,
                singer,
                workdir,
                method,
                load_method=method,
                batch_size_rows=args.batch_size,
            )
        if args.sdk_stock:
            results["singer-sdk stock SQL sink (append)"] = run_sdk_stock(
                singer, workdir, args.batch_size
            )

        head = f"{'wall s':>7} {'cpu s':>6} {'rows/s':>7} {'x json':>11} {'x best':>6} {'RSS':>4}"
        print(f"{'run':42} {head}")
        for name, m in results.items():
            ratios = f"{m.wall / json_floor.wall:5.2f}/{m.cpu / json_floor.cpu:5.2f}"
            ratios += f" {m.wall / best_floor.wall:6.2f}"
            figures = f"{m.wall:7.2f} {m.cpu:6.2f} {args.records / m.wall:7,.0f}"
            print(f"{name:42} {figures} {ratios} {m.rss:4.0f}")
        print(
            "x json: wall/cpu time over the json floor's; x best: wall time over the fastest"
            " floor's; RSS: peak MB"
        )

        small_rss = run_target(
            small, workdir, "upsert_small", load_method="upsert", batch_size_rows=args.batch_size
        ).rss
        print(
            f"peak RSS, upsert: {args.records // 4:,} records {small_rss:.0f} MB, "
            f"{args.records:,} records {results['target upsert'].rss:.0f} MB"
        )
        if args.audit_cost:  # last: the runs in this process would swell the children's RSS
            report_audit_cost(singer, workdir, args.batch_size, args.repeat)


if __name__ == "__main__":
    main()
