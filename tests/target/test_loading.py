"""Load methods: upsert (with the never-regress guard), append-only, overwrite, ACTIVATE_VERSION."""

from __future__ import annotations

from .target_testkit import activate, detail, record, schema, state

T0 = "2026-01-05T10:00:00.000000-03:00"
T1 = "2026-01-05T11:00:00.000000-03:00"
T2 = "2026-01-05T12:00:00.000000-03:00"


def test_upsert_updates_rows_by_key(loader):
    loader.run([schema(), detail(1, T0, status_id=10), detail(2, T0, status_id=10)])
    loader.run([schema(), detail(2, T1, status_id=20), detail(3, T1, status_id=20)])

    rows = loader.rows()
    assert [(r["ID"], r["STATUS_ID"]) for r in rows] == [(1, 10), (2, 20), (3, 20)]


def test_duplicate_keys_in_one_batch_keep_the_last_record(loader):
    no_bookmark = schema(bookmarks=None)
    loader.run(
        [no_bookmark, detail(1, status_id=1), detail(1, status_id=2), detail(1, status_id=3)]
    )

    assert [(r["ID"], r["STATUS_ID"]) for r in loader.rows()] == [(1, 3)]


def test_in_batch_duplicates_keep_the_newest_version(loader):
    # the last record of key 1 is an older version (a replayed window): the newer one stays
    loader.run([schema(), detail(1, T2, status_id=2), detail(1, T1, status_id=1)])

    assert [(r["ID"], r["STATUS_ID"]) for r in loader.rows()] == [(1, 2)]


def test_replaying_older_versions_never_regresses_rows(loader):
    loader.run([schema(), detail(1, T2, status_id=2), detail(2, T1, status_id=2)])
    # an old state file replays the first window again: both records are older than stored
    loader.run([schema(), detail(1, T0, status_id=0), detail(2, T0, status_id=0)])

    assert [(r["ID"], r["STATUS_ID"], r["MOD_TS"]) for r in loader.rows()] == [
        (1, 2, T2),
        (2, 2, T1),
    ]


def test_equal_bookmark_updates_the_row(loader):
    loader.run([schema(), detail(1, T1, status_id=1)])
    loader.run([schema(), detail(1, T1, status_id=5)])

    assert loader.rows()[0]["STATUS_ID"] == 5


def test_bookmarks_compare_as_instants_across_offsets(loader):
    loader.run([schema(), detail(1, "2026-01-05T10:00:00.000001-03:00", status_id=1)])
    # 12:59:59.999999 UTC is 1 microsecond earlier than 10:00:00.000001-03:00: ignored
    loader.run([schema(), detail(1, "2026-01-05T13:00:00.000000+00:00", status_id=2)])
    assert loader.rows()[0]["STATUS_ID"] == 1
    # 13:00:00.000001 UTC is the same instant: it updates
    loader.run([schema(), detail(1, "2026-01-05T13:00:00.000001+00:00", status_id=3)])
    assert loader.rows()[0]["STATUS_ID"] == 3


def test_append_only_inserts_every_record_with_metadata(loader):
    messages = [schema(), detail(1, T0), detail(1, T1), detail(2, T1)]
    loader.run(messages, load_method="append-only", add_record_metadata=True)

    rows = loader.rows(order="ID, MOD_TS")
    assert [(r["ID"], r["MOD_TS"]) for r in rows] == [(1, T0), (1, T1), (2, T1)]
    assert all(r["SDC_RECEIVED_AT"] and r["SDC_BATCHED_AT"] for r in rows)
    assert {"SDC_EXTRACTED_AT", "SDC_SEQUENCE", "SDC_SYNC_STARTED_AT"} <= set(rows[0])


def test_overwrite_replaces_the_table_on_the_first_batch_only(loader):
    loader.run([schema(), detail(1), detail(2), detail(3)])
    # batches of 2: the run's first batch empties the table, the second one adds to it
    loader.run(
        [schema(), detail(10), detail(11), detail(12)], load_method="overwrite", batch_size_rows=2
    )

    assert [r["ID"] for r in loader.rows()] == [10, 11, 12]


def test_activate_version_soft_deletes_rows_of_older_versions(loader):
    first = [schema(), record(version=1, id=1, mod_ts=T0), record(version=1, id=2, mod_ts=T0)]
    loader.run([*first, activate(1)])
    # the next full sync no longer has id 2; the batch is still pending when the message arrives
    loader.run([schema(), record(version=2, id=1, mod_ts=T0), activate(2)], batch_size_rows=100)

    rows = {r["ID"]: r for r in loader.rows()}
    assert rows[1]["SDC_DELETED_AT"] is None
    assert rows[1]["SDC_TABLE_VERSION"] == 2
    assert rows[2]["SDC_DELETED_AT"] is not None


