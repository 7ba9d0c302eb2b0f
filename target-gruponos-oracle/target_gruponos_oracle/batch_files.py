"""BATCH messages: the records in the files their manifest names, read as RECORDs would be.

singer-sdk taps with ``batch_config`` write JSON Lines files, one record per line, and send
``{"type": "BATCH", "stream": ..., "encoding": {"format": "jsonl", "compression": "gzip"},
"manifest": ["file:///.../order_details-1.json.gz"]}``.
"""

from __future__ import annotations

import gzip
import typing as t
import zlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

from target_gruponos_oracle.errors import InputError
from target_gruponos_oracle.values import parse_line

FORMATS = ("jsonl",)
COMPRESSIONS = ("gzip", "none")
_GZIP_MAGIC = b"\x1f\x8b"


def check_batch_message(stream: str, line: int, message: dict) -> list[str]:
    """The manifest of a BATCH message whose encoding this target reads."""
    encoding = message.get("encoding")
    manifest = message.get("manifest")
    if not isinstance(encoding, dict) or not isinstance(manifest, list):
        reason = "BATCH needs an 'encoding' object and a 'manifest' list of file URLs"
        raise InputError(stream, line, None, reason)
    files = ", ".join(f"'{url}'" for url in manifest)
    if encoding.get("format") not in FORMATS:
        reason = f"BATCH format {encoding.get('format')!r} of {files} is not supported (jsonl)"
        raise InputError(stream, line, None, reason)
    if (encoding.get("compression") or "none") not in COMPRESSIONS:
        reason = (
            f"BATCH compression {encoding.get('compression')!r} of {files} is not supported "
            "(gzip or none)"
        )
        raise InputError(stream, line, None, reason)
    return manifest


def batch_records(stream: str, url: t.Any) -> t.Iterator[tuple[str, dict]]:
    """``(where, record)`` for every line of one BATCH file; ``where`` names file and line.

    A file that cannot be read (missing, another scheme, corrupt) fails naming it. Gzip is
    recognised by its content: singer-sdk gzips even when it declares ``"none"``.
    """
    path = _local_path(stream, url)
    try:
        with path.open("rb") as raw:
            lines = gzip.GzipFile(fileobj=raw) if raw.read(2) == _GZIP_MAGIC else raw
            raw.seek(0)
            for number, line in enumerate(lines, start=1):
                if line.isspace():
                    continue
                where = f"file '{url}', line {number}"
                try:
                    record = parse_line(line)
                except ValueError as exc:
                    raise InputError(stream, where, None, f"not a JSON record ({exc})") from None
                if not isinstance(record, dict):
                    raise InputError(stream, where, None, "not a JSON object")
                yield where, record
    except (OSError, EOFError, zlib.error) as exc:
        reason = f"cannot read the BATCH file: {getattr(exc, 'strerror', None) or exc}"
        raise InputError(stream, f"file '{url}'", None, reason) from None


def _local_path(stream: str, url: t.Any) -> Path:
    """The local file of a manifest entry (``file://`` URL, or a plain path)."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or (parts.scheme, parts.netloc) not in (
        ("file", ""),
        ("file", "localhost"),
        ("", ""),
    ):
        scheme = f"'{parts.scheme}://'" if parts and parts.scheme else "it"
        reason = f"cannot read the BATCH file: only file:// URLs are supported, not {scheme}"
        raise InputError(stream, f"file '{url}'", None, reason)
    return Path(unquote(parts.path))
