"""csms.protocol is sans-IO: it imports neither trio nor csms.runtime / csms.actors."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "csms" / "protocol"
FORBIDDEN = ("trio", "csms.runtime", "csms.actors", "csms.domain", "csms.services")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                names.add("csms." + "." * (node.level - 1) + (node.module or ""))
            elif node.module:
                names.add(node.module)
    return names


def test_no_forbidden_imports_in_source() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for name in imported_modules(path):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
            assert not name.startswith("csms.."), f"{path.name} reaches outside the package"


def test_importing_the_package_loads_no_forbidden_module() -> None:
    code = (
        "import sys, csms.protocol, csms.protocol.v201, csms.protocol.v21\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "csms.protocol" in out
    assert [m for m in out if m.startswith(FORBIDDEN)] == []
