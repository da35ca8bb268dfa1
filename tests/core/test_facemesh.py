"""MediaPipe Face Mesh (core.face.facemesh) on the real sample portraits and peer frames."""

from __future__ import annotations

import numpy as np
import pytest

from core.face.detect import detect_faces
from core.face.facemesh import MIN_SCORE, mesh_from_box, models_dir
from core.image import load_image

PORTRAITS = ["hallo_1.jpg", "hallo_2.jpg", "hallo_3.jpg", "hallo_5.jpg", "echomimic_a.png"]


@pytest.fixture(scope="module", autouse=True)
def _models():
    try:
        models_dir()
    except Exception as e:  # the package is installed by the Makefile with --no-deps
        pytest.skip(str(e))


def _portraits(samples):
    paths = [samples / "portraits" / n for n in PORTRAITS]
    paths += sorted((samples.parent / "peers").glob("*/ref.jpg"))
    return paths


@pytest.fixture(scope="module")
def meshes(samples):
    out = {}
    for p in _portraits(samples):
        img = load_image(p)
        dets = detect_faces(img)
        assert dets, f"no face in {p}"
        out[p.parent.name + "/" + p.name] = (img, mesh_from_box(img, dets[0].box))
    return out


def test_every_portrait_gets_a_mesh(meshes):
    assert len(meshes) >= len(PORTRAITS)
    for name, (img, m) in meshes.items():
        assert m is not None, name
        assert m.score > MIN_SCORE
        h, w = img.shape[:2]
        p = m.points
        assert p.shape == (468, 3) and p.dtype == np.float32
        assert (p[:, 0] > 0).all() and (p[:, 0] < w).all(), name
        assert (p[:, 1] > 0).all() and (p[:, 1] < h).all(), name
        # z + towards the camera: the nose tip (mesh 1) is in front of the face oval
        # (cheek sides 234 / 454) and of the chin (152)
        assert p[1, 2] > p[[234, 454], 2].max() + 0.2 * (p[454, 0] - p[234, 0]), name
        assert p[1, 2] > p[152, 2], name
        # irises: image-left eye first, each inside its eye corners
        ir = m.iris
        assert ir.shape == (10, 3)
        assert p[33, 0] < ir[0, 0] < p[133, 0], name
        assert p[362, 0] < ir[5, 0] < p[263, 0], name
