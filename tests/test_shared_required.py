"""A missing ../shared fails the run loudly unless AVATAR_ALLOW_NO_SHARED=1 (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pytest_without_shared(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "AVATAR_ALLOW_NO_SHARED"}
    env.update(AVATAR_SHARED=str(tmp_path / "no-shared-here"), **extra)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_layering.py", "tests/core/test_audio_load.py::test_real_stereo_44k_sample"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_missing_shared_fails_the_session(tmp_path):
    res = _pytest_without_shared(tmp_path)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "test samples not found" in out and "AVATAR_ALLOW_NO_SHARED=1" in out
    assert " passed" not in out  # nothing ran: the session stopped before collection


def test_missing_shared_allowed_skips_with_reason(tmp_path):
    res = _pytest_without_shared(tmp_path, AVATAR_ALLOW_NO_SHARED="1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 skipped" in res.stdout and "AVATAR_ALLOW_NO_SHARED=1 is set" in res.stdout
