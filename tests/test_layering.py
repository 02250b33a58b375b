"""Rules of the house: the pure layers import neither trio nor the actor layers."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "csms"
FORBIDDEN = ("trio", "csms.actors", "csms.runtime")


def _imports(path: pathlib.Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


PURE = ["protocol", "domain", "services"]


@pytest.mark.parametrize("package", PURE)
def test_each_pure_layer_exists_and_holds_modules(package):
    """Otherwise the import rule below would pass by checking nothing."""
    modules = [p for p in (ROOT / package).rglob("*.py") if p.name != "__init__.py"]
    assert modules, f"csms/{package} holds no module"


@pytest.mark.parametrize("package", PURE)
def test_pure_layers_import_neither_trio_nor_actors(package):
    offenders = [
        f"{path.relative_to(ROOT.parent)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert offenders == []


#: The one package that wires the actors and the REST API together.
COMPOSITION_ROOT = ROOT / "node"


def _touches(path: pathlib.Path, package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in _imports(path))


def test_the_api_imports_nothing_of_the_actors():
    """The API depends on the ControlPlane it owns, not on what fills it in."""
    api = sorted((ROOT / "api").rglob("*.py"))
    assert api, "csms/api holds no module"
    assert [str(p.relative_to(ROOT.parent)) for p in api if _touches(p, "csms.actors")] == []


def test_only_the_composition_root_imports_both_the_api_and_the_actors():
    root = sorted(COMPOSITION_ROOT.rglob("*.py"))
    assert any(_touches(path, "csms.api") for path in root)
    assert any(_touches(path, "csms.actors") for path in root)
    both = [
        str(path.relative_to(ROOT.parent))
        for path in sorted(ROOT.rglob("*.py"))
        if COMPOSITION_ROOT not in path.parents
        and _touches(path, "csms.api")
        and _touches(path, "csms.actors")
    ]
    assert both == []
