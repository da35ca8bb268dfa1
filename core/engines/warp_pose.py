"""3-D head pose for the warp renderer: rotate the mesh points about the neck and project
them through a portrait lens.

The model itself (core.face.head3d.HeadPoser) is shared with the motion planner: the
track's landmarks are posed by it at the planner's landmark depth (the rig's own, as
below: core.motion.landmarks.rig_geometry / pose_head). The renderer takes that pose out again
(`unpose`, Newton steps), keeps the expression (mouth, jaw, brows, lids) and poses every
mesh point in 3-D with the rig's own depth:

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

import numpy as np

from core.face.head3d import (  # noqa: F401  (re-exported: the pose model lives in head3d)
    CAMERA_FACE_WIDTHS,
    PIVOT_MM,
    ROLL_PIVOT_FACE_H,
    YAW_SOFT,
    HeadPoser,
    soft_yaw,
)
from core.motion.landmarks import RigGeometry, planner_depth, pose_head


def unpose_starts(
    geo: RigGeometry, poses: np.ndarray, shifts: np.ndarray, poser: HeadPoser,
    depth: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For frames of head `poses` [F,3] and `shifts` [F,2]: the first Newton step's
    constants of `unpose` (the portrait's landmarks posed, [F,68,2], and the inverse
    Jacobians there, [F,68,2,2]), which do not depend on the frame's landmarks. Why: made
    for a clip's frames in one go they cost about what one frame's did (numpy call
    overhead; ~0.2 ms a frame at 512 px, 3 % of the warp)."""
    poses = np.asarray(poses, np.float64).reshape(-1, 3)
    shifts = np.asarray(shifts, np.float64).reshape(-1, 2)
    x = np.asarray(geo.landmarks, np.float64)
    probe = np.concatenate([x, x + (1.0, 0.0), x + (0.0, 1.0)])  # 3 x 68 points
    got, _ = poser.pose(np.broadcast_to(probe, (len(poses), *probe.shape)),
                        np.concatenate([depth, depth, depth]), poses, shifts)
    fx, fu, fv = got[:, :68], got[:, 68:136], got[:, 136:]
    return fx, np.linalg.inv(np.stack([fu - fx, fv - fx], axis=-1))


def unpose(
    geo: RigGeometry,
    landmarks: np.ndarray,
    pose: np.ndarray,
    shift: np.ndarray,
    poser: HeadPoser | None = None,
    depth: np.ndarray | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """[68,2] the motion track's landmarks with the planner's head pose taken out: the
    portrait-aligned expression shape the renderer poses in 3-D (with its own depth).

    The planner poses with core.motion.landmarks.pose_head (this HeadPoser at the
    planner's landmark depth, `depth`); for one frame that is, per point, a smooth and
    nearly affine map of x, y, so Newton steps with its Jacobian at the portrait's points
    (finite differences) invert it to ~1e-4 px in two steps. `start`: this frame's
    (posed landmarks, inverse Jacobians) from `unpose_starts`, else computed here."""
    pose_ = np.asarray(pose, np.float64).reshape(3)
    shift_ = np.asarray(shift, np.float64).reshape(2)
    target = np.asarray(landmarks, np.float64)
    if not pose_.any() and not shift_.any():
        return target
    poser = HeadPoser.build(geo) if poser is None else poser
    z = planner_depth(geo) if depth is None else depth

    def f(x: np.ndarray) -> np.ndarray:
        return poser.pose(x, z, pose_, shift_)[0]

    x = np.asarray(geo.landmarks, np.float64)
    if start is None:
        fx, fu, fv = f(np.stack([x, x + (1.0, 0.0), x + (0.0, 1.0)]))  # one call, 3 x 68
        inv = np.linalg.inv(np.stack([fu - fx, fv - fx], axis=-1))  # [68,2,2] per-point J^-1
    else:
        fx, inv = start
    x = x + np.einsum("nij,nj->ni", inv, target - fx)
    # one more step: 0.04 px -> 1e-4 px at (15, 10, 8) degrees (the next gives 3e-7)
    return x + np.einsum("nij,nj->ni", inv, target - f(x))


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
    return pose_head(geo, flat, np.asarray(new_pose, np.float64).reshape(3),
                     np.asarray(new_shift, np.float64).reshape(2))


def posed_track(rig, poses: np.ndarray, shift: np.ndarray | None = None, fps: float = 25.0):
    """A MotionTrack holding the portrait's closed-lip rest shape at each of `poses`
    ([n,3] degrees), landmarks posed by the planner's head model as a planned track's
    are: for pose previews, contact sheets and tests."""
    from core.motion.landmarks import rig_geometry
    from core.types import MotionTrack

    poses = np.asarray(poses, np.float64).reshape(-1, 3)
    n = len(poses)
    shift = np.zeros((n, 2)) if shift is None else np.asarray(shift, np.float64).reshape(n, 2)
    geo = rig_geometry(rig)
    lm = pose_head(geo, np.broadcast_to(geo.rest, (n, 68, 2)), poses, shift)
    z = np.zeros(n, np.float32)
    return MotionTrack(
        fps, z, z, z, z, np.zeros((n, 2), np.float32), poses.astype(np.float32),
        shift.astype(np.float32), z, z, lm.astype(np.float32),
    )
