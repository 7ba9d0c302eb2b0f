"""The Dagster code location: `dagster dev -m orchestration.definitions`.

Three partitioned asset groups over the same warehouse tables, one per way of splitting the
work, each partition a `meltano run` with its own state id and Meltano directory
(`orchestration.meltano`):

- ``wms/facility/*``: one partition per facility of an environment (``test/FAC1``), narrowed
  with `facility_code`. Its full sync re-reads the facility and retires nothing.
- ``wms/environment/*``: one partition per WMS environment, unnarrowed. Its weekly full sync
  is the one that reconciles deletions (retiring only its own environment's rows).
- ``wms/backfill/*``: one partition per `mod_ts` window (a month or a week) of the backfilled
  environment, ending where its live runs start.

Each materialisation records, per stream, what its audit rows say (status, records, rows
written and retired, largest bookmark); a failed run raises its one-line cause, after
marking its audit rows failed, and is retried from its own state.
"""

# No `from __future__ import annotations`: Dagster reads the asset functions' annotations
# (the config class, the resource) at definition time.
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:  # what define_asset_job returns (not exported by dagster)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

from orchestration.meltano import MeltanoProject, RunResult
from orchestration.settings import Orchestration, WmsEnvironment, load_settings
from orchestration.slices import Slice

#: The tables each partition loads, as assets (other selected streams are in the metadata
#: of the run's first asset).
STREAMS = ("allocations", "order_details", "order_headers")
INCREMENTAL_EVERY_2H, FULL_WEEKLY = "0 */2 * * *", "0 0 * * 0"  # as meltano.yml schedules
_LEVELS = frozenset({"debug", "info", "warning", "error"})  # Meltano's, as Dagster logs them


class MeltanoResource(dg.ConfigurableResource):
    """The Meltano project the partitions run in."""

    project_dir: str

    @property
    def project(self) -> MeltanoProject:
        return MeltanoProject(root=Path(self.project_dir))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.project.ensure_installed()


#: Run tag of the full-sync jobs: the partition re-reads every record (FULL_TABLE), with
#: ACTIVATE_VERSION when unnarrowed. A tag, not config: job tags reach every run of the job,
#: from schedules, the UI or `dagster job execute --tags`.
FULL_TAG = {"gruponos/sync": "full"}


def build_definitions(settings: Orchestration, project_dir: str) -> dg.Definitions:
    """Every asset, job and schedule of the settings' partitions."""
    meltano = MeltanoResource(project_dir=project_dir)
    by_facility = dg.StaticPartitionsDefinition(facility_keys(settings, meltano.project))
    by_environment = dg.StaticPartitionsDefinition([e.name for e in settings.environments])
    groups = [
        _sync_assets(settings, "facility", by_facility, lambda key: facility_slice(settings, key)),
        _sync_assets(
            settings, "environment", by_environment, lambda key: environment_slice(settings, key)
        ),
    ]
    jobs, schedules = _live_jobs(settings, groups, by_facility)
    if settings.backfill:
        windows = _windows(settings)
        backfill = _sync_assets(settings, "backfill", windows, None)
        groups.append(backfill)
        jobs.append(dg.define_asset_job("backfill_windows", [backfill]))
    return dg.Definitions(
        assets=groups,
        jobs=jobs,
        schedules=schedules,
        resources={"meltano": meltano},
        # one step per run, and Meltano runs in its own processes anyway: no step process
        executor=dg.in_process_executor,
    )


# Partitions -----------------------------------------------------------------------------


def facility_keys(settings: Orchestration, project: MeltanoProject) -> list[str]:
    """``<environment>/<facility>`` for every facility partition (discovered ones read once,
    when the definitions load)."""
    keys = []
    for environment in settings.environments:
        codes = environment.facilities
        if codes == "discover":
            codes = project.facility_codes(environment.meltano_environment, environment.env)
        keys += [f"{environment.name}/{code}" for code in codes]
    return keys


def live_start(settings: Orchestration, environment: WmsEnvironment) -> datetime | None:
    """Where the live runs of an environment start: the end of its backfill."""
    backfill = settings.backfill
    if backfill is None or backfill.environment != environment.name:
        return None
    return backfill.moment(backfill.end)


def facility_slice(settings: Orchestration, key: str) -> tuple[Slice, WmsEnvironment]:
    name, facility = key.split("/", 1)
    environment = settings.environment(name)
    start = live_start(settings, environment)
    part = Slice(name, facility=facility, key_column=settings.key_column, start=start)
    return part, environment


def environment_slice(settings: Orchestration, key: str) -> tuple[Slice, WmsEnvironment]:
    environment = settings.environment(key)
    start = live_start(settings, environment)
    return Slice(key, key_column=settings.key_column, start=start), environment


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


