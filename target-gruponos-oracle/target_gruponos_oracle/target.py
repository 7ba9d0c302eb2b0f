"""target-gruponos-oracle: settings, message handling and the order of commits and STATE."""

from __future__ import annotations

import contextlib
import copy
import fcntl
import gc
import sys
import time
import typing as t
from collections import Counter

import click
import jsonschema
import sqlalchemy as sa
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigurationError, ConfigValidationError, InvalidJSONSchema
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sql import SQLTarget

from target_gruponos_oracle import sdk_hooks
from target_gruponos_oracle.audit import DEFAULT_TABLE, MESSAGE_CHARS, AuditError, LoadAudit
from target_gruponos_oracle.batch_files import batch_records, check_batch_message
from target_gruponos_oracle.completeness import INCOMPLETE, InputEnds
from target_gruponos_oracle.connector import conform_identifier, target_schema
from target_gruponos_oracle.errors import (
    DatabaseError,
    IdentifierCollisionError,
    InputError,
    RecordBeforeSchemaError,
    SchemaError,
)
from target_gruponos_oracle.keys import ADOPT_OPTION, adopt_key_column, parse_adopt
from target_gruponos_oracle.logs import guard_main, redact, remember_secrets
from target_gruponos_oracle.plan import stream_table_name
from target_gruponos_oracle.sinks import OracleSink
from target_gruponos_oracle.values import parse_line

# Failures the target reports as one line (exit code 1, no traceback).
EXPECTED_FAILURES = (InputError, InvalidInputLine, DatabaseError, ConfigurationError, AuditError)
PIPE_BYTES = 1 << 20  # /proc/sys/fs/pipe-max-size's default
MARKED_FAILED = "marked failed: the job this load belonged to failed (see its log)"


class NumberedReader(SingerReader):
    """Singer reader that knows the current line number and parses numbers exactly, fast."""

    line_number = 0

    @property
    def default_input(self) -> t.IO[bytes]:  # type: ignore[override]
        """Standard input as bytes: the parser reads UTF-8 itself, no decoding pass."""
        widen_pipe(sys.stdin.fileno())
        return sys.stdin.buffer

    def deserialize_json(self, line: str | bytes) -> dict:  # type: ignore[override]
        """Parse one line; a line that is not a JSON object fails naming its number."""
        try:
            message = parse_line(line)
        except ValueError as exc:
            text = line if isinstance(line, str) else line.decode(errors="replace")
            msg = f"line {self.line_number}: not a JSON message ({exc}): {text[:80]!r}"
            raise InvalidInputLine(msg) from None
        if not isinstance(message, dict) or "type" not in message:
            msg = f"line {self.line_number}: not a Singer message (no 'type')"
            raise InvalidInputLine(msg)
        return message

    def assert_line_requires(self, line_dict: dict, requires: set[str]) -> None:  # type: ignore[override]
        """A message missing a required key fails naming the line and the keys."""
        missing = requires - set(line_dict)
        if missing:
            msg = f"line {self.line_number}: message lacks {', '.join(sorted(missing))}"
            raise InvalidInputLine(msg)

    def process_lines(
        self, file_input: t.IO | None, callbacks: dict[str, t.Callable[[dict], None]]
    ) -> Counter[str]:
        """Dispatch each message to its callback, counting lines (blank lines are skipped)."""
        stats: Counter[str] = Counter()
        for number, line in enumerate(file_input or self.default_input, start=1):
            self.line_number = number
            if line.isspace():
                continue
            message = self.deserialize_json(line)
            callback = callbacks.get(message["type"])
            if callback is None:
                msg = f"line {number}: unknown message type {message['type']!r}"
                raise InvalidInputLine(msg)
            callback(message)
            stats[message["type"]] += 1
        return stats


