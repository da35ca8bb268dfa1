"""Per-frame 68-point landmarks of a video, fast, with MediaPipe's Face Mesh.

Why the evaluator tracks instead of detecting on every frame: HOG detection (~20 ms at 512²)
on every frame of a 10 s clip costs 5 s, while one Face Mesh pass costs ~3 ms. So the face
is detected once (core.face.find_face: the same detectors, thresholds and mesh check the
portrait analysis uses), and following frames run the mesh model in a ROI (MediaPipe's
rotated square crop) placed from an earlier frame's mesh: MediaPipe's own tracking. The
face is re-detected when the mesh model loses the face (presence score) or the landmarks
jump, and every `redetect_every` frames. The iris model refines the eyelids on every frame
(the eye aspect ratio and blink measures read them).

Mirror averaging: the 68 points of each frame are the mean of the mesh of the frame and
the mesh of its mirror image (same ROI, mirrored; points mirrored back). The model is not
exactly mirror-equivariant (its midline sits ~0.03 IOD to one side of the mirrored run's)
and its lips are its weakest part; averaging the two runs halves that bias and steadies
the inner lips: on a warp render of hallo_3 (/tmp/fm.mp4 in the face-mesh branch notes)
the mouth-opening trace's correlation with dlib's 68-point reading rose from 0.60 to 0.75.
The mirrored run skips the iris model (4× the landmark model's cost): the eye points
(36-47) come from the direct run only, whose eyelids the iris model refined.

`FaceTracker.mesh` keeps the last frame's full FaceMesh (468 points with depth, irises;
not mirror-averaged) for measures beyond the 68 points (head pose).
"""

from __future__ import annotations

import numpy as np

from core.face.detect import face_descriptor, find_face
from core.face.facemesh import mesh_from_roi, points68_from_mesh, roi_from_points
from core.face.keypoints import MIRROR
from core.types import FaceMesh


def mirror_averaged_68(frame: np.ndarray, mesh: FaceMesh) -> np.ndarray:
    """[68, 2] mean of the mesh's 68 points and those of the mirrored frame's mesh (run in
    the mirrored ROI, mapped back; eyes 36-47 from `mesh` alone); the mesh's own points when
    the mirrored run finds no face."""
    lm = points68_from_mesh(mesh.points).astype(np.float64)
    w = frame.shape[1]
    cx, cy, side, angle = mesh.roi
    flipped = np.ascontiguousarray(frame[:, ::-1])
    other = mesh_from_roi(flipped, (w - cx, cy, side, -angle), refine=0, iris=False)
    if other is None:
        return lm.astype(np.float32)
    back = points68_from_mesh(other.points)[MIRROR].astype(np.float64)
    back[:, 0] = w - 1 - back[:, 0]
    back[EYES] = lm[EYES]
    return ((lm + back) / 2).astype(np.float32)


EYES = np.r_[36:48]


def detect(image: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
    """Largest face in an RGB image: (landmarks [68, 2], detector box) or None."""
    found = find_face(image)
    if found is None:
        return None
    det, mesh, _ = found
    return mirror_averaged_68(image, mesh), det.box


def descriptor(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """dlib's 128-d face descriptor (ResNet); distance < 0.6 means "same person"."""
    return face_descriptor(image, landmarks)


STABLE = np.r_[27:31, 36:48]
"""Nose bridge and eye landmarks: they move with the head but not with the mouth or jaw, so
a ROI placed from them does not breathe with speech."""


def _anchor(lm: np.ndarray) -> tuple[np.ndarray, float]:
    """(centre of the stable points, inter-ocular distance) of one landmark set."""
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    return lm[STABLE].mean(0).astype(np.float64), max(iod, 1.0)


MOVE_BOX = 0.1
"""The ROI follows the face only once it moved more than this (IOD units), rescaled by
more than this fraction, or rolled by more than MOVE_ROLL. The model's output depends
slightly on its crop, so a ROI re-placed from every frame's landmarks feeds its own noise
back; a ROI that stays put while the face stays put adds none."""
MOVE_ROLL = np.radians(5.0)

RETRY = 5
"""While no face is found, detection is retried on every RETRY-th frame."""


class FaceTracker:
    """Feed frames in order; `update(frame)` returns [68, 2] landmarks or None (no face)."""

    def __init__(self, redetect_every: int = 100):
        self.redetect_every = redetect_every
        self._prev: np.ndarray | None = None
        self._since = 0
        self._roi: tuple[float, float, float, float] | None = None
        self._roi_anchor: tuple[np.ndarray, float, float] | None = None
        self.detections = 0
        self._misses = 0
        self.mesh: FaceMesh | None = None

    def _accept(self, mesh: FaceMesh, frame: np.ndarray) -> np.ndarray:
        lm = mirror_averaged_68(frame, mesh)
        self.mesh = mesh
        self._prev = lm
        return lm

    def _place_roi(self, mesh: FaceMesh, lm: np.ndarray) -> None:
        self._roi = roi_from_points(mesh.points)
        c, iod = _anchor(lm)
        self._roi_anchor = (c, iod, self._roi[3])

    def _detect(self, frame: np.ndarray) -> np.ndarray | None:
        self.detections += 1
        found = find_face(frame)
        if found is None:
            self._prev = None
            self.mesh = None
            return None
        self._misses = 0
        self._since = 0
        lm = self._accept(found[1], frame)
        self._place_roi(found[1], lm)
        return lm

    def update(self, frame: np.ndarray) -> np.ndarray | None:
        if self._prev is None:
            # without a face, detect on every RETRY-th frame only: a clip with no face (or a
            # long cutaway) must not cost a detection per frame
            self._misses += 1
            if self._misses % RETRY != 1 and self.detections:
                return None
            return self._detect(frame)
        if self._since >= self.redetect_every:
            return self._detect(frame)
        c, iod = _anchor(self._prev)
        bc, biod, broll = self._roi_anchor
        roll = roi_from_points(self.mesh.points)[3]
        d_roll = abs((roll - broll + np.pi) % (2 * np.pi) - np.pi)
        if (np.linalg.norm(c - bc) > MOVE_BOX * biod or abs(iod / biod - 1) > MOVE_BOX
                or d_roll > MOVE_ROLL):
            self._place_roi(self.mesh, self._prev)
        mesh = mesh_from_roi(frame, self._roi, refine=0)
        if mesh is None:
            return self._detect(frame)  # the model no longer sees a face in the ROI
        c1, iod1 = _anchor(points68_from_mesh(mesh.points))
        if not (0.8 < iod1 / iod < 1.25 and np.linalg.norm(c1 - c) < 0.5 * iod):
            return self._detect(frame)  # lost track: the landmarks jumped
        self._since += 1
        return self._accept(mesh, frame)
