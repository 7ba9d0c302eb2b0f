"""The Dagster code location: `dg dev` (or `dagster dev -m orchestration.definitions`).

**One asset per warehouse table** (``wms/allocations``, ``wms/order_details``,
``wms/order_headers``), partitioned by where its rows are loaded from: ``test`` (a whole WMS
environment), ``test/FAC1`` (one facility of it), ``test/*other*`` (every facility of it but
the listed ones, so a facility nobody listed is loaded too). A table is one node of the
lineage and one freshness line, as a data team sees it; its partitions say which runs keep
which part of it fresh. A multi-dimensional key (environment x facility) was the other choice:
most of its combinations would not exist (an environment not split has no facility), and
Dagster's dynamic dimensions make a key unusable until a sensor has added it (``dagster job
execute`` with a new key would fail). The facilities are static keys, listed in the settings
or discovered when the definitions load; one created later is loaded by its environment's
remainder partition at once and named by the ``facility_coverage`` sensor until a reload gives
it a key of its own. The backfill is a job of its own, partitioned by `mod_ts` window
(``backfill_windows``): its runs write the same tables, and record that as an observation of
each, not as a materialization, so a backfill never makes a live table look fresh.

Each materialisation records, per table, what its audit row says (status, records, rows
written and retired, largest bookmark); a failed run raises its one-line cause, after marking
its audit rows failed, and is retried from its own state. What makes overlapping, killed and
terminated runs safe is in `orchestration.meltano`.
"""

# No `from __future__ import annotations`: Dagster reads the asset functions' annotations
# (the config class, the resource) at definition time.
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:  # what define_asset_job returns (not exported by dagster)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

from orchestration.meltano import MeltanoProject, RunResult
from orchestration.settings import (
    Orchestration,
    WmsEnvironment,
    facility_code_complaint,
    load_settings,
)
from orchestration.slices import REMAINDER, Slice

#: The tables each run loads, as assets (other selected streams are in the metadata of the
#: run's first asset).
STREAMS = ("allocations", "order_details", "order_headers")
INCREMENTAL_EVERY_2H, FULL_WEEKLY = "0 */2 * * *", "0 0 * * 0"  # as meltano.yml schedules
_LEVELS = frozenset({"debug", "info", "warning", "error"})  # Meltano's, as Dagster logs them
#: Run tag of the full-sync jobs: the partition re-reads every record (FULL_TABLE), with
#: ACTIVATE_VERSION when unnarrowed. A tag, not config: job tags reach every run of the job,
#: from schedules, the UI or `dagster job execute --tags`.
FULL_TAG = {"gruponos/sync": "full"}
#: Which jobs take which partitions: facility jobs a facility or remainder key, environment
#: jobs an environment's.
FACILITY_JOBS = ("facility_incremental", "facility_full")
ENVIRONMENT_JOBS = ("environment_incremental", "environment_full")
logger = logging.getLogger("orchestration")


class MeltanoResource(dg.ConfigurableResource):
    """The Meltano project the partitions run in."""

    project_dir: str

    @property
    def project(self) -> MeltanoProject:
        return MeltanoProject(root=Path(self.project_dir))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.project.ensure_installed()


