"""The project cache holds data only, and a bundle brings in only a project's layout.

A crafted `cache/wave-<key>.pkl` (a pickle that would create a marker file when loaded) in
a bundle or in a project folder must never run; analysis results round-trip exactly
through the data-only cache; a damaged, altered or unknown entry is a miss; a cache that
cannot be written never fails a render; hostile bundles are refused through the CLI with
exit 2 and one line naming the zip.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import serial
from core.types import Expression, FaceRig
from studio import bundle, pipeline
from studio.bundle import export_bundle
from studio.cache import DiskCache, key_of
from studio.cli import main
from studio.project import Project
from studio.queue import JobRunner

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = "portraits/hallo_1.jpg"
AUDIO = "audio/hallo_1.wav"


class _Touch:
    """Pickles to "call Path.touch(marker)" when loaded: the payload of the attack."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _payload(marker: Path) -> bytes:
    return pickle.dumps(_Touch(marker), protocol=pickle.HIGHEST_PROTOCOL)


def _npz_with_pickle(marker: Path) -> bytes:
    """An .npz whose members are object arrays (numpy pickles them)."""
    buf = io.BytesIO()
    np.savez(buf, manifest=np.array([_Touch(marker)], dtype=object),
             sha256=np.array([_Touch(marker)], dtype=object))
    return buf.getvalue()


