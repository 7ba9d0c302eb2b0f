"""Requests to Oracle WMS Cloud lgfapi: each attempt with the current token (one renewal on
401), retries with backoff, response checks, list pages, and the requests about the API itself
(entity list and server clock, describe, one sample record, facility / company codes)."""

from __future__ import annotations

import datetime as dt
import logging
import random
import typing as t
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus

import backoff
import msgspec
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
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
from tap_gruponos_wms.pagination import UTC, parse_timestamp
from tap_gruponos_wms.parallel import LockedStreamState
from tap_gruponos_wms.progress import ReadProgress
from tap_gruponos_wms.transport import deadline, mount_deadline

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

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


class ApiRequests(LockedStreamState, RESTStream):
    """The HTTP side of a stream (and of the tap's requests about the API as a whole)."""

    entity: str

    #: First retry delay; doubles per attempt up to `backoff_max_seconds`.
    backoff_base_seconds: t.ClassVar[float] = 1.0
    backoff_max_seconds: t.ClassVar[float] = 60.0

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, path=f"{self.entity}/")
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

    @cached_property
    def progress(self) -> ReadProgress:
        """This stream's counters (see `progress`): one per stream instance."""
        return ReadProgress(self.name, self.logger)

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
        # a slot of the run's request budget, then the deadline on the whole response (not on
        # each gap between two bytes; waiting for the slot does not count)
        with self._tap.run_control.request_slot(), deadline(self.timeout):
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

    def _get_page(self, params: dict[str, t.Any]) -> tuple[list[dict[str, t.Any]], int | None]:
        """One list request: its records and the query's `result_count` (None when the
        answer has none); lgfapi answers 404 when no record matches."""
        try:
            response = self._get(self.get_url(None), params)
        except WmsNotFound:
            self.progress.nothing_matched()
            return [], 0
        body = self._json_body(response)
        results = body.get("results")
        if not isinstance(results, list):
            raise WmsResponseError(f"{self._failure(response)} without a 'results' list")
        self.progress.page_answered()
        count = body.get("result_count")
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
        return results, count if isinstance(count, int) and not isinstance(count, bool) else None

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