# Assets ---------------------------------------------------------------------------------


def _sync_assets(
    settings: Orchestration,
    kind: str,
    partitions: dg.PartitionsDefinition,
    slice_of: Callable[[str], tuple[Slice, WmsEnvironment]] | None,
) -> dg.AssetsDefinition:
    """The tables, loaded one ``kind`` partition per run (``slice_of`` None: time windows)."""
    specs = [
        dg.AssetSpec(
            ["wms", kind, stream],
            description=f"WMS_{stream.upper()} (the warehouse table), loaded per {kind}",
            group_name=f"wms_by_{kind}",
            kinds={"meltano", "oracle"},
            skippable=True,
        )
        for stream in STREAMS
    ]

    @dg.multi_asset(
        name=f"wms_{kind}",
        specs=specs,
        partitions_def=partitions,
        retry_policy=dg.RetryPolicy(
            max_retries=settings.max_retries,
            delay=settings.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
        ),
    )
    def sync(
        context: dg.AssetExecutionContext, meltano: MeltanoResource
    ) -> Iterator[dg.MaterializeResult]:
        if slice_of is None:
            part, environment = window_slice(settings, context.partition_time_window)
        else:
            part, environment = slice_of(context.partition_key)
        full = context.run.tags.items() >= FULL_TAG.items() and slice_of is not None
        job = "full-sync" if full else "incremental-sync"
        result = meltano.project.run(
            part, job, environment.meltano_environment, environment.env, _logger(context)
        )
        if not result.ok:
            raise dg.Failure(description=result.cause, metadata=_run_metadata(result))
        yield from _materializations(kind, result)

    return sync


def _logger(context: dg.AssetExecutionContext) -> Callable[[str, str], None]:
    def log(level: str, line: str) -> None:
        getattr(context.log, level if level in _LEVELS else "error")(line)

    return log


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


def _materializations(kind: str, result: RunResult) -> Iterator[dg.MaterializeResult]:
    """One per table the run loaded, with its audit row: the UI's freshness per partition."""
    rows = {row["STREAM_NAME"]: row for row in result.audit}
    for stream in STREAMS:
        if (row := rows.get(stream)) is None:
            continue
        bookmark = row["MAX_BOOKMARK"] or row["MAX_BOOKMARK_TEXT"]
        yield dg.MaterializeResult(
            asset_key=["wms", kind, stream],
            metadata={
                **_run_metadata(result),
                "status": dg.MetadataValue.text(str(row["STATUS"])),
                "records": dg.MetadataValue.int(int(row["RECORDS_RECEIVED"] or 0)),
                "rows_written": dg.MetadataValue.int(int(row["ROWS_WRITTEN"] or 0)),
                "rows_retired": dg.MetadataValue.int(int(row["ROWS_RETIRED"] or 0)),
                "max_bookmark": dg.MetadataValue.text(str(bookmark) if bookmark else "none"),
                "message": dg.MetadataValue.text(str(row["MESSAGE"] or "")),
                "table": dg.MetadataValue.text(str(row["TABLE_NAME"])),
            },
        )


# Jobs and schedules ---------------------------------------------------------------------


def _live_jobs(
    settings: Orchestration,
    groups: list[dg.AssetsDefinition],
    by_facility: dg.PartitionsDefinition,
) -> tuple[list["UnresolvedAssetJobDefinition"], list[dg.ScheduleDefinition]]:
    """meltano.yml's two schedules per partition: 2-hourly incremental, weekly full.

    An environment split by facility runs its incremental syncs per facility; its weekly
    unnarrowed full sync (``environment_full``) is the only job that reconciles deletions.
    """
    facility, environment = groups
    facilities = by_facility.get_partition_keys()
    environments = [e.name for e in settings.environments]
    unsplit = [e.name for e in settings.environments if not e.facilities]
    plans = [  # job, its assets, its tags, when, which partitions
        ("facility_incremental", facility, None, INCREMENTAL_EVERY_2H, facilities),
        ("facility_full", facility, FULL_TAG, FULL_WEEKLY, facilities),
        ("environment_incremental", environment, None, INCREMENTAL_EVERY_2H, unsplit),
        ("environment_full", environment, FULL_TAG, FULL_WEEKLY, environments),
    ]
    jobs, schedules = [], []
    for name, assets, tags, cron, keys in plans:
        job = dg.define_asset_job(name, [assets], tags=tags)
        jobs.append(job)
        if keys:
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


def _definitions() -> dg.Definitions:
    settings, project_root = load_settings()
    return build_definitions(settings, str(project_root))


defs = _definitions()
