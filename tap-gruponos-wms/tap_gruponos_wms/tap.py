"""tap-gruponos-wms: settings and wiring."""

from __future__ import annotations

import threading
import typing as t
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, partial
from urllib.parse import urlsplit

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_gruponos_wms.api import ApiRequests
from tap_gruponos_wms.auth import build_authenticator
from tap_gruponos_wms.client import WmsStream
from tap_gruponos_wms.errors import SettingsError, guard_cli, remember_secrets, safe_url
from tap_gruponos_wms.pagination import parse_timestamp
from tap_gruponos_wms.parallel import LockedStateWriter, RunControl, sync_streams
from tap_gruponos_wms.relations import RelationGraph
from tap_gruponos_wms.streams import DEFAULT_ENTITIES, build_stream
from tap_gruponos_wms.writer import SingerOutputWriter

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    import click


BASE_URL_EXAMPLE = "https://ta29.wms.ocs.oraclecloud.com/raizen_test"
REPLICATION_METHODS = frozenset({"INCREMENTAL", "FULL_TABLE"})


class TapGruponosWms(Tap):
    """Order headers, order details, allocations and any other entity of Oracle WMS Cloud's
    lgfapi, several streams at a time."""

    name = "tap-gruponos-wms"
    message_writer_class = SingerOutputWriter

    capabilities = (
        TapCapabilities.CATALOG,
        TapCapabilities.DISCOVER,
        TapCapabilities.STATE,
        TapCapabilities.TEST,
        TapCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        # Meltano parses the log lines (JSON) and keeps their level only when this is
        # advertised; without it every line, errors included, reaches its log at [info].
        PluginCapabilities.STRUCTURED_LOGGING,
    )

    config_jsonschema = th.PropertiesList(
        th.Property(
            "base_url",
            th.URIType,
            required=True,
            description=f"Environment root as opened in a browser, e.g. {BASE_URL_EXAMPLE}",
        ),
        th.Property(
            "api_version",
            th.StringType,
            default="v10",
            allowed_values=["v9", "v10"],
            description="lgfapi version in the URL path.",
        ),
        th.Property(
            "auth_method",
            th.StringType,
            default="basic",
            allowed_values=["basic", "oauth2"],
            description="HTTP Basic (username/password) or OAuth2 client credentials.",
        ),
        th.Property(
            "username",
            th.StringType,
            description="API user (basic auth); needs lgfapi_read_access.",
        ),
        th.Property(
            "password", th.StringType, secret=True, description="API user's password (basic auth)."
        ),
        th.Property(
            "oauth_token_url",
            th.URIType,
            description="OAuth2 token endpoint, e.g. https://idcs-<tenant>.identity.oraclecloud.com/oauth2/v1/token",
        ),
        th.Property(
            "oauth_client_id", th.StringType, description="OAuth2 client id (client credentials)."
        ),
        th.Property(
            "oauth_client_secret", th.StringType, secret=True, description="OAuth2 client secret."
        ),
        th.Property(
            "oauth_scope",
            th.StringType,
            description=(
                "OAuth2 scope, e.g. urn:resource:fusion:scm:logistics:wms:lgfapi/ "
                "(as the identity domain's WMS application defines it)"
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest mod_ts read by a first run (no bookmark yet); "
            "without it the first run reads everything. Without an offset it is UTC.",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Exclusive upper bound on mod_ts, for backfills; "
            "otherwise a run reads up to the server clock at its start.",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=1250),
            default=1000,
            description="Records per request (lgfapi allows at most 1250).",
        ),
        th.Property(
            "lookback_minutes",
            th.IntegerType(minimum=0),
            default=15,
            description="Re-read this many minutes before the bookmark, to catch "
            "transactions that commit after a run has read their mod_ts.",
        ),
        th.Property(
            "facility_code", th.StringType, description="Only this facility (code), e.g. FAC1."
        ),
        th.Property(
            "company_code", th.StringType, description="Only this company (code), e.g. GRUPONOS."
        ),
        th.Property(
            "exclude_facility_codes",
            th.ArrayType(th.StringType),
            description="Every facility but these (codes): what no narrower read covers, e.g. "
            "the facilities created after a list of them was made. Not with facility_code.",
        ),
        th.Property(
            "key_column",
            th.StringType,
            description="Column added to every record, holding key_value, and made the first "
            "key property (with id): when several WMS environments load one set of tables, "
            "whose ids collide. Refused when an entity has a field of that name.",
        ),
        th.Property(
            "key_value",
            th.StringType,
            description="The value of key_column in every record: the WMS environment's name.",
        ),
        th.Property(
            "request_timeout",
            th.IntegerType(minimum=1),
            default=60,
            description="Seconds to wait for a response before retrying.",
        ),
        th.Property(
            "max_retries",
            th.IntegerType(minimum=0),
            default=5,
            description="Retries of a request after 5xx, 409, 429, timeouts or dropped "
            "connections (exponential backoff with jitter, honouring Retry-After).",
        ),
        th.Property(
            "entities",
            th.ArrayType(th.StringType),
            default=list(DEFAULT_ENTITIES),
            description='lgfapi entities to extract; ["*"] = every entity the API lists. '
            "order_hdr, order_dtl and allocation are the streams order_headers, "
            "order_details and allocations; any other is a stream named after its entity.",
        ),
        th.Property(
            "max_parallel_streams",
            th.IntegerType(minimum=1),
            default=3,
            description="Streams read at the same time, each with its own query and "
            "bookmark. Oracle warns that many concurrent large-page queries load the WMS.",
        ),
        th.Property(
            "max_concurrent_requests",
            th.IntegerType(minimum=1),
            default=8,
            description="Requests in flight at once for the whole run, all streams together: "
            "a stream's read is split into id ranges (full) or mod_ts sub-windows "
            "(incremental) read at the same time within it. 1 reads one page after another. "
            "Oracle warns that large pages across many concurrent queries degrade the WMS.",
        ),
    ).to_dict()

    def __init__(self, *, catalog: dict | None = None, **kwargs: t.Any) -> None:
        self._codes_checked = False
        self._codes_lock = threading.Lock()
        # before the SDK's init, which may write messages and send requests
        self.run_control = RunControl(lambda: self.max_concurrent_requests)
        self._graph: RelationGraph | None = None
        self._graph_lock = threading.Lock()
        super().__init__(catalog=_with_replication_method(catalog), **kwargs)
        if isinstance(self.message_writer, SingerOutputWriter):  # every write under one lock
            self.message_writer.lock = self.run_control.lock
        remember_secrets(self.config, self.config_jsonschema)
        self._state_writer = LockedStateWriter(self, self.run_control)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with expected failures reported as one line (see `errors`)."""
        return guard_cli(super().get_singer_command(), cls.logger)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Our checks in every mode (the SDK skips its own for `--discover`), each failure
        one line naming the setting; unknown setting names are warned about."""
        check_settings(self.config)
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as error:
            raise SettingsError("invalid settings: " + "; ".join(error.errors)) from None
        known = set(self.config_jsonschema["properties"])  # ours and the SDK's built-in ones
        if unknown := sorted(set(self.config) - known):
            self.logger.warning(
                "unknown setting(s) ignored: %s (`%s --about` lists the settings)",
                ", ".join(unknown),
                self.name,
            )
        return errors

    @cached_property
    def authenticator(self):
        """Shared by all streams, so one OAuth2 token serves the whole run."""
        return build_authenticator(self.config)

    def check_codes_once(self, stream: WmsStream, listed: frozenset[str]) -> None:
        """facility_code / company_code are checked against the WMS by the first stream read."""
        with self._codes_lock:
            if not self._codes_checked:
                stream.check_codes(listed)
                self._codes_checked = True

    @property
    def max_parallel_streams(self) -> int:
        return int(self.config.get("max_parallel_streams", 3))

    @property
    def max_concurrent_requests(self) -> int:
        return int(self.config.get("max_concurrent_requests", 8))

    def discover_streams(self) -> list:
        requested = list(self.config.get("entities") or DEFAULT_ENTITIES)
        if requested != list(DEFAULT_ENTITIES):  # the default three are checked as they read
            requested = self._expand_entities(requested)
        # Each new stream reads its entity's describe: in parallel, like the streams. (The
        # SDK syncs streams in name order, whatever the order here.)
        with ThreadPoolExecutor(self.max_parallel_streams) as pool:
            return list(pool.map(partial(build_stream, self), dict.fromkeys(requested)))

    def _expand_entities(self, requested: list[str]) -> list[str]:
        """`requested` with "*" expanded to every listed entity; an entity the API does not
        list stops the run here, before any read."""
        listed = self.listed_entities
        if "*" in requested:
            return sorted(listed)
        if unknown := [name for name in requested if name not in listed]:
            msg = (
                f"setting entities: {', '.join(repr(n) for n in unknown)} not listed by "
                f"{self.api_client.url_base} (check the name and the API user's access)"
            )
            raise SettingsError(msg)
        return requested

    @cached_property
    def api_client(self) -> ApiRequests:
        """Requests about the API as a whole (the entity list, relation metadata, facility
        codes): what an orchestrator asks the WMS with the tap's settings."""
        return _ApiClient(self)

    @cached_property
    def listed_entities(self) -> frozenset[str]:
        """The entities the API lists, asked once per run (discovery and the relation graph)."""
        return self.api_client.entity_names()

    def relation_graph(self) -> RelationGraph:
        """The run's relation graph, built once and shared by the streams' threads; its
        requests go through one client, one at a time (a requests.Session is not made for
        several threads)."""
        with self._graph_lock:
            if self._graph is None:
                client, lock = self.api_client, threading.Lock()

                def one_at_a_time(fetch: t.Callable[[str], t.Any]) -> t.Callable[[str], t.Any]:
                    def call(entity: str) -> t.Any:
                        with lock:
                            return fetch(entity)

                    return call

                self._graph = RelationGraph(
                    self.listed_entities,
                    one_at_a_time(client.describe),
                    one_at_a_time(client.sample_record),
                )
            return self._graph

    def write_message(self, message: t.Any) -> None:
        """Every message, STATE included, under the run's lock (see `parallel`)."""
        self.run_control.write(super().write_message, message)

    def flush_output(self) -> None:
        """Write the records this thread holds now (see `writer`)."""
        self.message_writer.flush()

    def flush_all_output(self) -> None:
        """Write the records every thread holds (the streams' threads are done)."""
        self.message_writer.flush_all()

    def sync_all(self) -> None:  # type: ignore[misc]  # the SDK marks it final
        """The SDK's sync_all, with its one-stream-at-a-time loop replaced by `parallel`;
        then one summary line per stream read (the same counters as its progress)."""
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()
        if self.state:
            self._state_writer.write_state(self.state)
        selected = []
        for stream in self.streams.values():
            if stream.selected or stream.has_selected_descendents:
                selected.append(stream)
            else:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
        _ = self.authenticator  # built once, before the threads share it
        try:
            sync_streams(self, selected, self.max_parallel_streams)
        finally:
            for stream in self.streams.values():
                stream.log_sync_costs()
        for stream in selected:
            if stream.progress.started:
                stream.progress.log_summary()


