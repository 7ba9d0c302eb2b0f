"""Singer output through msgspec (singer-sdk's optional fast encoder), written in large blocks.

The SDK's default writer turns every RECORD into a dict with `dataclasses.asdict`, which
deep-copies the record (every Decimal included), then encodes it with simplejson: together
the larger part of the tap's time per record. RECORD messages are encoded here straight
from their fields; other messages go through the SDK's msgspec writer unchanged.

Lines are collected and written `WRITE_BYTES` at a time, whatever buffering Python gives
stdout: with PYTHONUNBUFFERED=1 (common in container images) `sys.stdout.buffer` is
unbuffered and every line would be its own write, waking the reader (the target, or Meltano
relaying to it) once per record. Each thread (each stream read at once) collects its RECORD
lines in a buffer of its own, without a lock: a lock taken for every record made the streams'
threads queue for it. Every other message is written at once under `lock` (the run's), with
all lines its thread holds before it, so each STATE reaches the reader together with the
records it covers; and a stream about to wait on the WMS for its next page writes what it
holds (`Tap.flush_output`), so a slow WMS never keeps read records from the target.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage

TAP_NAME = "tap-gruponos-wms"  # the tap's logger, as the SDK names it
EXIT_TARGET_GONE = 1
#: Bytes of RECORD lines held before one write: a pipe's default capacity (64 KiB).
WRITE_BYTES = 1 << 16


class SingerOutputWriter(MsgSpecWriter):
    def __init__(self) -> None:
        super().__init__()
        #: Held for every write to stdout (the tap gives it the run's lock).
        self.lock: threading.RLock = threading.RLock()
        self._local = threading.local()
        self._buffers: list[bytearray] = []  # every thread's, for the writes at the end
        self._flush_at_exit = False

    def serialize_message(self, message: Message) -> bytearray:
        if not isinstance(message, RecordMessage):
            return super().serialize_message(message)
        payload: dict[str, t.Any] = {
            "type": "RECORD",
            "stream": message.stream,
            "record": message.record,
        }
        if message.version is not None:
            payload["version"] = message.version
        if message.time_extracted is not None:
            payload["time_extracted"] = message.time_extracted
        return serialize_jsonl(payload)

    def write_message(self, message: Message) -> None:
        line = self.format_message(message)
        pending = self._pending()
        if isinstance(message, RecordMessage):
            pending += line
            if len(pending) >= WRITE_BYTES:
                self.flush()
            return
        with self.lock:
            pending += line
            _output(pending)

    def _pending(self) -> bytearray:
        """This thread's lines not written yet."""
        pending = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = bytearray()
            with self.lock:
                self._buffers.append(pending)
                if not self._flush_at_exit:  # records a run ends with (e.g. `--test`)
                    atexit.register(self.flush_all)
                    self._flush_at_exit = True
        return pending

    def flush(self) -> None:
        """Write this thread's held lines to stdout now."""
        with self.lock:
            _output(self._pending())

    def flush_all(self) -> None:
        """Write every thread's held lines (their threads are done)."""
        with self.lock:
            for pending in self._buffers:
                _output(pending)


def _output(data: bytearray) -> None:
    """``data`` to stdout, then empty (the caller holds the writer's lock)."""
    if not data:
        return
    try:
        _write_all(data)
        sys.stdout.flush()
    except BrokenPipeError:
        _target_stopped_reading()
    finally:
        data.clear()


def _write_all(data: bytearray) -> None:
    """All of ``data``: an unbuffered stdout (raw file) may take only part of it per call."""
    out, written = sys.stdout.buffer, 0
    with memoryview(data) as view:
        while written < len(view):
            with view[written:] as rest:
                written += out.write(rest)


def _target_stopped_reading() -> t.NoReturn:
    """The reader of stdout (the target) is gone: it has logged why; say so once and stop.

    SystemExit, not an exception: the SDK logs any Exception escaping a stream's sync as an
    error of that stream, and this is not one. Python's own final flush of stdout would
    raise again and print a traceback, so stdout goes to /dev/null first.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    logging.getLogger(TAP_NAME).error("the target stopped reading; see its error")
    raise SystemExit(EXIT_TARGET_GONE)