# Partitions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """The partitions of every environment: its own key, and for one split by facility a key
    per facility and its remainder."""

    settings: Orchestration
    facilities: dict[str, list[str] | None]  # environment -> its facility codes; None: not split
    discovery_errors: dict[str, str]  # environment -> why its facilities were not discovered

    @classmethod
    def of(cls, settings: Orchestration, project: MeltanoProject) -> "Layout":
        facilities: dict[str, list[str] | None] = {}
        errors: dict[str, str] = {}
        for environment in settings.environments:
            codes = environment.facilities
            if codes == "discover":
                try:
                    codes = project.facility_codes(environment.meltano_environment, environment.env)
                except Exception as exc:  # the other environments load whatever this one does
                    errors[environment.name] = " ".join(f"{type(exc).__name__}: {exc}".split())
                    logger.error(
                        "environment %s: facilities not discovered (%s); its remainder "
                        "partition %s/%s loads all of them until the definitions reload",
                        environment.name,
                        errors[environment.name],
                        environment.name,
                        REMAINDER,
                    )
                    codes = []
            if environment.facilities == "discover":
                codes = _usable(environment.name, codes)
            facilities[environment.name] = list(codes) if environment.facilities else None
        return cls(settings, facilities, errors)

    @property
    def keys(self) -> list[str]:
        keys = []
        for name, codes in self.facilities.items():
            if codes is not None:
                keys += [f"{name}/{code}" for code in codes] + [f"{name}/{REMAINDER}"]
            keys.append(name)
        return keys

    def facility_keys(self) -> list[str]:
        return [k for k in self.keys if "/" in k]

    def environment_keys(self, *, split: bool | None = None) -> list[str]:
        """The environments' own keys (``split``: only those split by facility, or not)."""
        return [
            name
            for name, codes in self.facilities.items()
            if split is None or (codes is not None) == split
        ]

    def slice_of(self, key: str) -> tuple[Slice, WmsEnvironment]:
        name, _, facility = key.partition("/")
        environment = self.settings.environment(name)
        common = {
            "key_column": self.settings.key_column,
            "start": live_start(self.settings, environment),
        }
        if not facility:
            return Slice(name, **common), environment
        if facility == REMAINDER:
            return Slice(name, other_than=tuple(self.facilities[name] or ()), **common), environment
        return Slice(name, facility=facility, **common), environment


def _usable(environment: str, codes: list[str]) -> list[str]:
    """The discovered codes that can be partition keys; the remainder loads the others."""
    usable = [code for code in dict.fromkeys(codes) if facility_code_complaint([code]) is None]
    if left := [code for code in codes if code not in usable]:
        logger.error(
            "environment %s: facilities %s have no partition of their own (%s); %s/%s loads them",
            environment,
            left,
            facility_code_complaint(left[:1]),
            environment,
            REMAINDER,
        )
    return usable


def live_start(settings: Orchestration, environment: WmsEnvironment) -> datetime | None:
    """Where the live runs of an environment start: the end of its backfill."""
    backfill = settings.backfill
    if backfill is None or backfill.environment != environment.name:
        return None
    return backfill.moment(backfill.end)


def _windows(settings: Orchestration) -> dg.TimeWindowPartitionsDefinition:
    backfill = settings.backfill
    assert backfill is not None
    bounds = {"start_date": backfill.start.isoformat(), "end_date": backfill.end.isoformat()}
    if backfill.window == "week":
        return dg.WeeklyPartitionsDefinition(**bounds, day_offset=1)  # weeks start on Monday
    return dg.MonthlyPartitionsDefinition(**bounds)


def window_slice(settings: Orchestration, window: dg.TimeWindow) -> tuple[Slice, WmsEnvironment]:
    backfill = settings.backfill
    assert backfill is not None
    bounds = (window.start.astimezone(timezone.utc), window.end.astimezone(timezone.utc))
    part = Slice(backfill.environment, window=bounds, key_column=settings.key_column)
    return part, settings.environment(backfill.environment)


# The tables -----------------------------------------------------------------------------


