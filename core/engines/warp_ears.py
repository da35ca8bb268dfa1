"""How far a posed head's ear anchors may lag behind the face contour beside them.

Why: the ear anchors sit on the skull's side, near the yaw pivot, so a turn barely moves
them while the cheek contour in front of them swings by a centimetre or more. Turned
towards the ear, the strip of photo between the contour and the ear anchors (the ear
itself and the side of the head) is stretched by the ratio of the strip's new width to
its old one. A real turn would show more of the ear, but the photo holds only its thin,
foreshortened profile, so a warp can only stretch it: on a three-quarter portrait
(hallo_3 at -15 degrees of yaw) the ear became a pale blob 2.5-3 times its width.

So, per frame and per side of the head, the ear anchors are turned at a depth between
their own (t = 0) and that of the face contour beside them (t = 1, where they move with
the cheek): the t of least cost, the cost being how far the front-facing triangles
touching them are stretched beyond `EAR_STRETCH` times the rigid motion of a flat patch
at their depth (squared, summed) plus a small price for leaving the skull (`LAG_COST`).
The triangles behind the ears (to the head's outline and the background) are not
counted: that strip is hair and the side of the head, which a turn towards the ear
brings into view, so it widens (tests/core/test_head_ears.py bounds it apart); counted,
it held the ears back against the bound and their speed jumped from step to step.
A frontal portrait's modest turns stay under the bound and are untouched (t = 0 exactly:
measured 1.4-1.65 at 10 degrees); where the bound holds the ears lag as before. The cost
is smooth in t and in the pose, and its minimum is searched to ~1/1000 of the depth
range, so t grows continuously with the pose and the ears never jump between frames
(a least t meeting the bound exactly swung from 0 to 1 within a degree where the stretch
barely depended on t).

Cost: ~0.08 ms per posed frame within the bound (the rigid reference rides on the mesh's
one pose call, one check for both sides); 3 x 17 candidate depths per side beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EAR_STRETCH = 1.75
"""Largest stretch (the greater singular value of the warp's local map over the rigid
head's, per triangle touching an ear anchor) a turn may give the ear region. Frontal
portraits measured 1.4-1.65 at 10 degrees of yaw (unchanged by the bound) and the
three-quarter hallo_3 2.4-3.3 at 15 degrees before the bound."""
LAG_COST = 0.02
"""Cost (in squared stretch) of moving the ears all the way to the contour's depth: small,
so the bound is met to within ~0.02 where it can be, but it decides where no t matters."""
STEPS = 17
"""Candidate depths per side and search level (t = 0, 1/16, ..., 1 at the first)."""
ZOOMS = 3
"""Search levels, each between the neighbours of the previous level's least sample."""
CONTOUR = np.arange(17)
"""The face contour (iBUG jaw line 0-16): the ears' reference depth is its nearest point's."""


@dataclass(frozen=True)
class EarLimit:
    """Per-rig constants: for each side of the head, its ear anchors, their contour
    reference depth and the triangles touching them; and, for all sides at once, those
    triangles' source corners and mean rest depth (the rigid reference is posed in one
    call per frame: most frames are within the bound and cost only that check)."""

    ears: tuple[np.ndarray, ...]  # per side: [E] mesh indices of the ear anchors
    ref_z: tuple[np.ndarray, ...]  # per side: [E] depth (px) of the nearest contour point
    tris: tuple[np.ndarray, ...]  # per side: [T,3] triangles with a vertex among `ears`
    src_inv: tuple[np.ndarray, ...]  # per side: [T,2,2] inverse of the source edge matrix
    at: tuple[np.ndarray, ...]  # per side: the ears' places among the flattened vertices
    which: tuple[np.ndarray, ...]  # per side: ... and which ear each of them is
    corners: np.ndarray  # [3·ΣT, 2] every side's triangle corners (source px), in order
    corner_z: np.ndarray  # [3·ΣT] their triangle's mean rest depth (a flat patch)
    bounds: tuple[int, ...]  # side k's corners are corners[bounds[k]:bounds[k + 1]]
    tris_all: np.ndarray  # [ΣT,3] every side's triangles, in order
    src_inv_all: np.ndarray  # [ΣT,2,2] their inverse source edge matrices

    @classmethod
    def build(cls, pts: np.ndarray, ears: np.ndarray, depth: np.ndarray, tris: np.ndarray,
              u: np.ndarray) -> EarLimit | None:
        """`u`: the ear anchors' face-local x (negative: image-left side of the head);
        `depth`: every mesh point's rest depth. None when the mesh has no ear anchors
        (nothing to limit)."""
        ears = np.asarray(ears, np.int64)
        if len(ears) == 0 or len(pts) < 68:
            return None
        out: tuple[list, ...] = ([], [], [], [], [])
        for side in (u < 0, u >= 0):
            e = ears[side]
            if len(e) == 0:
                continue
            near = np.linalg.norm(pts[e][:, None] - pts[CONTOUR][None], axis=2).argmin(1)
            t = tris[np.isin(tris, e).any(axis=1)]
            s = pts[t]
            a = np.stack([s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]], axis=2)  # columns
            ok = np.abs(np.linalg.det(a)) > 1e-6
            t, a = t[ok], a[ok]
            if len(t) == 0:
                continue
            out[0].append(e)
            out[1].append(depth[CONTOUR[near]].astype(np.float64))
            out[2].append(t)
            out[3].append(np.linalg.inv(a))
            at = np.flatnonzero(np.isin(t, e))
            out[4].append((at, (t.reshape(-1)[at][:, None] == e[None]).argmax(axis=1)))
        if not out[0]:
            return None
        corners = np.concatenate([pts[t].reshape(-1, 2) for t in out[2]])
        corner_z = np.concatenate([np.repeat(depth[t].mean(axis=1), 3) for t in out[2]])
        bounds = tuple(np.cumsum([0] + [3 * len(t) for t in out[2]]).tolist())
        return cls(tuple(out[0]), tuple(out[1]), tuple(out[2]), tuple(out[3]),
                   tuple(x[0] for x in out[4]), tuple(x[1] for x in out[4]),
                   corners.astype(np.float64), corner_z.astype(np.float64), bounds,
                   np.concatenate(out[2]), np.concatenate(out[3]))

    def apply(self, poser, rest: np.ndarray, rest_z: np.ndarray, out: np.ndarray,
              depth: np.ndarray, pose: np.ndarray, shift: np.ndarray,
              rigid: np.ndarray | None = None) -> None:
        """Move, in place, the posed ear anchors in `out` (and their posed `depth`) to the
        depth of least cost (see the module doc). `rest`: this frame's unposed points (rig
        px); `rest_z`: the rest depth of every point; `rigid`: `corners` posed at
        `corner_z` (the rigid reference: each triangle as a flat patch at its mean rest
        depth), computed here when None. The ears in `out` must be posed fully at their
        rest depth (their pose weight is 1), which is the candidate t = 0."""
        if rigid is None:
            rigid, _ = poser.pose(self.corners, self.corner_z, pose, shift, 1.0)
        jr = tri_jacobians(rigid.reshape(-1, 3, 2), self.src_inv_all)  # [ΣT,2,2]
        ok_all = np.abs(jr[:, 0, 0] * jr[:, 1, 1] - jr[:, 0, 1] * jr[:, 1, 0]) > 1e-9
        jr_inv_all = np.linalg.inv(np.where(ok_all[:, None, None], jr, np.eye(2)))
        # t = 0 is the ears as posed: within the bound on every side (most frames), the
        # rigid turn stays
        jw = tri_jacobians(out[self.tris_all].reshape(1, -1, 3, 2), self.src_inv_all)
        if _over(jw, ok_all, jr_inv_all)[0] <= 0.0:
            return
        for k, (e, zr, tri, ainv) in enumerate(
                zip(self.ears, self.ref_z, self.tris, self.src_inv, strict=True)):
            part = slice(self.bounds[k] // 3, self.bounds[k + 1] // 3)
            ok, jr_inv = ok_all[part], jr_inv_all[part]
            at, which = self.at[k], self.which[k]
            posed = out[tri].reshape(-1, 2)

            def cost(ts, e=e, zr=zr, ainv=ainv, ok=ok, jr_inv=jr_inv, at=at, which=which,
                     posed=posed):
                """[K] the cost of turning the ears at depth fractions `ts` [K]: the
                stretch over the bound, squared and summed over the triangles, plus the
                cost of leaving the skull's depth."""
                k = len(ts)
                z = (1.0 - ts)[:, None] * rest_z[e][None] + ts[:, None] * zr[None]  # [K,E]
                xy = np.broadcast_to(rest[e], (k, len(e), 2)).reshape(-1, 2)
                p, _ = poser.pose(xy, z.reshape(-1), pose, shift, 1.0)
                cand = np.broadcast_to(posed, (k, *posed.shape)).copy()
                cand[:, at] = p.reshape(k, len(e), 2)[:, which]
                return _over(tri_jacobians(cand.reshape(k, -1, 3, 2), ainv), ok, jr_inv) + LAG_COST * ts**2

            # t = 0 is the ears as posed: within the bound (most frames), the rigid turn stays
            if _over(tri_jacobians(posed.reshape(1, -1, 3, 2), ainv), ok, jr_inv)[0] <= 0.0:
                continue
            # a triangle that no lag can help (a temple triangle between brow and jaw
            # landmarks under pitch) does not move the ears, one that stretches as they
            # follow holds them back, and the least cost moves smoothly with the pose (the least t meeting the bound swung from 0 to 1
            # within a degree where the stretch barely depended on t)
            t = _least(cost)
            zt = (1.0 - t) * rest_z[e] + t * zr
            out[e], depth[e] = poser.pose(rest[e], zt, pose, shift, 1.0)


def _over(jw: np.ndarray, ok: np.ndarray, jr_inv: np.ndarray) -> np.ndarray:
    """[K] the stretch over `EAR_STRETCH`, squared and summed over the front-facing
    triangles, of candidate maps `jw` [K,T,2,2] against the rigid ones (`jr_inv`)."""
    det = jw[..., 0, 0] * jw[..., 1, 1] - jw[..., 0, 1] * jw[..., 1, 0]
    front = (det > 0) & ok[None]
    over = np.maximum(np.where(front, largest_singular(jw @ jr_inv[None]), 0.0) - EAR_STRETCH, 0)
    return (over**2).sum(axis=1)


def _least(cost) -> float:
    """The t in [0, 1] minimising `cost` ([K] -> [K]): the least of `STEPS` samples, then
    twice the least of `STEPS` samples between its neighbours (to ~1/1000: the ears' depth
    then moves by under 0.1 mm between two nearby poses, no visible step)."""
    lo, hi = 0.0, 1.0
    t = 0.0
    for _ in range(ZOOMS):
        ts = np.linspace(lo, hi, STEPS)
        k = int(np.argmin(cost(ts)))
        t = float(ts[k])
        lo, hi = float(ts[max(k - 1, 0)]), float(ts[min(k + 1, STEPS - 1)])
    return t


def tri_jacobians(p: np.ndarray, ainv: np.ndarray) -> np.ndarray:
    """[..., T, 2, 2] the linear part of each triangle's map source -> `p` [..., T, 3, 2]."""
    b = np.stack([p[..., 1, :] - p[..., 0, :], p[..., 2, :] - p[..., 0, :]], axis=-1)
    return b @ ainv


def largest_singular(m: np.ndarray) -> np.ndarray:
    """[...] the greater singular value of 2x2 matrices [..., 2, 2] (closed form)."""
    sq = (m**2).sum(axis=(-2, -1))
    det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    return np.sqrt(sq / 2 + np.sqrt(np.maximum(sq * sq / 4 - det**2, 0.0)))
