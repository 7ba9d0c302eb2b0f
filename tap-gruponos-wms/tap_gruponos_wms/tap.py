"""tap-gruponos-wms: settings and wiring."""

from __future__ import annotations

from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_gruponos_wms.auth import build_authenticator
from tap_gruponos_wms.streams import STREAM_TYPES
from tap_gruponos_wms.writer import SingerOutputWriter


class TapGruponosWms(Tap):
    """Allocations, order headers and order details from Oracle WMS Cloud (lgfapi)."""

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
            description="Environment root as opened in a browser, "
            "e.g. https://ta29.wms.ocs.oraclecloud.com/raizen_test",
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
    ).to_dict()

    @cached_property
    def authenticator(self):
        """Shared by all streams, so one OAuth2 token serves the whole run."""
        return build_authenticator(self.config)

    def discover_streams(self) -> list:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    def sync_all(self) -> None:
        """Sync, then one summary line per stream read (the same counters as its progress)."""
        super().sync_all()
        for stream in self.streams.values():
            if stream.progress.started:
                stream.progress.log_summary()


if __name__ == "__main__":
    TapGruponosWms.cli()
