"""Singer output through msgspec (singer-sdk's optional fast encoder).

The SDK's default writer turns every RECORD into a dict with `dataclasses.asdict`, which
deep-copies the record (every Decimal included), then encodes it with simplejson: together
the larger part of the tap's time per record. RECORD messages are encoded here straight
from their fields; other messages go through the SDK's msgspec writer unchanged.
"""

from __future__ import annotations

import logging
import os
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage

TAP_NAME = "tap-gruponos-wms"  # the tap's logger, as the SDK names it
EXIT_TARGET_GONE = 1


class SingerOutputWriter(MsgSpecWriter):
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
        try:
            sys.stdout.buffer.write(self.format_message(message))
            if not isinstance(message, RecordMessage):
                # Flushing at each STATE (not each RECORD) makes every emitted bookmark visible
                # downstream with all records before it, at one write per page, not per record.
                sys.stdout.flush()
        except BrokenPipeError:
            _target_stopped_reading()


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