def _same(a, b, where: str = "value") -> None:
    """Exact, type-strict deep equality (arrays: dtype, shape and every element)."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and a != a:
        assert b != b, f"{where}: NaN became {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def template(samples, tmp_path_factory) -> Path:
    """A project with hallo_1 (portrait + speech), one 256 px warp timeline, analysed."""
    folder = tmp_path_factory.mktemp("sec") / "proj"
    with Project.create(folder, name="sec") as p:
        por = p.add_portrait(samples / PORTRAIT)
        aud = p.add_audio(samples / AUDIO)
        tl = p.new_timeline(por.id, aud.id, size=256)
        p.base_motion(tl.id)
        p.checkpoint()
    return folder


@pytest.fixture
def project_dir(template, tmp_path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(template, dest)
    return dest


def _keys(project: Project) -> dict[str, str]:
    aud = project.audio_tracks()[0]
    old = hashlib.sha256(json.dumps({"v": 1, "sha": aud.sha256}, sort_keys=True).encode())
    return {"wave": key_of("wave", sha=aud.sha256), "wave_v1": f"wave-{old.hexdigest()[:32]}"}


def _touch_everything(folder: Path) -> None:
    """Open the project and load what a render loads (timeline, rig, audio, motion)."""
    with Project.open(folder) as p:
        tl = p.timelines()[0]
        p.timeline(tl.id)
        p.waveform(tl.audio_id)
        p.audio_features(tl.audio_id, tl.fps)
        p.portrait_rig(tl.portrait_id)
        p.base_motion(tl.id)


# ------------------------------------------------------------------ pickles never run
def test_payload_is_live(tmp_path):
    """Control: the payload used below really creates its marker when unpickled."""
    marker = tmp_path / "control"
    pickle.loads(_payload(marker))
    assert marker.exists()


def test_pickle_in_bundle_is_dropped_and_never_run(project_dir, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    with Project.open(project_dir) as p:
        keys = _keys(p)
        zpath = export_bundle(p, tmp_path / "shared.zip")
    with zipfile.ZipFile(zpath, "a") as zf:
        for k in keys.values():
            zf.writestr(f"cache/{k}.pkl", _payload(marker))
        zf.writestr(f"cache/{keys['wave']}.npz", _npz_with_pickle(marker))
        zf.writestr("evil.pkl", _payload(marker))
        zf.writestr(".hidden.pkl", _payload(marker))
    dest = tmp_path / "imported"
    assert main(["bundle", "import", str(zpath), str(dest)]) == 0, capsys.readouterr().err
    assert not (dest / "cache").exists() or not any((dest / "cache").iterdir())
    assert not (dest / "evil.pkl").exists() and not (dest / ".hidden.pkl").exists()
    _touch_everything(dest)
    with Project.open(dest) as p:
        tid = p.timelines()[0].id
        p.enqueue(tid, [p.segments(tid)[0].id])
    with JobRunner(dest) as r:
        (job,) = r.run_all()
    assert job.state == "done", job.error
    assert not marker.exists()
    assert not list(dest.rglob("*.pkl"))


def test_cache_never_opens_pickles_in_the_folder(project_dir, tmp_path):
    """Even planted straight into cache/ under the exact keys, pickles stay unopened (and
    are deleted at the first write); an .npz holding pickled object arrays is a miss."""
    marker = tmp_path / "PWNED"
    with Project.open(project_dir) as p:
        keys = _keys(p)
        expected = p.waveform(p.audio_tracks()[0].id)
    cache = project_dir / "cache"
    for f in cache.iterdir():
        f.unlink()
    for k in keys.values():
        (cache / f"{k}.pkl").write_bytes(_payload(marker))
    (cache / f"{keys['wave']}.npz").write_bytes(_npz_with_pickle(marker))
    _touch_everything(project_dir)
    assert not marker.exists()
    assert not list(cache.glob("*.pkl"))  # purged by the first write
    with Project.open(project_dir) as p:  # recomputed from media/ (source differs)
        _same(p.waveform(p.audio_tracks()[0].id).samples, expected.samples)


# ------------------------------------------------------------------ round trip, size
def test_round_trip_is_exact(samples, tmp_path):
    img = pipeline.load_image(samples / PORTRAIT)
    rig = pipeline.analyze_face(img)
    wave = pipeline.load_audio(samples / AUDIO)
    feats = pipeline.analyze_audio(wave, 25.0, None)
    motion = pipeline.plan_motion(rig, feats, Expression(smile=0.3), seed=7)
    assert feats.phones and rig.masks and rig.mesh_groups
    values = {"rig": rig, "features": feats, "motion": motion, "wave": wave}
    writer = DiskCache(tmp_path / "cache")
    for k, v in values.items():
        assert writer.put(key_of(k), v)
    reader = DiskCache(tmp_path / "cache")  # no memory layer: every value from disk
    for k, v in values.items():
        back = reader.get(key_of(k))
        assert back is not v
        _same(back, v, k)


def test_rig_is_stored_small_and_restored_exactly(samples, tmp_path):
    folder = tmp_path / "p"
    with Project.create(folder) as p:
        por = p.add_portrait(samples / PORTRAIT)
    (entry,) = (folder / "cache").glob("rig-*.npz")
    size = entry.stat().st_size
    assert size < 1 << 20, f"rig cache entry is {size} bytes"
    with Project.open(folder) as p:
        cached = p.portrait_rig(por.id)
    fresh = pipeline.analyze_face(pipeline.load_image(samples / PORTRAIT))
    _same(cached, fresh, "rig")
    assert cached.image.shape == (1024, 1024, 3) and set(cached.masks) >= {"face", "mouth"}


# ------------------------------------------------------------------ damaged entries
def _craft(path: Path, manifest: dict, arrays: list[np.ndarray], digest: bytes | None = None):
    raw = json.dumps(manifest).encode()
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    members["manifest"] = np.frombuffer(raw, np.uint8)
    members["sha256"] = np.frombuffer(digest or serial._digest(raw, arrays), np.uint8)
    with open(path, "wb") as f:
        np.savez_compressed(f, allow_pickle=False, **members)


def _manifest(key: str, root) -> dict:
    return {"format": serial.FORMAT, "label": key, "root": root}


@pytest.mark.parametrize("case", ["truncated", "garbage", "altered_array", "unknown_type",
                                  "other_key", "old_layout", "deep", "not_a_dataclass"])
def test_damaged_entry_is_a_miss(tmp_path, case):
    cache = DiskCache(tmp_path / "cache")
    key = key_of("motion", case=case)
    good = Expression(smile=0.25)
    cache.put(key, good)
    path = cache._file(key)
    assert DiskCache(cache.folder).get(key) == good  # the entry is readable before
    data = path.read_bytes()
    dc = {"$": "dc", "type": "Expression", "f": {"smile": 0.25, "brows": 0.0,
                                                  "head_motion": 1.0, "blink_rate": 1.0}}
    if case == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif case == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif case == "altered_array":
        arr = np.arange(10, dtype=np.float32)
        root = {"$": "nd", "i": 0}
        raw = json.dumps(_manifest(key, root)).encode()
        digest = serial._digest(raw, [arr])
        arr2 = arr.copy()
        arr2[3] = 99  # changed after hashing
        _craft(path, _manifest(key, root), [arr2], digest)
    elif case == "unknown_type":
        _craft(path, _manifest(key, {"$": "dc", "type": "Popen", "f": {"args": "touch x"}}), [])
    elif case == "other_key":
        _craft(path, _manifest(key_of("motion", case="else"), dc), [])
    elif case == "old_layout":
        dc["f"]["tilt"] = 1.0  # a field the class does not have (any more)
        _craft(path, _manifest(key, dc), [])
    elif case == "deep":
        root = None
        for _ in range(serial.MAX_DEPTH + 5):
            root = {"$": "list", "v": [root]}
        _craft(path, _manifest(key, root), [])
    else:
        _craft(path, _manifest(key, {"$": "enum", "type": "Expression", "v": 1}), [])
    fresh = DiskCache(cache.folder)
    assert fresh.get(key) is None
    assert fresh.get_or_compute(key, lambda: good) == good  # recomputed, rewritten
    assert DiskCache(cache.folder).get(key) == good


def test_unregistered_types_are_not_written(tmp_path):
    @dataclasses.dataclass
    class Stranger:
        x: int = 1

    cache = DiskCache(tmp_path / "cache")
    assert cache.put("k-1", Stranger()) is False
    assert cache.get("k-1") == Stranger()  # still served from memory
    assert DiskCache(cache.folder).get("k-1") is None


class _Mode(enum.IntEnum):
    A = 1
    B = 2


@dataclasses.dataclass(frozen=True)
class _Inner:
    mode: _Mode
    values: tuple


@dataclasses.dataclass
class _Outer:
    inner: _Inner
    table: dict
    items: list


def test_codec_keeps_types_exactly():
    """Tuples stay tuples, numpy scalars stay numpy scalars, NaN survives, enums and nested
    dataclasses come back as themselves, but only from the registry they were allowed in."""
    reg = serial.Registry([_Mode, _Inner, _Outer])
    value = _Outer(
        inner=_Inner(_Mode.B, (1, 2.5, float("nan"), float("-inf"), None, True, "é")),
        table={"f32": np.arange(6, dtype=np.float32).reshape(2, 3).T, "i": np.int64(-3),
               "b": np.bool_(True), "f": np.float64(0.1), "empty": np.zeros((0, 4), np.uint8)},
        items=[[], (), {}, [np.float16(1.5)]],
    )
    back = serial.loads(serial.dumps(value, "k", reg), "k", reg)
    _same(back, value)
    with pytest.raises(serial.SerialError, match="unknown type"):
        serial.loads(serial.dumps(value, "k", reg), "k")  # not in the default allow-list
    with pytest.raises(serial.SerialError, match="not a registered type"):
        serial.dumps(value)
    with pytest.raises(serial.SerialError, match="dict keys"):
        serial.dumps({1: "x"})
    with pytest.raises(serial.SerialError, match="dtype"):
        serial.dumps(np.array([object()], dtype=object))


def test_codec_refuses_a_header_that_promises_more_than_the_file_holds():
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("a0.npy", "manifest.npy", "sha256.npy"):
            zf.writestr(name, head.getvalue() + bytes(64))
    with pytest.raises(serial.SerialError, match="shorter than its header"):
        serial.loads(buf.getvalue())


# ------------------------------------------------------------------ write failures
def test_write_failure_enospc_is_a_warning(tmp_path, monkeypatch, caplog):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(serial, "dump", full)
    cache = DiskCache(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="studio.cache"):
        assert cache.get_or_compute(key_of("x"), lambda: Expression()) is not None
        assert cache.put(key_of("y"), Expression()) is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "No space left" in warnings[0].getMessage()
    assert not list((tmp_path / "cache").glob("*"))  # no temp file left behind


def test_render_succeeds_when_the_cache_cannot_be_written(project_dir, caplog):
    """A file where cache/ should be: nothing can be cached, the render still works."""
    shutil.rmtree(project_dir / "cache")
    (project_dir / "cache").write_bytes(b"not a folder")
    with Project.open(project_dir) as p:
        tid = p.timelines()[0].id
        p.enqueue(tid, [p.segments(tid)[0].id])
    with caplog.at_level(logging.WARNING, logger="studio.cache"), JobRunner(project_dir) as r:
        (job,) = r.run_all()
    assert job.state == "done", job.error
    with Project.open(project_dir) as p:
        seg = p.segments(tid)[0]
        assert seg.state == "rendered" and seg.render_path.is_file()
    assert any("could not write the analysis cache" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ bundle import
def test_bundle_import_keeps_only_the_layout(project_dir, tmp_path, capsys):
    with Project.open(project_dir) as p:
        zpath = export_bundle(p, tmp_path / "b.zip")
        media = sorted(f.name for f in (project_dir / "media").iterdir())
    sha = "ab" * 32
    extra = {"cache/rig-0.npz": b"x", "notes.txt": b"x", ".env": b"x", "media/.x": b"x",
             "media/not-a-hash.jpg": b"x", f"media/sub/{sha}.jpg": b"x", "renders/.tmp-1": b"x",
             "exports/sub/a.mp4": b"x", "project.db-wal": b"x", "exports/clip.mp4": b"mp4"}
    with zipfile.ZipFile(zpath, "a") as zf:
        for name, data in extra.items():
            zf.writestr(name, data)
    dest = tmp_path / "imported"
    assert main(["bundle", "import", str(zpath), str(dest)]) == 0, capsys.readouterr().err
    files = sorted(str(f.relative_to(dest)) for f in dest.rglob("*") if f.is_file())
    assert files == sorted(["project.db", "exports/clip.mp4",
                            *(f"media/{m}" for m in media)]), files
    umask = os.umask(0)
    os.umask(umask)
    assert (dest.stat().st_mode & 0o777) == (0o777 & ~umask)
    assert ((dest / "project.db").stat().st_mode & 0o777) == (0o666 & ~umask)


def _bad_zip(tmp_path: Path, case: str, good_db: bytes) -> tuple[Path, str]:
    """A bundle refused for `case`; returns (zip, a fragment the error line must hold)."""
    z = tmp_path / f"{case}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        if case == "many_members":
            zf.writestr("project.db", good_db)
            for i in range(bundle.MAX_MEMBERS + 1):
                zf.writestr(f"renders/{i}", b"")
            return z, f"limit {bundle.MAX_MEMBERS}"
        zf.writestr("project.db", b"" if case == "empty_db" else
                    b"garbage " * 100 if case == "garbage_db" else good_db)
        if case == "long_part":
            zf.writestr("media/" + "n" * 300, b"x")
            return z, "'media/nnnn"
        if case == "long_name":
            zf.writestr("media/" + "/".join(["d" * 100] * 12) + "/f", b"x")
            return z, "'media/dddd"
        if case == "deep":
            zf.writestr("media/" + "a/" * 2000 + "f", b"x")
            return z, "'media/a/a/"
    return z, {"empty_db": "empty", "garbage_db": "not a SQLite database"}[case]


@pytest.mark.parametrize("case", ["long_part", "long_name", "deep", "many_members",
                                  "empty_db", "garbage_db"])
def test_hostile_bundle_refused_through_cli(template, tmp_path, capsys, case):
    assert bundle.MAX_MEMBERS <= 20_000  # 100,000 empty entries used to be accepted
    z, fragment = _bad_zip(tmp_path, case, (template / "project.db").read_bytes())
    area = tmp_path / "area"
    area.mkdir()
    code = main(["bundle", "import", str(z), str(area / "dest")])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert str(z) in lines[0] and fragment in lines[0], lines[0]
    assert ".import-" not in lines[0] and len(lines[0]) < 400, lines[0]
    assert list(area.iterdir()) == []  # no destination, no staging folder left


def test_deep_bundle_through_main_py(tmp_path):
    """The real entry point: no RecursionError traceback, one line, status 2."""
    z = tmp_path / "deep.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("project.db", b"x")
        zf.writestr("renders/" + "a/" * 2000 + "f", b"x")
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "bundle", "import", str(z),
                        str(tmp_path / "dest")], capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr, r.stderr
    assert str(z) in r.stderr and "nested more than" in r.stderr


def test_rig_restore_refuses_an_image_the_crop_does_not_fit(samples):
    """A stripped rig restored against a (replaced) image its crop does not fit raises,
    which the cache turns into a miss."""
    from core.face import compact

    rig = pipeline.analyze_face(pipeline.load_image(samples / PORTRAIT))
    small = compact.strip(rig)
    assert isinstance(small, FaceRig) and small.image.nbytes == 0 and not small.masks
    with pytest.raises(ValueError):
        compact.restore(small, np.zeros((100, 100, 3), np.uint8))
