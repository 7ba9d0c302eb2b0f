"""Time handling: the served clock, the facility time zone and ISO-8601 in and out.

Date-times are kept internally as integer microseconds since the Unix epoch (UTC): compact for
hundreds of thousands of records, exact (two records can share one microsecond), and cheap to
compare and bisect.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

FACILITY_TZ = timezone(timedelta(hours=-3))
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_FACILITY = _EPOCH_UTC.astimezone(FACILITY_TZ)
US_PER_SECOND = 1_000_000

# YYYY-mm-dd[THH:MM[:SS[.ffffff]]][Z|+hh:mm|-hh:mm|+hhmm]
_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def now_us() -> int:
    """The served clock: real time, so Date headers and mod_ts of modified records agree."""
    return to_us(datetime.now(timezone.utc))


def to_us(value: datetime) -> int:
    """Aware datetime -> epoch microseconds; a naive one is read in the facility time zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=FACILITY_TZ)
    delta = value - _EPOCH_UTC
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int) -> datetime:
    """Epoch microseconds -> datetime in the facility time zone."""
    return _EPOCH_FACILITY + timedelta(microseconds=us)


def format_us(us: int) -> str:
    """Like lgfapi: facility offset and always six fractional digits."""
    return (_EPOCH_FACILITY + timedelta(microseconds=us)).isoformat(timespec="microseconds")


def parse_datetime_value(text: str, *, allow_subsecond: bool) -> int:
    """Parse an ISO-8601 date-time (or date) into epoch microseconds.

    Without an offset the value is read in the facility time zone, as lgfapi does. Raises
    ValueError with a message fit for an API error body.
    """
    match = _ISO_RE.match(text.strip()) if text else None
    if not match:
        if " " in text and ("+" not in text):
            raise ValueError(
                f"'{text}' is not an ISO-8601 date-time (a '+' offset must be URL-encoded as %2B)"
            )
        raise ValueError(f"'{text}' is not an ISO-8601 date-time (YYYY-mm-ddTHH:MM:SS+hh:mm)")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if fraction and not allow_subsecond:
        raise ValueError(
            f"'{text}' has sub-second precision, which this API rejects in filters; "
            "send whole seconds"
        )
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    tz = FACILITY_TZ if offset is None else _parse_offset(offset)
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid date-time: {exc}") from None
    return to_us(value)


def parse_date_value(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO-8601 date (YYYY-mm-dd)") from None


def _parse_offset(text: str) -> timezone:
    if text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
