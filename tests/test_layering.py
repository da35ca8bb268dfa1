"""The layering rule: core imports neither studio nor ui; studio imports no ui and no Qt;
studio and ui import no av/PIL.

Checked on the source (AST), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "core": ("studio", "ui", "PySide6", "pyqtgraph", "sqlalchemy", "alembic", "sounddevice"),
    "studio": ("ui", "PySide6", "pyqtgraph", "shiboken6", "av", "PIL"),
    # media I/O is core's (core.media, core.video, core.audio.loader): the GUI decodes
    # nothing itself, so a hostile file meets one set of checks
    "ui": ("av", "PIL"),
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


def test_import_linter_contracts():
    """The import-linter contracts of pyproject.toml ([tool.importlinter]): core imports
    neither studio nor ui; studio no ui/Qt; studio and ui no av/PIL (media I/O is core's);
    the project's parts never import the facade (no import cycle); specs are pure."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        import pytest

        pytest.skip("import-linter is not installed (pip install -e .[dev])")
    res = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_media_contract_has_no_exceptions():
    """"studio and ui import no av/PIL" is enforced for every module: the contract carries
    no ignore_imports allow-list (the GUI decodes through core.media)."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    media = next(c for c in cfg["tool"]["importlinter"]["contracts"]
                 if set(c["forbidden_modules"]) == {"av", "PIL"})
    assert set(media["source_modules"]) == {"studio", "ui"}
    assert not media.get("ignore_imports")


def test_import_linter_catches_a_violation(tmp_path):
    """A studio module importing PySide6 breaks the contract (the check is not vacuous)."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        import pytest

        pytest.skip("import-linter is not installed (pip install -e .[dev])")
    for pkg in ("core", "studio", "ui"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "studio" / "bad.py").write_text("import ui\n")
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    headless = next(c for c in cfg["tool"]["importlinter"]["contracts"]
                    if c["source_modules"] == ["studio"])
    assert "ui" in headless["forbidden_modules"]
    (tmp_path / "pyproject.toml").write_text(
        "[tool.importlinter]\nroot_packages = ['core', 'studio', 'ui']\n"
        "[[tool.importlinter.contracts]]\nname = 'studio runs headless'\n"
        "type = 'forbidden'\nsource_modules = ['studio']\nforbidden_modules = ['ui']\n",
        encoding="utf-8")
    res = subprocess.run([exe, "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert res.returncode != 0 and "studio.bad -> ui" in res.stdout, res.stdout + res.stderr


def test_cli_starts_without_qt():
    """`python main.py <sub-command>` runs the CLI without importing PySide6 or ui/."""
    import subprocess
    import sys

    code = ("import sys, runpy\nsys.argv = ['main.py', 'render', '--help']\n"
            "try:\n    runpy.run_path('main.py', run_name='__main__')\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'ui'))\n"
            "assert not bad, bad\nprint('no-qt-ok')\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and "no-qt-ok" in res.stdout, res.stdout[-2000:] + res.stderr
