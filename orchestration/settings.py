"""The partitions to run, from one YAML file (``GRUPONOS_ORCHESTRATION``; default: the
embedded demo's, ``orchestration/demo.yml``).

Declared once, with types and defaults; a mistake is one line naming the file and the
setting, also where Dagster loads the definitions (a ``click`` error: the CLI prints just the
line). Secrets never go here: the runs inherit them from the process environment (the
plugins' own ``TAP_GRUPONOS_WMS_*`` / ``TARGET_GRUPONOS_ORACLE_*`` variables).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Literal

import click
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchestration.slices import REMAINDER

SETTINGS_ENV = "GRUPONOS_ORCHESTRATION"
PACKAGE = Path(__file__).resolve().parent
DEMO = PACKAGE / "demo.yml"
NAME = r"^[A-Za-z][A-Za-z0-9_]*$"  # a partition key, a state id part and a column value
#: Fields every lgfapi entity has, and those Oracle documents for the mission entities (and
#: the `X_key` the tap adds for each relation `X_id`): a key_column named like one of them
#: would overwrite it. The tap refuses the others (tenant custom fields) when it reads the
#: entity's describe.
WMS_FIELDS = frozenset(
    """id create_ts create_user mod_ts mod_user
    alloc_qty alloc_uom_id cartonize_uom_id final_oblpn_nbr from_inventory_id is_picking_flg
    mhe_system_id ob_lpn_type_id order_dtl_id packed_qty pick_locn_str pick_user picked_ts
    status_id task_id task_seq_nbr to_inventory_id type_id wave_id
    order_id seq_nbr item_id ord_qty orig_ord_qty ordered_uom_id ordered_uom_qty uom_id
    batch_number_id invn_attr_id orig_order_ref_id cost sale_price po_nbr shipment_nbr
    serial_nbr lock_code order_nbr order_type_id facility_id company_id ord_date
    req_ship_date sched_ship_date start_ship_date stop_ship_date order_shipped_ts priority
    customer_po_nbr sales_order_nbr ship_via_id dest_facility_id destination_company_id
    shipto_facility_id stage_location_id payment_method_id total_orig_ord_qty
    orig_sku_count""".split()  # noqa: SIM905  # a word list reads as one
)
#: Prefixes of the field families the WMS and its tenants add (cust_field_1, erp_..., ...).
WMS_FIELD_PREFIXES = ("cust_", "erp_", "tms_", "shipto_", "voucher_")


class SettingsError(click.ClickException):
    """The settings file cannot be used (one line: the file, the setting, why)."""

    def __str__(self) -> str:
        return self.message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WmsEnvironment(_Strict):
    """One WMS environment (a `base_url`) loading the warehouse."""

    name: str = Field(pattern=NAME, description="Partition key; the rows' key_column value.")
    meltano_environment: str = Field("dev", description="`meltano --environment` of its runs.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Variables of its runs, e.g. TAP_GRUPONOS_WMS_BASE_URL (no secrets).",
    )
    facilities: list[str] | Literal["discover"] = Field(
        default_factory=list,
        description=(
            "Facility codes, one partition each; 'discover': the WMS facility entity's codes "
            "(read when the definitions load); empty: the environment is not split."
        ),
    )


class Backfill(_Strict):
    """History read in windows of `mod_ts`, ending where the live jobs start."""

    environment: str = Field(description="The WMS environment backfilled.")
    start: date = Field(description="First window starts here (midnight UTC).")
    end: date = Field(
        description=(
            "Last window ends here, and every live run of that environment starts here "
            "(its start_date): backfill and live jobs meet without a gap."
        )
    )
    window: Literal["month", "week"] = Field("month", description="Window length.")

    @model_validator(mode="after")
    def _aligned(self) -> Backfill:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end}")
        for bound in ("start", "end"):
            day = getattr(self, bound)
            if (self.window == "month" and day.day != 1) or (
                self.window == "week" and day.weekday() != 0
            ):
                first = "the first of a month" if self.window == "month" else "a Monday"
                raise ValueError(f"{bound} {day} must be {first} (window: {self.window})")
        return self

    def moment(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


class Orchestration(_Strict):
    """Everything the Dagster definitions are built from."""

    meltano_project: Path = Field(
        Path(".."), description="The Meltano project root, relative to this file."
    )
    key_column: str | None = Field(
        None,
        pattern=NAME,
        description=(
            "Column that every row gets, holding its environment's name, as part of its key "
            "(set it when several environments load the same tables: their ids collide)."
        ),
    )
    environments: list[WmsEnvironment] = Field(min_length=1)
    backfill: Backfill | None = None
    max_retries: int = Field(2, ge=0, description="Retries of a failed partition run.")
    retry_delay_seconds: float = Field(
        30, ge=0, description="First wait before a retry (doubles for each further one)."
    )
    lock_wait_seconds: float = Field(
        3600,
        ge=0,
        description=(
            "How long a run waits for another run of its partition, and a full sync for the "
            "runs of its environment, to end."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Orchestration:
        names = [e.name for e in self.environments]
        if len(set(names)) != len(names):
            raise ValueError(f"environments: names repeat: {names}")
        for index, environment in enumerate(self.environments):
            codes = environment.facilities
            if isinstance(codes, list) and (complaint := facility_code_complaint(codes)):
                raise ValueError(f"environments.{index}.facilities: {complaint}")
        column = self.key_column
        if column and (
            column.lower() in WMS_FIELDS
            or column.lower().endswith("_key")
            or column.lower().startswith(WMS_FIELD_PREFIXES)
        ):
            raise ValueError(
                f"key_column: {column!r} is (or looks like) a field of the WMS: every row's value "
                "of it would become its environment's name; name another column, e.g. wms_env"
            )
        if len(names) > 1 and not self.key_column:
            raise ValueError(
                "key_column: several environments load the same tables, whose ids collide: "
                "name a column (e.g. wms_env) that keys each row by its environment"
            )
        if self.backfill and self.backfill.environment not in names:
            raise ValueError(f"backfill.environment: {self.backfill.environment!r} not in {names}")
        return self

    def environment(self, name: str) -> WmsEnvironment:
        return next(e for e in self.environments if e.name == name)


def facility_code_complaint(codes: list[str]) -> str | None:
    """Why these facility codes cannot each be a partition key of its own, if they cannot:
    two equal ones would be one partition; the remainder's name, an empty code, a comma (the
    CLI's list separator), ``...`` (its range) or a control character cannot be a key."""
    if twice := sorted({c for c in codes if codes.count(c) > 1}):
        return f"listed twice: {twice}"
    for code in codes:
        if code == REMAINDER or not code.strip() or "," in code or "..." in code:
            return f"{code!r} cannot be a partition key (it is empty, {REMAINDER}, or has , or ...)"
        if any(ord(ch) < 32 for ch in code):
            return f"{code!r} cannot be a partition key (it has a control character)"
    return None


def settings_path() -> Path:
    return Path(os.environ.get(SETTINGS_ENV) or DEMO).resolve()


def load_settings(path: Path | None = None) -> tuple[Orchestration, Path]:
    """The settings, and the Meltano project root they name (resolved)."""
    path = path or settings_path()
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: cannot read the settings: {exc}") from None
    try:
        settings = Orchestration.model_validate(raw or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        text = error["msg"].removeprefix("Value error, ")  # ours start with the setting
        raise SettingsError(f"{path}: setting {f'{where}: ' if where else ''}{text}") from None
    return settings, (path.parent / settings.meltano_project).resolve()
