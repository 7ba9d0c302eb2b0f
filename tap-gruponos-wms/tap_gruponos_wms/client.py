"""HTTP client for Oracle WMS Cloud lgfapi: requests, retries, response checks, and the
keyset/window pagination that makes incremental extraction lossless."""

from __future__ import annotations

import datetime as dt
import logging
import random
import typing as t
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus

import backoff
import msgspec
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams import RESTStream

from tap_gruponos_wms import sdk_hooks
from tap_gruponos_wms.auth import ClientCredentialsAuthenticator
from tap_gruponos_wms.errors import (
    SettingsError,
    WmsAuthError,
    WmsNotFound,
    WmsResponseError,
    safe_url,
)
from tap_gruponos_wms.pagination import (
    UTC,
    IdKeyset,
    KeysetError,
    Position,
    Window,
    advance,
    format_timestamp,
    parse_timestamp,
    whole_second,
)
from tap_gruponos_wms.parallel import LockedStreamState
from tap_gruponos_wms.progress import ReadProgress
from tap_gruponos_wms.schema import flatten_record, relation_fields, schema_from_describe
from tap_gruponos_wms.transport import deadline, mount_deadline

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

BEGINNING = dt.datetime(1970, 1, 1, tzinfo=UTC)
_decode_json = msgspec.json.Decoder(float_hook=Decimal).decode  # decimals stay exact
# 409 is Oracle's "modified by a concurrent operation, try again"; 429 comes from gateways.
RETRY_STATUSES = frozenset({HTTPStatus.CONFLICT, HTTPStatus.TOO_MANY_REQUESTS})
#: What the SDK's request decorator retries.
RETRIED = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
URL_HINT = "check base_url and api_version"
#: lgfapi's largest page_size.
MAX_PAGE_SIZE = 1250
#: Narrowing settings and the entity whose `code` each must name.
CODE_SETTINGS = (("facility_code", "facility"), ("company_code", "company"))


