"""The private parts of singer-sdk the tap relies on, each with why.

The tap reads lgfapi its own way (a keyset walk with one prefetch thread, a bookmark that is a
safe resume point, ACTIVATE_VERSION after the snapshot), which singer-sdk 0.54 has no public
hooks for. What is listed here the tap overrides, calls or sets, so a singer-sdk upgrade that
renames or reshapes one of them would silently bypass our code or break it.
``tests/tap/test_sdk_hooks.py`` checks every entry against the installed singer-sdk (presence,
signature, that the SDK still calls each override) and that the tap uses no other private SDK
name; it fails naming the hook and why we need it.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import singer_sdk.helpers
from singer_sdk import Stream, Tap
from singer_sdk.helpers._state import StateWriter
from singer_sdk.plugin_base import PluginBase
from singer_sdk.streams import RESTStream

if t.TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class Hook:
    """One private SDK member we override, call or set."""

    owner: t.Any  # a class (a module for a private module)
    name: str
    #: ``str(inspect.signature(...))`` as of singer-sdk 0.54 (None: not a method).
    signature: str | None
    why: str
    #: SDK code that must still use it (for overrides): (class, method) whose source names it.
    called_from: tuple[type, str] | None = None


HOOKS: tuple[Hook, ...] = (
    Hook(
        Stream,
        "_generate_record_messages",
        "(self, record: 'types.Record') -> 't.Generator[singer.RecordMessage, None, None]'",
        "skips the SDK's per-record deselection and type conformance, which post_process "
        "already did (it was most of the tap's CPU time)",
        called_from=(Stream, "_write_record_message"),
    ),
    Hook(
        Stream,
        "_increment_stream_state",
        "(self, latest_record: 'types.Record', *, context: 'types.Context | None' = None) "
        "-> 'None'",
        "records never move the bookmark (the SDK's 'max value seen' loses records changed "
        "during the run); _save_bookmark sets safe resume points",
        called_from=(Stream, "_sync_records"),
    ),
    Hook(
        RESTStream,
        "_request",
        "(self, prepared_request: 'requests.PreparedRequest', context: 'Context | None') "
        "-> 'requests.Response'",
        "each attempt sends with the current token and renews it once on a 401; the keyset "
        "walk calls it through request_decorator (backoff), not through request_records",
    ),
    Hook(
        RESTStream,
        "_write_request_duration_log",
        "(self, endpoint: 'str', response: 'requests.Response', context: 'Context | None', "
        "extra_tags: 'dict | None') -> 'None'",
        "the SDK's http_request_duration metric, which its own _request writes and ours must too",
    ),
    Hook(
        Stream,
        "_write_state_message",
        "(self) -> 'None'",
        "emit STATE when _save_bookmark moved the bookmark (after a page, a second, the run)",
    ),
    Hook(
        Stream,
        "_write_activate_version_message",
        "(self, full_table_version: 'int') -> 'None'",
        "ACTIVATE_VERSION only after the last record of a complete full-table read",
    ),
    Hook(Stream, "_tap", None, "the tap's shared authenticator, catalog and code checks"),
    Hook(Stream, "_schema", None, "the schema, from the catalog or from describe, made once"),
    Hook(
        Stream,
        "_input_schema",
        None,
        "the catalog's schema, which key_column's property is added to (and checked against)",
    ),
    Hook(
        Stream,
        "_stream_version",
        None,
        "the version every RECORD of a full-table read carries (the SDK's RECORD field)",
    ),
    Hook(Stream, "_initialized_at", None, "run start: the SDK's full-table version scheme"),
    # Several streams at once (parallel.py): the SDK's sync_all and state handling, locked.
    Hook(
        Tap,
        "_reset_state_progress_markers",
        "(self) -> 'None'",
        "our sync_all (streams in parallel) starts as the SDK's does",
    ),
    Hook(
        Tap,
        "_set_compatible_replication_methods",
        "(self) -> 'None'",
        "our sync_all (streams in parallel) starts as the SDK's does",
    ),
    Hook(Tap, "_state_writer", None, "replaced: STATE is written under the run's lock"),
    Hook(singer_sdk.helpers, "_state", None, "where the SDK's StateWriter lives"),
    Hook(StateWriter, "_last_emitted_state", None, "the SDK's STATE dedupe, under the lock"),
    Hook(
        Stream,
        "_write_starting_replication_value",
        "(self, context: 'types.Context | None') -> 'None'",
        "the SDK creates a stream's state entry here: done under the run's lock",
        called_from=(Stream, "_sync_records"),
    ),
    Hook(
        Stream,
        "_finalize_state",
        "(self, state: 'dict | None' = None) -> 'None'",
        "the SDK rewrites a stream's state entry here: done under the run's lock",
        called_from=(Stream, "_sync_records"),
    ),
    Hook(
        PluginBase,
        "_validate_config",
        "(self, *, raise_errors: 'bool' = True) -> 'list[str]'",
        "our settings checks in every mode (the SDK skips its own for --discover), one line each",
        called_from=(PluginBase, "__init__"),
    ),
)


def write_request_duration_log(stream: RESTStream, response: requests.Response) -> None:
    """The SDK's ``http_request_duration`` metric for one sent request."""
    stream._write_request_duration_log(
        endpoint=stream.path, response=response, context=None, extra_tags=None
    )
