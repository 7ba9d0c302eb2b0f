"""The project's modules import one another without a circle, so each can be read and tested
before the ones that use it.

The graph is drawn from the source, as an import picture would be: every ``import`` and
``from ... import`` between the project's own modules counts, those under ``TYPE_CHECKING``
and inside functions included, and ``from package import name`` points at the submodule when
``name`` is one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "tap_gruponos_wms": ROOT / "tap-gruponos-wms" / "tap_gruponos_wms",
    "target_gruponos_oracle": ROOT / "target-gruponos-oracle" / "target_gruponos_oracle",
    "wms_simulator": ROOT / "scripts" / "wms_simulator",
    "orchestration": ROOT / "orchestration",
}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``module`` imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {name for name in found if name in known and name != module}


def import_cycles() -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    modules = project_modules()
    graph = {name: imported(name, path, set(modules)) for name, path in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def test_the_import_graph_is_read_from_every_package() -> None:
    modules = project_modules()
    for package in PACKAGES:
        assert package in modules, package
    graph = {name: imported(name, path, set(modules)) for name, path in modules.items()}
    # a known edge of each kind: absolute, relative, package re-export
    assert "tap_gruponos_wms.pagination" in graph["tap_gruponos_wms.client"]
    assert "wms_simulator.store" in graph["wms_simulator.query"]
    assert "target_gruponos_oracle.dialects" in graph["target_gruponos_oracle.connector"]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_circle(package: str) -> None:
    circles = [group for group in import_cycles() if group[0].split(".")[0] == package]
    assert not circles, f"modules importing one another in a circle: {circles}"
