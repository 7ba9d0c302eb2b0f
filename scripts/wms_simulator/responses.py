"""What the simulator answers: a response value and the lgfapi JSON bodies (errors included)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

_ERROR_CODES = {
    400: ("VALIDATION_ERROR", "Invalid input."),
    401: ("AUTHENTICATION_FAILED", "Authentication credentials were not provided or are invalid."),
    403: ("PERMISSION_DENIED", "You do not have permission to perform this action."),
    404: ("NOT_FOUND", "Not found."),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed."),
    409: (
        "CONCURRENT_MODIFICATION",
        "The record was modified by a concurrent operation, please try again.",
    ),
    429: ("TOO_MANY_REQUESTS", "Too many requests."),
}


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    drip_seconds: float = 0.0  # send the response one byte at a time, this far apart


def json_response(status: int, payload: Any, **headers: str) -> Response:
    return Response(status, orjson.dumps(payload), headers=headers)


def error_response(
    status: int, message: str | None = None, details: Any = None, **headers: str
) -> Response:
    code, default = _ERROR_CODES.get(status, ("SERVER_ERROR", "Internal server error."))
    payload = {
        "reference": str(uuid.uuid4()),
        "code": code,
        "message": message or default,
        "details": details if details is not None else {},
    }
    return json_response(status, payload, **headers)
