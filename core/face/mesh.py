"""The warp mesh: 68 landmarks + anchors, triangulated so the mouth can open.

Layout of `mesh_points` (groups are returned by `build_mesh` and stored in
`FaceRig.mesh_groups` so engines can move each group its own way):

    landmarks  0..67   the iBUG points (follow the motion track)
    forehead           5 points above the brows (move with the head)
    cheeks             2 points between eye, nose, mouth and jaw (smooth jaw drop)
    jaw_outer          a ring just outside the jaw line 3..13 (partly follow the jaw, so a
                       jaw drop stretches the skin below the chin smoothly)
    head               an ellipse around head and hair (moves with the head, fades to
                       the static background outside it)
    neck               3 points below the chin (stay, or follow the head a little)
    ears               2 points per side outside the jaw line's top (turn with the head)
    shoulders          up to 5 points low and wide (the trunk: nearly still)
    border             a ring on the image border, corners included (never move)

Anchors falling outside the image, or too close to a point already placed, are dropped,
so group sizes vary with the framing.

Why this triangulation: Delaunay on the real points would, for a closed mouth (upper and
lower inner lip points nearly on top of each other), create slivers joining the upper lip
to the lower lip; opening the mouth would then drag one lip with the other or fold
triangles. So the topology is computed on a copy with the inner lips pushed apart (and the
eyelids too), which makes the inner-lip polygon 60-67 a proper hole bounded by its own
edges, then reused for the real positions. Guarantees checked by `check_mesh`:

- no triangle joins an upper-lip point (49-53, 61-63) to a lower-lip point (55-59, 65-67)
  except the MOUTH-INTERIOR triangles, whose 3 vertices are all inner-lip points 60-67;
- those interior triangles come LAST in `triangles` (`mouth_interior(triangles)` flags
  them). They are degenerate (zero area) when the portrait's mouth is closed: engines
  should paint the mouth interior (dark cavity, teeth) over the inner-lip polygon of the
  animated frame rather than stretch source texture across them;
- every other triangle has a positive orientation, (p1 - p0) × (p2 - p0) > 0 in image
  coordinates (x right, y down), and a non-zero area; together they tile the image.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay

from core.face.keypoints import LEFT_EYE, RIGHT_EYE

INNER_LIP = np.arange(60, 68)
UPPER_LIP = np.array([49, 50, 51, 52, 53, 61, 62, 63])
LOWER_LIP = np.array([55, 56, 57, 58, 59, 65, 66, 67])
# (upper, lower) inner-lip pairs from the image-left corner to the right.
INNER_PAIRS = ((61, 67), (62, 66), (63, 65))
EYELID_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))
BORDER_STEPS = 5


def face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(origin = eye midpoint, ex = unit image-left→right eye, ey = unit 'down', iod)."""
    p = np.asarray(landmarks, dtype=np.float64)
    le, re = p[LEFT_EYE].mean(0), p[RIGHT_EYE].mean(0)
    v = re - le
    iod = float(np.hypot(*v))
    ex = v / iod
    ey = np.array([-ex[1], ex[0]])
    return (le + re) / 2, ex, ey, iod


