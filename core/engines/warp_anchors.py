"""How each point of the warp's mesh follows the head: the anchor groups' share of the 3-D
head pose (ears turn with the skull, the neck partly, shoulders and frame border not at
all), how anchors near the face follow its expression, and how the dense Face Mesh points
deform exactly as the rig's 68-point mesh does at their place.

Why apart from warp_mesh: these are per-portrait weights, computed once when a MeshWarp
is built; warp_mesh is the per-frame rasterising and mapping.
"""

from __future__ import annotations

import numpy as np

from core.engines.warp_edges import DENSE_BORDER_STEPS
from core.face.mesh import build_mesh, check_mesh
from core.motion.landmarks import RigGeometry
from core.types import FaceRig

HEAD_WEIGHT = {
    "landmarks": 1.0,
    "face": 1.0,
    "forehead": 1.0,
    "cheeks": 1.0,
    "jaw_outer": 1.0,
    "head": 1.0,
    "neck": 0.35,
    "ears": 1.0,
    "shoulders": 0.0,
    "border": 0.0,
    "background": 0.0,
}
"""How much of the head pose each anchor group follows: the ears turn with the skull, the
neck partly, the shoulders (the trunk) not at all, so the neck stretches between them and
the head while the trunk and the frame's corners stay (at 0.05, a shoulder anchor placed
just above the frame's bottom edge in a tight crop moved the bottom corners' triangles)."""
SHOULDER_FADE = (0.3, 0.6)
"""Head-ellipse anchors follow the head fully down to this many face heights above the
chin, then less, to a fifth at this many below it (hair on the shoulders)."""
LOCAL_WEIGHT = {
    "landmarks": 1.0,
    "face": 1.0,
    "forehead": 0.6,
    "cheeks": 1.0,
    "jaw_outer": 0.8,
    "head": 0.0,
    "neck": 0.25,
    "ears": 0.0,
    "shoulders": 0.0,
    "border": 0.0,
    "background": 0.0,
}


def interior_triangles(triangles: np.ndarray) -> np.ndarray:
    """[T] bool: triangles inside the inner-lip polygon (every vertex in 60..67) or inside
    one eye (every vertex in 36..41 or in 42..47).

    These are the triangles that collapse to nothing when the lips meet or the lids close.
    Nearly degenerate, their affine maps are ill-conditioned (a 30:1 compression), so they
    are never grown and are skipped below a pixel of area: growing one by half a pixel
    would sample the photo many pixels away and draw streaks (measured: jagged tears beside
    every closed eye)."""
    t = np.asarray(triangles)

    def inside(lo: int, hi: int) -> np.ndarray:
        return ((t >= lo) & (t <= hi)).all(axis=1)

    return inside(60, 67) | inside(36, 41) | inside(42, 47)


