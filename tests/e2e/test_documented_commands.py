"""The Meltano commands the documentation shows work on Meltano 4.4, run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MELTANO, REPO, Pipeline, clean_environ, run
from ruamel.yaml import YAML

pytestmark = pytest.mark.e2e

OPERATIONS = REPO / "docs" / "operations.md"


def bash_block_after(text: str, marker: str) -> str:
    """The first ```bash block after `marker` in a document."""
    rest = text[text.index(marker) :]
    return re.search(r"```bash\n(.*?)```", rest, re.S).group(1)


def new_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = clean_environ() | {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    run([MELTANO, "init", "project", "--no-usage-stats"], env=env, cwd=tmp_path, timeout=300)
    return tmp_path / "project", env


def plugins_of(project: Path) -> dict[str, list[str]]:
    config = YAML(typ="safe").load((project / "meltano.yml").read_text())
    return {kind: [p["name"] for p in items] for kind, items in config["plugins"].items()}


def test_config_list_set_and_print_as_documented(tmp_path: Path) -> None:
    shutil.copy(REPO / "meltano.yml", tmp_path / "meltano.yml")
    env = clean_environ()

    def meltano(*args: str) -> subprocess.CompletedProcess:
        return run([MELTANO, *args], env=env, cwd=tmp_path, timeout=300)

    listed = meltano("--environment", "prod", "config", "list", "--all", "tap-gruponos-wms")
    assert "[env: TAP_GRUPONOS_WMS_BASE_URL]" in listed.stdout
    assert "[env: TAP_GRUPONOS_WMS_PAGE_SIZE]" in listed.stdout
    meltano("--environment", "dev", "config", "set", "tap-gruponos-wms", "page_size", "500")
    printed = meltano("--environment", "dev", "config", "--unsafe", "print", "tap-gruponos-wms")
    config = json.loads(printed.stdout)
    assert config["page_size"] == 500
    assert config["base_url"] == "http://127.0.0.1:8765/gruponos_test"
    old_form = run(
        [MELTANO, "config", "tap-gruponos-wms", "list"], env=env, cwd=tmp_path, check=False
    )
    assert old_form.returncode != 0, "the 3.x form the docs no longer show"


def test_meltano_add_from_ref_adds_the_extractor_once(tmp_path: Path) -> None:
    project, env = new_project(tmp_path)
    ref = REPO / "hub" / "extractors" / "tap-gruponos-wms" / "gruponos.yml"
    command = f"meltano add --plugin-type extractor --from-ref {ref} tap-gruponos-wms"
    assert command.replace(str(REPO), "/path/to/repo") in OPERATIONS.read_text()

    run([MELTANO, *command.split()[1:], "--no-install"], env=env, cwd=project, timeout=300)

    assert plugins_of(project) == {"extractors": ["tap-gruponos-wms"]}


def test_meltano_add_from_a_clone_adds_and_installs_both_plugins(tmp_path: Path) -> None:
    project, env = new_project(tmp_path)
    script = bash_block_after(OPERATIONS.read_text(), "install from a clone of this repository")
    script = script.replace("REPO=/path/to/repo", f"REPO={REPO}")
    env = env | {"PATH": f"{Path(MELTANO).parent}:{env['PATH']}"}

    run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=project, timeout=900)

    assert plugins_of(project) == {
        "extractors": ["tap-gruponos-wms"],
        "loaders": ["target-gruponos-oracle"],
    }
    about = run(
        [MELTANO, "invoke", "tap-gruponos-wms", "--about", "--format", "json"], env=env, cwd=project
    )
    assert (
        "base_url" in json.loads(about.stdout[about.stdout.index("{") :])["settings"]["properties"]
    )


def test_under_umask_077_the_config_files_meltano_writes_are_owner_only(
    pipeline: Pipeline,
) -> None:
    pipeline.sim.latency_ms = 40  # a run long enough to see its files
    run_dir = Path(pipeline.extra_env["MELTANO_SYS_DIR_ROOT"]) / "run"
    process = subprocess.Popen(
        [MELTANO, "run", "incremental-sync"],
        cwd=REPO,
        env=pipeline.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.umask(0o077),
    )
    modes: dict[str, int] = {}
    while process.poll() is None:
        for path in run_dir.glob("*/*.config.json"):
            try:
                modes[path.name] = stat.S_IMODE(path.stat().st_mode)
            except FileNotFoundError:
                continue  # removed at the end of the run
        time.sleep(0.05)
    assert process.returncode == 0
    assert modes, "the run's config files were seen"
    assert set(modes.values()) == {0o600}, modes
