"""OAuth2 client credentials: one cached token per run, renewed before expiry and once on 401."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qs

import pytest
import requests
import responses
from singer_sdk.exceptions import ConfigValidationError
from tap_gruponos_wms import auth
from tap_gruponos_wms.auth import ClientCredentialsAuthenticator, WmsAuthError, build_authenticator

from .mock_api import API, CONFIG, STATE, page, rec, window

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
    with pytest.raises(ConfigValidationError, match=missing):
        build_authenticator(config)
