"""CLI: `serve` runs a simulator; `mutate` changes a running one through its admin endpoints."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from . import schema
from .simulator import WmsSimulator


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wms-simulator", description=__doc__)
    commands = parser.add_subparsers(required=True, dest="command")

    serve = commands.add_parser("serve", help="serve seeded data until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument("--orders", type=int, default=1000)
    serve.add_argument("--details-per-order", type=int, default=3)
    serve.add_argument("--allocations-per-detail", type=int, default=1)
    serve.add_argument(
        "--count",
        action="append",
        default=[],
        type=_entity_count,
        metavar="ENTITY=N",
        help="records of one more entity, e.g. item=5000 (repeatable)",
    )
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument(
        "--history-end",
        type=_instant,
        help="seeded mod_ts end at this ISO date-time (default: the current minute)",
    )
    serve.add_argument(
        "--history-days", type=float, default=7.0, help="seeded mod_ts span this many days"
    )
    serve.add_argument("--latency-ms", type=int, default=0)
    serve.add_argument("--env-name", default="gruponos_test")
    serve.add_argument("--username", default="wms_user")
    serve.add_argument("--password", default="wms_pass")
    serve.add_argument("--client-id", default="wms_client")
    serve.add_argument("--client-secret", default="wms_secret")
    serve.add_argument("--token-ttl-seconds", type=float, default=3600)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes answering on the port, each with the same seeded data (read-only "
        "above 1: changes would reach one of them); for benchmarks whose client would "
        "otherwise wait on the simulator's own CPU",
    )
    serve.set_defaults(run=_serve)

    mutate = commands.add_parser("mutate", help="modify/insert/delete records of a running server")
    mutate.add_argument(
        "--url",
        default="http://127.0.0.1:8765",
        help="server root or base URL of the running simulator",
    )
    mutate.add_argument("--modify", type=int, default=0, help="records to modify (mod_ts = now)")
    mutate.add_argument(
        "--insert",
        type=int,
        default=0,
        help="records to insert (for order_hdr or no --entity: whole orders)",
    )
    mutate.add_argument(
        "--delete", type=int, default=0, help="records to delete (with their children)"
    )
    mutate.add_argument(
        "--entity",
        choices=sorted(schema.ENTITIES),
        help="entity to change (default: every entity for --modify, orders "
        "for --insert and --delete)",
    )
    mutate.add_argument("--details-per-order", type=int, default=2)
    mutate.add_argument("--allocations-per-detail", type=int, default=1)
    mutate.set_defaults(run=_mutate)
    return parser


def _serve(args: argparse.Namespace) -> int:
    try:
        sim = _simulator(args)
    except (KeyError, ValueError) as exc:
        sys.exit(f"wms-simulator: --count: {str(exc).strip(chr(39))}")
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        sim.bind()
    except OSError as exc:
        sys.exit(f"wms-simulator: cannot listen on {args.host}:{args.port}: {exc.strerror}")
    sim.read_only = args.workers > 1
    children = [pid for pid in (_fork_worker(sim, done) for _ in range(args.workers - 1)) if pid]
    sim.serve()
    try:
        print(sim.base_url, flush=True)
        counts = ", ".join(f"{n} {entity}" for entity, n in sim.counts().items())
        print(
            f"wms-simulator: serving {counts} (seed {args.seed}); admin at {sim.root_url}/_sim/",
            file=sys.stderr,
            flush=True,
        )
        done.wait()
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)
        sim.stop()
    return 0


def _fork_worker(sim: WmsSimulator, done: threading.Event) -> int:
    """A process answering on the socket ``sim`` is bound to (before any thread starts);
    returns its pid (in the parent) or serves until SIGTERM and exits (in the child)."""
    pid = os.fork()
    if pid:
        return pid
    sim.serve()
    done.wait()
    os._exit(0)


def _instant(text: str) -> datetime:
    """An ISO date or date-time; UTC when it has no offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _simulator(args: argparse.Namespace) -> WmsSimulator:
    return WmsSimulator(
        orders=args.orders,
        details_per_order=args.details_per_order,
        allocations_per_detail=args.allocations_per_detail,
        counts=dict(args.count),
        seed=args.seed,
        history_end=args.history_end,
        history_days=args.history_days,
        username=args.username,
        password=args.password,
        oauth_client_id=args.client_id,
        oauth_client_secret=args.client_secret,
        token_ttl_seconds=args.token_ttl_seconds,
        latency_ms=args.latency_ms,
        env_name=args.env_name,
        host=args.host,
        port=args.port,
    )


def _entity_count(text: str) -> tuple[str, int]:
    name, _, number = text.partition("=")
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"expected ENTITY=N, not {text!r}")
    return name, int(number)


def _mutate(args: argparse.Namespace) -> int:
    parts = urlsplit(args.url)
    root = f"{parts.scheme}://{parts.netloc}/_sim"
    changed: dict[str, Any] = {"modified": {}, "inserted": {}, "deleted": {}}
    if args.modify:
        for entity in [args.entity] if args.entity else list(schema.ENTITIES):
            reply = _post(root, "modify", {"entity": entity, "count": args.modify})
            changed["modified"][entity] = reply["ids"]
    for _ in range(args.insert):
        if args.entity in (None, "order_hdr"):
            reply = _post(
                root,
                "insert_order",
                {
                    "details": args.details_per_order,
                    "allocations_per_detail": args.allocations_per_detail,
                },
            )
            for entity, ids in reply.items():
                changed["inserted"].setdefault(entity, []).extend(ids)
        else:
            reply = _post(root, "insert", {"entity": args.entity})
            changed["inserted"].setdefault(args.entity, []).append(reply["id"])
    if args.delete:
        entity = args.entity or "order_hdr"
        ids = _post(root, "sample", {"entity": entity, "count": args.delete})["ids"]
        changed["deleted"] = _post(root, "delete", {"entity": entity, "ids": ids})
    print(json.dumps(changed, sort_keys=True), flush=True)
    return 0


def _post(root: str, route: str, payload: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{root}/{route}",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        sys.exit(f"wms-simulator mutate: {route} failed with {exc.code}: {exc.read().decode()}")
    except urllib.error.URLError as exc:
        sys.exit(f"wms-simulator mutate: no simulator at {root}: {exc.reason}")


if __name__ == "__main__":
    sys.exit(main())
