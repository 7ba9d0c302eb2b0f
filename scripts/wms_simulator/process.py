"""The simulator as a separate process (demo, benchmarks): its CPU and memory stay its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO


@contextmanager
def serving(*serve_args: str, stderr: IO[str] | int = subprocess.DEVNULL) -> Iterator[str]:
    """Run `wms-simulator serve *serve_args`; yield its base URL once it listens; stop it after.

    `serve` prints the base URL only when its data is generated and its socket bound, so that
    line is the readiness signal.
    """
    command = [sys.executable, "-m", "wms_simulator", "serve", *serve_args]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        if not base_url:
            msg = f"wms-simulator serve exited with code {server.wait()} before listening"
            raise RuntimeError(msg)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