class WmsStream(LockedStreamState, RESTStream):
    """One lgfapi entity, read incrementally by a fixed `mod_ts` window or in full by `id`.

    Incremental runs read the window [lo, hi): hi is the server clock (HTTP `Date`) when the
    run starts, capped by `end_date`; lo is the bookmark (or `start_date`) minus
    `lookback_minutes`. Records modified during the run get a `mod_ts` >= hi and are left
    to the next run, so the window's contents only change by late commits, which the
    lookback re-reads. Offset paging is never used: every request is the first page of a
    query narrowed by a keyset (see `pagination`).
    """

    entity: str
    #: Filter paths that narrow this entity to a facility / company code (None: no path).
    facility_filter: str | None
    company_filter: str | None

    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)
    replication_key = "mod_ts"
    #: First retry delay; doubles per attempt up to `backoff_max_seconds`.
    backoff_base_seconds: t.ClassVar[float] = 1.0
    backoff_max_seconds: t.ClassVar[float] = 60.0

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, path=f"{self.entity}/")
        self._warned_unknown_fields = False
        mount_deadline(self.requests_session)

    # -- wiring ---------------------------------------------------------------------------

    @property
    def url_base(self) -> str:
        root = str(self.config["base_url"]).rstrip("/")
        return f"{root}/wms/lgfapi/{self.config.get('api_version', 'v10')}/entity/"

    @property
    def authenticator(self) -> t.Any:
        return self._tap.authenticator  # one token cache for all streams of the run

    @property
    def timeout(self) -> int:
        return int(self.config.get("request_timeout", 60))

    @property
    def page_size(self) -> int:
        return int(self.config.get("page_size", 1000))

    @property
    def schema(self) -> dict:
        """From the input catalog when given (no API call), else from `describe`."""
        if self._schema is None:
            catalog = self._tap.input_catalog
            entry = catalog.get_stream(self.name) if catalog else None
            if entry is not None:
                self._schema = entry.schema.to_dict()
            else:
                self._schema = schema_from_describe(self.entity, self.describe(self.entity))
        return self._schema

    @cached_property
    def _relations(self) -> tuple[tuple[str, str], ...]:
        return relation_fields(self.effective_schema)

    @cached_property
    def _selected(self) -> frozenset[str]:
        """Properties the catalog selects, computed once instead of once per record."""
        return frozenset(
            name
            for name in self.effective_schema["properties"]
            if self.mask.get(("properties", name), True)
        )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        record = flatten_record(row, self._relations, self._selected)
        if not self._warned_unknown_fields:
            known = set(self.effective_schema["properties"])
            if unknown := sorted(n for n in row if n not in known and not n.endswith("_set")):
                self.logger.warning(
                    "%s: fields not in the catalog schema are dropped (re-run discovery "
                    "to get them): %s",
                    self.entity,
                    unknown,
                )
            self._warned_unknown_fields = True
        return record

    def _generate_record_messages(self, record: dict) -> Iterator[RecordMessage]:
        """The SDK's version, minus its per-record deselection and type conformance.

        `post_process` already limited the record to the selected properties, and the values
        are JSON whose types the schema was derived from (describe); the SDK's generic walk
        over every value was most of the tap's CPU time and changed nothing.
        """
        extracted = dt.datetime.now(UTC)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted,
                )

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        if level >= logging.ERROR and message.startswith("An unhandled error occurred"):
            level = logging.DEBUG  # the SDK's echo of a failure that `errors` reports in full
        super().log(message, *args, level=level, **kwargs)

    def get_new_paginator(self) -> None:
        """Paging is the keyset walk of `_walk`, not an SDK paginator."""
        return

    # -- requests, retries, response checks ------------------------------------------------

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """The SDK's retry policy (same exceptions), with backoff's own lines at DEBUG: each
        retry is logged by `backoff_handler`, and the final failure once, by `errors`."""
        return backoff.on_exception(
            self.backoff_wait_generator,
            RETRIED,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=self.backoff_jitter,
            logger=self.logger,
            backoff_log_level=logging.DEBUG,
            giveup_log_level=logging.DEBUG,
        )(func)

    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", 5)) + 1

    def backoff_wait_generator(self) -> t.Generator[float, BaseException, None]:
        """Exponential delays, never shorter than the server's `Retry-After`."""
        error = yield  # type: ignore[misc]  # primed by backoff
        delay = self.backoff_base_seconds
        while True:
            response = getattr(error, "response", None)
            wait = max(min(delay, self.backoff_max_seconds), _retry_after(response))
            error = yield wait
            delay *= 2

    def backoff_jitter(self, value: float) -> float:
        # Up to +25%: spreads concurrent clients without undercutting Retry-After.
        return value * (1 + random.random() / 4)

    def backoff_handler(self, details: t.Any) -> None:
        self.progress.retried()
        error = details.get("exception")
        response = getattr(error, "response", None)
        reason = response.status_code if response is not None else type(error).__name__
        self.logger.warning(
            "%s: attempt %d failed (%s); retrying in %.1f s",
            self.entity,
            details.get("tries"),
            reason,
            details.get("wait"),
        )

    def _request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        response = self._send_once(prepared_request)
        if response.status_code == HTTPStatus.UNAUTHORIZED and isinstance(
            self.authenticator, ClientCredentialsAuthenticator
        ):
            # Token revoked or expired early: renew once (once for all threads that sent it).
            self.authenticator.invalidate(response.request.headers.get("Authorization"))
            response = self._send_once(prepared_request)
        self.validate_response(response)
        return response

    def _send_once(self, prepared_request: requests.PreparedRequest) -> requests.Response:
        self.progress.request_sent()
        authorized = self.authenticator(prepared_request.copy())  # each attempt: current token
        with deadline(self.timeout):  # the whole response, not each gap between two bytes
            response = self.requests_session.send(
                authorized, timeout=self.timeout, allow_redirects=self.allow_redirects
            )
        sdk_hooks.write_request_duration_log(self, response)
        return response

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status in RETRY_STATUSES or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self._failure(response), response)
        if status == HTTPStatus.UNAUTHORIZED:
            raise WmsAuthError(f"{self._failure(response)}: {self._credential_hint()}")
        if status == HTTPStatus.FORBIDDEN:
            msg = (
                f"{self._failure(response)}: the API user lacks the 'lgfapi_read_access' "
                f"permission or access to entity '{self.entity}'"
            )
            raise WmsAuthError(msg)
        if status == HTTPStatus.NOT_FOUND and _is_oracle_error(response):
            # "No record matches" when the request is a filtered list query (`_get_page`
            # and `has_code` catch it); on any other request the URL is wrong.
            raise WmsNotFound(f"{self._failure(response)}: {URL_HINT}")
        if status >= HTTPStatus.BAD_REQUEST:
            hint = f" ({URL_HINT})" if status == HTTPStatus.NOT_FOUND else ""
            raise FatalAPIError(f"{self._failure(response)}{hint}: {response.text[:300]}")

    def _credential_hint(self) -> str:
        if isinstance(self.authenticator, ClientCredentialsAuthenticator):
            return "the OAuth2 token was refused twice; check oauth_client_id, oauth_scope"
        return "the WMS refused the credentials; check username and password"

    def _failure(self, response: requests.Response) -> str:
        return f"{self.entity}: GET {safe_url(response.url)} answered {response.status_code}"

    @cached_property
    def _request_with_retries(self) -> t.Callable[..., requests.Response]:
        return self.request_decorator(self._request)

    def _get(self, url: str, params: dict[str, t.Any]) -> requests.Response:
        prepared = self.build_prepared_request(
            method="GET", url=url, params=params, headers=self.http_headers
        )
        try:
            return self._request_with_retries(prepared, None)
        except RetriableAPIError as error:
            msg = f"{error} (gave up after {self.backoff_max_tries()} attempts)"
            raise FatalAPIError(msg) from None
        except (requests.RequestException, ConnectionError) as error:
            reason = type(error).__name__
            if isinstance(error, requests.Timeout):
                reason = f"no complete response within request_timeout={self.timeout} s"
            msg = (
                f"{self.entity}: GET {safe_url(prepared.url or url)} failed after "
                f"{self.backoff_max_tries()} attempts: {reason}"
            )
            raise FatalAPIError(msg) from error

    def _get_json(self, url: str, params: dict[str, t.Any]) -> dict[str, t.Any]:
        return self._json_body(self._get(url, params))

    def _json_body(self, response: requests.Response) -> dict[str, t.Any]:
        try:
            body = _decode_json(response.content)
        except msgspec.DecodeError:
            msg = (
                f"{self._failure(response)} with a body that is not JSON "
                f"({response.headers.get('Content-Type')}, {len(response.content)} bytes, "
                f"starting {response.text[:80]!r})"
            )
            raise WmsResponseError(msg) from None
        if not isinstance(body, dict):
            msg = f"{self._failure(response)} with a JSON {type(body).__name__}, not an object"
            raise WmsResponseError(msg)
        return body

    def _get_page(self, params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        """One list request; lgfapi answers 404 when no record matches."""
        try:
            response = self._get(self.get_url(None), params)
        except WmsNotFound:
            self.progress.nothing_matched()
            return []
        body = self._json_body(response)
        results = body.get("results")
        if not isinstance(results, list):
            raise WmsResponseError(f"{self._failure(response)} without a 'results' list")
        self.progress.page_answered(body.get("result_count"))
        if len(results) < int(params["page_size"]) and body.get("next_page"):
            # A short page ends a window; one that still links a next page means the server
            # capped page_size, and ending there would skip the rest of the window.
            msg = (
                f"{self._failure(response)} with {len(results)} records for "
                f"page_size={params['page_size']} and a next_page: the server caps the page "
                f"size; set page_size to at most {len(results)}"
            )
            raise WmsResponseError(msg)
        for position, record in enumerate(results, 1):
            self._check_record(record, position, response)
        return results

    def _check_record(self, record: t.Any, position: int, response: requests.Response) -> None:
        """The keys the walk and the target rely on; checked for the whole page before any
        of its records is emitted."""
        rid = record.get("id") if isinstance(record, dict) else None
        if not isinstance(rid, int) or isinstance(rid, bool):
            msg = (
                f"{self.entity}: record {position} of the page from GET "
                f"{safe_url(response.url)}: field 'id' is missing or not an integer"
            )
            raise WmsResponseError(msg)
        key = self.replication_key
        if not key:
            return
        value = record.get(key)
        problem = "is missing" if key not in record else "is null" if value is None else ""
        if not problem:
            try:
                parse_timestamp(value)
            except (TypeError, ValueError, AttributeError):
                problem = f"is not a date-time: {str(value)[:40]!r}"
        if problem:
            raise WmsResponseError(f"{self.entity}: record id {rid}: field '{key}' {problem}")

    def entity_names(self) -> frozenset[str]:
        """The entities `GET .../entity/` lists."""
        return _entity_names(self._get_json(self.url_base, {}))

    def describe(self, entity: str) -> dict[str, t.Any]:
        return self._get_json(f"{self.url_base}{entity}/describe/", {})

    def sample_record(self, entity: str) -> dict[str, t.Any] | None:
        """One record of `entity` (None when it has none): its relation values name their
        target entities."""
        try:
            response = self._get(f"{self.url_base}{entity}/", {"page_size": 1})
        except WmsNotFound:
            return None  # a list query: no records
        results = self._json_body(response).get("results")
        return results[0] if isinstance(results, list) and results else None

    def _entity_list(self) -> tuple[dt.datetime, frozenset[str]]:
        """The WMS clock (HTTP `Date`, whole seconds, UTC) and the entities it lists, from
        `GET .../entity/`: the first request of every read.

        Only a 200 listing this stream's entity proves that base_url and api_version reach
        the environment. With another environment's name lgfapi answers its JSON 404 to every
        request, which on a list query reads as "no records": the run would succeed empty
        and move the bookmark past every change made until the URL is corrected.
        """
        response = self._get(self.url_base, {})
        names = _entity_names(self._json_body(response))
        if self.entity not in names:
            msg = (
                f"{self.entity}: GET {safe_url(self.url_base)} does not list entity "
                f"'{self.entity}' ({len(names)} entities listed): {URL_HINT}, and the API "
                "user's access to the entity"
            )
            raise WmsResponseError(msg)
        header = response.headers.get("Date")
        if not header:
            msg = (
                f"{self.entity}: {safe_url(self.url_base)} sent no Date header; "
                "the read window needs the server clock"
            )
            raise WmsResponseError(msg)
        return parsedate_to_datetime(header).astimezone(UTC), names

    def has_code(self, entity: str, code: str) -> bool:
        """Whether `entity` (facility, company) has a record with this `code`."""
        try:
            response = self._get(f"{self.url_base}{entity}/", {"code": code, "page_size": 1})
        except WmsNotFound:
            return False  # a filtered list query: no match
        results = self._json_body(response).get("results")
        return isinstance(results, list) and bool(results)

    def codes(self, entity: str) -> list[str]:
        """The `code` of every record of `entity` (facility, company), in id order: what an
        orchestrator splits the work by. One page: these are short code tables."""
        params = {"fields": "id,code", "ordering": "id", "page_size": MAX_PAGE_SIZE}
        try:
            response = self._get(f"{self.url_base}{entity}/", params)
        except WmsNotFound:
            return []  # a list query: no records
        body = self._json_body(response)
        if body.get("next_page"):
            msg = f"{entity}: more than {MAX_PAGE_SIZE} records; list the codes instead"
            raise WmsResponseError(msg)
        results = body.get("results") if isinstance(body.get("results"), list) else []
        return [r["code"] for r in results if isinstance(r, dict) and r.get("code")]

    def check_codes(self, listed: frozenset[str]) -> None:
        """facility_code / company_code name a facility / company the WMS has: a typo would
        otherwise narrow every query to nothing, and the run would bookmark past the data."""
        for setting, entity in CODE_SETTINGS:
            if not (code := self.config.get(setting)):
                continue
            if entity not in listed:
                msg = (
                    f"setting {setting}: cannot check {code!r}, {safe_url(self.url_base)} "
                    f"does not list entity '{entity}' (the API user needs read access to it)"
                )
                raise SettingsError(msg)
            if not self.has_code(entity, code):
                msg = f"setting {setting}: the WMS has no {entity} with code {code!r}"
                raise SettingsError(msg)

    # -- extraction -----------------------------------------------------------------------

    def _narrowing(self) -> dict[str, t.Any]:
        """Filters every query of this stream carries that keep part of the entity out."""
        params: dict[str, t.Any] = {}
        if (facility := self.config.get("facility_code")) and self.facility_filter:
            params[self.facility_filter] = facility
        if (company := self.config.get("company_code")) and self.company_filter:
            params[self.company_filter] = company
        return params

    @property
    def reads_whole_entity(self) -> bool:
        """Whether a full-table read sees every record of the entity, so that a row it did
        not see is one the WMS deleted: the only case in which ACTIVATE_VERSION is true.

        ACTIVATE_VERSION tells a target "the table now holds this version and nothing
        else"; after a read narrowed by a facility, a company or a relation chain, it would
        retire every row outside the narrowed scope. The rule is read off the query itself
        (`_narrowing`), so any filter added there counts. `start_date`/`end_date` do not
        narrow a full-table read (it walks every id), and stream maps shape what the target
        stores rather than what is read.
        """
        return not self._narrowing()

    def _walk(self, context: Context | None, position: Position) -> Iterator[dict[str, t.Any]]:
        """Records of a keyset walk (see `pagination`), saving each safe bookmark.

        The next page is requested as soon as the current one arrives (its keyset is known
        then), while the current page's records are being written: server time and the
        tap's own work overlap, with still only one request in flight. Records held for one
        large write are written before waiting on a page, so a slow WMS never keeps read
        records from the target.
        """
        base = {"page_size": self.page_size, **self._narrowing()}
        with ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-fetch") as fetcher:
            pending = fetcher.submit(self._get_page, {**base, **position.params()})
            while pending is not None:
                self._tap.run_control.check(self.name)  # another stream failed: stop here
                if not pending.done():  # the target gets what was read while the WMS answers
                    self._tap.flush_output()
                page = pending.result()
                self.progress.query_done()
                try:
                    step = advance(position, page, self.page_size)
                except KeysetError as error:
                    raise WmsResponseError(f"{self.entity}: {error}") from None
                pending = None
                if step.next is not None:
                    position = step.next
                    pending = fetcher.submit(self._get_page, {**base, **position.params()})
                yield from step.records
                self.progress.emitted(len(step.records))
                if step.bookmark is not None:
                    self._save_bookmark(context, step.bookmark)

    @cached_property
    def progress(self) -> ReadProgress:
        """This stream's counters (see `progress`): one per stream instance."""
        return ReadProgress(self.name, self.logger)

    def sync(self, context: Context | None = None) -> None:
        """The SDK's sync between the first and the last progress line of the stream."""
        self.progress.start()
        super().sync(context)
        bookmark = self.get_context_state(context).get("replication_key_value")
        self.progress.finish(None if bookmark is None else str(bookmark))

    def _window(
        self, context: Context | None, clock: dt.datetime
    ) -> tuple[dt.datetime, dt.datetime]:
        """[bookmark - lookback, server clock), never starting before `start_date` nor
        ending after `end_date`."""
        lo = BEGINNING
        if start_date := self.config.get("start_date"):
            lo = parse_timestamp(str(start_date))
            if lo > clock:  # an empty window would bookmark the clock, skipping [clock, lo)
                msg = (
                    f"setting start_date {format_timestamp(lo)} is after the WMS clock "
                    f"{format_timestamp(clock)}: nothing could be read; set a past start_date"
                )
                raise SettingsError(msg)
        if bookmark := self.get_context_state(context).get("replication_key_value"):
            lookback = dt.timedelta(minutes=float(self.config.get("lookback_minutes", 0)))
            lo = max(lo, parse_timestamp(str(bookmark)) - lookback)
        lo = whole_second(lo)
        hi = clock
        if end_date := self.config.get("end_date"):
            hi = min(hi, whole_second(parse_timestamp(str(end_date))))
        return lo, hi

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        clock, listed = self._entity_list()
        self._tap.check_codes_once(self, listed)
        if self.replication_method == "FULL_TABLE":
            # Every record carries this snapshot's version (the SDK's scheme: run start,
            # epoch seconds), narrowed or not, so the next whole-entity read reconciles all
            # rows; ACTIVATE_VERSION follows its last record only, see below.
            self._stream_version = self._initialized_at // 1000
            whole = self.reads_whole_entity
            if not whole:
                self._log_deletions_left_to_whole_sync()
            read = 0
            for record in self._walk(context, IdKeyset()):
                read += 1
                yield record
            if whole:
                self._activate_complete_version(read)
            return
        lo, hi = self._window(context, clock)
        self.logger.info(
            "%s: reading mod_ts in [%s, %s)",
            self.entity,
            format_timestamp(lo),
            format_timestamp(hi),
        )
        if lo < hi:
            yield from self._walk(context, Window(lo, hi))
        self._save_bookmark(context, hi)

    # -- state ----------------------------------------------------------------------------
    # The SDK's default bookmark is "max replication key seen", checked for sort order
    # record by record. That loses records here: a record modified during the run moves
    # past the max seen, and a bookmark taken mid-second skips the rest of that second.
    # Our bookmark is a safe resume point instead: every record with mod_ts below it has
    # been emitted. `_walk` advances it after each completed page or second and the run
    # ends it at hi. Records therefore never move the bookmark themselves.

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """Bookmarks move in `_save_bookmark` only (see the comment above)."""

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the bookmark never passes hi, the server clock at the run's start."""
        return

    def _save_bookmark(self, context: Context | None, point: dt.datetime) -> None:
        """Move the bookmark forward to `point` (never backwards) and emit STATE."""
        with self._tap.run_control.lock:  # other streams' threads serialise the whole state
            state = self.get_context_state(context)
            current = state.get("replication_key_value")
            if current and parse_timestamp(str(current)) >= point:
                return
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = format_timestamp(point)
            self.state_manager.is_flushed = False
            self._write_state_message()

    @property
    def emit_activate_version_messages(self) -> bool:
        """Off, so the SDK does not send ACTIVATE_VERSION before the first record.

        A target retires rows of older versions when it receives ACTIVATE_VERSION. Sent
        before the snapshot is read (the SDK's place), a failed or interrupted full sync
        would leave the table emptied (hard delete) or all soft-deleted. `get_records`
        versions every full-table record and sends it once the snapshot is complete, and
        only when the read covered the whole entity (`reads_whole_entity`).
        """
        return False

    def _activate_complete_version(self, records_read: int) -> None:
        """ACTIVATE_VERSION once the whole entity was read: the table holds this version only.

        A target cannot tell a lone ACTIVATE_VERSION after zero records from the one singer-sdk
        taps send before their records (a full sync that may still die), so a careful target
        retires nothing on it. An empty entity is complete: a second ACTIVATE_VERSION of the
        same version says so (harmless to targets that act on the first).
        """
        for _ in range(1 if records_read else 2):
            self._write_activate_version_message(self._stream_version)

    def _log_deletions_left_to_whole_sync(self) -> None:
        scope = ", ".join(f"{name}={value}" for name, value in self._narrowing().items())
        self.logger.warning(
            "%s: full-table read narrowed by %s sends no ACTIVATE_VERSION: a narrowed read "
            "cannot tell which rows outside it still exist and would retire them all. Rows "
            "the WMS deleted are retired only by a full sync of the whole entity (without "
            "facility_code or company_code)",
            self.name,
            scope,
        )


def _retry_after(response: requests.Response | None) -> float:
    """Seconds asked by a `Retry-After` header (delta or HTTP date); 0 when absent."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return 0.0
    if value.strip().isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (moment - dt.datetime.now(UTC)).total_seconds())


def _entity_names(body: dict[str, t.Any]) -> frozenset[str]:
    """Entity names of an entity list: `{"results": [names]}` or `{name: list URL}`."""
    results = body.get("results")
    if isinstance(results, list):
        return frozenset(name for name in results if isinstance(name, str))
    return frozenset(name for name, url in body.items() if isinstance(url, str))


def _is_oracle_error(response: requests.Response) -> bool:
    """An lgfapi error body ({reference, code, message, details}), not a proxy's HTML page."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "message" in body and ("code" in body or "reference" in body)
