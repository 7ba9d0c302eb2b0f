"""Every simulator entity through `meltano run`: each new stream loaded field by field into its
own table, several streams at once, and a FULL_TABLE entity reconciled through the target."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    MELTANO,
    REPO,
    Pipeline,
    analytics_row,
    business,
    clean_environ,
    normalize,
    run,
    wait_past_this_second,
)
from ruamel.yaml import YAML
from tap_gruponos_wms.streams import RECOMMENDED_ENTITIES

pytestmark = pytest.mark.e2e

MISSION_TABLES = {"order_hdr": "ORDER_HEADERS", "order_dtl": "ORDER_DETAILS"}
MISSION_TABLES["allocation"] = "ALLOCATIONS"


def every_entity(pipeline: Pipeline) -> dict[str, str]:
    """Meltano settings for all entities, every stream selected, three at a time."""
    select = json.dumps(["*.*"])
    return {
        "TAP_GRUPONOS_WMS_ENTITIES": json.dumps(sorted(pipeline.sim.counts())),
        "TAP_GRUPONOS_WMS__SELECT": select,
        "TAP_GRUPONOS_WMS_MAX_PARALLEL_STREAMS": "3",
    }


def table(pipeline: Pipeline, entity: str) -> dict[int, dict[str, Any]]:
    name = f"WMS_{MISSION_TABLES.get(entity, entity.upper())}"
    con = sqlite3.connect(pipeline.warehouse)
    try:
        cur = con.execute(f'SELECT * FROM "{name}"')
        names = [d[0].upper() for d in cur.description]
        return {int(r[0]): dict(zip(names, map(normalize, r), strict=True)) for r in cur}
    finally:
        con.close()


def test_every_entity_is_loaded_and_a_full_table_one_is_reconciled(pipeline: Pipeline) -> None:
    sim = pipeline.sim
    env = every_entity(pipeline)
    pipeline.run_job("incremental-sync", **env)

    for entity in sim.counts():
        rows = table(pipeline, entity)
        for record in sim.records(entity):
            want = analytics_row(record)
            got = business(rows[record["id"]])
            assert {k: got.get(k) for k in want} == want, f"{entity} id {record['id']}"
        assert len(rows) == len(sim.records(entity)), entity

    # order_status has no mod_ts: every run reads it whole and retires what the WMS deleted.
    gone = sim.records("order_status")[-1]["id"]
    sim.delete("order_status", [gone])
    changed = sim.modify("item", count=2, changes={"description": "E2E"})
    wait_past_this_second()
    pipeline.run_job("incremental-sync", **env)

    statuses = table(pipeline, "order_status")
    assert statuses[gone]["SDC_DELETED_AT"] is not None
    assert all(r["SDC_DELETED_AT"] is None for i, r in statuses.items() if i != gone)
    items = table(pipeline, "item")
    assert all(items[i]["DESCRIPTION"] == "E2E" for i in changed)
    bookmarks = pipeline.state("dev:tap-gruponos-wms-to-target-gruponos-oracle")
    assert {"item", "inventory", "order_headers"} <= set(bookmarks["singer_state"]["bookmarks"])


def test_readme_commands_select_the_recommended_set(tmp_path: Path) -> None:
    shutil.copy(REPO / "meltano.yml", tmp_path / "meltano.yml")
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("Select it in Meltano") :].split("```bash\n", 1)[1]
    commands = [line.split("  #")[0] for line in block.split("```", 1)[0].splitlines()]
    env = clean_environ()
    for line in commands:
        args = shlex.split(line.replace(".venv/bin/meltano", MELTANO, 1))
        run(args, env=env, cwd=tmp_path, timeout=300)

    printed = run(
        [MELTANO, "--environment", "dev", "config", "--unsafe", "print", "tap-gruponos-wms"],
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert json.loads(printed.stdout)["entities"] == list(RECOMMENDED_ENTITIES)
    project = YAML(typ="safe").load((tmp_path / "meltano.yml").read_text())
    tap = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-gruponos-wms")
    assert "*.*" in tap["select"]
