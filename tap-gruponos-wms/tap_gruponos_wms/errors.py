"""Expected failures of the tap, and the one place that turns them into what a user sees.

Intent: a mistake the user can fix (a setting, the environment, credentials) or a WMS answer
the tap cannot trust (an HTTP error, a body of the wrong shape, a record without `id`, a
keyset the server did not honour) ends the process with ONE line on the tap's logger at
ERROR, naming what is wrong and where (setting, entity, record, field, URL without
credentials), and exit code 1, in every mode (sync, `--discover`, `--test`, under
`meltano run`). Anything else is a bug, reported the same way as one line with the exception's
type and message. Tracebacks are logged at DEBUG only, as text: Meltano shows a plugin's
`exc_info` as a multi-line panel on error lines and drops it on debug lines.

Code that detects a failure raises one of the types below (or the SDK's `FatalAPIError` /
`ConfigValidationError`) with the line as its message; it never logs or prints the failure
itself. `guard_cli` is the only place that reports them, so routing them elsewhere (another
logger, a structured field) is a change to `report` alone.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
import typing as t
from urllib.parse import urlsplit, urlunsplit

import requests
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError

if t.TYPE_CHECKING:
    import click

EXIT_FAILURE = 1
# The password of any URL in a message: scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^@\s]+@")
# Shorter values are left alone: masking them would garble every word containing them.
_MIN_SECRET_LENGTH = 4
_secrets: set[str] = set()


class WmsError(Exception):
    """Base of the tap's own expected failures; the message is the line the user sees."""


class SettingsError(WmsError):
    """A setting is missing, malformed, contradicts another one or names what the WMS lacks."""


class WmsAuthError(FatalAPIError):
    """Credentials were refused or a permission is missing; retrying cannot help."""


class WmsResponseError(FatalAPIError):
    """The API answered something that is not what lgfapi answers (HTML, truncated, no results,
    a record without `id` or `mod_ts`, a keyset it did not honour)."""


class WmsNotFound(FatalAPIError):
    """lgfapi's JSON 404. On a filtered list query it means "no record matches"; on any other
    request (entity list, describe) the URL is wrong: base_url or api_version."""


#: What ends the process with one line instead of a traceback. requests' own exceptions only
#: escape from the SDK's OAuth2 token request (the API requests wrap theirs).
EXPECTED: tuple[type[BaseException], ...] = (
    WmsError,
    FatalAPIError,
    ConfigValidationError,
    requests.RequestException,
)


def safe_url(url: str) -> str:
    """The URL without any user:password@ part, for messages."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def one_line(error: BaseException) -> str:
    """The user's line for an expected failure: its message, whitespace collapsed."""
    if isinstance(error, ConfigValidationError) and error.errors:
        text = "invalid settings: " + "; ".join(error.errors)
    elif isinstance(error, requests.RequestException):
        url = getattr(error.request, "url", None) or "the OAuth2 token endpoint"
        text = f"request to {safe_url(url)} failed: {type(error).__name__}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def remember_secrets(config: t.Mapping[str, t.Any], config_schema: dict) -> None:
    """Note the values of the settings the schema marks secret, to keep them out of reports."""
    for name, prop in config_schema.get("properties", {}).items():
        value = config.get(name)
        if prop.get("secret") and isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH:
            _secrets.add(value)


def redact(text: str) -> str:
    """The text with URL passwords and remembered secret values replaced by ***."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def report(logger: logging.Logger, error: BaseException, *, expected: bool = True) -> None:
    """Log the failure as one ERROR line (an unexpected one as `Type: message`); its
    traceback only when DEBUG is enabled."""
    line = one_line(error) if expected else " ".join(f"{type(error).__name__}: {error}".split())
    logger.error("%s", redact(line))
    if logger.isEnabledFor(logging.DEBUG):
        trace = "".join(traceback.format_exception(error)).rstrip()
        logger.debug("Traceback of the failure above:\n%s", redact(trace))


def guard_cli(command: click.Command, logger: logging.Logger) -> click.Command:
    """Wrap the SDK's click command so any failure exits 1 with one line.

    Wrapping `main` (not `invoke`) also covers `--discover` and `--test`: click runs those
    option callbacks while parsing arguments, before the SDK's `invoke` and its handler.
    """
    main = command.main

    def guarded_main(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return main(*args, **kwargs)
        except EXPECTED as error:
            report(logger, error)
            sys.exit(EXIT_FAILURE)
        except Exception as error:  # a bug: still one line, the traceback at DEBUG
            report(logger, error, expected=False)
            sys.exit(EXIT_FAILURE)

    command.main = guarded_main  # type: ignore[method-assign]
    return command
