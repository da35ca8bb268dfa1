"""The layering rule: core imports neither studio nor ui; studio imports no ui and no Qt.

Checked on the source (AST), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "core": ("studio", "ui", "PySide6", "pyqtgraph", "sqlalchemy", "alembic", "sounddevice"),
    "studio": ("ui", "PySide6", "pyqtgraph", "shiboken6"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_layers_point_down_only():
    violations = []
    for package, banned in FORBIDDEN.items():
        files = sorted((ROOT / package).rglob("*.py"))
        assert files, f"no sources found in {package}/"
        for path in files:
            for lineno, name in _imports(path):
                top = name.split(".")[0]
                if top in banned:
                    violations.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    assert not violations, "layering violated:\n" + "\n".join(violations)


def test_checker_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ui.app import x\n")
    assert _imports(bad) == [(2, "ui.app")]