class TargetGruponosOracle(SQLTarget):
    """Loads WMS streams into Oracle (python-oracledb thin) or SQLite, append or MERGE upsert."""

    name = "target-gruponos-oracle"
    default_sink_class = OracleSink
    message_reader_class = NumberedReader

    capabilities: t.ClassVar[list] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.BATCH,
        TargetCapabilities.SOFT_DELETE,
        TargetCapabilities.HARD_DELETE,
        TargetCapabilities.VALIDATE_RECORDS,
        TargetCapabilities.TARGET_SCHEMA,
        # Without it Meltano logs every line of ours at [info], errors included.
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "sqlalchemy_url",
            th.StringType,
            secret=True,
            description=(
                "SQLAlchemy URL: Oracle `oracle+oracledb://user:pw@host:1521/?service_name=SVC` "
                "or SQLite `sqlite:///path.db` (waits 5 s for a locked file; "
                "`?timeout=SECONDS` to change). Overrides host/port/service_name/username/"
                "password; one of the two is required. The host starts after the last `@`."
            ),
        ),
        th.Property("host", th.StringType, description="Oracle host (when no sqlalchemy_url)."),
        th.Property("port", th.IntegerType, default=1521, description="Oracle listener port."),
        th.Property("service_name", th.StringType, description="Oracle service name."),
        th.Property("username", th.StringType, description="Oracle user."),
        th.Property("password", th.StringType, secret=True, description="Oracle password."),
        th.Property(
            "table_prefix",
            th.StringType,
            default="WMS_",
            description="Prefix of every table; table = prefix + stream name, upper case.",
        ),
        th.Property(
            "load_method",
            th.StringType,
            default="upsert",
            allowed_values=["append-only", "upsert", "overwrite"],
            description=(
                "upsert: one MERGE per batch on the key properties, never replacing a row with "
                "an older version (by the stream's bookmark property); append-only: insert "
                "every record; overwrite: the run's first batch replaces the table's contents."
            ),
        ),
        th.Property(
            "audit_table",
            th.StringType,
            default=DEFAULT_TABLE,
            description=(
                "Table (in the data tables' schema) with one row per run and stream: status, "
                "counts, largest bookmark, failure message; empty: no audit table."
            ),
        ),
        th.Property(
            "full_sync_scope",
            th.ObjectType(additional_properties=th.StringType),
            description=(
                "Record properties and values a full sync covers, when several sources load "
                'one table (e.g. {"wms_env": "raizen_test"}, with wms_env in the key): '
                "ACTIVATE_VERSION then retires only older rows holding these values. Empty: "
                "the whole table."
            ),
        ),
        th.Property(
            "max_varchar_length",
            th.IntegerType,
            default=4000,
            description=(
                "Longest VARCHAR2 in characters (4000, or 32767 with MAX_STRING_SIZE=EXTENDED); "
                "longer strings go to CLOB."
            ),
        ),
        # The SDK's standard target settings, declared here so --about shows their real
        # defaults and what they do in this target (the SDK adds only the missing ones).
        th.Property(
            "default_target_schema",
            th.StringType,
            description=(
                "Oracle schema (user) that owns the tables, e.g. WMS; empty: the connecting "
                "user's own schema. Leave empty on SQLite."
            ),
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType(minimum=1),
            default=10000,
            description=(
                "Rows per batch (at least 1); each batch is one transaction (one MERGE), and "
                "peak memory follows it."
            ),
        ),
        th.Property(
            "add_record_metadata",
            th.BooleanType,
            default=False,
            description=(
                "Add SDC_EXTRACTED_AT, SDC_RECEIVED_AT, SDC_BATCHED_AT, SDC_SEQUENCE and "
                "SDC_SYNC_STARTED_AT columns. SDC_TABLE_VERSION, SDC_DELETED_AT and SDC_LOADED_AT "
                "(when a run loaded the row) always exist."
            ),
        ),
        th.Property(
            "hard_delete",
            th.BooleanType,
            default=False,
            description=(
                "On ACTIVATE_VERSION (full sync), delete rows of older versions instead of "
                "stamping SDC_DELETED_AT."
            ),
        ),
        th.Property(
            "validate_records",
            th.BooleanType,
            default=True,
            description=(
                "Check every record against its stream's schema; a mismatch stops the load "
                "naming the stream, input line and field."
            ),
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # a full sync retires only rows loaded before it began: this, or its first record's
        # extraction if earlier (see FullSyncs.started, OracleSink.activate_version)
        self.started_at = time.time()
        self.bookmarks: dict[str, list[str]] = {}
        self.input_ends = InputEnds()  # what the input proves about each stream at its end
        self.full_syncs = self.input_ends.full_syncs
        self.table_streams: dict[str, str] = {}  # table -> the stream (alias) loading it
        self.unkeyed_streams: set[str] = set()  # upsert streams already logged as appended
        super().__init__(*args, **kwargs)
        remember_secrets(self.config, self.config_jsonschema)
        connector = self.target_connector
        if connector.database.single_writer:
            self.max_parallelism = 1  # drain one sink at a time: only one can write
        self.audit = LoadAudit(self.config, connector, self.logger)

    def listen(self, file_input: t.IO | None = None) -> None:
        """Load all input, then end the run's audit rows: with what the input proved about
        each stream, or failed and why."""
        self.logger.info("Loading into %s", self.target_connector.masked_url)
        self.audit.log_start()
        try:
            super().listen(file_input)
        except BaseException as exc:
            self.audit.end(_failure_line(exc))
            raise
        with self._database_errors("(audit table)"):
            self.audit.end(None)

    @property
    def _line(self) -> int:
        return getattr(self.message_reader, "line_number", 0)

    # The SDK's message handlers are private; each override is listed, with why, in
    # sdk_hooks.HOOKS (its test fails if a singer-sdk upgrade changes one).

    def _process_schema_message(self, message_dict: dict) -> None:
        """Keep the stream's bookmark properties; a bad SCHEMA fails naming stream and line."""
        stream = message_dict.get("stream", "?")
        bookmarks = list(message_dict.get("bookmark_properties") or [])
        self.bookmarks[stream] = bookmarks
        self.input_ends.schema(stream, self._line, bookmarked=bool(bookmarks))
        for stream_map in self.mapper.stream_maps.get(stream, []):
            self.bookmarks[stream_map.stream_alias] = bookmarks
        try:
            with self._database_errors(stream):
                super()._process_schema_message(message_dict)
        except (InvalidJSONSchema, SchemaError, InvalidInputLine) as exc:
            raise InputError(stream, self._line, None, f"bad SCHEMA: {exc}") from exc

    def add_sqlsink(
        self, stream_name: str, schema: dict, key_properties: t.Sequence[str] | None = None
    ) -> OracleSink:
        """A new sink; two streams never share a table, unkeyed upsert streams are logged."""
        table = stream_table_name(self.config, stream_name)
        owner = self.table_streams.setdefault(table, stream_name)
        if owner != stream_name:
            msg = (
                f"streams '{owner}' and '{stream_name}' both become table '{table}'; "
                "rename one of them (e.g. with a stream map)"
            )
            raise IdentifierCollisionError(msg)
        sink = t.cast("OracleSink", super().add_sqlsink(stream_name, schema, key_properties))
        upsert = self.config.get("load_method", "upsert") == "upsert"
        if upsert and not sink.key_properties and stream_name not in self.unkeyed_streams:
            self.unkeyed_streams.add(stream_name)
            self.logger.warning(
                "stream '%s' has no key properties: its records are appended to %s, not "
                "upserted (a re-run from an older state loads them again)",
                stream_name,
                table,
            )
        return sink

    @contextlib.contextmanager
    def _database_errors(self, stream: str) -> t.Iterator[None]:
        """Report database failures with the (password-masked) URL, without a traceback."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            connector = self.target_connector
            msg = f"stream '{stream}': database {connector.masked_url}: {connector.explain(exc)}"
            raise DatabaseError(msg) from None

    def _process_record_message(self, message_dict: dict) -> None:
        """Per-record fast path: map, validate + convert into the sink, drain when full."""
        stream = message_dict.get("stream")
        record = message_dict.get("record")
        line = self._line
        if not isinstance(stream, str) or not isinstance(record, dict):
            raise InputError(str(stream), line, None, "RECORD needs 'stream' and 'record'")
        stream_maps = self.mapper.stream_maps.get(stream)
        if not stream_maps:
            raise RecordBeforeSchemaError(stream, line, None, "RECORD before its SCHEMA")
        self.input_ends.message(stream, line)
        self._load_record(stream, stream_maps, record, message_dict, line)
        sdk_hooks.handle_max_record_age(self)

    def _load_record(
        self, stream: str, stream_maps: list, record: dict, message: dict, line: int | str
    ) -> None:
        """One record of a RECORD message or BATCH file into each of its stream's sinks."""
        if (version := message.get("version")) is not None:
            self.full_syncs.record(stream, version, message.get("time_extracted"))
        for stream_map in stream_maps:
            mapped = stream_map.transform(record if len(stream_maps) == 1 else copy.copy(record))
            if mapped is None:  # filtered out by a stream map
                continue
            sink = self.get_sink(stream_map.stream_alias)
            full = sink.accept(mapped, message, line)
            sink.record_counter_metric.increment()
            if full:  # drain everything, so the STATE written next covers every committed row
                self.drain_all()

    def _process_batch_message(self, message_dict: dict) -> None:
        """The records of a BATCH message's files, loaded as RECORD messages are: validated,
        de-duplicated per batch, guarded, and covered by a STATE only once committed."""
        self.message_reader.assert_line_requires(
            message_dict, requires={"stream", "encoding", "manifest"}
        )
        stream, line = message_dict["stream"], self._line
        stream_maps = self.mapper.stream_maps.get(stream)
        if not stream_maps:
            raise RecordBeforeSchemaError(stream, line, None, "BATCH before its SCHEMA")
        self.input_ends.message(stream, line)
        # singer-sdk writes no version into the files: during an announced full sync
        # (ACTIVATE_VERSION came first) its records belong to that version
        version = self.full_syncs.open.get(stream)
        message = {} if version is None else {"version": version}
        for url in check_batch_message(stream, line, message_dict):
            for where, record in batch_records(stream, url):
                self._load_record(stream, stream_maps, record, message, where)
        sdk_hooks.handle_max_record_age(self)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Invalid settings fail in one line naming each setting and what it accepts."""
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            problems = setting_problems(self.config_jsonschema, dict(self.config))
            raise ConfigValidationError("; ".join(problems), errors=problems) from exc

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """The SDK's standard settings, without ``batch_config``: the target reads BATCH
        files from the URLs in their manifest and has no batch storage to configure."""
        super().append_builtin_config(config_jsonschema)
        config_jsonschema["properties"].pop("batch_config", None)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        """Retire older versions once the new one is complete (see :class:`FullSyncs`),
        after committing every pending record: old versions retire only after the new one
        landed."""
        self.message_reader.assert_line_requires(message_dict, requires={"stream", "version"})
        stream, version = message_dict["stream"], message_dict["version"]
        if stream not in self.mapper.stream_maps:
            raise RecordBeforeSchemaError(
                stream, self._line, None, "ACTIVATE_VERSION before its SCHEMA"
            )
        if not isinstance(version, int) or isinstance(version, bool):
            raise InputError(stream, self._line, None, "ACTIVATE_VERSION needs an integer version")
        self.input_ends.message(stream, self._line)
        if not self.full_syncs.activate(stream, version):
            self.logger.info(
                "stream '%s': version %s announced; older rows are retired once it is complete",
                stream,
                version,
            )
            return
        self.drain_all()
        for stream_map in self.mapper.stream_maps[stream]:
            sink = t.cast("OracleSink", self.get_sink(stream_map.stream_alias))
            if not sink.process_activate_version_messages:
                self.logger.warning(
                    "stream '%s': process_activate_version_messages is off, older versions "
                    "are kept",
                    stream_map.stream_alias,
                )
                continue
            started = self.full_syncs.started(stream, version, self.started_at)
            with self._database_errors(stream):
                sink.activate_version(version, started)
        self.input_ends.completed(stream, self._line)

    def _process_state_message(self, message_dict: dict) -> None:
        """Note where the input's last STATE is (it covers every stream's messages before)."""
        self.input_ends.state(self._line)
        super()._process_state_message(message_dict)

    def process_endofpipe(self) -> None:
        """Commit everything; each stream's last commit records what the input proved about
        it (see :mod:`completeness`), and the streams that are not plainly complete are named."""
        outcomes = {
            stream_map.stream_alias: self.input_ends.outcome(stream)
            for stream, stream_maps in self.mapper.stream_maps.items()
            for stream_map in stream_maps
        }
        self.audit.close(outcomes)
        super().process_endofpipe()
        for stream, outcome in outcomes.items():
            if outcome.message and stream in self.audit.streams:
                status = " is incomplete" if outcome.status == INCOMPLETE else ""
                self.logger.warning("stream '%s'%s: %s", stream, status, outcome.message)

    @classmethod
    def invoke(
        cls,
        *args: t.Any,
        mark_failed: str | None = None,
        message: str | None = None,
        adopt_key_column: str | None = None,
        **kwargs: t.Any,
    ) -> None:
        """Run the target (or, with ``--mark-failed``, only mark a run failed; with
        ``--adopt-key-column``, only change the tables' key); bad input ends it with one
        clear line on stderr and exit code 1."""
        # Records make no reference cycles, yet every allocation counts towards a cyclic GC
        # pass over all live objects (imports included): freeze those and collect rarely.
        # Measured ~15% faster per record; memory stays bounded by the batch.
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        try:
            if mark_failed is not None:
                cls.mark_run_failed(mark_failed, message, kwargs.get("config"))
            elif adopt_key_column is not None:
                cls.adopt_key_column(adopt_key_column, kwargs.get("config"))
            else:
                super().invoke(*args, **kwargs)
        except EXPECTED_FAILURES as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)

    @classmethod
    def mark_run_failed(cls, run_id: str, message: str | None, config: t.Any) -> None:
        """Mark the audit rows of ``run_id`` failed: for a job that failed outside the target
        (the tap, Meltano, the machine), whose rows the input could only prove incomplete or
        not even that. Reads no input."""
        target = cls(
            config=getattr(config, "config", None),
            validate_config=True,
            parse_env_config=getattr(config, "parse_env", False),
        )
        text = redact(message or MARKED_FAILED)
        with target._database_errors("(audit table)"):
            rows, marked = target.audit.mark_failed(run_id, text)
        cls.logger.info(
            "Run %s: %d of its %d audit rows marked failed (%d were failed already): %s",
            run_id,
            marked,
            rows,
            rows - marked,
            text[:MESSAGE_CHARS],
        )

    @classmethod
    def adopt_key_column(cls, spec: str, config: t.Any) -> None:
        """Put a column (``wms_env=test``: WMS_ENV = 'test' in every existing row) first in the
        key of every table of ``table_prefix`` whose key lacks it (see :mod:`keys`). Reads no
        input."""
        column, value = parse_adopt(spec)
        target = cls(
            config=getattr(config, "config", None),
            validate_config=True,
            parse_env_config=getattr(config, "parse_env", False),
        )
        connector, schema = target.target_connector, target_schema(target.config)
        prefix = target.config.get("table_prefix", "WMS_")
        prefix = conform_identifier(prefix) if prefix else ""
        with target._database_errors("(adopt key column)"):
            tables = connector.loaded_tables(schema, prefix, exclude=target.audit.table)
            done = adopt_key_column(connector, tables, schema, column, value)
        for table in done:
            cls.logger.info(
                "%s: %s = %r in %d existing rows; key (%s) -> (%s)",
                table.table,
                column,
                value,
                table.rows,
                ", ".join(table.old_key),
                ", ".join(table.new_key),
            )
        if not done:
            cls.logger.info("No table %s... lacks %s in its key: nothing changed", prefix, column)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus ``--mark-failed`` and ``--adopt-key-column``; anything
        unexpected, also before `invoke`, is one line too."""
        command = super().get_singer_command()
        command.params.extend(
            [
                click.Option(
                    ["--mark-failed"],
                    metavar="RUN_ID",
                    help=(
                        "Read no input: mark the audit rows of this run failed (the Run id "
                        "the target logged at start, or the job run id it got from "
                        "MELTANO_RUN_ID), for a job that failed outside the target."
                    ),
                ),
                click.Option(
                    ["--message"],
                    metavar="TEXT",
                    help="With --mark-failed: the MESSAGE of the rows (the failure's one line).",
                ),
                click.Option(
                    [ADOPT_OPTION],
                    "adopt_key_column",
                    metavar="COLUMN=VALUE",
                    help=(
                        "Read no input: add COLUMN (= VALUE in every existing row) first in "
                        "the key of each table of table_prefix whose key lacks it, e.g. "
                        "wms_env=test before a second WMS environment loads the tables."
                    ),
                ),
            ]
        )
        return guard_main(command, cls.logger)


def widen_pipe(fd: int) -> None:
    """A pipe on ``fd`` holds 1 MiB instead of 64 KiB (Linux; nothing elsewhere).

    While the target commits a batch it reads nothing, and a tap writing into a full pipe
    waits: 64 KiB are a few hundred records, so the two processes took turns instead of
    running side by side. 1 MiB is the most an unprivileged process may ask for.
    """
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def setting_problems(config_schema: dict, config: t.Mapping[str, t.Any]) -> list[str]:
    """One message per invalid setting, naming it and what it accepts (secret values are
    never quoted)."""
    problems = []
    for error in jsonschema.Draft7Validator(config_schema).iter_errors(config):
        name = ".".join(str(part) for part in error.path) or "(config)"
        spec = config_schema["properties"].get(error.path[0], {}) if error.path else {}
        value = "the value" if spec.get("secret") else repr(error.instance)
        if error.validator == "enum":
            allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
            problems.append(f"setting {name}: {value} is not allowed; allowed values: {allowed}")
        elif error.validator == "minimum":
            problems.append(
                f"setting {name}: {value} is below the minimum, {error.validator_value}"
            )
        elif error.validator == "type":
            problems.append(f"setting {name}: {value} is not of type {error.validator_value}")
        else:
            problems.append(
                f"setting {name}: {error.message if not spec.get('secret') else 'invalid'}"
            )
    return problems or ["Config validation failed"]


def _failure_line(exc: BaseException) -> str:
    """The audit row's MESSAGE for the exception that ended the run: the line the target logs
    for it, secrets masked."""
    if isinstance(exc, SystemExit):  # the SDK's SIGTERM/SIGINT handler, after draining
        return "stopped by a termination signal before the end of its input"
    expected = isinstance(exc, EXPECTED_FAILURES)
    return redact(str(exc) if expected else f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    TargetGruponosOracle.cli()
