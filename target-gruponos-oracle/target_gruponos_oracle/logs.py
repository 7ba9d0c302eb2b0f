"""What the target logs for people: a failure as one line, and how often it logs progress.

Under `meltano run` these lines go through singer-sdk's structured (JSON) logging, which
Meltano parses keeping each line's level: a failure is an `[error]` line naming the plugin.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import traceback
import typing as t

if t.TYPE_CHECKING:
    import click

# The password of any URL in a message: scheme://user:PASSWORD@host, up to the last '@'
# (as the target reads sqlalchemy_url: a password may hold '@')
_URL_PASSWORD = re.compile(r"(://[^/:@\s]*:)\S+@")
# Shorter values are left alone: masking them would garble every word containing them.
_MIN_SECRET_LENGTH = 4
_secrets: set[str] = set()


def remember_secrets(config: t.Mapping[str, t.Any], config_schema: dict) -> None:
    """Note the values of the settings the schema marks secret, to keep them out of logs."""
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


def log_unexpected(logger: logging.Logger, exc: BaseException) -> None:
    """An exception nobody anticipated: its type and message at ERROR, the traceback at DEBUG.

    The traceback goes into the message text, not `exc_info`: Meltano shows a plugin's
    `exc_info` as a multi-line panel on error lines and drops it on debug lines.
    """
    logger.error("%s", redact(f"{type(exc).__name__}: {exc}"))
    if logger.isEnabledFor(logging.DEBUG):
        trace = "".join(traceback.format_exception(exc)).rstrip()
        logger.debug("Traceback of the failure above:\n%s", redact(trace))


def guard_main(command: click.Command, logger: logging.Logger) -> click.Command:
    """Wrap the SDK's click command so that any exception escaping it is one line, exit 1.

    `main`, not `invoke`: click reads `--config` and runs option callbacks before `invoke`,
    and their failures would otherwise print Python's own traceback (an `[info]` line each
    under Meltano).
    """
    main = command.main

    def guarded_main(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return main(*args, **kwargs)
        except Exception as exc:  # whatever it is: one line and exit 1
            log_unexpected(logger, exc)
            sys.exit(1)

    command.main = guarded_main  # type: ignore[method-assign]
    return command


class Throttle:
    """Says "due" at most once per `interval` seconds: how often a progress line is logged."""

    #: Seconds between two progress lines (tests shorten it).
    interval: t.ClassVar[float] = 30.0
    #: Monotonic seconds (tests replace it to move time without sleeping).
    clock: t.ClassVar[t.Callable[[], float]] = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self._last = self.clock()

    def due(self) -> bool:
        now = self.clock()
        if now - self._last < self.interval:
            return False
        self._last = now
        return True
