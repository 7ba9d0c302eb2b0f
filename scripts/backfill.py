"""Backfill (or replay) one stream over a mod_ts window, beside the scheduled jobs.

    python scripts/backfill.py --stream order_details --from 2026-01-01 --to 2026-02-01 \
        [--environment prod] [--restart] [--dry-run]

It runs `meltano run tap-gruponos-wms target-gruponos-oracle` with only that stream selected,
`start_date`/`end_date` set to the window, and a state id of its own
(`<env>:tap-gruponos-wms-to-target-gruponos-oracle:backfill-<stream>-<from>-<to>`), so the
incremental job's bookmarks are never read or written. The target's upsert ignores records
older than the stored row, so a replayed window cannot regress newer data.

Re-running the same command resumes an interrupted backfill from its own state; `--restart`
reads the whole window again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from orchestration.slices import EXTRACTOR, LOADER, Slice, moment

ROOT = Path(__file__).resolve().parent.parent
STREAMS = ("allocations", "order_headers", "order_details")


def meltano_executable() -> str:
    beside = Path(sys.executable).parent / "meltano"
    return str(beside) if beside.exists() else shutil.which("meltano") or "meltano"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", required=True, choices=STREAMS)
    parser.add_argument(
        "--from",
        dest="start",
        required=True,
        type=moment,
        help="window start, inclusive (date or ISO date-time)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        required=True,
        type=moment,
        help="window end, exclusive (date or ISO date-time)",
    )
    parser.add_argument("--environment", default=os.environ.get("MELTANO_ENVIRONMENT", "dev"))
    parser.add_argument(
        "--restart",
        action="store_true",
        help="ignore this backfill's saved state and read the whole window",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    args = parser.parse_args(argv)
    if args.start >= args.end:
        parser.error(f"--from {args.start.isoformat()} is not before --to {args.end.isoformat()}")
    return args


def command(args: argparse.Namespace) -> tuple[list[str], dict[str, str], str]:
    """The meltano invocation, the environment it needs, and the state id it will use."""
    window = Slice(window=(args.start, args.end), streams=(args.stream,))
    suffix = window.state_suffix
    cmd = [
        meltano_executable(),
        "--environment",
        args.environment,
        "run",
        "--state-id-suffix",
        suffix,
    ]
    if args.restart:
        cmd.append("--full-refresh")
    cmd += [EXTRACTOR, LOADER]
    env = window.settings()
    return cmd, env, f"{args.environment}:{EXTRACTOR}-to-{LOADER}:{suffix}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cmd, env, state_id = command(args)
    shown = " ".join(f"{k}={v!r}" for k, v in env.items())
    print(
        f"backfill {args.stream} [{args.start.isoformat()}, {args.end.isoformat()})"
        f" state id {state_id}\n  {shown} {' '.join(cmd)}",
        flush=True,
    )
    if args.dry_run:
        return 0
    return subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
