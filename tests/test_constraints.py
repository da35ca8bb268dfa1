"""constraints.txt pins every dependency pyproject.toml declares, at a version it accepts.

A dependency added to pyproject.toml without `make lock` would install unpinned on a fresh
machine; a pin outside pyproject's range would make set-up fail there. Both are caught here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and "+" not in version, f"not an exact public pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_declared_dependency_is_pinned_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    pins = _pins()
    for req in declared:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])
    assert pins["torch"] == Version("2.13.0")


def test_the_makefile_installs_with_the_constraints():
    make = (ROOT / "Makefile").read_text()
    installs = [ln for ln in make.splitlines() if "$(PIP)" in ln and "-e '.[dev]'" in ln]
    assert installs and any("-c $(CONSTRAINTS)" in ln for ln in installs)
    torch = [ln for ln in make.splitlines() if "$(PIP)" in ln and "torch==" in ln]
    assert any("-c $(CONSTRAINTS)" in ln for ln in torch)
    assert "CONSTRAINTS := constraints.txt" in make and "\nlock:" in make
