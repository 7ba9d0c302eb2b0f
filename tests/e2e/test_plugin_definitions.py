"""meltano.yml and the Meltano Hub definitions agree with the plugins, and work on their own."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml
from conftest import MELTANO, REPO, STREAMS, clean_environ, run
from singer_sdk.helpers.capabilities import (
    PluginCapabilities,
    TapCapabilities,
    TargetCapabilities,
)
from wms_simulator import WmsSimulator

pytestmark = pytest.mark.e2e

HUB = {
    "extractor": REPO / "hub" / "extractors" / "tap-gruponos-wms" / "gruponos.yml",
    "loader": REPO / "hub" / "loaders" / "target-gruponos-oracle" / "gruponos.yml",
}


def test_meltano_yml_and_hub_definitions_match_what_the_plugins_declare() -> None:
    check = run(
        [sys.executable, "hub/sync_definitions.py", "--check", "--ignore-text"],
        env=clean_environ(),
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_meltano_yml_is_valid_for_meltano_and_marks_every_secret_sensitive() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from meltano import schemas

    schema = json.loads((Path(schemas.__file__).parent / "meltano.schema.json").read_text())
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    # Meltano's schema lags the SDK's capability list (e.g. `target-schema`); those are checked
    # against the SDK instead, the rest of the file against Meltano's schema.
    sdk_capabilities = {
        c.value for e in (PluginCapabilities, TapCapabilities, TargetCapabilities) for c in e
    }
    for plugins in project["plugins"].values():
        for plugin in plugins:
            assert set(plugin.get("capabilities", [])) <= sdk_capabilities
            plugin.pop("capabilities", None)
    jsonschema.validate(project, schema)
    for kind, path in HUB.items():
        about = json.loads(
            run(
                [
                    str(Path(sys.executable).parent / path.parent.name),
                    "--about",
                    "--format",
                    "json",
                ],
                env=clean_environ(),
            ).stdout
        )
        secrets = {n for n, s in about["settings"]["properties"].items() if s.get("secret")}
        plugins = project["plugins"][f"{kind}s"]
        declared = next(p for p in plugins if p["name"] == path.parent.name)["settings"]
        assert {s["name"] for s in declared if s.get("sensitive")} == secrets


def test_fresh_project_adds_the_plugins_from_the_hub_definitions_and_runs_them(
    tmp_path: Path,
) -> None:
    project = tmp_path / "fresh"
    env = clean_environ() | {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    run([MELTANO, "init", str(project), "--no-usage-stats"], env=env)
    for kind, path in HUB.items():
        definition = yaml.safe_load(path.read_text())
        # The definition names the published distribution; this checkout stands in for it.
        definition["pip_url"] = f"-e {REPO / path.parent.name}"
        ref = tmp_path / f"{path.parent.name}.yml"
        ref.write_text(yaml.safe_dump(definition))
        run(
            [MELTANO, "--cwd", str(project), "add", "--from-ref", str(ref), kind, path.parent.name],
            env=env,
            timeout=600,
        )

    warehouse = tmp_path / "warehouse.db"
    with WmsSimulator(orders=5, details_per_order=2, allocations_per_detail=1, seed=3) as sim:
        run(
            [MELTANO, "--cwd", str(project), "run", "tap-gruponos-wms", "target-gruponos-oracle"],
            timeout=600,
            env=env
            | {
                "TAP_GRUPONOS_WMS_BASE_URL": sim.base_url,
                "TAP_GRUPONOS_WMS_USERNAME": "wms_user",
                "TAP_GRUPONOS_WMS_PASSWORD": "wms_pass",
                "TARGET_GRUPONOS_ORACLE_SQLALCHEMY_URL": f"sqlite:///{warehouse}",
            },
        )
        expected = {table: len(sim.records(entity)) for entity, table in STREAMS.values()}

    con = sqlite3.connect(warehouse)
    try:
        counts = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in expected}
    finally:
        con.close()
    assert counts == expected


def test_prod_takes_connection_settings_only_from_environment_variables(tmp_path: Path) -> None:
    env = clean_environ() | {"MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}"}

    def prod_config(plugin: str, **variables: str) -> dict:
        cmd = [MELTANO, "--environment", "prod", "config", "--unsafe", "print", plugin]
        return json.loads(run(cmd, env=env | variables).stdout)

    connection = {"base_url", "username", "password", "sqlalchemy_url", "host", "service_name"}
    assert not connection & set(prod_config("tap-gruponos-wms"))
    target = prod_config("target-gruponos-oracle")
    assert not connection & set(target)
    assert target["load_method"] == "upsert", "behaviour settings are shared by all environments"

    tap = prod_config(
        "tap-gruponos-wms--full",
        TAP_GRUPONOS_WMS_BASE_URL="https://wms.example/prod_env",
        TAP_GRUPONOS_WMS_PASSWORD="s3cret",
    )
    assert (tap["base_url"], tap["password"]) == ("https://wms.example/prod_env", "s3cret")
