"""The demo behind `bash scripts/demo.sh` (which first creates .venv with scripts/bootstrap.sh).

Installs the plugins into Meltano's venvs, starts the WMS simulator, runs the `full-sync` job,
changes records in the simulator, runs the `incremental-sync` job, and prints rows per table,
the rows the incremental run changed, how long each step took and, last, the rows the target
wrote for the two runs into its audit table SDC_LOAD_AUDIT. Everything runs in the `dev`
environment: its warehouse (output/warehouse.db) and its job states are reset first, because
the simulator starts with fresh data.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from tap_gruponos_wms.streams import RECOMMENDED_ENTITIES as RECOMMENDED
from wms_simulator.process import serving

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TABLES = ("WMS_ORDER_HEADERS", "WMS_ORDER_DETAILS", "WMS_ALLOCATIONS")
AUDIT_QUERY = """
SELECT RUN_ID, TABLE_NAME, STATUS, RECORDS_RECEIVED, ROWS_WRITTEN, ROWS_SKIPPED_OLDER,
       ROWS_RETIRED, STARTED_AT, ENDED_AT, MAX_BOOKMARK
FROM SDC_LOAD_AUDIT ORDER BY STARTED_AT, TABLE_NAME
"""
JOB_STATE_IDS = (
    "dev:tap-gruponos-wms--full-to-target-gruponos-oracle",
    "dev:tap-gruponos-wms-to-target-gruponos-oracle",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--modify", type=int, default=20, help="records the WMS changes")
    parser.add_argument("--insert", type=int, default=5, help="orders the WMS adds")
    parser.add_argument("--delete", type=int, default=2, help="orders the WMS deletes")
    parser.add_argument(
        "--recommended",
        action="store_true",
        help="extract the README's recommended 15 entities instead of the three mission ones",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=ROOT / "output" / "warehouse.db",
        help="SQLite file the target loads (the dev environment's by default)",
    )
    return parser.parse_args()


def step(label: str, cmd: list[str], env: dict[str, str], timings: dict[str, float]) -> str:
    """Run one command, fail loudly with its output, record its wall time."""
    print(f"==> {label}", flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    timings[label] = timings.get(label, 0.0) + time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit(f"demo: `{' '.join(cmd)}` failed with exit code {proc.returncode}")
    return proc.stdout


def ensure_port_free(port: int) -> None:
    """Fail before doing anything if another server (a simulator left running?) holds the port."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(
                f"demo: port {port} is in use (a simulator left running?); stop it or pass --port"
            )


@contextmanager
def simulator(port: int, orders: int, log: Path) -> Iterator[str]:
    """The WMS simulator as a separate process logging to `log`, stopped however the demo ends."""
    with open(log, "w") as log_file:
        try:
            with serving("--port", str(port), "--orders", str(orders), stderr=log_file) as url:
                yield url
        except RuntimeError as exc:
            raise SystemExit(f"demo: {exc}, see {log}") from None


def tables(recommended: bool) -> tuple[str, ...]:
    if not recommended:
        return TABLES
    return TABLES + tuple(f"WMS_{entity.upper()}" for entity in RECOMMENDED[3:])


def recommended_env() -> dict[str, str]:
    """Meltano settings and selection for the recommended set (see the README)."""
    select = json.dumps(["*.*"])
    return {
        "TAP_GRUPONOS_WMS_ENTITIES": json.dumps(RECOMMENDED),
        "TAP_GRUPONOS_WMS__SELECT": select,
        "TAP_GRUPONOS_WMS__FULL__SELECT": select,
    }


def table_contents(warehouse: Path, names: tuple[str, ...]) -> dict[str, dict[object, tuple]]:
    """Each table's business content by ID (metadata columns left out)."""
    con = sqlite3.connect(warehouse)
    try:
        contents = {}
        for table in names:
            cur = con.execute(f'SELECT * FROM "{table}"')
            names = [d[0].upper() for d in cur.description]
            keep = [i for i, n in enumerate(names) if not n.startswith("SDC_")]
            rows = cur.fetchall()
            key = names.index("ID")
            contents[table] = {r[key]: tuple(r[i] for i in keep) for r in rows}
        return contents
    finally:
        con.close()


