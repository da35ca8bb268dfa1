"""Shared fixtures: paths to ../shared samples, and a Qt-safe environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


def _find_shared() -> Path:
    """`shared/` beside the checkout, or beside a folder above it: a git worktree of the
    project (e.g. wt/<branch>/) sits one level deeper than the main checkout."""
    for up in ROOT.parents:
        if (up / "shared").is_dir():
            return up / "shared"
    return ROOT.parent / "shared"


SHARED = _find_shared()
SAMPLES = SHARED / "samples"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"test samples not found at {SAMPLES} (../shared beside the checkout)")
    return SAMPLES


@pytest.fixture(scope="session")
def peers() -> Path:
    """../shared/peers: portrait + speech + a published generator's video per folder."""
    folder = SHARED / "peers"
    if not folder.is_dir():
        pytest.skip(f"peer videos not found at {folder} (../shared beside the checkout)")
    return folder


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES} (../shared beside the checkout)")
    return FIXTURES
