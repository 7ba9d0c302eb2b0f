"""Singer output through msgspec (singer-sdk's optional fast encoder).

The SDK's default writer turns every RECORD into a dict with `dataclasses.asdict`, which
deep-copies the record (every Decimal included), then encodes it with simplejson: together
the larger part of the tap's time per record. RECORD messages are encoded here straight
from their fields; other messages go through the SDK's msgspec writer unchanged.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage


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
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            # Flushing at each STATE (not each RECORD) makes every emitted bookmark visible
            # downstream with all records before it, at one write per page, not per record.
            sys.stdout.flush()
