"""Shared fixtures: paths to ../shared samples, and a Qt-safe environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "samples"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"test samples not found at {SAMPLES} (../shared beside the checkout)")
    return SAMPLES


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES} (../shared beside the checkout)")
    return FIXTURES
