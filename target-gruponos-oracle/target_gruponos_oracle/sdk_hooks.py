"""The private parts of singer-sdk the target still relies on, each with why.

Everything else uses the SDK's public API (``get_sink``, ``key_properties``, ``current_size``,
``get_validator``, ``message_reader.assert_line_requires``...). What is listed here has no
public equivalent in singer-sdk 0.54: the target overrides or calls it, so a singer-sdk upgrade
that renames or reshapes one of them would silently bypass our code.
``tests/target/test_sdk_hooks.py`` checks every entry against the installed singer-sdk
(presence, signature, that the SDK still calls it) and that the target uses no other private
SDK name; it fails naming the hook and why we need it.

Private calls go through the functions below; the overrides keep their SDK names (the SDK
calls them by name) and are marked in target.py.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from singer_sdk import Target
from singer_sdk.plugin_base import PluginBase
from singer_sdk.sql import SQLConnector

if t.TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class Hook:
    """One private SDK member we override or use."""

    owner: type
    name: str
    #: ``str(inspect.signature(...))`` as of singer-sdk 0.54 (None: a property or attribute).
    signature: str | None
    why: str
    #: SDK code that must still call it (for overrides): (class, method) whose source names it.
    called_from: tuple[type, str] | None = None


_MESSAGE = "(self, message_dict: 'dict') -> 'None'"

HOOKS: tuple[Hook, ...] = (
    Hook(
        Target,
        "_process_record_message",
        _MESSAGE,
        "the per-record fast path: the sink validates and converts the record in one "
        "generated function and learns its input line, instead of the SDK's per-record "
        "copies, schema walk and metadata",
        called_from=(Target, "process_lines"),
    ),
    Hook(
        Target,
        "_process_schema_message",
        _MESSAGE,
        "keep the stream's bookmark_properties (the never-regress guard) and turn a bad "
        "SCHEMA into one line naming stream and input line",
        called_from=(Target, "process_lines"),
    ),
    Hook(
        Target,
        "_process_activate_version_message",
        _MESSAGE,
        "retire older versions only once the new one is complete (singer-sdk taps announce "
        "it before the records) and after every pending record is committed",
        called_from=(Target, "process_lines"),
    ),
    Hook(
        Target,
        "_process_state_message",
        _MESSAGE,
        "note the input line of the last STATE: a stream whose last message no STATE follows "
        "is audited incomplete (the tap stopped before finishing it)",
        called_from=(Target, "process_lines"),
    ),
    Hook(
        Target,
        "_process_batch_message",
        _MESSAGE,
        "BATCH files load record by record like RECORD messages (validation, in-batch dedupe, "
        "guard, STATE after commit) instead of the SDK's process_batch_files",
        called_from=(Target, "process_lines"),
    ),
    Hook(
        PluginBase,
        "_validate_config",
        "(self, *, raise_errors: 'bool' = True) -> 'list[str]'",
        "invalid settings fail in one line naming each setting and what it accepts (the SDK "
        "says only 'Config validation failed')",
        called_from=(PluginBase, "__init__"),
    ),
    Hook(
        Target,
        "_handle_max_record_age",
        "(self) -> 'None'",
        "the SDK's record handler drains sinks holding records too long; ours replaces it",
        called_from=(Target, "_process_record_message"),
    ),
    Hook(
        SQLConnector,
        "_engine",
        None,
        "the connector's one cached engine (the SDK's advice: add connector methods in "
        "front of it, as OracleConnector.begin and .dialect do)",
    ),
)


def handle_max_record_age(target: Target) -> None:
    """Drain every sink if records waited longer than the SDK's maximum age."""
    target._handle_max_record_age()


def engine(connector: SQLConnector) -> sa.Engine:
    """The connector's cached engine (created on first use)."""
    return connector._engine