def _table_assets(
    settings: Orchestration, layout: Layout, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """The warehouse tables, loaded one partition per run."""
    specs = [
        dg.AssetSpec(
            ["wms", stream],
            description=f"WMS_{stream.upper()}, the warehouse table",
            group_name="wms",
            kinds={"meltano", "oracle"},
            skippable=True,
        )
        for stream in STREAMS
    ]

    @dg.multi_asset(
        name="wms_tables",
        specs=specs,
        partitions_def=partitions,
        retry_policy=dg.RetryPolicy(
            max_retries=settings.max_retries,
            delay=settings.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
        ),
    )
    def wms_tables(
        context: dg.AssetExecutionContext, meltano: MeltanoResource
    ) -> Iterator[dg.MaterializeResult]:
        key = context.partition_key
        _check_partition(context.job_name, key)
        part, environment = layout.slice_of(key)
        full = context.run.tags.items() >= FULL_TAG.items()
        result = meltano.project.run(
            part,
            "full-sync" if full else "incremental-sync",
            environment.meltano_environment,
            environment.env,
            _logger(context),
            exclusive=full and "/" not in key,  # the environment's full sync retires rows
            wait=settings.lock_wait_seconds,
        )
        if result.skipped:
            return
        if not result.ok:
            raise _failure(result)
        yield from _materializations(result)

    return wms_tables


def _check_partition(job: str, key: str) -> None:
    if job in FACILITY_JOBS and "/" not in key:
        raise dg.Failure(
            f"{job} runs a facility's partition (test/FAC1, test/{REMAINDER}), not {key!r}"
        )
    if job in ENVIRONMENT_JOBS and "/" in key:
        raise dg.Failure(f"{job} runs an environment's partition (test, prod), not {key!r}")


def _logger(context: dg.OpExecutionContext) -> Callable[[str, str], None]:
    def log(level: str, line: str) -> None:
        getattr(context.log, level if level in _LEVELS else "error")(line)

    return log


def _failure(result: RunResult) -> dg.Failure:
    """The run's one-line cause as the step's failure; retried unless it was terminated."""
    return dg.Failure(
        description=result.cause,
        metadata=_run_metadata(result),
        allow_retries=not result.terminated,
    )


def _run_metadata(result: RunResult) -> dict[str, dg.MetadataValue]:
    rows = [
        f"{r['STREAM_NAME']}: {r['STATUS']}, {r['RECORDS_RECEIVED']} records" for r in result.audit
    ]
    return {
        "meltano_run_id": dg.MetadataValue.text(result.run_id),
        "state_id": dg.MetadataValue.text(result.state_id),
        "seconds": dg.MetadataValue.float(round(result.seconds, 2)),
        "audit": dg.MetadataValue.text("; ".join(rows) or "no audit rows"),
    }


def _table_metadata(result: RunResult, row: dict) -> dict[str, dg.MetadataValue]:
    bookmark = row.get("MAX_BOOKMARK")
    return {
        **_run_metadata(result),
        "status": dg.MetadataValue.text(str(row["STATUS"])),
        "records": dg.MetadataValue.int(int(row["RECORDS_RECEIVED"] or 0)),
        "rows_written": dg.MetadataValue.int(int(row["ROWS_WRITTEN"] or 0)),
        "rows_retired": dg.MetadataValue.int(int(row["ROWS_RETIRED"] or 0)),
        "max_bookmark": dg.MetadataValue.text(str(bookmark) if bookmark else "none"),
        "message": dg.MetadataValue.text(str(row.get("MESSAGE") or "")),
        "table": dg.MetadataValue.text(str(row["TABLE_NAME"])),
    }


def _materializations(result: RunResult) -> Iterator[dg.MaterializeResult]:
    """One per table the run loaded, with its audit row: the UI's freshness per partition."""
    rows = {row["STREAM_NAME"]: row for row in result.audit}
    for stream in STREAMS:
        if (row := rows.get(stream)) is not None:
            yield dg.MaterializeResult(
                asset_key=["wms", stream], metadata=_table_metadata(result, row)
            )


# Backfill -------------------------------------------------------------------------------


def _backfill_job(settings: Orchestration) -> dg.JobDefinition:
    """One `mod_ts` window per run, into the same tables (recorded as observations of them)."""

    @dg.op(
        name="backfill_window",
        retry_policy=dg.RetryPolicy(
            max_retries=settings.max_retries,
            delay=settings.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
        ),
    )
    def backfill_window(
        context: dg.OpExecutionContext, meltano: MeltanoResource
    ) -> Iterator[dg.AssetObservation]:
        part, environment = window_slice(settings, context.partition_time_window)
        result = meltano.project.run(
            part,
            "incremental-sync",
            environment.meltano_environment,
            environment.env,
            _logger(context),
            wait=settings.lock_wait_seconds,
        )
        if not result.ok:
            raise _failure(result)
        rows = {row["STREAM_NAME"]: row for row in result.audit}
        for stream in STREAMS:
            if (row := rows.get(stream)) is not None:
                yield dg.AssetObservation(
                    asset_key=["wms", stream], metadata=_table_metadata(result, row)
                )
        yield dg.Output(None)

    @dg.job(name="backfill_windows", partitions_def=_windows(settings))
    def backfill_windows() -> None:
        backfill_window()

    return backfill_windows


# Jobs, schedules, sensors ---------------------------------------------------------------


def _live_jobs(
    layout: Layout, tables: dg.AssetsDefinition
) -> tuple[list["UnresolvedAssetJobDefinition"], list[dg.ScheduleDefinition]]:
    """meltano.yml's schedules per partition: every 2 hours the incremental runs (per facility
    and remainder where an environment is split, else per environment), weekly the full sync of
    each environment, the only job that reconciles deletions; a facility's full sync runs when
    asked for."""
    plans = [  # job, its tags, when, which partitions (None: no schedule)
        ("facility_incremental", None, INCREMENTAL_EVERY_2H, layout.facility_keys()),
        ("facility_full", FULL_TAG, None, None),
        (
            "environment_incremental",
            None,
            INCREMENTAL_EVERY_2H,
            layout.environment_keys(split=False),
        ),
        ("environment_full", FULL_TAG, FULL_WEEKLY, layout.environment_keys()),
    ]
    jobs, schedules = [], []
    for name, tags, cron, keys in plans:
        job = dg.define_asset_job(name, [tables], tags=tags)
        jobs.append(job)
        if cron and keys:
            schedules.append(_every_partition(job, cron, keys))
    return jobs, schedules


def _every_partition(
    job: "UnresolvedAssetJobDefinition", cron: str, keys: list[str]
) -> dg.ScheduleDefinition:
    """A schedule that runs ``job`` for each of ``keys`` (its own run, its own state)."""

    @dg.schedule(name=f"{job.name}_schedule", job=job, cron_schedule=cron)
    def every(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        tick = context.scheduled_execution_time.isoformat()
        return [dg.RunRequest(run_key=f"{key}@{tick}", partition_key=key) for key in keys]

    return every


def _coverage_sensor(layout: Layout, meltano: MeltanoResource) -> dg.SensorDefinition:
    """Names the facilities of a split environment that have no partition of their own (its
    remainder partition loads them), and facility discoveries that failed at load."""

    @dg.sensor(
        name="facility_coverage",
        minimum_interval_seconds=600,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def facility_coverage(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        notes = [
            f"{name}: discovery failed at load: {why}"
            for name, why in layout.discovery_errors.items()
        ]
        for environment in layout.settings.environments:
            own = layout.facilities[environment.name]
            if own is None:
                continue
            try:
                codes = meltano.project.facility_codes(
                    environment.meltano_environment, environment.env
                )
            except Exception as exc:
                notes.append(
                    f"{environment.name}: facilities not read: {type(exc).__name__}: {exc}"
                )
                continue
            if extra := sorted(set(codes) - set(own)):
                notes.append(
                    f"{environment.name}: {', '.join(extra)} without a partition of its own: "
                    f"loaded by {environment.name}/{REMAINDER} (reload the definitions to give "
                    "each its own)"
                )
        for note in notes:
            context.log.warning(note)
        return dg.SkipReason("; ".join(notes) or "every facility has a partition of its own")

    return facility_coverage


def build_definitions(settings: Orchestration, project_dir: str) -> dg.Definitions:
    """Every asset, job, schedule and sensor of the settings' partitions."""
    meltano = MeltanoResource(project_dir=project_dir)
    layout = Layout.of(settings, meltano.project)
    tables = _table_assets(settings, layout, dg.StaticPartitionsDefinition(layout.keys))
    jobs, schedules = _live_jobs(layout, tables)
    if settings.backfill:
        jobs.append(_backfill_job(settings))
    return dg.Definitions(
        assets=[tables],
        jobs=jobs,
        schedules=schedules,
        sensors=[_coverage_sensor(layout, meltano)],
        resources={"meltano": meltano},
        # one step per run, and Meltano runs in its own processes anyway: no step process
        executor=dg.in_process_executor,
    )


def _definitions() -> dg.Definitions:
    settings, project_root = load_settings()
    return build_definitions(settings, str(project_root))


defs = _definitions()