def anchor_weights(
    pts: np.ndarray, groups: dict, geo: RigGeometry, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(head_w [A], local_w [A,68]) of a mesh's anchors (rows 68..): how much of the head
    pose each follows, and how it follows the landmarks' local deformation."""
    w, h = size
    n_pts = len(pts)
    group_of = np.array(["head"] * n_pts, dtype=object)
    for name, idx in groups.items():
        group_of[np.asarray(idx, dtype=int)] = name
    group_of[:68] = "landmarks"
    on_border = (
        (pts[:, 0] <= 0.5) | (pts[:, 1] <= 0.5) | (pts[:, 0] >= w - 1.5) | (pts[:, 1] >= h - 1.5)
    )
    group_of[on_border & (np.arange(n_pts) >= 68)] = "border"
    anchors = pts[68:]
    head_w = np.array([HEAD_WEIGHT.get(g, 1.0) for g in group_of[68:]])
    if not groups:  # unknown layout: fade the head weight with distance from the face
        r = np.linalg.norm(anchors - geo.center, axis=1) / geo.face_h
        head_w = np.where(group_of[68:] == "border", 0.0, np.clip((1.9 - r) / 0.8, 0, 1))
    # hair and background below the jaw line lie on the shoulders, which do not turn
    # with the head: fade the head weight from the mouth down to below the chin
    below = (anchors - pts[8]) @ geo.ey / geo.face_h  # face heights below the chin
    fade = np.clip(1.0 - (below + SHOULDER_FADE[0]) / sum(SHOULDER_FADE), 0.0, 1.0)
    head_w = np.where(group_of[68:] == "head", head_w * (0.2 + 0.8 * fade), head_w)
    loc = np.array([LOCAL_WEIGHT.get(g, 0.0) for g in group_of[68:]])
    d = np.linalg.norm(anchors[:, None] - pts[None, :68], axis=2) / geo.face_h
    k = np.exp(-((d / 0.12) ** 2))
    k /= np.maximum(k.sum(1, keepdims=True), 1e-12)
    reach = np.exp(-((d.min(1) / 0.25) ** 2))
    return head_w, k * (loc * reach)[:, None]


def follow_sparse(rig, geo, pts, groups, local_w, full_w):
    """Dense face points deform exactly as the rig's 68-point mesh deforms at their place:
    barycentric in the sparse triangle that holds them, over its landmarks (lids included,
    like the sparse mesh's own vertices) and its anchors (their `local_w`). So the dense
    mesh keeps today's expressions (mouth, jaw, smile) and its zero-pose frame, and only
    adds depth samples for the turn (a kernel blend of the landmarks folded the skin at the
    mouth corners)."""
    face = np.asarray(groups.get("face", []), dtype=np.int64)
    if not len(face):
        return local_w, full_w
    sp = np.asarray(rig.mesh_points, np.float64)
    st = np.asarray(rig.triangles, np.int64)
    st = st[~interior_triangles(st)]
    _, sparse_w = anchor_weights(sp, getattr(rig, "mesh_groups", None) or {}, geo, rig.size)
    q = pts[face]
    a, b, c = sp[st[:, 0]], sp[st[:, 1]], sp[st[:, 2]]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    det = np.where(np.abs(det) < 1e-9, 1e-9, det)
    rx, ry = q[:, None, 0] - a[None, :, 0], q[:, None, 1] - a[None, :, 1]
    l1 = (rx * (c[:, 1] - a[:, 1]) - ry * (c[:, 0] - a[:, 0])) / det
    l2 = (ry * (b[:, 0] - a[:, 0]) - rx * (b[:, 1] - a[:, 1])) / det
    bary = np.stack([1 - l1 - l2, l1, l2], axis=-1)  # [F,T,3]
    t = np.argmax(bary.min(axis=2), axis=1)  # the triangle holding it (or nearest to)
    lam = np.clip(bary[np.arange(len(face)), t], 0.0, None)
    lam /= lam.sum(axis=1, keepdims=True)
    local_w, full_w = local_w.copy(), full_w.copy()
    rows = face - 68
    local_w[rows] = 0.0
    full_w[rows] = 0.0
    for j in range(3):
        v = st[t, j]
        lm_v = v < 68
        full_w[rows[lm_v], v[lm_v]] += lam[lm_v, j]
        an = ~lm_v
        local_w[rows[an]] += lam[an, j, None] * sparse_w[v[an] - 68]
    return local_w, full_w


def dense_mesh(rig: FaceRig, mesh3d: np.ndarray, background: bool = True):
    """The rig's landmarks + anchors triangulated with the Face Mesh points between them, or
    None when that mesh breaks a guarantee of core.face.mesh (then the rig's own mesh is
    used: a bad dense mesh must never cost the render)."""
    try:
        pts, tris, groups = build_mesh(rig.landmarks, rig.size, face_points=mesh3d[:, :2],
                                       border_steps=DENSE_BORDER_STEPS, background=background)
    except (RuntimeError, ValueError):
        return None
    if check_mesh(pts, tris, rig.size) or not len(groups.get("face", [])):
        return None  # (no Face Mesh point kept: the rig's own mesh is the same warp)
    return pts, tris, groups


def background_follow(pts: np.ndarray, tris: np.ndarray, bg: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(cols [K], H [B,K]): the background points `bg` move by H @ (the displacement of
    mesh points `cols`), the discrete harmonic interpolation (cotangent weights at rest) of
    their neighbours' motion: the smoothest field that meets the posed head and hair on
    one side and the still frame border on the other.

    Why harmonic: a membrane has no kinks inside, so a straight line of the background
    bends gently as the head turns, where one affine map per long fan triangle bent it at
    every triangle edge (hallo_3 at 15 degrees of yaw: curtain folds zigzagged behind
    the ear). Solved once per mesh; a frame costs one small matrix product."""
    n = len(pts)
    bg = np.asarray(bg, np.int64)
    if not len(bg):
        return np.zeros(0, np.int64), np.zeros((0, 0))
    w = np.zeros((n, n))
    p = np.asarray(pts, np.float64)
    for k in range(3):  # the angle at vertex k weighs the opposite edge (i, j)
        i, j, o = tris[:, (k + 1) % 3], tris[:, (k + 2) % 3], tris[:, k]
        u, v = p[i] - p[o], p[j] - p[o]
        cross = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
        cot = (u * v).sum(1) / np.maximum(cross, 1e-9)
        np.add.at(w, (i, j), 0.5 * cot)
        np.add.at(w, (j, i), 0.5 * cot)
    edge = np.zeros((n, n), bool)
    for a, b in ((0, 1), (1, 2), (2, 0)):
        edge[tris[:, a], tris[:, b]] = edge[tris[:, b], tris[:, a]] = True
    # a non-Delaunay edge (negative weight) would let a point overshoot its neighbours
    w = np.where(edge, np.maximum(w, 1e-2), 0.0)
    is_bg = np.zeros(n, bool)
    is_bg[bg] = True
    wb = w[bg]
    cols = np.flatnonzero((wb > 0).any(axis=0) & ~is_bg)
    luu = np.diag(wb.sum(axis=1)) - wb[:, bg]
    return cols, np.linalg.solve(luu, wb[:, cols])
