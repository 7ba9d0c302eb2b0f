"""Settings the target cannot run with stop it in one line naming the setting, no traceback."""

from __future__ import annotations

import sqlite3

import pytest

from .target_testkit import detail, one_error, schema

PASSWORD = "p@ssW0rd-X"


def test_unknown_load_method_names_the_setting_and_the_allowed_values(loader):
    error = one_error(loader.run_process([schema(), detail(1)], load_method="merge"))

    assert "setting load_method: 'merge' is not allowed" in error
    assert "allowed values: append-only, upsert, overwrite" in error


@pytest.mark.parametrize("size", [0, -5])
def test_batch_size_rows_below_one_is_rejected(loader, size):
    error = one_error(loader.run_process([schema(), detail(1)], batch_size_rows=size))

    assert f"setting batch_size_rows: {size} is below the minimum, 1" in error
    assert not loader.db.exists()


def test_a_secret_setting_of_the_wrong_type_is_named_without_its_value(loader):
    error = one_error(loader.run_process([schema(), detail(1)], password=987654321))

    assert "setting password" in error
    assert "987654321" not in error


def test_sqlite_folder_that_cannot_be_created_names_path_and_os_reason(loader, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    url = f"sqlite:///{blocker}/warehouse.db"

    error = one_error(loader.run_process([schema(), detail(1)], sqlalchemy_url=url))

    assert f"cannot create the folder '{blocker}' of the SQLite file: File exists" in error
    assert "setting sqlalchemy_url" in error


def test_sqlite_folder_that_cannot_be_written_names_path_and_os_reason(loader):
    # sysfs refuses new files even to root; a chmod'ed folder would not stop root
    error = one_error(
        loader.run_process([schema(), detail(1)], sqlalchemy_url="sqlite:////sys/kernel/wms.db")
    )

    assert "cannot write in the folder '/sys/kernel' of the SQLite file: " in error
    assert error.rstrip().endswith(("Permission denied", "Operation not permitted"))


@pytest.mark.parametrize(
    ("url", "what"),
    [
        (f"postgresql://loader:{PASSWORD}@db:5432/wms", "database 'postgresql' is not supported"),
        (f"oracle+cx_oracle://loader:{PASSWORD}@db:1521/", "database 'oracle+cx_oracle'"),
        (f"loader:{PASSWORD}@db", "not a database URL"),
    ],
    ids=["postgresql", "other-oracle-driver", "not-a-url"],
)
def test_unsupported_database_url_names_the_supported_ones(loader, url, what):
    result = loader.run_process([schema(), detail(1)], sqlalchemy_url=url)

    error = one_error(result)
    assert what in error
    assert "supported: oracle+oracledb://" in error
    assert "sqlite:///" in error
    assert "W0rd" not in result.stderr + result.stdout


def test_password_with_an_unescaped_at_sign_is_read_whole_and_never_shown(loader):
    url = f"oracle+oracledb://loader:{PASSWORD}@127.0.0.1:9/?service_name=FREEPDB1"

    result = loader.run_process([schema(), detail(1)], sqlalchemy_url=url)

    error = one_error(result)  # nothing listens on port 9
    everything = result.stderr + result.stdout
    for part in ("p@ss", "ssW0rd", "W0rd-X", "p%40"):
        assert part not in everything
    # the host is the one after the last '@', not a piece of the password
    assert "oracle+oracledb://loader:***@127.0.0.1:9/?service_name=FREEPDB1" in error


def test_url_password_with_at_sign_parses_as_users_write_it():
    from target_gruponos_oracle.connector import parse_url

    raw = parse_url(f"oracle+oracledb://loader:{PASSWORD}@db.example:1521/?service_name=WMS")
    escaped = parse_url("oracle+oracledb://loader:p%40ssW0rd-X@db.example:1521/?service_name=WMS")

    assert (raw.username, raw.password, raw.host, raw.port) == (
        "loader",
        PASSWORD,
        "db.example",
        1521,
    )
    assert raw == escaped
    assert raw.query == {"service_name": "WMS"}


def test_locked_sqlite_file_says_how_long_it_waited_and_how_to_wait_longer(loader):
    loader.run([schema(), detail(1)])  # the table exists: the load reaches its first batch
    holder = sqlite3.connect(loader.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the file's write lock
    try:
        url = f"sqlite:///{loader.db}?timeout=0.3"
        result = loader.run_process([schema(), detail(2)], sqlalchemy_url=url)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    error = one_error(result)
    assert "database is locked" in error
    assert "longer than the 0.3 s the target waits" in error
    assert "add ?timeout=SECONDS to sqlalchemy_url" in error


def test_log_redaction_hides_a_password_holding_an_at_sign_whole():
    from target_gruponos_oracle.logs import redact

    text = f"failed: oracle+oracledb://loader:{PASSWORD}@db:1521/?service_name=WMS (retry)"

    assert redact(text) == "failed: oracle+oracledb://loader:***@db:1521/?service_name=WMS (retry)"
