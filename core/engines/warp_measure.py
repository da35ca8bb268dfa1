"""Measures of the warp's geometry under a posed head: how sharply the background bends
(`far_kink`), how far the ear region and the strip behind it stretch beyond the rigid head
(`stretch`), and whether any output pixel is left uncovered (`uncovered`).

Why here: the tests (tests/core/test_head_background.py, test_head_ears.py) bound them on
a few portraits and `bench pose` reports them on every portrait of the samples and peers;
one definition serves both, so the README's numbers are the tests' measures.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.engines.warp_ears import largest_singular, tri_jacobians
from core.engines.warp_mesh import MeshWarp
from core.face.mesh import face_frame, head_ellipse

FAR = 1.3
"""`far_kink` measures beyond this many times the head-and-hair ellipse."""


def far_kink(mesh: MeshWarp, landmarks: np.ndarray, pose: np.ndarray, shift: np.ndarray,
             src: np.ndarray | None = None) -> float:
    """99.5th percentile, over the output pixels beyond `FAR` times the head-and-hair
    ellipse (the background; 4 px from the frame edge), of the warp map's second
    derivative (Sobel, source px per output px squared, x and y maps together). A
    piecewise-affine map has its curvature on the triangle edges, where a straight line
    of the photo kinks; a smooth map spreads it thin. NaN without background to measure.
    `src`: the frame's mesh source pixels (default `mesh.edge_source`)."""
    lm = np.asarray(mesh.rig.landmarks, np.float64)
    c, (rx, ry) = head_ellipse(lm)
    _, ex, ey, _ = face_frame(lm)
    s = mesh.size
    yy, xx = np.mgrid[0:s, 0:s]
    q = (np.dstack([xx, yy]) + 0.5) / mesh.out_scale - 0.5 - c
    region = np.hypot(q @ ex / rx, q @ ey / ry) > FAR
    region[:4] = region[-4:] = False
    region[:, :4] = region[:, -4:] = False
    if region.sum() < 100:
        return float("nan")
    dst, depth = mesh.dst_points3d(landmarks, pose, shift)
    g = 0.0
    for m in mesh.maps(dst, depth, mesh.edge_source(pose, shift) if src is None else src):
        for dx, dy in ((2, 0), (0, 2), (1, 1)):
            k = cv2.Sobel(m.astype(np.float64), cv2.CV_64F, dx, dy, ksize=3) / 16
            g = g + k * k
    return float(np.percentile(np.sqrt(g)[region], 99.5))


def stretch(mesh: MeshWarp, tris: np.ndarray, landmarks: np.ndarray, pose: np.ndarray,
            shift: np.ndarray) -> float:
    """The largest stretch beyond the head's rigid motion over the front-facing triangles
    `tris` [T,3] of the mesh: the greater singular value of J_warp @ inv(J_rigid), both
    maps from source to output pixels, the rigid one the head pose applied to the
    triangle as a flat patch at its mean rest depth (the measure the ear limit bounds,
    core.engines.warp_ears). 1 = the patch moves as a picture on the head would; 2 =
    twice as wide somewhere. 1.0 for no triangle."""
    t = np.asarray(tris, np.int64).reshape(-1, 3)
    src = mesh.pts[t]  # [T,3,2]
    a = np.stack([src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]], axis=-1)
    ok = np.abs(np.linalg.det(a)) > 1e-9
    if not ok.any():
        return 1.0
    t, src, a = t[ok], src[ok], a[ok]
    ainv = np.linalg.inv(a)
    z = np.repeat(mesh.depth[t].mean(axis=1), 3)
    rigid, _ = mesh.poser.pose(src.reshape(-1, 2), z, pose, shift, 1.0)
    dst, _ = mesh.dst_points3d(landmarks, pose, shift)
    jw = tri_jacobians(dst[t], ainv)
    jr = tri_jacobians(rigid.reshape(-1, 3, 2), ainv)
    front = np.linalg.det(jw) > 0  # a folded one is hidden behind the surface in front
    if not front.any():
        return 1.0
    return max(1.0, float(largest_singular(jw[front] @ np.linalg.inv(jr[front])).max()))


def ear_triangles(mesh: MeshWarp, behind_ear: bool = False) -> np.ndarray:
    """The mesh triangles between an ear anchor and the face (an ear anchor as a vertex,
    no head-outline or background point), or with `behind_ear` those between an ear anchor
    and the head's outline (the hair and the side of the head behind the ear)."""
    groups = mesh.groups or {}
    ears = np.asarray(groups.get("ears", []), np.int64)
    outline = np.asarray(groups.get("head", []), np.int64)
    bg = np.asarray(groups.get("background", []), np.int64)
    t = mesh.tris[np.isin(mesh.tris, ears).any(axis=1)]
    t = t[~np.isin(t, bg).any(axis=1)]
    return t[np.isin(t, outline).any(axis=1) == behind_ear]


def uncovered(mesh: MeshWarp, landmarks: np.ndarray, pose: np.ndarray,
              shift: np.ndarray) -> int:
    """Output pixels no triangle of the posed mesh covers (they would show the unwarped
    photo: a hole)."""
    dst, depth = mesh.dst_points3d(landmarks, pose, shift)
    return int((mesh.index(dst, depth)[0] == mesh.empty).sum())
