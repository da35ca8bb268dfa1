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


def test_ibug68_map_is_symmetric_and_complete():
    from core.face.facemesh import IBUG68_FROM_MESH
    from core.face.keypoints import MIRROR

    assert len(IBUG68_FROM_MESH) == 68
    assert all(1 <= len(ix) <= 2 and all(0 <= v < 468 for v in ix) for ix in IBUG68_FROM_MESH)
    # midline iBUG points (nose bridge 27-30, 33, lips 51 57 62 66, chin 8) use midline
    # vertices; a left/right pair uses the same number of vertices
    for i in range(68):
        assert len(IBUG68_FROM_MESH[i]) == len(IBUG68_FROM_MESH[MIRROR[i]])


def test_derived_68_geometry(meshes):
    from core.face.facemesh import points68_from_mesh

    for name, (_, m) in meshes.items():
        lm = points68_from_mesh(m.points).astype(np.float64)
        assert lm.shape == (68, 2)
        le, re = lm[36:42].mean(0), lm[42:48].mean(0)
        iod = re[0] - le[0]
        assert iod > 0, name  # iBUG 36-41 is the image-left eye
        jaw_w = lm[16, 0] - lm[0, 0]
        assert 1.5 * iod < jaw_w < 3.0 * iod, name
        mouth = lm[48:68].mean(0)
        assert max(le[1], re[1]) < lm[30, 1] < mouth[1] < lm[8, 1], name
        assert lm[17:27, 1].mean() < min(le[1], re[1]), name
        assert lm[48, 0] < lm[54, 0] and lm[60, 0] < lm[64, 0], name
        assert (np.diff(lm[31:36, 0]) > 0).all(), name  # nostril base left → right
        assert abs((le[0] + re[0]) / 2 - lm[30, 0]) < 0.3 * iod, name