class _ApiClient(ApiRequests):
    """Not a stream: the HTTP client (auth, retries, checks) for requests about the API."""

    name = "lgfapi"
    entity = "entity list"


def check_settings(config: Mapping[str, t.Any]) -> None:
    """The mistakes the JSON schema lets through, each raised as one line naming the setting."""
    base_url = str(config.get("base_url") or "").strip()
    if not base_url:
        raise SettingsError(
            f"setting base_url is missing: the environment root, e.g. {BASE_URL_EXAMPLE}"
        )
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        shown = safe_url(base_url) if parts.netloc else base_url.rpartition("@")[2]
        msg = f"setting base_url must start with https:// (or http://): {shown!r}"
        raise SettingsError(f"{msg}, e.g. {BASE_URL_EXAMPLE}")
    if "/wms/lgfapi" in parts.path:
        msg = "setting base_url must be the environment root, without /wms/lgfapi/..."
        raise SettingsError(f"{msg}: {safe_url(base_url)!r}")
    if config.get("facility_code") and config.get("exclude_facility_codes"):
        msg = "settings facility_code and exclude_facility_codes: give one of them, not both"
        raise SettingsError(msg)
    if bool(config.get("key_column")) != bool(config.get("key_value")):
        raise SettingsError("settings key_column and key_value: give both, or neither")
    dates = {name: _date_setting(config, name) for name in ("start_date", "end_date")}
    start, end = dates["start_date"], dates["end_date"]
    if start and end and end <= start:
        msg = (
            f"setting end_date {config['end_date']} is not after start_date "
            f"{config['start_date']}: the window [start_date, end_date) is empty"
        )
        raise SettingsError(msg)
    build_authenticator(config)  # names missing credentials before any request


