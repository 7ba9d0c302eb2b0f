"""Interoperability: the tap's output, loaded by `target-jsonl` from PyPI (an independent
Singer target on singer-python, installed by scripts/bootstrap.sh into a venv of its own),
holds every record of the simulator, exactly as the tap emitted it: also when each stream was
read in parts at once, its records arriving out of key order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET_JSONL = ROOT / ".venv" / "interop" / "target-jsonl" / "bin" / "target-jsonl"
STREAMS = {"order_headers": "order_hdr", "order_details": "order_dtl", "allocations": "allocation"}


def load_with_target_jsonl(singer_output: Path, tmp_path: Path) -> tuple[dict, list[dict]]:
    """Records per stream in the files target-jsonl wrote, and the states it emitted."""
    assert TARGET_JSONL.exists(), "run scripts/bootstrap.sh: it installs target-jsonl"
    out = tmp_path / "jsonl"
    config = tmp_path / "target-jsonl.json"
    config.write_text(json.dumps({"destination_path": str(out), "do_timestamp_file": False}))
    with singer_output.open("rb") as stdin:
        done = subprocess.run(
            [str(TARGET_JSONL), "--config", str(config)],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    records = {
        stream: [json.loads(line) for line in (out / f"{stream}.jsonl").read_text().splitlines()]
        for stream in STREAMS
    }
    return records, [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("method", ["INCREMENTAL", "FULL_TABLE"])
def test_target_jsonl_holds_every_simulator_record_as_the_tap_emitted_it(
    sim, sim_config, tmp_path, method
) -> None:
    config = tmp_path / "tap.json"
    config.write_text(json.dumps(sim_config))
    tap = [sys.executable, "-m", "tap_gruponos_wms.tap", "--config", str(config)]
    catalog = json.loads(
        subprocess.run([*tap, "--discover"], capture_output=True, check=True).stdout
    )
    for entry in catalog["streams"]:
        next(m for m in entry["metadata"] if m["breadcrumb"] == [])["metadata"][
            "replication-method"
        ] = method
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    singer_output = tmp_path / "singer.jsonl"
    with singer_output.open("wb") as stdout:
        subprocess.run(
            [*tap, "--catalog", str(tmp_path / "catalog.json")], stdout=stdout, check=True
        )
    emitted = [json.loads(line) for line in singer_output.read_text().splitlines()]

    loaded, states = load_with_target_jsonl(singer_output, tmp_path)

    queries = [e["query"] for e in sim.request_log if e["query"].get("page_size")]
    if method == "FULL_TABLE":
        assert any("id__lt" in q for q in queries), "each stream read in id ranges"
    else:
        assert len({q.get("mod_ts__lt") for q in queries}) > 2, "read in mod_ts sub-windows"

    for stream, entity in STREAMS.items():
        by_id = {r["id"]: r for r in loaded[stream]}
        assert len(by_id) == len(loaded[stream]), f"{stream}: a record written twice"
        assert set(by_id) == {r["id"] for r in sim.records(entity)}, stream
        tap_records = {
            m["record"]["id"]: m["record"]
            for m in emitted
            if m["type"] == "RECORD" and m["stream"] == stream
        }
        assert by_id == tap_records, f"{stream}: target-jsonl changed a record"
    last_state = next(m["value"] for m in reversed(emitted) if m["type"] == "STATE")
    assert states == [last_state]
