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
the cheek): the least t at which no front-facing triangle touching them is stretched by
more than `EAR_STRETCH` beyond the rigid motion of a flat patch at its depth. A frontal
portrait's modest turns stay under the bound and are untouched (t = 0); t grows
continuously with the pose (interpolated between `STEPS` candidates), so the ears never
jump from one frame to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EAR_STRETCH = 1.75
"""Largest stretch (the greater singular value of the warp's local map over the rigid
head's, per triangle touching an ear anchor) a turn may give the ear region. Frontal
portraits measured 1.4-1.65 at 10 degrees of yaw (unchanged by the bound) and the
three-quarter hallo_3 2.4-3.3 at 15 degrees before the bound."""
SLACK = 0.01
"""Where the bound is out of reach, the ears lag as much as keeps the stretch within this
of the least they can give (so an ear whose lag does not matter is left alone)."""
STEPS = 9
"""Candidate depths per side (t = 0, 1/8, ..., 1)."""
CONTOUR = np.arange(17)
"""The face contour (iBUG jaw line 0-16): the ears' reference depth is its nearest point's."""


@dataclass(frozen=True)
class EarLimit:
    """Per-rig constants: for each side of the head, its ear anchors, their contour
    reference depth and the triangles touching them."""

    ears: tuple[np.ndarray, ...]  # per side: [E] mesh indices of the ear anchors
    ref_z: tuple[np.ndarray, ...]  # per side: [E] depth (px) of the nearest contour point
    tris: tuple[np.ndarray, ...]  # per side: [T,3] triangles with a vertex among `ears`
    src_inv: tuple[np.ndarray, ...]  # per side: [T,2,2] inverse of the source edge matrix

    @classmethod
    def build(cls, pts: np.ndarray, ears: np.ndarray, depth: np.ndarray, tris: np.ndarray,
              u: np.ndarray) -> EarLimit | None:
        """`u`: the ear anchors' face-local x (negative: image-left side of the head).
        None when the mesh has no ear anchors (nothing to limit)."""
        ears = np.asarray(ears, np.int64)
        if len(ears) == 0 or len(pts) < 68:
            return None
        out = ([], [], [], [])
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
        if not out[0]:
            return None
        return cls(*(tuple(x) for x in out))

    def apply(self, poser, pts: np.ndarray, rest: np.ndarray, rest_z: np.ndarray,
              out: np.ndarray, depth: np.ndarray, pose: np.ndarray, shift: np.ndarray) -> None:
        """Move, in place, the posed ear anchors in `out` (and their posed `depth`) to the
        least lag that keeps their triangles' stretch within `EAR_STRETCH` (see the module
        doc). `pts`: the mesh's source points; `rest`: this frame's unposed points (rig
        px); `rest_z`: the rest depth of every point."""
        ts = np.linspace(0.0, 1.0, STEPS)
        for e, zr, tri, ainv in zip(self.ears, self.ref_z, self.tris, self.src_inv, strict=True):
            # the rigid reference: each triangle as a flat patch at its mean rest depth
            s = pts[tri]  # [T,3,2]
            zm = np.repeat(rest_z[tri].mean(axis=1), 3)
            rig, _ = poser.pose(s.reshape(-1, 2), zm, pose, shift, 1.0)
            jr = _jac(rig.reshape(-1, 3, 2), ainv)  # [T,2,2]
            ok = np.abs(np.linalg.det(jr)) > 1e-9
            jr_inv = np.linalg.inv(np.where(ok[:, None, None], jr, np.eye(2)))
            # the ear anchors turned at each candidate depth
            z = (1.0 - ts)[:, None] * rest_z[e][None] + ts[:, None] * zr[None]  # [K,E]
            xy = np.broadcast_to(rest[e], (STEPS, len(e), 2)).reshape(-1, 2)
            p, pz = poser.pose(xy, z.reshape(-1), pose, shift, 1.0)
            p, pz = p.reshape(STEPS, len(e), 2), pz.reshape(STEPS, len(e))
            cand = np.broadcast_to(out, (STEPS, *out.shape)).copy()
            cand[:, e] = p
            jw = _jac(cand[:, tri], ainv)  # [K,T,2,2]
            front = (np.linalg.det(jw) > 0) & ok[None]
            stretch = np.where(front, _smax(jw @ jr_inv[None]), 0.0).max(axis=1)  # [K]
            if stretch[0] <= EAR_STRETCH:
                continue  # within the bound as it is: the rigid turn stays
            # the bound, or where other triangles keep it out of reach (a temple triangle
            # between brow and jaw landmarks under pitch; the background behind the ear
            # stretching as the ear follows the face) the least stretch the ears can give
            goal = max(EAR_STRETCH, float(stretch.min()) + SLACK)
            k = int(np.argmax(stretch <= goal))
            if k == 0:
                continue
            # linear between the last candidate over the goal and the first under it
            s0, s1 = stretch[k - 1], stretch[k]
            t = ts[k - 1] + (ts[k] - ts[k - 1]) * (s0 - goal) / max(s0 - s1, 1e-9)
            zt = (1.0 - t) * rest_z[e] + t * zr
            out[e], depth[e] = poser.pose(rest[e], zt, pose, shift, 1.0)


def _jac(p: np.ndarray, ainv: np.ndarray) -> np.ndarray:
    """[..., T, 2, 2] the linear part of each triangle's map source -> `p` [..., T, 3, 2]."""
    b = np.stack([p[..., 1, :] - p[..., 0, :], p[..., 2, :] - p[..., 0, :]], axis=-1)
    return b @ ainv


def _smax(m: np.ndarray) -> np.ndarray:
    """[...] the greater singular value of 2x2 matrices [..., 2, 2] (closed form)."""
    sq = (m**2).sum(axis=(-2, -1))
    det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    return np.sqrt(sq / 2 + np.sqrt(np.maximum(sq * sq / 4 - det**2, 0.0)))
