"""The sub-packages of `connector/` depend on each other one way, as the README's Layout says."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1] / "connector"
# Lowest first: a package imports only from its own layer or those before it. The emulator
# imports nothing of the rest (only the demo command runs it).
LAYERS = (
    "emulator",
    "api",
    "scan",
    "store",
    "events",
    "entities",
    "sync",
    "dagster_defs",
    "commands",
)
# The only modules of the rest that the events package may import.
EVENTS_LEAVES = {"connector.api.statedir", "connector.store.secret_names"}


def imported_modules(package: str) -> set[tuple[str, str]]:
    """(importing file, imported module) for every import statement under a sub-package."""
    found = set()
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {(path.name, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add((path.name, node.module))
    return found


def package_of(module: str) -> str | None:
    """The sub-package of `connector` a module belongs to; None outside `connector`."""
    parts = module.split(".")
    return parts[1] if parts[0] == "connector" and len(parts) > 1 else None


@pytest.mark.parametrize("package", LAYERS)
def test_a_layer_imports_only_itself_and_the_layers_below(package: str) -> None:
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    upward = {
        (name, module)
        for name, module in imported_modules(package)
        if package_of(module) not in allowed | {None}
    }
    assert upward == set()


def test_events_import_only_leaf_modules_of_the_rest() -> None:
    outside = {
        module
        for _, module in imported_modules("events")
        if package_of(module) not in {"events", None}
    }
    assert outside <= EVENTS_LEAVES


@pytest.mark.parametrize("package", LAYERS[: LAYERS.index("dagster_defs")])
def test_only_the_dagster_wiring_imports_dagster(package: str) -> None:
    modules = {module.split(".")[0] for _, module in imported_modules(package)}
    assert "dagster" not in modules
