"""The CLI as the demo and Meltano runs use it: a separate serving process and `mutate`."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from wms_simulator.process import serving


@pytest.fixture
def served() -> Iterator[str]:
    """`wms-simulator serve` in its own process; yields the base URL it prints."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wms_simulator",
            "serve",
            "--port",
            "0",
            "--orders",
            "6",
            "--details-per-order",
            "2",
            "--seed",
            "5",
            "--username",
            "u",
            "--password",
            "p",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc.stdout.readline().strip()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_prints_the_base_url_and_serves_until_sigterm(served: str) -> None:
    root = served.rsplit("/", 1)[0]
    assert served.startswith("http://127.0.0.1:") and served.endswith("/gruponos_test")
    health = requests.get(f"{root}/_sim/health", timeout=10).json()
    assert health["counts"]["order_hdr"] == 6
    assert (health["counts"]["order_dtl"], health["counts"]["allocation"]) == (12, 12)
    assert health["counts"]["facility"] == 2
    listed = requests.get(f"{served}/wms/lgfapi/v10/entity/order_dtl/", auth=("u", "p"), timeout=10)
    assert listed.json()["result_count"] == 12


def test_mutate_changes_the_running_server_and_prints_what_changed(served: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "wms_simulator",
            "mutate",
            "--url",
            served,
            "--modify",
            "2",
            "--insert",
            "1",
            "--delete",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    changed = json.loads(out)
    modified = {e: len(ids) for e, ids in changed["modified"].items()}
    assert modified["order_hdr"] == modified["allocation"] == modified["item"] == 2
    assert len(modified) == 15, "without --entity every entity is touched"
    assert changed["inserted"] == {"order_hdr": [7], "order_dtl": [13, 14], "allocation": [13, 14]}
    assert len(changed["deleted"]["order_hdr"]) == 1
    assert len(changed["deleted"]["order_dtl"]) == 2
    root = served.rsplit("/", 1)[0]
    health = requests.get(f"{root}/_sim/health", timeout=10).json()
    assert [health["counts"][e] for e in ("order_hdr", "order_dtl", "allocation")] == [6, 12, 12]
    dtl = requests.get(f"{root}/_sim/records/order_dtl", timeout=10).json()
    assert {r["id"] for r in dtl} >= {13, 14}


def test_admin_endpoints_drive_faults_and_refuse_bad_input(served: str) -> None:
    root = served.rsplit("/", 1)[0]
    api = f"{served}/wms/lgfapi/v10/entity/order_hdr/"
    added = requests.post(
        f"{root}/_sim/faults", json={"status": 503, "times": 1, "retry_after": 2}, timeout=10
    )
    assert added.status_code == 200 and added.json()[0]["status"] == 503
    assert requests.get(api, auth=("u", "p"), timeout=10).status_code == 503
    assert requests.get(api, auth=("u", "p"), timeout=10).status_code == 200
    log = requests.get(f"{root}/_sim/request_log", timeout=10).json()
    assert [entry["status"] for entry in log[-2:]] == [503, 200]
    bad = requests.post(f"{root}/_sim/faults", json={"stauts": 503}, timeout=10)
    assert bad.status_code == 400 and "stauts" in bad.json()["message"]
    assert (
        requests.post(
            f"{root}/_sim/modify", json={"entity": "order_hdr", "ids": [99]}, timeout=10
        ).status_code
        == 404
    )


def test_serving_yields_the_url_once_listening_and_stops_the_process() -> None:
    with serving("--port", "0", "--orders", "3") as base_url:
        root = base_url.rsplit("/", 1)[0]
        assert requests.get(f"{root}/_sim/health", timeout=10).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{root}/_sim/health", timeout=2)


def test_serving_fails_clearly_when_the_simulator_cannot_listen() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        with (
            pytest.raises(RuntimeError, match="exited with code 1 before listening"),
            serving("--port", port, "--orders", "1"),
        ):
            pass


def test_serve_refuses_a_count_for_a_detail_table() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "wms_simulator", "serve", "--port", "0", "--count", "order_dtl=5"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "wms-simulator: --count: counts: order_dtl follows its header or is a fixed code table"
    ]


def test_serve_pins_the_seeded_history_to_a_given_end_and_span() -> None:
    with serving(
        "--port", "0", "--orders", "50", "--history-end", "2026-03-01", "--history-days", "90"
    ) as base_url:
        root = base_url.rsplit("/", 1)[0]
        records = requests.get(f"{root}/_sim/records/order_hdr", timeout=10).json()
    stamps = [r["mod_ts"][:10] for r in records]
    assert max(stamps) < "2026-03-01" and min(stamps) < "2026-01-01"


def test_serve_with_workers_answers_from_several_processes_and_refuses_changes() -> None:
    """`--workers 2`: two processes answer on one port with the same data, the requests
    answered at once are counted across both, and changes are refused (they would reach only
    one of them)."""
    from concurrent.futures import ThreadPoolExecutor

    import psutil

    command = [sys.executable, "-m", "wms_simulator", "serve", "--port", "0", "--orders", "40"]
    proc = subprocess.Popen(
        [*command, "--latency-ms", "300", "--workers", "2"], stdout=subprocess.PIPE, text=True
    )
    try:
        url = proc.stdout.readline().strip()
        root = url.rsplit("/", 1)[0]
        assert len(psutil.Process(proc.pid).children()) == 1  # the second worker

        def one(_: int) -> int:
            with requests.Session() as session:  # a connection of its own each
                response = session.get(
                    f"{url}/wms/lgfapi/v10/entity/order_hdr/",
                    params={"page_size": 5},
                    auth=("wms_user", "wms_pass"),
                    timeout=10,
                )
            return response.json()["result_count"]

        requests.get(f"{root}/_sim/peak_in_flight", timeout=10)  # counting starts now
        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(one, range(6))) == [40] * 6
        peak = requests.get(f"{root}/_sim/peak_in_flight", timeout=10).json()["peak_in_flight"]
        assert peak == 6
        refused = requests.post(f"{root}/_sim/modify", json={"entity": "order_hdr", "count": 1})
        assert refused.status_code == 409
        assert "read-only" in refused.json()["message"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
