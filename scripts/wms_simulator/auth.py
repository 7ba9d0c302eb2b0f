"""Authentication as lgfapi sees it: HTTP Basic users and OAuth2 client-credentials tokens."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from dataclasses import dataclass, field


@dataclass
class AuthConfig:
    username: str = "wms_user"
    password: str = "wms_pass"
    oauth_client_id: str = "wms_client"
    oauth_client_secret: str = "wms_secret"
    token_ttl_seconds: float = 3600
    # Users whose password is right but who lack lgfapi_read_access: answered with 403.
    forbidden_users: dict[str, str] = field(default_factory=dict)


class Authenticator:
    """Decides 200/401/403 for API requests and issues expiring bearer tokens."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._tokens: dict[str, float] = {}  # token -> expiry (time.monotonic)
        self._lock = threading.Lock()

    def check(self, authorization: str | None) -> int:
        """HTTP status for the Authorization header: 200 allowed, 401 or 403."""
        if not authorization:
            return 401
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return 200 if self._token_valid(value.strip()) else 401
        if scheme.lower() == "basic":
            user, password = decode_basic(value) or ("", "")
            if (user, password) == (self.config.username, self.config.password):
                return 200
            if self.config.forbidden_users.get(user) == password and user:
                return 403
        return 401

    def issue_token(self, client_id: str, client_secret: str) -> str | None:
        """A new token for valid client credentials, else None."""
        if (client_id, client_secret) != (
            self.config.oauth_client_id,
            self.config.oauth_client_secret,
        ):
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.config.token_ttl_seconds
        return token

    def expire_tokens(self) -> int:
        """Make every issued token expired now (tests of token renewal). Returns how many."""
        with self._lock:
            count = len(self._tokens)
            self._tokens = dict.fromkeys(self._tokens, 0.0)
        return count

    def _token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and time.monotonic() < expiry


def decode_basic(value: str) -> tuple[str, str] | None:
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
