"""Authentication against lgfapi: HTTP Basic, or OAuth2 client credentials (Oracle IDCS)."""

from __future__ import annotations

import base64
import threading
import typing as t

from singer_sdk.authenticators import BasicAuthenticator, OAuthAuthenticator
from singer_sdk.helpers._util import utc_now

from tap_gruponos_wms.errors import SettingsError, WmsAuthError, safe_url

if t.TYPE_CHECKING:
    from collections.abc import Mapping


class ClientCredentialsAuthenticator(OAuthAuthenticator):
    """OAuth2 client-credentials flow with a token cached for the whole run.

    The token is renewed shortly before it expires (so a long run never sends an expired
    token) and, through `invalidate`, once more when the API answers 401 anyway (token
    revoked, clocks apart).
    """

    #: Renew this many seconds before expiry (at most a tenth of the token's lifetime).
    renew_margin_seconds: t.ClassVar[float] = 60.0

    def __init__(self, *, token_url: str, client_id: str, client_secret: str, scope: str | None):
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        super().__init__(
            auth_endpoint=token_url,
            oauth_scopes=scope,
            client_id=client_id,
            client_secret=client_secret,
            oauth_headers={"Authorization": f"Basic {basic}"},
        )
        # Streams read in parallel threads share this one token: one renewal at a time.
        self._lock = threading.Lock()

    @property
    def oauth_request_body(self) -> dict:
        body = {"grant_type": "client_credentials"}
        if self.oauth_scopes:
            body["scope"] = self.oauth_scopes
        return body

    def is_token_valid(self) -> bool:
        if self.access_token is None or self.last_refreshed is None:
            return False
        if not self.expires_in:
            return True
        margin = min(self.renew_margin_seconds, self.expires_in / 10)
        age = (utc_now() - self.last_refreshed).total_seconds()
        return age < self.expires_in - margin

    def authenticate_request(self, request: t.Any) -> t.Any:
        """The current token (renewed first if due), checked and renewed under the lock so
        that threads finding it expired together renew it once."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            token = self.access_token
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def invalidate(self, rejected: str | None = None) -> None:
        """Forget the cached token so the next request fetches a new one; with `rejected`
        (the Authorization header the API refused), only if that is still the current token:
        another thread may have renewed it already."""
        with self._lock:
            if rejected is None or rejected == f"Bearer {self.access_token}":
                self.access_token = None
                self.last_refreshed = None

    def handle_error(self, *, content: str, status_code: int | None) -> None:
        # The SDK would log the body and raise a bare RuntimeError; say what to fix instead.
        hint = (
            "check oauth_client_id and oauth_client_secret"
            if status_code in {400, 401, 403}
            else "check oauth_token_url and the identity service"
        )
        msg = (
            f"OAuth2 token request to {safe_url(self.auth_endpoint)} failed with status "
            f"{status_code or 'unknown'}: {hint} (and oauth_scope if your domain needs one)"
        )
        raise WmsAuthError(msg)


def build_authenticator(
    config: Mapping[str, t.Any],
) -> BasicAuthenticator | ClientCredentialsAuthenticator:
    """The authenticator for `auth_method`, failing early on missing credentials."""
    method = config.get("auth_method", "basic")
    if method == "oauth2":
        _require(config, method, "oauth_token_url", "oauth_client_id", "oauth_client_secret")
        return ClientCredentialsAuthenticator(
            token_url=config["oauth_token_url"],
            client_id=config["oauth_client_id"],
            client_secret=config["oauth_client_secret"],
            scope=config.get("oauth_scope"),
        )
    _require(config, method, "username", "password")
    return BasicAuthenticator(username=config["username"], password=config["password"])


def _require(config: Mapping[str, t.Any], method: str, *names: str) -> None:
    if missing := [name for name in names if not config.get(name)]:
        msg = f"auth_method '{method}' needs the setting(s): {', '.join(missing)}"
        raise SettingsError(msg)
