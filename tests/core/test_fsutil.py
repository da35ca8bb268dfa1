"""core.fsutil.atomic_path: the single atomic-write mechanism every writer uses."""

from __future__ import annotations

import os
import stat

import pytest

from core.fsutil import DEFAULT_MODE, atomic_path


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_success_replaces_with_ordinary_permissions(tmp_path):
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"old")
    with atomic_path(dest, suffix=".mp4") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and tmp != dest
        tmp.write_bytes(b"new")
        assert dest.read_bytes() == b"old"  # nobody sees the new file before the end
    assert dest.read_bytes() == b"new"
    assert _mode(dest) == DEFAULT_MODE and DEFAULT_MODE & 0o044  # not owner-only like mkstemp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    dest = tmp_path / "out.zip"
    dest.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(dest, suffix=".zip") as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip"]


def test_explicit_mode(tmp_path):
    dest = tmp_path / "media.bin"
    with atomic_path(dest, mode=0o444) as tmp:
        tmp.write_bytes(b"x")
    assert _mode(dest) == 0o444
