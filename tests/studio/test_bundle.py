"""Project bundles: round trip, and hostile zips refused with nothing written outside."""

from __future__ import annotations

import re
import stat
import zipfile

import pytest

from core.errors import InputError
from studio import bundle
from studio.bundle import export_bundle, import_bundle
from studio.project import Project
from studio.queue import JobRunner


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_round_trip(project, tmp_path):
    tid = project.timeline().id
    project.enqueue(tid)
    with JobRunner(project.path) as r:
        r.run_all()
    project.add_preset("p1", prompt="hello")
    zpath = export_bundle(project, tmp_path / "b.zip")
    names = zipfile.ZipFile(zpath).namelist()
    assert "project.db" in names and not any(n.startswith("cache/") for n in names)
    assert not any(n.endswith(("-wal", "-shm")) for n in names)
    dest = import_bundle(zpath, tmp_path / "copy")
    with Project.open(dest) as q:
        assert [s.state for s in q.segments(tid)] == ["rendered"] * len(q.segments(tid))
        assert [s.spec_hash for s in q.segments(tid)] == [s.spec_hash for s in
                                                           project.segments(tid)]
        assert q.presets()[0].prompt == "hello"
        assert q.portraits()[0].path.is_file()
    with pytest.raises(InputError, match="not empty"):
        import_bundle(zpath, dest)
    with pytest.raises(InputError, match="inside the project"):
        export_bundle(project, project.path / "x.zip")


def _zip_with(path, entries):
    """entries: list of (ZipInfo or name, data)."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.db", b"")
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _symlink_info(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink", "bomb", "oversized",
                                  "lying_size", "not_a_bundle"])
def test_malicious_zips_refused(tmp_path, case, monkeypatch):
    area = tmp_path / "area"
    area.mkdir()
    (area / "keep.txt").write_text("x")
    z = tmp_path / "evil.zip"
    if case == "dotdot":
        _zip_with(z, [("media/../../escaped.txt", b"pwned")])
    elif case == "absolute":
        _zip_with(z, [(str(tmp_path / "abs.txt"), b"pwned")])
    elif case == "symlink":
        _zip_with(z, [(_symlink_info("media/link"), b"/etc/passwd")])
    elif case == "bomb":
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("project.db", b"")
            zf.writestr("media/zeros.bin", b"\0" * (20 << 20))
    elif case == "oversized":
        monkeypatch.setattr(bundle, "MAX_MEMBER_BYTES", 1000)
        _zip_with(z, [("media/big.bin", b"x" * 5000)])
    elif case == "lying_size":
        # a header claiming 10 bytes for a 5000-byte member
        _zip_with(z, [("media/a.bin", b"y" * 5000)])
        data = bytearray(z.read_bytes())
        with zipfile.ZipFile(z) as zf:
            pos = zf.start_dir  # the central directory
        while data[pos:pos + 4] == b"PK\x01\x02":
            n_name = int.from_bytes(data[pos + 28:pos + 30], "little")
            n_extra = int.from_bytes(data[pos + 30:pos + 32], "little")
            n_comment = int.from_bytes(data[pos + 32:pos + 34], "little")
            if bytes(data[pos + 46:pos + 46 + n_name]) == b"media/a.bin":
                data[pos + 24:pos + 28] = (10).to_bytes(4, "little")  # uncompressed size
            pos += 46 + n_name + n_extra + n_comment
        z.write_bytes(bytes(data))
    else:
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("readme.txt", b"hi")
    before = _tree(tmp_path)
    with pytest.raises(InputError) as err:
        import_bundle(z, area / "dest")
    assert "\n" not in str(err.value)
    expected = {"dotdot": "outside", "absolute": "absolute", "symlink": "symbolic link",
                "bomb": "zip bomb", "oversized": "limit", "lying_size": "larger than|damaged",
                "not_a_bundle": "not a project bundle"}[case]
    assert re.search(expected, str(err.value))
    assert _tree(tmp_path) == before  # nothing written anywhere (no dest, no staging left)
    assert not (tmp_path.parent / "escaped.txt").exists()
