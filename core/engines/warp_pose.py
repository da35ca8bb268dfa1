"""3-D head pose for the warp renderer: rotate the mesh points about the neck and project
them through a portrait lens.

The motion track's landmarks already carry the planner's small-angle head model
(core.motion.landmarks.apply_head). The renderer takes that out again (`unpose`: the head
model is affine in x, y for a given pose, so its inverse is exact), keeps the expression
(mouth, jaw, brows, lids) and poses the points itself in 3-D:

1. every mesh point has x, y from the portrait and a depth z (core.face.head3d: the rig's
   Face Mesh depth, else a generic face for the landmarks and a skull ellipsoid for the
   hair/neck anchors);
2. the point is lifted off the photo along its camera ray (camera `CAMERA_FACE_WIDTHS`
   face widths in front of the face, on the axis through the face centre), so zero pose
   gives back the portrait exactly;
3. yaw (about the vertical axis) then pitch (about the horizontal axis) turn it about a
   pivot `PIVOT_MM` behind the face, near the top of the spine; roll turns it in the image
   plane about `ROLL_PIVOT` below the chin (the neck bends there); head_shift translates;
4. perspective projection back to the image; the rotated depth orders the triangles.

Each point carries a weight: the head and hair follow fully, the neck partly (its angles
are scaled), the image border not at all (it is never touched).

The portrait's own head turn (core.face.head3d.portrait_yaw) counts: the total yaw is eased
past `YAW_SOFT`, since a photo holds nothing of a far cheek turned further away.

Cost per frame: one vectorised pass over the mesh points (~0.2 ms); everything else
(depth, pivots, weights) is per rig.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.face.head3d import pixels_per_mm, portrait_yaw
from core.motion.landmarks import LANDMARK_DEPTH, RigGeometry, apply_head

CAMERA_FACE_WIDTHS = 6.0
"""Camera distance in face widths (a ~85 mm portrait lens framing head and shoulders)."""
FACE_WIDTH_MM = 140.0
PIVOT_MM = np.array([0.0, 45.0, -85.0])
"""Yaw/pitch pivot (u, v, z) in mm from the eye midpoint: the atlanto-axial joint, at the
height of the nose base and ~85 mm behind the corneas."""
ROLL_PIVOT_FACE_H = 0.35
"""Roll pivot: this many face heights below the chin (as the planner's roll)."""
YAW_SOFT = (25.0, 15.0)
"""Total yaw (the portrait's own plus the pose) is rendered as asked up to 25 degrees and
then eased towards 40: a photo holds nothing of the far cheek past that, and a
three-quarter portrait turned further away tore at the far cheek."""


def soft_yaw(total: float) -> float:
    """The rendered total yaw for an asked total yaw (degrees), see `YAW_SOFT`."""
    k, m = YAW_SOFT
    a = abs(total)
    if a <= k:
        return total
    return float(np.sign(total) * (k + m * np.tanh((a - k) / m)))


@dataclass(frozen=True)
class HeadPoser:
    """Per-rig constants of the 3-D head transform (pixels of the rig image)."""

    geo: RigGeometry
    centre: np.ndarray  # [2] principal point (face centre), image pixels
    ex: np.ndarray  # [2] face x axis in the image
    ey: np.ndarray  # [2] face y axis (down)
    dist: float  # camera distance, px
    pivot: np.ndarray  # [3] (u, v, z) relative to centre, px
    roll_pivot: np.ndarray  # [2] (u, v) relative to centre, px
    eye_origin: np.ndarray  # [2] (u, v) of the eye midpoint relative to centre, px
    px_per_mm: float
    portrait_yaw: float = 0.0  # degrees: the photo's own head turn

    @classmethod
    def build(cls, geo: RigGeometry) -> HeadPoser:
        lm = geo.landmarks
        s = pixels_per_mm(lm)
        c = np.asarray(geo.center, np.float64)
        ex, ey = np.asarray(geo.ex, np.float64), np.asarray(geo.ey, np.float64)
        eye = (lm[36:42].mean(0) + lm[42:48].mean(0)) / 2 - c
        eye_uv = np.array([eye @ ex, eye @ ey])
        pivot = np.array([eye_uv[0] + PIVOT_MM[0] * s, eye_uv[1] + PIVOT_MM[1] * s, PIVOT_MM[2] * s])
        chin = lm[8] - c
        roll = np.array([chin @ ex, chin @ ey + ROLL_PIVOT_FACE_H * geo.face_h])
        dist = CAMERA_FACE_WIDTHS * FACE_WIDTH_MM * s
        return cls(geo, c, ex, ey, dist, pivot, roll, eye_uv, s, portrait_yaw(lm))

    # ---------------------------------------------------------------- frames
    def to_local(self, xy: np.ndarray) -> np.ndarray:
        """[N,2] image pixels -> [N,2] face-local (u, v) pixels about the face centre."""
        r = np.asarray(xy, np.float64) - self.centre
        return np.stack([r @ self.ex, r @ self.ey], axis=-1)

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        return self.centre + uv[..., 0:1] * self.ex + uv[..., 1:2] * self.ey

    def local_mm(self, xy: np.ndarray) -> np.ndarray:
        """[N,2] image pixels -> face-local (u, v) millimetres about the eye midpoint (the
        frame of core.face.head3d)."""
        return (self.to_local(xy) - self.eye_origin) / self.px_per_mm

    # ---------------------------------------------------------------- pose
    def pose(
        self,
        xy: np.ndarray,
        z: np.ndarray,
        pose: np.ndarray,
        shift: np.ndarray,
        weight: np.ndarray | float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points [N,2] (image px) with depth [N] (px, + towards the camera) turned by
        `pose` (yaw, pitch, roll degrees) and moved by `shift` (face heights), each point's
        angles and shift scaled by its `weight`. Returns (image xy [N,2], depth [N])."""
        uv = self.to_local(xy)
        z = np.asarray(z, np.float64)
        w = np.broadcast_to(np.asarray(weight, np.float64), z.shape)
        pose = np.asarray(pose, np.float64)
        a0 = self.portrait_yaw
        turn = soft_yaw(a0 + float(pose[0])) - soft_yaw(a0)
        yaw, pitch, roll = (np.radians(float(a)) * w for a in (turn, pose[1], pose[2]))
        d = self.dist
        k = (d - z) / d  # lift onto the camera ray: zero pose projects back to xy
        u, v = uv[:, 0] * k, uv[:, 1] * k
        pu, pv, pz = self.pivot
        cy, sy = np.cos(yaw), np.sin(yaw)
        u1 = pu + (u - pu) * cy + (z - pz) * sy
        z1 = pz - (u - pu) * sy + (z - pz) * cy
        cp, sp = np.cos(pitch), np.sin(pitch)
        v2 = pv + (v - pv) * cp + (z1 - pz) * sp
        z2 = pz - (v - pv) * sp + (z1 - pz) * cp
        ru, rv = self.roll_pivot
        cr, sr = np.cos(roll), np.sin(roll)
        u3 = ru + (u1 - ru) * cr - (v2 - rv) * sr
        v3 = rv + (u1 - ru) * sr + (v2 - rv) * cr
        fh = self.geo.face_h
        sh = np.asarray(shift, np.float64)
        u3 = u3 + w * sh[0] * fh
        v3 = v3 + w * sh[1] * fh
        p = d / (d - z2)
        out = self.to_image(np.stack([u3 * p, v3 * p], axis=-1))
        return out, z2


def unpose(geo: RigGeometry, landmarks: np.ndarray, pose: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """[68,2] the motion track's landmarks with the planner's head model taken out: the
    portrait-aligned expression shape the renderer poses in 3-D.

    apply_head is affine in x, y for a fixed pose (the depth term is an offset per point),
    so with its linear part J (read off numerically, so this follows apply_head whatever
    its constants) the inverse is rig + J^-1 (landmarks - apply_head(rig))."""
    rig = np.asarray(geo.landmarks, np.float64)
    pose_ = np.asarray(pose, np.float64).reshape(1, 3)
    shift_ = np.asarray(shift, np.float64).reshape(1, 2)
    if not pose_.any() and not shift_.any():
        return np.asarray(landmarks, np.float64)
    head = apply_head(geo, rig[None], LANDMARK_DEPTH, pose_, shift_)[0]
    c = np.asarray(geo.center, np.float64)
    probe = np.stack([c, c + (1.0, 0.0), c + (0.0, 1.0)])[None]
    moved = apply_head(geo, probe, 0.0, pose_, shift_)[0]
    jac = np.stack([moved[1] - moved[0], moved[2] - moved[0]], axis=1)  # columns: d/dx, d/dy
    local = np.asarray(landmarks, np.float64) - head
    return rig + np.linalg.solve(jac, local.T).T


def repose(
    geo: RigGeometry,
    landmarks: np.ndarray,
    pose: np.ndarray,
    shift: np.ndarray,
    new_pose: np.ndarray,
    new_shift: np.ndarray,
) -> np.ndarray:
    """The landmarks of one frame as the planner would give them under another head pose
    (for tools and tests that set a pose on an existing track)."""
    flat = unpose(geo, landmarks, pose, shift)
    return apply_head(
        geo,
        flat[None],
        LANDMARK_DEPTH,
        np.asarray(new_pose, np.float64).reshape(1, 3),
        np.asarray(new_shift, np.float64).reshape(1, 2),
    )[0]


def posed_track(rig, poses: np.ndarray, shift: np.ndarray | None = None, fps: float = 25.0):
    """A MotionTrack holding the portrait's closed-lip rest shape at each of `poses`
    ([n,3] degrees), landmarks posed by the planner's head model as a planned track's
    are: for pose previews, contact sheets and tests."""
    from core.motion.landmarks import geometry
    from core.types import MotionTrack

    poses = np.asarray(poses, np.float64).reshape(-1, 3)
    n = len(poses)
    shift = np.zeros((n, 2)) if shift is None else np.asarray(shift, np.float64).reshape(n, 2)
    geo = geometry(rig.landmarks)
    lm = apply_head(geo, np.broadcast_to(geo.rest, (n, 68, 2)), LANDMARK_DEPTH, poses, shift)
    z = np.zeros(n, np.float32)
    return MotionTrack(
        fps, z, z, z, z, np.zeros((n, 2), np.float32), poses.astype(np.float32),
        shift.astype(np.float32), z, z, lm.astype(np.float32),
    )
