"""A small singer-sdk tap, so the target is tested on what singer-sdk itself writes.

Run as a process: ``python sdk_tap.py --config config.json``. Config: ``records`` (the rows
of its one stream, ``order_details``), ``fail_after`` (die after that many records, as a
sync that crashes), plus the SDK's own ``batch_config`` and
``emit_activate_version_messages`` (then the stream is FULL_TABLE and singer-sdk sends
ACTIVATE_VERSION before the records).
"""

from __future__ import annotations

import typing as t

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import PluginCapabilities

NULLABLE_DATE_TIME = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}


class OrderDetails(Stream):
    """Rows from the config; the bookmark is a nullable date-time written with ``anyOf``."""

    name = "order_details"
    primary_keys: t.ClassVar[list[str]] = ["id"]
    schema: t.ClassVar[dict] = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "status_id": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "mod_ts": NULLABLE_DATE_TIME,
        },
    }

    @property
    def replication_method(self) -> str:
        """FULL_TABLE when ACTIVATE_VERSION is on (singer-sdk sends it only then)."""
        return "FULL_TABLE" if self.config.get("emit_activate_version_messages") else "INCREMENTAL"

    @property
    def replication_key(self) -> str | None:  # type: ignore[override]
        return None if self.replication_method == "FULL_TABLE" else "mod_ts"

    def get_records(self, context: dict | None) -> t.Iterable[dict]:
        _ = context
        fail_after = self.config.get("fail_after")
        for number, row in enumerate(self.config["records"]):
            if number == fail_after:
                msg = "the source went away"
                raise RuntimeError(msg)
            yield row


class SdkTap(Tap):
    """singer-sdk tap with one stream."""

    name = "tap-sdk-test"
    capabilities: t.ClassVar[list] = [*Tap.capabilities, PluginCapabilities.BATCH]
    config_jsonschema = th.PropertiesList(
        th.Property("records", th.ArrayType(th.ObjectType()), required=True),
        th.Property("fail_after", th.IntegerType),
        th.Property("emit_activate_version_messages", th.BooleanType, default=False),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        return [OrderDetails(self)]


if __name__ == "__main__":
    SdkTap.cli()
