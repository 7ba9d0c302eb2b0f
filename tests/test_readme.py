"""The README is the newcomer's contract: its settings tables and its two commands stay true."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# singer-sdk's generic settings, which the README names in one sentence instead of a table.
SDK_GENERIC = re.compile(r"^(stream_maps|stream_map_config|faker_config|flattening_)")


def declared_settings(executable: str) -> dict[str, dict]:
    about = subprocess.run(
        [str(Path(sys.executable).parent / executable), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    properties = json.loads(about.stdout)["settings"]["properties"]
    return {name: spec for name, spec in properties.items() if not SDK_GENERIC.match(name)}


def readme_section(heading: str) -> str:
    return README.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]


@pytest.mark.parametrize("plugin", ["tap-gruponos-wms", "target-gruponos-oracle"])
def test_readme_documents_every_setting_with_its_default_and_secrecy(plugin: str) -> None:
    rows = {
        match.group(1): line
        for line in readme_section(plugin).splitlines()
        if (match := re.match(r"\| `(\w+)`", line))
    }
    settings = declared_settings(plugin)
    assert set(rows) == set(settings)
    for name, spec in settings.items():
        cells = [cell.strip() for cell in rows[name].split(" | ")]
        assert ("secret" in cells[0]) == bool(spec.get("secret")), name
        default = spec.get("default")
        if default is None:
            assert cells[2] == "", name
        else:
            shown = default if isinstance(default, str) else json.dumps(default)
            assert cells[2] == f"`{shown}`", name


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert "bash scripts/test.sh" in README
    assert "bash scripts/demo.sh" in README
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "bash scripts/test.sh" in [line.strip() for line in ci]


DOCS = [
    "README.md",
    "docs/operations.md",
    "tap-gruponos-wms/README.md",
    "target-gruponos-oracle/README.md",
]
CONFIG_SUBCOMMANDS = {"list", "set", "print", "unset", "reset", "test"}


@pytest.mark.parametrize("doc", DOCS)
def test_documented_meltano_commands_use_the_meltano_4_forms(doc: str) -> None:
    """`meltano config <subcommand> <plugin>` (3.x wrote `config <plugin> <subcommand>`), and
    the plugin type of `meltano add` as an option (a positional one adds a second plugin)."""
    text = (ROOT / doc).read_text()
    for match in re.finditer(r"meltano (?:--\S+ (?:\S+ )?)*config ((?:--\S+ )*)([\w<>-]+)", text):
        assert match.group(2) in CONFIG_SUBCOMMANDS | {"<subcommand>"}, match.group(0)
    for match in re.finditer(r"meltano add [^\n`]*", text):
        assert "--plugin-type" in match.group(0), match.group(0)
