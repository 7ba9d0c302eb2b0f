"""Every failure the target reports on purpose, each a single line naming what and where.

`TargetGruponosOracle.invoke` logs these as one line and exits 1, without a traceback.
Where singer-sdk has an exception for the same case, ours also derives from it, so code that
catches the SDK's still catches ours.
"""

from __future__ import annotations

from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidRecord,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)


def place(line: int | str) -> str:
    """Where a record came from: ``line 12`` of the input, or a BATCH file's line."""
    return line if isinstance(line, str) else f"line {line}"


def span(first: int | str | None, last: int | str | None) -> str:
    """The input a batch came from: ``lines 4-9``, or the BATCH file lines."""
    if isinstance(first, int) and isinstance(last, int):
        return f"lines {first}-{last}"
    return place(first or "") if first == last else f"{place(first or '')} to {place(last or '')}"


class InputError(Exception):
    """Bad input, reported with the stream, the line of input (or BATCH file line) and field."""

    def __init__(self, stream: str, line: int | str | None, field: str | None, reason: str) -> None:
        where = f"stream '{stream}'" + (f", {place(line)}" if line else "")
        where += f", field '{field}'" if field else ""
        super().__init__(f"{where}: {reason}")
        self.stream, self.line, self.field, self.reason = stream, line, field, reason


class BadRecordError(InputError, ValueError):
    """A record that cannot be loaded as it is."""


class MissingKeyError(InputError, MissingKeyPropertiesError):
    """A record without one of its key properties."""


class RecordBeforeSchemaError(InputError, RecordsWithoutSchemaException):
    """A RECORD (or ACTIVATE_VERSION) for a stream whose SCHEMA has not arrived."""


class SettingError(ConfigValidationError):
    """A setting the target cannot run with; the message names it (never a secret value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])


class DatabaseError(Exception):
    """The database refused a statement or could not be reached (password never shown)."""


class SchemaError(ValueError):
    """A SCHEMA message the target cannot turn into a table."""


class IdentifierCollisionError(SchemaError):
    """Two source names (fields, or streams) conform to the same database identifier."""


class FieldError(ValueError):
    """A value that does not fit its schema or its column (the sink adds stream and line)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


class RecordInvalid(FieldError, InvalidRecord):
    """A record that does not match its schema."""

    def __init__(self, field: str, reason: str) -> None:
        FieldError.__init__(self, field, reason)
