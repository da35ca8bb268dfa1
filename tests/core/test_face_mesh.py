"""core.face.mesh: the mouth opens and the eyes close without folding the mesh."""

from __future__ import annotations

import numpy as np
import pytest

from core import face
from core.face.keypoints import fit_68_from_5, five_from_68
from core.face.mesh import (
    CONSTRAINED_EDGES,
    build_mesh,
    check_mesh,
    close_crossed_lips,
    face_frame,
    mouth_interior,
    signed_areas,
)
from core.image import load_image

PORTRAITS = ["hallo_1.jpg", "hallo_2.jpg", "hallo_3.jpg", "hallo_5.jpg", "echomimic_a.png"]


@pytest.fixture(scope="module")
def rigs(samples):
    return {n: face.analyze(load_image(samples / "portraits" / n), work_size=512) for n in PORTRAITS}


def _open_mouth(rig, drop: float) -> np.ndarray:
    """Move the lower lip and jaw down by `drop` iod, the upper lip up a little."""
    p = rig.mesh_points.astype(np.float64).copy()
    _, _, ey, iod = face_frame(p[:68])
    d = drop * iod * ey
    for i in (49, 50, 51, 52, 53, 61, 62, 63):
        p[i] -= 0.1 * d
    for i in (55, 56, 57, 58, 59, 65, 66, 67):
        p[i] += d
    for i in (48, 54, 60, 64):
        p[i] += 0.3 * d
    for i, wgt in zip(range(3, 14), (0.1, 0.3, 0.6, 0.85, 1, 1, 1, 0.85, 0.6, 0.3, 0.1), strict=True):
        p[i] += wgt * d
    for j in rig.mesh_groups["jaw_outer"]:
        k = int(np.argmin(np.hypot(*(p[3:14] - p[j]).T))) + 3
        p[j] += 0.5 * (p[k] - rig.mesh_points[k])
    return p


@pytest.mark.parametrize("name", PORTRAITS)
def test_mouth_opens_without_folds(rigs, name):
    rig = rigs[name]
    interior = mouth_interior(rig.triangles)
    assert 4 <= interior.sum() <= 6  # an octagon: 6 triangles (fewer when points coincide)
    assert interior[-int(interior.sum()) :].all()  # interior triangles come last
    w, h = rig.size
    for drop in (0.15, 0.3):
        p = _open_mouth(rig, drop)
        areas = signed_areas(p, rig.triangles)
        assert (areas[~interior] > 0).all(), (drop, np.nonzero(areas[~interior] <= 0))
        assert (areas[interior] > 0).all()  # an open mouth has a proper interior
        # no overlaps: the triangles still tile the image exactly
        assert abs(np.abs(areas).sum() - (w - 1) * (h - 1)) < 1e-6 * w * h


@pytest.mark.parametrize("name", PORTRAITS)
def test_blink_without_folds(rigs, name):
    rig = rigs[name]
    p = rig.mesh_points.astype(np.float64).copy()
    for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
        p[up] += 0.95 * (p[lo] - p[up])
    areas = signed_areas(p, rig.triangles[~mouth_interior(rig.triangles)])
    assert (areas > 0).all()


def test_constrained_edges_are_present(rigs):
    for rig in rigs.values():
        edges = {tuple(sorted(map(int, e))) for t in rig.triangles for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2]))}
        missing = [e for e in CONSTRAINED_EDGES if tuple(sorted(e)) not in edges]
        assert missing == []


def test_crossed_inner_lips_are_merged():
    lm = fit_68_from_5(np.array([[100, 100], [160, 100], [130, 140], [105, 170], [155, 170]], float))
    lm[61:64, 1] += 3  # upper inner lip pushed below the lower one
    fixed = close_crossed_lips(lm)
    for u, lo in ((61, 67), (62, 66), (63, 65)):
        assert fixed[lo, 1] >= fixed[u, 1]
    pts, tris, _ = build_mesh(fixed, (260, 260))
    assert check_mesh(pts, tris, (260, 260)) == []


@pytest.mark.parametrize("scale", [0.2, 1.0, 3.0])
def test_fitted_faces_at_any_scale_and_roll(scale):
    """Synthetic faces (the 5-point fit) of many sizes and rolls always mesh cleanly."""
    rng = np.random.default_rng(int(scale * 10))
    size = 600
    for _ in range(8):
        ang = np.radians(rng.uniform(-40, 40))
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        base = np.array([[-0.5, 0], [0.5, 0], [0, 0.55], [-0.4, 0.92], [0.4, 0.92]])
        base += rng.normal(0, 0.04, base.shape)
        five = (base * 60 * scale) @ rot.T + rng.uniform(0.35, 0.65, 2) * size
        lm = close_crossed_lips(fit_68_from_5(five))
        pts, tris, groups = build_mesh(lm, (size, size))
        assert check_mesh(pts, tris, (size, size)) == []
        assert np.allclose(five_from_68(pts[:68]), five, atol=1e-3)
