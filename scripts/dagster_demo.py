"""The Dagster demo behind `bash scripts/dagster_demo.sh`: the UI over the embedded defaults.

Starts the two simulated WMS environments of `orchestration/demo.yml` (test on port 8765
with three facilities, prod on 8766, the same seed: their ids collide), installs the
plugins once, and runs `dg dev` (UI, daemon, schedules) on http://127.0.0.1:3000
until Ctrl-C. The demo's warehouse and Meltano system database (output/dagster_*.db) start
empty, as the simulators start with fresh data. Other ports: GRUPONOS_DEMO_TEST_PORT,
GRUPONOS_DEMO_PROD_PORT and GRUPONOS_DEMO_UI_PORT (or --port) in the environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from wms_simulator.process import serving

from orchestration.meltano import MeltanoProject

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Seeded history from July to November 2026: the backfill windows of demo.yml hold it.
HISTORY = ("--history-end", "2026-12-01", "--history-days", "150")
SIMULATORS = {  # name: (its port's variable, default port, serve options)
    "test": ("GRUPONOS_DEMO_TEST_PORT", "8765", ("--orders", "1000", "--count", "facility=3")),
    "prod": ("GRUPONOS_DEMO_PROD_PORT", "8766", ("--orders", "600", "--env-name", "gruponos_prod")),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ui_port = int(os.environ.get("GRUPONOS_DEMO_UI_PORT") or 3000)
    parser.add_argument("--port", type=int, default=ui_port, help="the Dagster UI's port")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    # Started in the background, SIGINT arrives ignored, and `dg dev` would inherit that:
    # with a handler of ours, it starts with the default (Ctrl-C and SIGTERM both stop it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.umask(0o077)  # Meltano's run files hold the passwords
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(ROOT / ".dagster")))
    home.mkdir(exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    for demo_db in (ROOT / "output").glob("dagster_*.db"):
        demo_db.unlink()
    (ROOT / "output").mkdir(exist_ok=True)
    MeltanoProject(ROOT).ensure_installed()
    with ExitStack() as running:
        for name, (variable, default, options) in SIMULATORS.items():
            port = os.environ.get(variable) or default
            url = running.enter_context(serving("--port", port, *options, *HISTORY))
            print(f"WMS environment {name}: {url}", flush=True)
        command = [str(BIN / "dg"), "dev"]  # the project of pyproject.toml's [tool.dg]
        command += ["-h", "127.0.0.1", "-p", str(args.port)]
        print(f"Dagster UI: http://127.0.0.1:{args.port} (Ctrl-C stops everything)", flush=True)
        # dg warns when the active venv is not the project's (.venv): it is, run from here
        environ = os.environ | {"VIRTUAL_ENV": str(BIN.parent)}
        dagster = subprocess.Popen(command, cwd=ROOT, env=environ)
        signal.signal(signal.SIGTERM, lambda *_: dagster.send_signal(signal.SIGINT))
        try:
            return dagster.wait()
        except KeyboardInterrupt:
            dagster.send_signal(signal.SIGINT)
            return dagster.wait()


if __name__ == "__main__":
    sys.exit(main())
