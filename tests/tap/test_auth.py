"""Authentication (HTTP Basic, OAuth2 client credentials with one cached token per run),
refused credentials and permissions, and secrets kept out of logs and messages."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from urllib.parse import parse_qs

import pytest
import requests
import responses
from tap_gruponos_wms import auth
from tap_gruponos_wms.auth import ClientCredentialsAuthenticator, build_authenticator
from tap_gruponos_wms.errors import SettingsError, WmsAuthError, safe_url
from wms_simulator import WmsSimulator

from .mock_api import API, CONFIG, STATE, page, rec, window

STREAM, ENTITY = "order_details", "order_dtl"


TOKEN_URL = "http://127.0.0.1:9/oauth2/v1/token"


OAUTH = {
    **{k: v for k, v in CONFIG.items() if k not in {"username", "password"}},
    "auth_method": "oauth2",
    "oauth_token_url": TOKEN_URL,
    "oauth_client_id": "wms_client",
    "oauth_client_secret": "wms_secret",
    "oauth_scope": "urn:opc:resource:wms:lgfapi/",
}


def token_calls(mock: responses.RequestsMock) -> list:
    return [c for c in mock.calls if c.request.url == TOKEN_URL]


def add_tokens(mock: responses.RequestsMock, *tokens: str, expires_in: int = 3600) -> None:
    for token in tokens:
        mock.post(
            TOKEN_URL,
            json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
        )


def oauth_config(sim) -> dict:
    return {
        "base_url": sim.base_url,
        "auth_method": "oauth2",
        "oauth_token_url": sim.token_url,
        "oauth_client_id": "wms_client",
        "oauth_client_secret": "wms_secret",
        "page_size": 10,
    }


def token_requests(sim) -> int:
    return sum(1 for e in sim.request_log if e["path"].endswith("/oauth2/v1/token"))


def test_token_is_requested_once_with_client_credentials_and_shared_by_all_streams(
    api, run_tap
) -> None:
    add_tokens(api, "tok-1")
    for entity in ("order_hdr", "order_dtl", "allocation"):
        page(api, window(), [rec(1, "11:10:00.0")], entity=entity)
    state = {
        "bookmarks": {
            s: STATE["bookmarks"]["order_details"]
            for s in ("order_headers", "order_details", "allocations")
        }
    }

    out = run_tap(OAUTH, state=state)

    assert len(out.of_type("RECORD")) == 3
    (call,) = token_calls(api)
    expected = base64.b64encode(b"wms_client:wms_secret").decode()
    assert call.request.headers["Authorization"] == f"Basic {expected}"
    form = parse_qs(call.request.body)
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["urn:opc:resource:wms:lgfapi/"]
    api_calls = [c for c in api.calls if c.request.url.startswith(API)]
    assert {c.request.headers["Authorization"] for c in api_calls} == {"Bearer tok-1"}


def test_token_is_renewed_before_it_expires(monkeypatch) -> None:
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(auth, "utc_now", lambda: now)
    authenticator = ClientCredentialsAuthenticator(
        token_url=TOKEN_URL, client_id="c", client_secret="s", scope=None
    )
    request = requests.Request("GET", f"{API}order_dtl/").prepare()
    with responses.RequestsMock() as mock:
        add_tokens(mock, "tok-1", "tok-2", expires_in=600)
        monkeypatch.setattr("singer_sdk.authenticators.utc_now", lambda: now)
        assert authenticator(request).headers["Authorization"] == "Bearer tok-1"
        now += dt.timedelta(seconds=530)  # 70 s left: still more than the 60 s margin
        assert authenticator(request).headers["Authorization"] == "Bearer tok-1"
        now += dt.timedelta(seconds=15)  # 55 s left: renew now, not after a 401
        assert authenticator(request).headers["Authorization"] == "Bearer tok-2"
        assert len(token_calls(mock)) == 2


def test_a_401_renews_the_token_once_and_the_request_succeeds(api, run_tap) -> None:
    add_tokens(api, "tok-discovery", "tok-1", "tok-2")
    api.get(f"{API}order_dtl/", status=401, json={"code": "AUTH", "message": "token expired"})
    page(api, window(), [rec(1, "11:10:00.0")])

    out = run_tap(OAUTH, state=STATE, streams=["order_details"])

    assert out.ids("order_details") == [1]
    calls = [
        (c.request.url, c.response.status_code, c.request.headers.get("Authorization"))
        for c in api.calls
    ]
    refused = next(i for i, call in enumerate(calls) if call[1] == 401)
    assert calls[refused][2] == "Bearer tok-1"
    assert calls[refused + 1][0] == TOKEN_URL
    assert calls[refused + 2][1:] == (200, "Bearer tok-2")


def test_a_second_401_after_renewal_fails_naming_the_oauth_settings(api, run_tap) -> None:
    add_tokens(api, "tok-1", "tok-2")
    api.get(f"{API}order_dtl/", status=401, json={"code": "AUTH", "message": "invalid token"})
    with pytest.raises(WmsAuthError, match="oauth_client_id") as error:
        run_tap(OAUTH, state=STATE, streams=["order_details"])
    assert "wms_secret" not in str(error.value)


def test_refused_token_request_fails_naming_the_credentials_not_showing_them(
    api, run_tap, caplog
) -> None:
    api.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    with pytest.raises(WmsAuthError, match="oauth_client_id and oauth_client_secret") as error:
        run_tap(OAUTH, state=STATE, streams=["order_details"])
    assert "wms_secret" not in str(error.value)
    assert "wms_secret" not in caplog.text


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({"auth_method": "basic", "username": "u"}, "password"),
        ({"auth_method": "oauth2", "oauth_client_id": "c"}, "oauth_token_url, oauth_client_secret"),
    ],
)
def test_missing_credentials_are_named_before_any_request(config, missing) -> None:
    with pytest.raises(SettingsError, match=missing):
        build_authenticator(config)


def test_oauth2_run_uses_one_token_and_renews_it_when_revoked(sim, run_tap, caplog) -> None:
    caplog.set_level(logging.DEBUG)

    def revoke_once(entity: str, query: dict, n: int) -> None:
        if entity == "order_hdr" and n == 1:
            sim.expire_tokens()

    sim.on_list_request(revoke_once)
    out = run_tap(oauth_config(sim))

    assert len(out.ids("order_headers")) == 20
    assert len(out.ids("order_details")) == 60
    assert token_requests(sim) == 2  # first token, then one renewal after the 401
    assert "wms_secret" not in caplog.text


def test_oauth2_token_is_renewed_before_expiry_during_a_long_run(run_tap) -> None:
    # ~22 requests of 100 ms each, one stream at a time: about twice the token's lifetime.
    with WmsSimulator(orders=20, token_ttl_seconds=1, latency_ms=100) as sim:
        started = time.monotonic()
        out = run_tap({**oauth_config(sim), "max_parallel_streams": 1})
        elapsed = time.monotonic() - started
        statuses = [e["status"] for e in sim.request_log]
    assert elapsed > 1.5
    assert len(out.of_type("RECORD")) == 140
    assert 401 not in statuses  # renewed before expiry, not after a refusal
    assert token_requests(sim) >= 2


def test_wrong_client_secret_fails_naming_the_oauth_settings(sim, run_tap) -> None:
    config = {**oauth_config(sim), "oauth_client_secret": "nope"}
    with pytest.raises(WmsAuthError, match="oauth_client_id and oauth_client_secret"):
        run_tap(config, streams=[STREAM])


def test_wrong_password_fails_at_once_without_retrying_or_logging_it(
    sim, sim_config, run_tap, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    config = {**sim_config, "password": "not-the-password"}
    with pytest.raises(WmsAuthError, match="check username and password") as error:
        run_tap(config, streams=[STREAM])
    assert "not-the-password" not in str(error.value) + caplog.text
    assert [e["status"] for e in sim.request_log] == [401]


def test_user_without_lgfapi_permission_fails_naming_it(run_tap) -> None:
    with WmsSimulator(orders=2, forbidden_users={"viewer": "viewer_pass"}) as sim:
        config = {"base_url": sim.base_url, "username": "viewer", "password": "viewer_pass"}
        with pytest.raises(WmsAuthError, match="lgfapi_read_access"):
            run_tap(config)


def test_debug_logs_of_a_basic_run_carry_no_credentials(sim, sim_config, run_tap, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    run_tap(sim_config, streams=[STREAM])
    encoded = base64.b64encode(b"wms_user:wms_pass").decode()
    assert caplog.text
    assert "wms_pass" not in caplog.text
    assert encoded not in caplog.text


def test_urls_in_messages_never_carry_user_info() -> None:
    assert safe_url("https://user:pw@wms.example/env/x?a=1") == "https://wms.example/env/x?a=1"


@pytest.mark.parametrize(
    "mode", [(), ("--discover",), ("--test",)], ids=["sync", "discover", "test"]
)
def test_refused_basic_credentials_are_one_line_in_every_mode(
    sim, sim_config, tap_cli, mode
) -> None:
    run = tap_cli({**sim_config, "password": "not-the-password"}, *mode)
    run.assert_one_line_failure("answered 401", "check username and password")
    assert "not-the-password" not in run.stderr


@pytest.mark.parametrize(
    ("token_url", "needles"),
    [
        (None, ["OAuth2 token request to", "failed with status 401", "oauth_client_secret"]),
        (
            "http://127.0.0.1:9/oauth2/v1/token",
            ["request to http://127.0.0.1:9/oauth2/v1/token failed: ConnectionError"],
        ),
    ],
    ids=["refused", "unreachable"],
)
def test_oauth2_token_failures_are_one_line_without_the_secret(
    sim, tap_cli, token_url, needles
) -> None:
    config = {**oauth_config(sim), "oauth_client_secret": "not-the-secret", "max_retries": 1}
    if token_url:
        config["oauth_token_url"] = token_url
    run = tap_cli(config)
    run.assert_one_line_failure(*needles)
    assert "not-the-secret" not in run.stderr
