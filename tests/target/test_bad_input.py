"""Bad input stops the real process with one clear message; what was committed stays."""

from __future__ import annotations

import subprocess

import pytest

from .target_testkit import TARGET_CMD, detail, record, schema, singer_text, state, states_of

# Two good records, each committed in its own batch, with their states, then the bad line.
GOOD = [schema(), detail(1), state(1), detail(2), state(2)]
BAD_LINE = len(GOOD) + 1


def _assert_fails_cleanly(loader, bad, *expected: str, **config) -> str:
    result = loader.run_process([*GOOD, bad], batch_size_rows=1, **config)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0]
    assert "Traceback" not in result.stderr
    # batches committed before the bad line stay, and the last STATE emitted covers them
    assert [r["ID"] for r in loader.rows()] == [1, 2]
    assert states_of(result.stdout)[-1] == state(1)["value"]
    return errors[0]


def test_non_json_line_names_its_line(loader):
    _assert_fails_cleanly(loader, "{not json", f"line {BAD_LINE}", "not a JSON message")


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (detail(3, ord_qty="a lot"), "ord_qty", "must be number"),
        (detail(3, cust_field_1="x" * 51), "cust_field_1", "51 characters, more than the 50"),
        (detail(3, mod_ts="yesterday"), "mod_ts", "date-time"),
        (record(order_id_id=3), "id", "key property missing"),
        (detail(3, status_id=2**63), "status_id", "does not fit the column's integer range"),
    ],
    ids=["schema-mismatch", "too-long", "bad-date-time", "missing-key", "integer-overflow"],
)
def test_bad_record_names_stream_line_and_field(loader, bad, field, reason):
    _assert_fails_cleanly(
        loader, bad, "stream 'order_details'", f"line {BAD_LINE}", f"field '{field}'", reason
    )


def test_value_too_large_for_its_column_is_caught_without_validation(loader):
    bad = detail(3, order_id_key="K" * 31)
    _assert_fails_cleanly(
        loader,
        bad,
        f"line {BAD_LINE}",
        "field 'order_id_key'",
        "31 characters, more than the 30 allowed",
        validate_records=False,
    )


def test_record_before_schema_names_stream_and_line(loader):
    _assert_fails_cleanly(
        loader,
        record(stream="allocations", id=1),
        "stream 'allocations'",
        f"line {BAD_LINE}",
        "RECORD before its SCHEMA",
    )


def test_database_errors_never_show_the_password(loader):
    url = "oracle+oracledb://wms_loader:Sup3r-S3cret@127.0.0.1:9/?service_name=FREEPDB1"
    result = loader.run_process([schema(), detail(1)], sqlalchemy_url=url)

    assert result.returncode == 1
    assert "Sup3r-S3cret" not in result.stderr + result.stdout
    assert "wms_loader:***@127.0.0.1:9" in result.stderr


def test_schema_keywords_beyond_the_row_builder_are_still_validated(loader):
    props = {"id": {"type": "integer"}, "ord_qty": {"type": ["number", "null"], "minimum": 0}}
    result = loader.run_process([schema(properties=props), record(id=1, ord_qty=-2)])

    assert result.returncode == 1
    assert "line 2, field 'ord_qty'" in result.stderr
    assert "must be bigger than or equal to 0" in result.stderr


def test_unknown_message_type_names_its_line(loader):
    result = loader.run_process([schema(), {"type": "BOGUS"}])

    assert result.returncode == 1
    assert "line 2: unknown message type 'BOGUS'" in result.stderr


def test_batch_the_database_refuses_is_reported_with_its_lines(loader):
    bad = detail(3, status_id=2**63)  # unchecked without validation: SQLite refuses it
    _assert_fails_cleanly(
        loader,
        bad,
        f"lines {BAD_LINE}-{BAD_LINE}",
        "the database refused the batch",
        validate_records=False,
    )


def test_fields_colliding_as_columns_stop_at_the_schema(loader):
    props = {
        "id": {"type": "integer"},
        "order-nbr": {"type": "string"},
        "ORDER_NBR": {"type": "string"},
    }
    result = loader.run_process([schema(properties=props), record(id=1)])

    assert result.returncode == 1
    assert "stream 'order_details', line 1: bad SCHEMA" in result.stderr
    assert "fields 'order-nbr' and 'ORDER_NBR' both become column 'ORDER_NBR'" in result.stderr


def test_without_a_database_setting_the_target_stops_instead_of_using_a_local_file(tmp_path):
    # A prod run whose Oracle variables are missing must not load a SQLite file and move on.
    config = tmp_path / "config.json"
    config.write_text('{"username": "wms_loader", "password": "s3cret-pw"}')
    result = subprocess.run(
        [*TARGET_CMD, "--config", str(config)],
        input=singer_text([schema(), detail(1)]),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "no database configured: set sqlalchemy_url" in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert not list(tmp_path.rglob("*.db"))