def test_activate_version_hard_delete_removes_older_versions(loader):
    loader.run([schema(), record(version=1, id=1, mod_ts=T0), record(version=1, id=2, mod_ts=T0)])
    loader.run([schema(), record(version=2, id=2, mod_ts=T0), activate(2)], hard_delete=True)

    assert [(r["ID"], r["SDC_TABLE_VERSION"]) for r in loader.rows()] == [(2, 2)]


def test_activate_version_retires_rows_loaded_without_a_version(loader):
    loader.run([schema(), detail(1), detail(2)])  # incremental loads carry no version
    loader.run([schema(), record(version=5, id=1, mod_ts=T0), activate(5)], hard_delete=True)

    assert [r["ID"] for r in loader.rows()] == [1]


def test_full_sync_copy_older_than_the_stored_row_does_not_retire_it(loader):
    # an incremental run stores T2 while a full sync (version 3) still sends its T1 copy
    loader.run([schema(), detail(1, T2, status_id=2), detail(2, T2, status_id=2)])
    loader.run([schema(), record(version=3, id=1, mod_ts=T1, status_id=1), activate(3)])

    rows = {r["ID"]: r for r in loader.rows()}
    assert (rows[1]["STATUS_ID"], rows[1]["MOD_TS"]) == (2, T2)  # content not regressed
    assert rows[1]["SDC_TABLE_VERSION"] == 3  # seen by the full sync: still present
    assert rows[1]["SDC_DELETED_AT"] is None
    assert rows[2]["SDC_DELETED_AT"] is not None  # not in the full sync: gone from the WMS


def test_full_sync_batch_with_written_and_skipped_rows_versions_both(loader):
    # one batch: id 1's copy is older than the stored row (skipped), id 2's is written
    loader.run([schema(), detail(1, T2, status_id=2), detail(2, T1, status_id=2)])
    loader.run(
        [
            schema(),
            record(version=3, id=1, mod_ts=T1, status_id=1),
            record(version=3, id=2, mod_ts=T2, status_id=1),
            activate(3),
        ]
    )

    rows = {r["ID"]: r for r in loader.rows()}
    assert [rows[i]["STATUS_ID"] for i in (1, 2)] == [2, 1]  # 1 not regressed, 2 updated
    assert [rows[i]["SDC_TABLE_VERSION"] for i in (1, 2)] == [3, 3]
    assert [rows[i]["SDC_DELETED_AT"] for i in (1, 2)] == [None, None]


def test_incremental_update_after_a_full_sync_copy_keeps_its_version(loader):
    # the full sync (version 4) stored T1; an incremental run then brings T2, before ACTIVATE
    loader.run([schema(), record(version=4, id=1, mod_ts=T1, status_id=1)])
    loader.run([schema(), detail(1, T2, status_id=2)])
    # the full sync's last record, then its ACTIVATE_VERSION
    loader.run([schema(), record(version=4, id=2, mod_ts=T1), activate(4)])

    row = loader.rows()[0]
    assert (row["STATUS_ID"], row["SDC_TABLE_VERSION"], row["SDC_DELETED_AT"]) == (2, 4, None)


def test_state_is_emitted_after_the_rows_it_covers(loader):
    states = loader.run([schema(), detail(1), state(1), detail(2), state(2)], batch_size_rows=1)

    assert states[-1] == state(2)["value"]
    assert [r["ID"] for r in loader.rows()] == [1, 2]


def test_upsert_into_a_table_first_loaded_append_only(loader):
    loader.run([schema(), detail(1, T0, status_id=1)], load_method="append-only")
    loader.run([schema(), detail(1, T1, status_id=2), detail(2, T1, status_id=2)])
    loader.run([schema(), detail(2, T2, status_id=3)])

    assert [(r["ID"], r["STATUS_ID"]) for r in loader.rows()] == [(1, 2), (2, 3)]


def test_overwrite_replaces_an_append_only_table_holding_duplicate_keys(loader):
    loader.run([schema(), detail(1, T0), detail(1, T1)], load_method="append-only")
    loader.run([schema(), detail(2, T0), detail(3, T0)], load_method="overwrite", batch_size_rows=1)
    loader.run([schema(), detail(3, T1, status_id=9)])  # the keys are unique now: upsert works

    assert [(r["ID"], r["STATUS_ID"]) for r in loader.rows()] == [(2, None), (3, 9)]


def test_the_target_widens_the_pipe_it_reads_so_the_tap_keeps_writing_during_a_commit():
    import fcntl
    import os

    from target_gruponos_oracle.target import PIPE_BYTES, widen_pipe

    read, write = os.pipe()
    try:
        assert fcntl.fcntl(read, fcntl.F_GETPIPE_SZ) == 65536
        widen_pipe(read)
        assert fcntl.fcntl(read, fcntl.F_GETPIPE_SZ) == PIPE_BYTES == 1 << 20
        with open(os.devnull, "rb") as not_a_pipe:
            widen_pipe(not_a_pipe.fileno())  # nothing, and no error
    finally:
        os.close(read)
        os.close(write)
