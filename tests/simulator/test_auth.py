"""Basic auth, OAuth2 client credentials with expiring tokens, and permission errors."""

from __future__ import annotations

import time

import requests
from wms_simulator import WmsSimulator

from .conftest import Client


def _get(sim: WmsSimulator, **kwargs: object) -> requests.Response:
    return requests.get(f"{sim.base_url}/wms/lgfapi/v10/entity/order_hdr/1", timeout=10, **kwargs)


def _token(sim: WmsSimulator, **kwargs: object) -> requests.Response:
    return requests.post(sim.token_url, timeout=10, **kwargs)


def test_basic_auth_accepts_the_user_and_rejects_others(client: Client) -> None:
    assert _get(client.sim, auth=("wms_user", "wms_pass")).status_code == 200
    wrong = _get(client.sim, auth=("wms_user", "nope"))
    assert wrong.status_code == 401
    assert "wms_pass" not in wrong.text
    assert _get(client.sim).status_code == 401
    assert _get(client.sim, headers={"Authorization": "Basic !!notbase64"}).status_code == 401


def test_a_user_without_lgfapi_permission_gets_403() -> None:
    with WmsSimulator(orders=2, forbidden_users={"viewer": "secret"}) as sim:
        assert _get(sim, auth=("viewer", "secret")).status_code == 403
        assert _get(sim, auth=("viewer", "wrong")).status_code == 401


def test_client_credentials_via_basic_or_form_give_a_bearer_token(client: Client) -> None:
    sim = client.sim
    by_header = _token(
        sim,
        data={
            "grant_type": "client_credentials",
            "scope": "urn:resource:fusion:scm:logistics:wms:lgfapi/",
        },
        auth=("wms_client", "wms_secret"),
    )
    assert by_header.status_code == 200
    body = by_header.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "urn:resource:fusion:scm:logistics:wms:lgfapi/"
    by_form = _token(
        sim,
        data={
            "grant_type": "client_credentials",
            "client_id": "wms_client",
            "client_secret": "wms_secret",
        },
    ).json()
    for token in (body["access_token"], by_form["access_token"]):
        assert _get(sim, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_token_endpoint_rejects_bad_clients_and_grants(client: Client) -> None:
    sim = client.sim
    bad_client = _token(
        sim, data={"grant_type": "client_credentials"}, auth=("wms_client", "wrong")
    )
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    bad_grant = _token(sim, data={"grant_type": "password"}, auth=("wms_client", "wms_secret"))
    assert bad_grant.status_code == 400
    assert _get(sim, headers={"Authorization": "Bearer made-up"}).status_code == 401


def test_tokens_expire_after_their_ttl() -> None:
    with WmsSimulator(orders=2, token_ttl_seconds=0.3) as sim:
        token = _token(
            sim, data={"grant_type": "client_credentials"}, auth=("wms_client", "wms_secret")
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert _get(sim, headers=bearer).status_code == 200
        time.sleep(0.4)
        assert _get(sim, headers=bearer).status_code == 401


def test_expire_tokens_invalidates_issued_tokens_only(client: Client) -> None:
    sim = client.sim
    old = _token(
        sim, data={"grant_type": "client_credentials"}, auth=("wms_client", "wms_secret")
    ).json()["access_token"]
    assert sim.expire_tokens() >= 1
    assert _get(sim, headers={"Authorization": f"Bearer {old}"}).status_code == 401
    new = _token(
        sim, data={"grant_type": "client_credentials"}, auth=("wms_client", "wms_secret")
    ).json()["access_token"]
    assert _get(sim, headers={"Authorization": f"Bearer {new}"}).status_code == 200
