"""Singer output through msgspec (singer-sdk's optional fast encoder), written in large blocks.

The SDK's default writer turns every RECORD into a dict with `dataclasses.asdict`, which
deep-copies the record (every Decimal included), then encodes it with simplejson: together
the larger part of the tap's time per record. RECORD messages are encoded here straight
from their fields; other messages go through the SDK's msgspec writer unchanged.

Lines are collected and written `WRITE_BYTES` at a time, whatever buffering Python gives
stdout: with PYTHONUNBUFFERED=1 (common in container images) `sys.stdout.buffer` is
unbuffered and every line would be its own write, waking the reader (the target, or Meltano
relaying to it) once per record. Every message other than RECORD is written at once with all
lines before it, so each STATE reaches the reader together with the records it covers; and
a stream about to wait on the WMS for its next page writes what it holds (`Tap.flush_output`),
so a slow WMS never keeps read records from the target.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
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
        self._pending = bytearray()
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
        self._pending += self.format_message(message)
        if isinstance(message, RecordMessage) and len(self._pending) < WRITE_BYTES:
            if not self._flush_at_exit:  # records a run ends with (e.g. `--test`)
                atexit.register(self.flush)
                self._flush_at_exit = True
            return
        self.flush()

    def flush(self) -> None:
        """Write the held lines to stdout now."""
        if not self._pending:
            return
        try:
            _write_all(self._pending)
            sys.stdout.flush()
        except BrokenPipeError:
            _target_stopped_reading()
        finally:
            self._pending.clear()


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
