"""Rules the test suite keeps about itself, checked on its source.

- A dependency pyproject.toml declares is installed by set-up, so a test never
  `importorskip`s it (a missing one must fail, not turn the run green with skips).
- Every marker declared in pyproject.toml is used by some test (the `gpu` marker once sat
  there, declared and unused, suggesting GPU checks that did not exist).
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared_distributions() -> set[str]:
    project = _pyproject()["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {canonicalize_name(Requirement(r).name) for r in reqs}


def _importorskips(source: str) -> list[tuple[int, str]]:
    """(line, module) of every `importorskip("module")` call with a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "importorskip"
                and node.args and isinstance(node.args[0], ast.Constant)):  # fmt: skip
            found.append((node.lineno, str(node.args[0].value)))
    return found


def test_no_importorskip_of_a_declared_dependency():
    declared = _declared_distributions()
    providers = metadata.packages_distributions()
    bad = []
    for path in sorted(TESTS.rglob("*.py")):
        for lineno, module in _importorskips(path.read_text(encoding="utf-8")):
            dists = {canonicalize_name(d) for d in providers.get(module.split(".")[0], [])}
            if dists & declared or canonicalize_name(module) in declared:
                bad.append(f"{path.relative_to(ROOT)}:{lineno} importorskip({module!r})")
    assert not bad, "hard dependencies must be plain imports:\n" + "\n".join(bad)


def test_the_checker_sees_an_importorskip():
    src = 'import pytest\nort = pytest.importorskip("onnxruntime")\n'
    assert _importorskips(src) == [(2, "onnxruntime")]


def test_every_declared_marker_is_used():
    declared = [m.split(":")[0].strip() for m in _pyproject()["tool"]["pytest"]["ini_options"]
                ["markers"]]  # fmt: skip
    assert declared
    source = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.rglob("*.py"))
    unused = [m for m in declared if not re.search(rf"\bmark\.{re.escape(m)}\b", source)]
    assert not unused, f"markers declared in pyproject.toml but used by no test: {unused}"
    assert "--strict-markers" in _pyproject()["tool"]["pytest"]["ini_options"]["addopts"]


def test_readme_blink_target_is_the_evaluators():
    """The README's quality targets quote the evaluator's blink range (they once said 10-30
    while the evaluator graded 6-30)."""
    from core.evaluate.evaluator import BLINK_MIN_CLIP_S, BLINK_RANGE_PER_MIN, TARGETS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = re.findall(r"(\d+)\s*[–-]\s*(\d+) blinks/min \(clips ≥ (\d+) s\)", readme)
    assert quoted, "the README no longer states the blink target"
    lo, hi = BLINK_RANGE_PER_MIN
    for q in quoted:
        assert tuple(float(v) for v in q) == (lo, hi, BLINK_MIN_CLIP_S), q
    assert TARGETS["blinks_per_minute"][1] == BLINK_RANGE_PER_MIN
    assert TARGETS["blinks_per_minute"][2].startswith(f"{lo:g}-{hi:g}")
