"""STATE only after commit; a target killed mid-batch and re-run from its state loses nothing."""

from __future__ import annotations

import datetime
import json
import os
import signal
import threading
import time

from .target_testkit import Loader, detail, schema, singer_text, state

START = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-3)))


def _stream(ids: int = 150, updates: int = 2, state_every: int = 25) -> list[dict]:
    """Records in mod_ts order (each id changes ``updates`` times) with bookmark STATEs."""
    messages: list[dict] = [schema()]
    for n in range(ids * updates):
        mod_ts = (START + datetime.timedelta(seconds=n)).isoformat(timespec="microseconds")
        messages.append(detail(n % ids + 1, mod_ts, status_id=n, cust_field_1=f"v{n}"))
        if (n + 1) % state_every == 0:
            bookmark = {"bookmarks": {"order_details": {"replication_key_value": mod_ts}}}
            messages.append({"type": "STATE", "value": bookmark})
    return messages


def _resume_from(messages: list[dict], state: dict | None) -> list[dict]:
    """What the tap sends when started with ``state``: records with mod_ts >= the bookmark."""
    if state is None:
        return messages
    bookmark = state["bookmarks"]["order_details"]["replication_key_value"]
    return [
        m for m in messages if m["type"] != "RECORD" or m["record"]["mod_ts"] >= bookmark
    ]  # ISO text with one offset: text order is time order


def _table(loader: Loader) -> list[tuple]:
    return [(r["ID"], r["STATUS_ID"], r["CUST_FIELD_1"], r["MOD_TS"]) for r in loader.rows()]


def test_killed_target_rerun_from_last_state_matches_an_uninterrupted_run(tmp_path):
    messages = _stream()
    reference = Loader(tmp_path / "reference")
    (tmp_path / "reference").mkdir()
    reference.run(messages, batch_size_rows=40)

    crashed = Loader(tmp_path / "crashed")
    (tmp_path / "crashed").mkdir()
    process = crashed.start_process(batch_size_rows=40)
    states: list[dict] = []
    reader = threading.Thread(
        target=lambda: states.extend(json.loads(line) for line in process.stdout), daemon=True
    )
    reader.start()
    cut = len(messages) * 2 // 3  # past several batches, in the middle of one
    process.stdin.write(singer_text(messages[:cut]))
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while len(states) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it read the rest of the written lines into its pending batch
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=10)
    assert len(states) >= 3, "the target emitted no STATE before it was killed"

    # every row the last emitted STATE covers is committed
    bookmark = states[-1]["bookmarks"]["order_details"]["replication_key_value"]
    covered = {}
    for m in messages:
        if m["type"] == "RECORD" and m["record"]["mod_ts"] <= bookmark:
            covered[m["record"]["id"]] = m["record"]["status_id"]
    committed = {row[0]: row[1] for row in _table(crashed)}
    assert all(committed.get(key, -1) >= status for key, status in covered.items())

    assert _table(crashed) != _table(reference)  # the kill really cut the load short

    crashed.run(_resume_from(messages, states[-1]), batch_size_rows=40)

    assert _table(crashed) == _table(reference)
    assert len(_table(reference)) == 150


def test_each_state_reaches_stdout_after_its_rows_are_committed(tmp_path, loader):
    messages = _stream(ids=60, updates=1, state_every=7)
    process = loader.start_process(batch_size_rows=10)
    process.stdin.write(singer_text(messages))
    process.stdin.close()
    checked = 0
    for line in process.stdout:
        bookmark = json.loads(line)["bookmarks"]["order_details"]["replication_key_value"]
        expected = {
            m["record"]["id"]
            for m in messages
            if m["type"] == "RECORD" and m["record"]["mod_ts"] <= bookmark
        }
        assert expected <= {r["ID"] for r in loader.rows()}
        checked += 1
    assert process.wait(timeout=60) == 0
    assert checked >= 5


def test_sigterm_commits_pending_rows_then_writes_state(loader):
    process = loader.start_process(batch_size_rows=1000)
    process.stdin.write(singer_text([schema(), detail(1), detail(2), state(5)]))
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while not loader.db.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # the records follow the SCHEMA into the pending batch

    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=60)

    assert process.returncode == 0
    assert [json.loads(line) for line in stdout.splitlines()] == [state(5)["value"]]
    assert [r["ID"] for r in loader.rows()] == [1, 2]