def report(before: dict, after: dict, timings: dict[str, float], warehouse: Path) -> None:
    print(f"\n{'table':<26}{'rows':>8}{'inserted':>10}{'updated':>9}")
    print(f"{'':<34}{'(by the incremental run)':>19}")
    for table in before:
        old, new = before[table], after[table]
        inserted = sum(1 for k in new if k not in old)
        updated = sum(1 for k, v in new.items() if k in old and old[k] != v)
        print(f"{table:<26}{len(new):>8}{inserted:>10}{updated:>9}")
    print(f"\n{'step':<28}{'seconds':>8}")
    for label, seconds in timings.items():
        print(f"{label:<28}{seconds:>8.1f}")
    print(
        "\nDeletions in the WMS reach the tables with the next full sync (rows soft-deleted "
        "through SDC_DELETED_AT):\n  .venv/bin/meltano run full-sync\n"
        f"Inspect the warehouse: sqlite3 {warehouse}"
    )


def print_audit(warehouse: Path, runs: tuple[str, ...]) -> None:
    """The audit rows of the demo's runs, in the order the target started them."""
    con = sqlite3.connect(warehouse)
    try:
        rows = con.execute(AUDIT_QUERY).fetchall()
    finally:
        con.close()
    labels: dict[str, str] = {}
    for row in rows:
        labels.setdefault(row[0], runs[len(labels)] if len(labels) < len(runs) else row[0][:8])
    print("\nSDC_LOAD_AUDIT, one row per run and table (what each run did, in the database):")
    head = ("run", "table", "status", "records", "written", "skipped", "retired", "seconds")
    print(
        f"  {head[0]:<18}{head[1]:<20}{head[2]:<11}" + "".join(f"{h:>9}" for h in head[3:]), end=""
    )
    print("  max bookmark")
    for run_id, table, status, *counts, started, ended, bookmark in rows:
        figures = "".join(f"{n:>9}" for n in counts)
        if ended:  # a run still `running` (killed) has no end
            elapsed = datetime.fromisoformat(ended) - datetime.fromisoformat(started)
            figures += f"{elapsed.total_seconds():>9.1f}"
        else:
            figures += f"{'-':>9}"
        print(f"  {labels[run_id]:<18}{table:<20}{status:<11}{figures}  {bookmark}")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups on kill
    # Meltano writes each plugin's resolved config, passwords included, under .meltano/run/
    # with the process umask: owner-only files, as docs/operations.md asks of a scheduler.
    os.umask(0o077)
    meltano = str(BIN / "meltano")
    env = dict(
        os.environ,
        MELTANO_ENVIRONMENT="dev",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        TAP_GRUPONOS_WMS_BASE_URL=f"http://127.0.0.1:{args.port}/gruponos_test",
        TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL=f"sqlite:///{args.warehouse.resolve()}",
        **(recommended_env() if args.recommended else {}),
    )
    names = tables(args.recommended)
    timings: dict[str, float] = {}
    ensure_port_free(args.port)
    step("meltano install", [meltano, "install"], env, timings)
    args.warehouse.parent.mkdir(parents=True, exist_ok=True)
    args.warehouse.unlink(missing_ok=True)
    for state_id in JOB_STATE_IDS:
        step("reset job states", [meltano, "state", "clear", "--force", state_id], env, timings)
    with simulator(args.port, args.orders, args.warehouse.with_name("simulator.log")) as url:
        # The incremental job continues from where this full sync started, as it would in
        # production from its own bookmark (its first run would otherwise read everything).
        full_sync_started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        step("meltano run full-sync", [meltano, "run", "full-sync"], env, timings)
        before = table_contents(args.warehouse, names)
        mutate = [
            str(BIN / "wms-simulator"),
            "mutate",
            "--url",
            url,
            "--modify",
            str(args.modify),
            "--insert",
            str(args.insert),
            "--delete",
            str(args.delete),
        ]
        changed = json.loads(step("wms-simulator mutate", mutate, env, timings))
        for action, by_entity in changed.items():
            counts = ", ".join(f"{len(ids)} {entity}" for entity, ids in by_entity.items())
            print(f"    the WMS {action} {counts or 'nothing'}")
        # A run reads up to the server clock's whole second at its start: let the second of
        # the changes pass, or a run started within it would leave them to the next run.
        time.sleep(1.05 - time.time() % 1.0)
        step(
            "meltano run incremental-sync",
            [meltano, "run", "incremental-sync"],
            dict(env, TAP_GRUPONOS_WMS_START_DATE=full_sync_started),
            timings,
        )
        after = table_contents(args.warehouse, names)
    report(before, after, timings, args.warehouse)
    print_audit(args.warehouse, ("full-sync", "incremental-sync"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
