"""Shared fixtures: paths to ../shared samples, and a Qt-safe environment.

Half the suite reads real portraits and speech from ../shared (beside the checkout). Without
it those tests would skip and the run would still be green, which hides a broken CI set-up;
so a missing ../shared/samples stops the session unless AVATAR_ALLOW_NO_SHARED=1 says that
skipping them is intended (e.g. a quick run on a laptop without the data).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
# AVATAR_SHARED points at the shared data when it is not beside the checkout.
SHARED = Path(os.environ.get("AVATAR_SHARED") or ROOT.parent / "shared")
SAMPLES = SHARED / "samples"
FIXTURES = SHARED / "fixtures"
PEERS = SHARED / "peers"
ALLOW_NO_SHARED = "AVATAR_ALLOW_NO_SHARED"


def _no_shared_allowed() -> bool:
    return os.environ.get(ALLOW_NO_SHARED) == "1"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail the whole run, loudly, when the sample data is missing and that is not intended."""
    if not SAMPLES.is_dir() and not _no_shared_allowed():
        pytest.exit(
            f"test samples not found at {SAMPLES}: put the shared data beside the checkout "
            f"(or point AVATAR_SHARED at it); set {ALLOW_NO_SHARED}=1 to skip the tests "
            "that need it instead",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture(autouse=True)
def _projects_env(tmp_path, monkeypatch):
    """Every test gets its own projects folder: nothing is ever written into the checkout's
    projects/, and no test sees a project another test (or the developer) left there."""
    monkeypatch.setenv("AVATAR_STUDIO_PROJECTS", str(tmp_path / "projects"))
    monkeypatch.delenv("AVATAR_STUDIO_PROJECT", raising=False)


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"test samples not found at {SAMPLES} ({ALLOW_NO_SHARED}=1 is set)")
    return SAMPLES


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES} (../shared beside the checkout)")
    return FIXTURES


@pytest.fixture(scope="session")
def peers() -> Path:
    """Other generators' inputs and outputs (../shared/peers): portraits never used to
    derive or tune anything in the project, so they serve as held-out test faces."""
    if not PEERS.is_dir():
        pytest.skip(f"peer samples not found at {PEERS} (../shared beside the checkout)")
    return PEERS
