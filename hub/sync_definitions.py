"""Derive the Meltano plugin definitions from the plugins themselves.

The plugins declare their settings once (`<plugin> --about --format json`). This script turns
that declaration into Meltano's vocabulary and writes it to the two places Meltano reads it:

- `hub/<plugin_type>/<name>/gruponos.yml`: Meltano Hub plugin definitions (also usable with
  `meltano add --from-ref`);
- `meltano.yml`: `capabilities`, `settings` and `settings_group_validation` of the base plugins
  (the rest of the file, comments included, is left as it is).

`python hub/sync_definitions.py` rewrites both; `--check` only compares and exits 1 on drift.
The e2e suite runs `--check --ignore-text`: a reworded description is not worth a red build, a
renamed, retyped, added or newly secret setting is.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
VARIANT = "gruponos"


@dataclass(frozen=True)
class Plugin:
    """What Meltano needs to know about a plugin beyond its `--about` output."""

    plugin_type: str  # Meltano's plural plugin type: extractors | loaders
    name: str
    label: str
    # Each inner list is one complete, valid combination of settings (Meltano's semantics).
    settings_group_validation: tuple[tuple[str, ...], ...]
    keywords: tuple[str, ...]

    @property
    def namespace(self) -> str:
        return self.name.replace("-", "_")

    @property
    def hub_path(self) -> Path:
        return ROOT / "hub" / self.plugin_type / self.name / f"{VARIANT}.yml"


PLUGINS = (
    Plugin(
        plugin_type="extractors",
        name="tap-gruponos-wms",
        label="Oracle WMS Cloud (GrupoNos)",
        settings_group_validation=(
            ("base_url", "username", "password"),
            (
                "base_url",
                "auth_method",
                "oauth_token_url",
                "oauth_client_id",
                "oauth_client_secret",
            ),
        ),
        keywords=("oracle", "wms", "lgfapi", "meltano_sdk"),
    ),
    Plugin(
        plugin_type="loaders",
        name="target-gruponos-oracle",
        label="Oracle (GrupoNos WMS tables)",
        settings_group_validation=(
            ("sqlalchemy_url",),
            ("host", "service_name", "username", "password"),
        ),
        keywords=("oracle", "database", "meltano_sdk"),
    ),
)

# JSON Schema type -> Meltano setting kind (strings are refined by format/enum below).
_KINDS = {
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
    "string": "string",
}


def executable_path(name: str) -> str:
    """The plugin's console script, preferring the venv running this script."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed: run scripts/bootstrap.sh first")
    return found


def about(name: str) -> dict[str, Any]:
    """The plugin's own description of itself."""
    out = subprocess.run(
        [executable_path(name), "--about", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def setting_kind(schema: dict[str, Any]) -> str:
    """Map a setting's JSON Schema to the closest Meltano kind."""
    if "enum" in schema:
        return "options"
    types = schema.get("type", "string")
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    kind = _KINDS.get(types[0] if types else "string", "string")
    if kind == "string" and schema.get("format") in {"date-time", "date"}:
        return "date_iso8601"
    return kind


_ACRONYMS = {"Api": "API", "Id": "ID", "Oauth": "OAuth", "Url": "URL", "Sqlalchemy": "SQLAlchemy"}


def label(name: str) -> str:
    """`oauth_client_id` -> `OAuth Client ID`."""
    return " ".join(_ACRONYMS.get(w, w) for w in name.replace("_", " ").title().split())


def meltano_setting(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One entry of a plugin's `settings`, in the order Meltano Hub writes them."""
    setting: dict[str, Any] = {
        "name": name,
        "label": schema.get("title") or label(name),
        "kind": setting_kind(schema),
    }
    if schema.get("description"):
        setting["description"] = schema["description"]
    if "default" in schema and schema["default"] is not None:
        setting["value"] = schema["default"]
    if "enum" in schema:
        setting["options"] = [{"label": str(v), "value": v} for v in schema["enum"] if v]
    if schema.get("secret"):
        setting["sensitive"] = True
    return setting


def plugin_settings(info: dict[str, Any]) -> list[dict[str, Any]]:
    props = info["settings"].get("properties", {})
    return [meltano_setting(name, schema) for name, schema in props.items()]


def hub_definition(plugin: Plugin, info: dict[str, Any]) -> dict[str, Any]:
    """The plugin as a Meltano Hub definition file."""
    return {
        "name": plugin.name,
        "namespace": plugin.namespace,
        "variant": VARIANT,
        "label": plugin.label,
        "description": info.get("description") or plugin.label,
        "keywords": list(plugin.keywords),
        "maintenance_status": "active",
        # The distribution name; a project working from a clone uses `-e ./<plugin folder>`.
        "pip_url": plugin.name,
        "executable": plugin.name,
        "capabilities": sorted(info["capabilities"]),
        "settings_group_validation": [list(g) for g in plugin.settings_group_validation],
        "settings": plugin_settings(info),
    }


def meltano_fields(plugin: Plugin, info: dict[str, Any]) -> dict[str, Any]:
    """The generated part of the base plugin's entry in meltano.yml."""
    hub = hub_definition(plugin, info)
    return {k: hub[k] for k in ("capabilities", "settings", "settings_group_validation")}


def _yaml() -> YAML:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 4096  # no folded descriptions (folding leaves trailing blanks)
    return yaml


def dump(data: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()


def updated_meltano_yml(infos: dict[str, dict[str, Any]]) -> str:
    """meltano.yml with the base plugins' generated fields replaced, comments kept."""
    yaml = _yaml()
    project = yaml.load((ROOT / "meltano.yml").read_text())
    for plugin in PLUGINS:
        entry = next(p for p in project["plugins"][plugin.plugin_type] if p["name"] == plugin.name)
        position = list(entry).index("executable")
        for key, value in meltano_fields(plugin, infos[plugin.name]).items():
            entry.pop(key, None)
            position += 1
            entry.insert(position, key, value)
    return dump(project)


def expected_files() -> dict[Path, str]:
    """Every generated file with the content it should have."""
    infos = {p.name: about(p.name) for p in PLUGINS}
    files = {p.hub_path: dump(hub_definition(p, infos[p.name])) for p in PLUGINS}
    files[ROOT / "meltano.yml"] = updated_meltano_yml(infos)
    return files


_TEXT_KEYS = frozenset({"label", "description"})


def without_text(node: Any) -> Any:
    """The parsed YAML without labels and descriptions: what changes behaviour."""
    if isinstance(node, dict):
        return {k: without_text(v) for k, v in node.items() if k not in _TEXT_KEYS}
    if isinstance(node, list):
        return [without_text(v) for v in node]
    return node


def agrees(path: Path, content: str, ignore_text: bool) -> bool:
    if not path.exists():
        return False
    current = path.read_text()
    if not ignore_text:
        return current == content
    yaml = YAML(typ="safe")
    return without_text(yaml.load(current)) == without_text(yaml.load(content))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift, exit 1 if any")
    parser.add_argument(
        "--ignore-text",
        action="store_true",
        help="with --check: compare names, kinds, defaults, secrets, capabilities, groups; "
        "not labels and descriptions",
    )
    args = parser.parse_args(argv)
    stale = []
    for path, content in expected_files().items():
        if agrees(path, content, args.check and args.ignore_text):
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    verb = "out of date" if args.check else "rewritten"
    for path in stale:
        print(f"{path}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
