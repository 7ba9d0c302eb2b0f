"""BATCH messages load their files like RECORD messages, or the run fails naming the file."""

from __future__ import annotations

import json
import subprocess

import pytest

from .target_testkit import (
    TARGET_CMD,
    activate,
    batch,
    batch_file,
    detail,
    one_error,
    record,
    schema,
    sdk_tap_into_target,
    state,
    states_of,
)

T0 = "2026-01-05T10:00:00.000000-03:00"
T1 = "2026-01-05T11:00:00.000000-03:00"


def _rows(*ids: int, mod_ts: str = T0, **fields) -> list[dict]:
    return [detail(i, mod_ts, **fields)["record"] for i in ids]


def _sdk_config(tmp_path, records: list[dict], compression: str, **config) -> dict:
    storage = tmp_path / "batches"
    storage.mkdir(exist_ok=True)
    return {
        "records": records,
        "batch_config": {
            "encoding": {"format": "jsonl", "compression": compression},
            "storage": {"root": storage.as_uri(), "prefix": "run-"},
            "batch_size": 2,
        },
        **config,
    }


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_singer_sdk_batch_output_is_loaded_exactly(loader, tmp_path, compression):
    records = [
        {"id": i, "status_id": i * 10, "mod_ts": f"2026-01-0{i}T10:00:00-03:00"} for i in (1, 2, 3)
    ]
    result, tap_exit = sdk_tap_into_target(loader, _sdk_config(tmp_path, records, compression))

    assert (tap_exit, result.returncode) == (0, 0), result.stderr
    rows = loader.rows()
    assert [(r["ID"], r["STATUS_ID"]) for r in rows] == [(1, 10), (2, 20), (3, 30)]
    assert rows[0]["MOD_TS"] == "2026-01-01T10:00:00.000000-03:00"
    assert states_of(result.stdout)  # the tap's STATE, written after the rows were committed


def test_sdk_full_sync_in_batches_belongs_to_its_version(loader, tmp_path):
    loader.run([schema(), *(record(version=1, id=i, mod_ts=T0) for i in (1, 2, 3)), activate(1)])
    records = [{"id": 1, "status_id": 5, "mod_ts": "2026-01-06T10:00:00Z"}]
    config = _sdk_config(tmp_path, records, "gzip", emit_activate_version_messages=True)

    result, _ = sdk_tap_into_target(loader, config)

    assert result.returncode == 0, result.stderr
    rows = loader.rows()
    version = rows[0]["SDC_TABLE_VERSION"]
    assert version > 1  # the version singer-sdk announced before the BATCH
    assert [r["SDC_DELETED_AT"] is None for r in rows] == [True, True, True]  # opening only
    assert "not reconciled" in result.stderr

    # the same version completed (a second ACTIVATE_VERSION): only the batch's row stays live
    loader.run([schema(), activate(version), activate(version)])
    assert [r["ID"] for r in loader.rows() if r["SDC_DELETED_AT"] is None] == [1]


def test_batch_dedupes_keys_and_never_regresses_stored_rows(loader, tmp_path):
    loader.run([schema(), detail(1, T1, status_id=1)])
    url = batch_file(
        tmp_path / "b.json.gz",
        [*_rows(1, status_id=0), *_rows(2, mod_ts=T1, status_id=2), *_rows(2, status_id=3)],
    )

    loader.run([schema(), batch(url)])

    rows = loader.rows()
    assert [(r["ID"], r["STATUS_ID"]) for r in rows] == [(1, 1), (2, 2)]


def test_state_after_a_batch_is_written_only_once_its_rows_are_committed(loader, tmp_path):
    url = batch_file(tmp_path / "b.jsonl", _rows(1, 2, 3), compress=False)
    process = loader.start_process(batch_size_rows=100)
    assert process.stdin and process.stdout
    process.stdin.write(json.dumps(schema()) + "\n")
    process.stdin.write(json.dumps(batch(url, compression="none")) + "\n")
    process.stdin.write(json.dumps(state(3)) + "\n")
    process.stdin.close()
    out = process.stdout.read()
    process.wait(timeout=60)

    assert states_of(out) == [state(3)["value"]]
    assert [r["ID"] for r in loader.rows()] == [1, 2, 3]


def test_bad_record_in_a_batch_file_names_stream_file_line_and_field(loader, tmp_path):
    url = batch_file(tmp_path / "b.json.gz", [*_rows(1), *_rows(2, ord_qty="a lot")])

    result = loader.run_process([schema(), batch(url), state(2)])

    error = one_error(result)
    assert f"stream 'order_details', file '{url}', line 2, field 'ord_qty'" in error
    assert "must be number" in error
    assert states_of(result.stdout) == []  # the STATE after the batch never came out
    assert loader.rows() == []


@pytest.mark.parametrize(
    ("url", "encoding", "reason"),
    [
        ("file:///nowhere/b.json.gz", {}, "No such file or directory"),
        ("s3://bucket/b.json.gz", {}, "only file:// URLs are supported, not 's3://'"),
        ("FILE", {"fmt": "parquet"}, "BATCH format 'parquet'"),
        ("FILE", {"compression": "zstd"}, "BATCH compression 'zstd'"),
        ("CORRUPT", {}, "cannot read the BATCH file"),
    ],
    ids=["missing-file", "other-scheme", "other-format", "other-compression", "corrupt-gzip"],
)
def test_unreadable_manifest_fails_naming_stream_and_file(loader, tmp_path, url, encoding, reason):
    if url == "FILE":
        url = batch_file(tmp_path / "b.json.gz", _rows(1))
    if url == "CORRUPT":
        path = tmp_path / "b.json.gz"
        path.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
        url = path.as_uri()

    result = loader.run_process([schema(), batch(url, **encoding), state(1)])

    error = one_error(result)
    assert "stream 'order_details'" in error
    assert url in error
    assert reason in error
    assert states_of(result.stdout) == []


def test_batch_before_its_schema_names_the_stream(loader, tmp_path):
    url = batch_file(tmp_path / "b.json.gz", _rows(1))

    error = one_error(loader.run_process([batch(url, stream="allocations")]))

    assert "stream 'allocations', line 1: BATCH before its SCHEMA" in error


def test_batch_capability_is_advertised():
    about = subprocess.run(
        [*TARGET_CMD, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )

    assert "batch" in json.loads(about.stdout)["capabilities"]