def close_crossed_lips(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip points where the lower lip sits ABOVE the upper one (predictor noise on a
    closed mouth) are merged to their midpoint, so the mouth gap is never negative."""
    p = np.array(landmarks, dtype=np.float32, copy=True)
    _, _, ey, _ = face_frame(p)
    for u, lo in INNER_PAIRS:
        if float((p[lo] - p[u]) @ ey) < 0:
            p[u] = p[lo] = (p[u] + p[lo]) / 2
    return p


def _opened(points: np.ndarray, ey: np.ndarray, iod: float) -> np.ndarray:
    """Copy of points with inner lips and eyelids pushed apart (topology only)."""
    q = points.copy()
    width = float(np.hypot(*(q[64] - q[60])))
    for pairs, gap_frac, limit_of in ((INNER_PAIRS, 0.3, (50, 57)), (EYELID_PAIRS, 0.0, None)):
        for u, lo in pairs:
            gap = float((q[lo] - q[u]) @ ey)
            if limit_of is None:  # eyelids: open to at least 0.12 iod
                want = 0.12 * iod
            else:
                want = gap_frac * width
            if gap >= want:
                continue
            push = (want - gap) / 2
            if limit_of is not None:
                # never past the outer lip: keep half the lip thickness
                up_room = float((q[u] - q[limit_of[0]]) @ ey) * 0.5
                lo_room = float((q[limit_of[1]] - q[lo]) @ ey) * 0.5
                push = min(push, max(up_room, 0.0), max(lo_room, 0.0))
            q[u] -= push * ey
            q[lo] += push * ey
    return q


def _anchor_candidates(p: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Anchor positions in face-frame units (iod), mapped to image pixels."""
    o, ex, ey, iod = face_frame(p)

    def at(fx: float, fy: float) -> np.ndarray:
        return o + iod * (fx * ex + fy * ey)

    brow_top = min(float((p[i] - o) @ ey) for i in range(17, 27)) / iod
    chin = float((p[8] - o) @ ey) / iod
    out: list[tuple[str, np.ndarray]] = []
    for fx, lift in ((-0.95, 0.30), (-0.5, 0.45), (0.0, 0.5), (0.5, 0.45), (0.95, 0.30)):
        out.append(("forehead", at(fx, brow_top - lift)))
    out += [("cheeks", at(-0.62, 0.5)), ("cheeks", at(0.62, 0.5))]
    centre = at(0.0, 0.5)
    for i in range(3, 14):
        d = p[i] - centre
        n = float(np.hypot(*d))
        if n > 1e-6:
            out.append(("jaw_outer", p[i] + d / n * 0.3 * iod))
    _, (rx, ry) = head_ellipse(p)
    cy = (brow_top - 0.5 + chin) / 2
    for k in range(16):
        a = 2 * np.pi * k / 16
        out.append(("head", at(rx / iod * np.sin(a), cy - ry / iod * np.cos(a))))
    for fx in (-0.65, 0.0, 0.65):
        out.append(("neck", at(fx, chin + 0.9 - 0.15 * abs(fx))))
    # ears: beside the jaw line's top (0, 16), from the eye line to the lobe
    for side, j in ((-1.0, 0), (1.0, 16)):
        fx = float((p[j] - o) @ ex) / iod + side * EAR_OUT
        for fy in EAR_V:
            out.append(("ears", at(fx, fy)))
    # shoulders: wide and low, where the neck meets the trunk
    for fx, dy in SHOULDERS:
        out.append(("shoulders", at(fx, chin + dy)))
    return out


HEAD_RX = 1.75
"""Half-width (iod) of the head-and-hair ellipse that carries the "head" anchors."""


def head_ellipse(landmarks: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """(centre [2] image px, (rx, ry) px) of the ellipse around head and hair whose ring
    holds the "head" anchors (axes along the face frame's ex, ey): from half an iod above
    the brows to the chin, plus 0.55 iod all round. Engines use it to tell how close the
    hair comes to the image border."""
    o, _, ey, iod = face_frame(landmarks)
    p = np.asarray(landmarks, dtype=np.float64)
    brow_top = min(float((p[i] - o) @ ey) for i in range(17, 27)) / iod
    chin = float((p[8] - o) @ ey) / iod
    cy = (brow_top - 0.5 + chin) / 2
    ry = (chin - (brow_top - 0.5)) / 2 + 0.55
    return o + iod * cy * ey, (HEAD_RX * iod, ry * iod)


EAR_OUT = 0.4
"""Ear anchors sit this far (iod) outside the jaw line's top landmarks 0 / 16."""
EAR_V = (0.05, 0.7)
"""...from the eye line (top of the ear) to about the nose base (the lobe), in iod below
the eye midpoint."""
SHOULDERS = ((-1.6, 1.5), (0.0, 1.75), (1.6, 1.5), (-2.6, 1.35), (2.6, 1.35))
"""Shoulder anchors (iod along the eye line, iod below the chin): the trunk, which the
renderer keeps nearly still, so the neck between them and the head stretches smoothly."""
SHOULDER_MIN_BELOW_CHIN = 1.15
"""In a tight crop the shoulder anchors move up to 2 margins above the frame's bottom edge,
but no nearer the chin than this (iod), below the neck anchors."""


BACKGROUND_RINGS = (1.25, 1.6, 2.05, 2.65, 3.4, 4.4)
"""Scales of the head-and-hair ellipse on which the dense warp mesh places background
points (those inside the frame), BACKGROUND_PER_RING to a ring: a graded mesh, fine next
to the head, where the warp's displacement changes fastest, coarse far from it."""
BACKGROUND_PER_RING = 28


def _background_candidates(p: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Points between the head-and-hair ellipse and the frame border (group
    "background"): the renderer moves them as a smooth (harmonic) blend of their
    neighbours, so a turned head's displacement fades out over the background instead of
    across a fan of long triangles from the hair to the frame border (each with its own
    affine map: straight lines behind the head kinked at every fan edge)."""
    c, (rx, ry) = head_ellipse(p)
    _, ex, ey, _ = face_frame(p)
    out = []
    for k, s in enumerate(BACKGROUND_RINGS):
        off = 0.5 * (k % 2)  # alternate rings are staggered: triangles, not slivers
        for j in range(BACKGROUND_PER_RING):
            a = 2 * np.pi * (j + off) / BACKGROUND_PER_RING
            out.append(("background", c + s * (rx * np.sin(a) * ex - ry * np.cos(a) * ey)))
    return out


def _border(w: int, h: int, steps: int = BORDER_STEPS) -> np.ndarray:
    xs = np.linspace(0, w - 1, steps + 1)
    ys = np.linspace(0, h - 1, steps + 1)
    pts = [(x, 0.0) for x in xs] + [(w - 1.0, y) for y in ys[1:]]
    pts += [(x, h - 1.0) for x in xs[-2::-1]] + [(0.0, y) for y in ys[-2:0:-1]]
    return np.array(pts, dtype=np.float64)


def _ring(idx: range) -> list[tuple[int, int]]:
    i = list(idx)
    return list(zip(i, i[1:] + i[:1], strict=True))


CONSTRAINED_EDGES: list[tuple[int, int]] = (
    _ring(range(48, 60)) + _ring(range(60, 68)) + [(48, 60), (54, 64)]
    + _ring(range(36, 42)) + _ring(range(42, 48)) + [(36, 17), (45, 26)]
)
"""Edges forced into the triangulation: outer and inner lip contours and the lip corners
(so upper lip, lower lip and mouth interior are separate regions), the eye contours (so
eyelids can close without dragging the brows), and outer eye corner → outer brow end (so
no triangle joins an upper eyelid to a jaw point: on a turned face the Face Mesh's temple
point sits close to the far eye's corner, and a closing lid would fold such a triangle)."""


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def _segments_cross(p: np.ndarray, a: int, b: int, c: int, d: int) -> bool:
    """Do segments ab and cd cross at a point interior to both (shared ends don't count)?"""
    if len({a, b, c, d}) < 4:
        return False
    pa, pb, pc, pd = p[a], p[b], p[c], p[d]
    d1, d2 = _cross(pa, pb, pc), _cross(pa, pb, pd)
    d3, d4 = _cross(pc, pd, pa), _cross(pc, pd, pb)
    return d1 * d2 < 0 and d3 * d4 < 0


def _in_circle(p: np.ndarray, a: int, b: int, c: int, d: int) -> bool:
    """Is point d strictly inside the circumcircle of the positively oriented (a, b, c)?"""
    m = np.array([[*(p[i] - p[d]), float((p[i] - p[d]) @ (p[i] - p[d]))] for i in (a, b, c)])
    return float(np.linalg.det(m)) > 1e-9


class _Tri:
    """A tiny mutable triangulation with edge flips (enough for ~150 points)."""

    def __init__(self, points: np.ndarray, tris: np.ndarray):
        self.p = points
        self.tris: dict[int, tuple[int, int, int]] = {}
        self.edges: dict[tuple[int, int], int] = {}  # directed edge -> triangle id
        self.next_id = 0
        for t in tris:
            self.add(*(int(v) for v in t))

    def add(self, a: int, b: int, c: int) -> None:
        if _cross(self.p[a], self.p[b], self.p[c]) < 0:
            b, c = c, b
        k = self.next_id
        self.next_id += 1
        self.tris[k] = (a, b, c)
        for e in ((a, b), (b, c), (c, a)):
            self.edges[e] = k

    def remove(self, k: int) -> None:
        a, b, c = self.tris.pop(k)
        for e in ((a, b), (b, c), (c, a)):
            del self.edges[e]

    def opposite(self, u: int, v: int) -> tuple[int | None, int | None]:
        """The apexes of the triangles on either side of edge uv (None on the hull)."""
        out = []
        for e in ((u, v), (v, u)):
            k = self.edges.get(e)
            out.append(None if k is None else next(x for x in self.tris[k] if x not in e))
        return out[0], out[1]

    def flip(self, u: int, v: int) -> tuple[int, int] | None:
        """Flip edge uv to the other diagonal if its quad is convex; the new edge or None."""
        p_, q_ = self.opposite(u, v)
        if p_ is None or q_ is None or not _segments_cross(self.p, u, v, p_, q_):
            return None
        self.remove(self.edges[(u, v)])
        self.remove(self.edges[(v, u)])
        self.add(p_, q_, u)
        self.add(q_, p_, v)
        return p_, q_

    def undirected(self) -> set[tuple[int, int]]:
        return {(min(a, b), max(a, b)) for a, b in self.edges}

    def array(self) -> np.ndarray:
        return np.array(list(self.tris.values()), dtype=np.int32).reshape(-1, 3)


def _crossing_edges(p: np.ndarray, a: int, b: int, edges: set[tuple[int, int]]) -> list:
    """The edges among `edges` that properly cross segment ab (vectorised)."""
    e = np.array(sorted(edges), dtype=np.int64)
    e = e[(e[:, 0] != a) & (e[:, 0] != b) & (e[:, 1] != a) & (e[:, 1] != b)]
    pa, pb, pc, pd = p[a], p[b], p[e[:, 0]], p[e[:, 1]]

    def cr(o, u, v):
        return (u[..., 0] - o[..., 0]) * (v[..., 1] - o[..., 1]) - (u[..., 1] - o[..., 1]) * (
            v[..., 0] - o[..., 0]
        )

    hit = (cr(pa, pb, pc) * cr(pa, pb, pd) < 0) & (cr(pc, pd, pa) * cr(pc, pd, pb) < 0)
    return [tuple(int(v) for v in x) for x in e[hit]]


def constrain(points: np.ndarray, tris: np.ndarray, edges: list[tuple[int, int]]) -> np.ndarray:
    """Force `edges` into a triangulation by edge flips (Sloan's method), then restore
    the Delaunay property of every other edge (Lawson flips)."""
    t = _Tri(np.asarray(points, np.float64), tris)
    fixed = {(min(a, b), max(a, b)) for a, b in edges}
    for a, b in edges:
        crossing = _crossing_edges(t.p, a, b, t.undirected())
        guard = 0
        while crossing:
            guard += 1
            if guard > 10_000:
                raise RuntimeError(f"cannot insert mesh edge {a}-{b}")
            u, v = crossing.pop(0)
            new = t.flip(u, v)
            if new is None:
                crossing.append((u, v))
            elif _segments_cross(t.p, a, b, *new):
                crossing.append((min(new), max(new)))
    changed = True
    while changed:
        changed = False
        for u, v in list(t.undirected()):
            k = t.edges.get((u, v))
            if (u, v) in fixed or k is None or (v, u) not in t.edges:
                continue
            p_, q_ = t.opposite(u, v)
            a, b, c = t.tris[k]
            if _in_circle(t.p, a, b, c, q_) and t.flip(u, v) is not None:
                changed = True
    return t.array()


def orient(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Reorder each triangle so its signed area is >= 0."""
    t = tris.copy()
    flip = signed_areas(points, t) < 0
    t[flip] = t[flip][:, [0, 2, 1]]
    return t


def signed_areas(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def mouth_interior(triangles: np.ndarray) -> np.ndarray:
    """[T] bool: triangles filling the inner-lip polygon (all vertices in 60..67)."""
    t = np.asarray(triangles)
    return ((t >= 60) & (t <= 67)).all(axis=1)


FACE_SPACING = 0.075
"""Least distance (inter-ocular distances) between dense face points kept in the mesh."""
FACE_KEEP_OUT = 0.08
"""Dense face points closer than this (iod) to the lips or an eye are left out: the lips and
lids move by their own landmarks, and a skin point between an upper and a lower lip point
would be dragged by both and fold when the mouth opens."""


FACE_JAW_MARGIN = 0.25
"""Dense face points stay this far (iod) inside the jaw line: near the silhouette a turned
head folds, and the fewer, larger triangles there keep the far outline smooth (with dense
points up to the jaw, the outline turned jagged)."""


def _inside_by(poly: np.ndarray, pts: np.ndarray, margin: float) -> np.ndarray:
    """[P] bool: points at least `margin` inside the polygon."""
    import cv2

    contour = poly.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), True) for x, y in pts]) > margin


def select_face_points(landmarks: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Indices of `candidates` [M,2] (a dense face mesh, e.g. Face Mesh's 468 points) to add
    to the warp mesh: off the lips and eyes (`FACE_KEEP_OUT`), inside the image of the
    landmarks' face, thinned greedily to `FACE_SPACING` from the landmarks and each other."""
    p = np.asarray(landmarks, dtype=np.float64)
    c = np.asarray(candidates, dtype=np.float64)[:, :2]
    _, _, _, iod = face_frame(p)
    keep_out = FACE_KEEP_OUT * iod

    def outside(poly: np.ndarray) -> np.ndarray:
        import cv2

        contour = poly.astype(np.float32).reshape(-1, 1, 2)
        d = np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), True) for x, y in c])
        return d < -keep_out

    ok = outside(p[48:60]) & outside(p[36:42]) & outside(p[42:48])
    # nor in the nostrils: the nose tip turns over them under pitch and yaw, and Face Mesh's
    # points there (depths changing by ~10 mm over a few pixels) folded into a thin dark
    # line along the nostril (hallo_3, emo_talk_kara); the landmarks 30-35 shape them alone
    ok &= outside(p[[31, 30, 35, 34, 33, 32]])
    # inside the jaw line, off it: the landmarks' jaw is the face's silhouette, and a dense
    # point on or past it (Face Mesh's oval is a surface curve, not the silhouette) would
    # move with another depth than the silhouette next to it and notch the outline
    o, _, ey, _ = face_frame(p)
    lift = 3.0 * iod * ey
    jaw = np.concatenate([[p[0] - lift], p[0:17], [p[16] - lift]])
    ok &= _inside_by(jaw, c, FACE_JAW_MARGIN * iod)
    chosen: list[int] = []
    taken = [*p]
    spacing = FACE_SPACING * iod
    for i in np.flatnonzero(ok):
        if np.hypot(*(np.asarray(taken) - c[i]).T).min() >= spacing:
            chosen.append(int(i))
            taken.append(c[i])
    return np.asarray(chosen, dtype=np.int64)


def build_mesh(
    landmarks: np.ndarray,
    size: tuple[int, int],
    face_points: np.ndarray | None = None,
    border_steps: int = BORDER_STEPS,
    background: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(mesh_points [N, 2] float32, triangles [T, 3] int32, groups name → indices).

    `landmarks` are in the pixels of an image of `size` (w, h); they become rows 0..67.
    `face_points` (optional, [M,2+]): a dense face mesh in the same pixels (Face Mesh); the
    points `select_face_points` keeps follow the landmarks as group "face", which makes the
    mesh denser where a turning head bends (cheeks, nose sides, forehead).
    `border_steps`: segments per image side of the border ring (a renderer whose border
    follows the hair near an edge wants them denser, so that motion fades smoothly).
    `background`: add the graded rings of background points (`_background_candidates`).
    """
    w, h = size
    p = np.asarray(landmarks, dtype=np.float64)
    _, _, ey, iod = face_frame(p)
    min_dist = max(3.0, 0.12 * iod)
    border = _border(w, h, border_steps)
    pts = [*p]
    groups: dict[str, list[int]] = {"landmarks": list(range(68))}
    if face_points is not None:
        fp = np.asarray(face_points, dtype=np.float64)[:, :2]
        inside = (fp[:, 0] >= 1) & (fp[:, 0] <= w - 2) & (fp[:, 1] >= 1) & (fp[:, 1] <= h - 2)
        for q in fp[inside][select_face_points(p, fp[inside])]:
            groups.setdefault("face", []).append(len(pts))
            pts.append(q)
    # Anchors keep room from the border: a jaw drop pushes jaw_outer/neck anchors down, and
    # one close to the bottom edge would cross the (fixed) border ring and fold.
    margin = max(2.0, 0.25 * iod)
    candidates = _anchor_candidates(p) + (_background_candidates(p) if background else [])
    for name, q in candidates:
        if name == "shoulders" and q[1] > h - 1 - margin and ey[1] > 0.5:
            # a tight crop: the trunk is still there, just above the frame's bottom edge
            q = q - ey * (q[1] - (h - 1 - 2 * margin)) / ey[1]
            if float((q - p[8]) @ ey) < SHOULDER_MIN_BELOW_CHIN * iod:
                continue
        if not (margin <= q[0] <= w - 1 - margin and margin <= q[1] <= h - 1 - margin):
            continue
        near = np.hypot(*(np.asarray(pts) - q).T).min()
        near_b = np.hypot(*(border - q).T).min()
        if near < min_dist or near_b < min_dist:
            continue
        groups.setdefault(name, []).append(len(pts))
        pts.append(q)
    groups["border"] = list(range(len(pts), len(pts) + len(border)))
    pts += [*border]
    real = np.asarray(pts, dtype=np.float64)

    topo = _opened(real, ey, iod)
    tris = orient(topo, Delaunay(topo).simplices.astype(np.int32))
    tris = constrain(topo, tris, CONSTRAINED_EDGES)
    inside = mouth_interior(tris)
    tris = np.concatenate([tris[~inside], tris[inside]])
    # The orientation comes from the opened copy: a triangle that folds in the real
    # configuration is a bug `check_mesh` reports, not something to hide by reordering.
    for name in ("forehead", "cheeks", "jaw_outer", "head", "neck", "ears", "shoulders",
                 *(("background",) if background else ())):
        groups.setdefault(name, [])
    if face_points is not None:
        groups.setdefault("face", [])
    return (
        real.astype(np.float32),
        tris,
        {k: np.asarray(v, dtype=np.int32) for k, v in groups.items()},
    )


def check_mesh(points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> list[str]:
    """Problems with a mesh (empty list = good): see the module docstring's guarantees."""
    problems = []
    w, h = size
    interior = mouth_interior(triangles)
    if interior.any() and not interior[np.argmax(interior):].all():
        problems.append("mouth-interior triangles are not all at the end")
    outer = triangles[~interior]
    areas = signed_areas(points, outer)
    if (areas <= 1e-6).any():
        problems.append(f"{int((areas <= 1e-6).sum())} flipped or degenerate triangles")
    upper = np.isin(outer, UPPER_LIP).any(axis=1)
    lower = np.isin(outer, LOWER_LIP).any(axis=1)
    if (upper & lower).any():
        problems.append(f"{int((upper & lower).sum())} triangles join upper and lower lip")
    edges = {tuple(sorted(e)) for t in triangles for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2]))}
    ring = list(INNER_LIP) + [60]
    missing = [(a, b) for a, b in zip(ring, ring[1:], strict=False) if tuple(sorted((a, b))) not in edges]
    if missing:
        problems.append(f"inner-lip edges missing from the mesh: {missing}")
    # Coverage: the non-interior triangles must tile the image rectangle exactly once.
    hull_area = (w - 1) * (h - 1)
    total = float(np.abs(signed_areas(points, triangles)).sum())
    inside = (points[:, 0] >= 0) & (points[:, 0] <= w - 1) & (points[:, 1] >= 0) & (points[:, 1] <= h - 1)
    if inside.all() and abs(total - hull_area) > 1e-3 * hull_area:
        problems.append(f"triangles cover {total:.0f} px² of a {hull_area} px² image")
    return problems