def _date_setting(config: Mapping[str, t.Any], name: str) -> t.Any:
    if not (value := config.get(name)):
        return None
    try:
        return parse_timestamp(str(value))
    except ValueError:
        msg = f"setting {name} is not an ISO-8601 date-time: {value!r} (e.g. 2026-01-31T00:00:00Z)"
        raise SettingsError(msg) from None


def _with_replication_method(catalog: dict | None) -> dict | None:
    """The catalog with each stream's Singer `replication-method` metadata honoured.

    The SDK reads only the legacy top-level `replication_method` (which discovery writes as
    INCREMENTAL) and `forced-replication-method`; the Singer metadata key that users edit,
    and that Meltano's `metadata:` sets, wins here over both.
    """
    if not isinstance(catalog, dict):
        return catalog
    streams = []
    for entry in catalog.get("streams", []):
        root = next(
            (m.get("metadata", {}) for m in entry.get("metadata", []) if m.get("breadcrumb") == []),
            {},
        )
        method = root.get("replication-method") or entry.get("replication_method")
        if method and method not in REPLICATION_METHODS:
            msg = (
                f"catalog stream '{entry.get('tap_stream_id')}': replication-method "
                f"{method!r} is not one of {', '.join(sorted(REPLICATION_METHODS))}"
            )
            raise SettingsError(msg)
        streams.append({**entry, "replication_method": method} if method else entry)
    return {**catalog, "streams": streams}


if __name__ == "__main__":
    TapGruponosWms.cli()
