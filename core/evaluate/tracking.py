"""Per-frame 68-point landmarks of a video, fast, on top of core.face's dlib models.

Why the evaluator tracks instead of detecting on every frame: HOG detection (~20 ms at 512²)
on every frame of a 10 s clip costs 5 s, while the shape predictor alone costs ~2 ms. So
the face is detected once (core.face.detect_faces, the same detector and score threshold
the portrait analysis uses), and following frames reuse the box, moved and scaled with the
stable landmarks (nose bridge, eyes) when the head moves. The face is re-detected when the
new landmarks jump (lost track) and every `redetect_every` frames.
"""

from __future__ import annotations

import numpy as np

from core.face.detect import choose_face, detect_faces, face_descriptor, predict_landmarks


def detect(image: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
    """Largest face in an RGB image: (landmarks [68, 2], detector box) or None."""
    best, _ = choose_face(detect_faces(image))
    if best is None:
        return None
    return predict_landmarks(image, best.box), best.box


def descriptor(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """dlib's 128-d face descriptor (ResNet); distance < 0.6 means "same person"."""
    return face_descriptor(image, landmarks)


STABLE = np.r_[27:31, 36:48]
"""Nose bridge and eye landmarks: they move with the head but not with the mouth or jaw, so
a box placed from them does not breathe with speech."""


def _anchor(lm: np.ndarray) -> tuple[np.ndarray, float]:
    """(centre of the stable points, inter-ocular distance) of one landmark set."""
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    return lm[STABLE].mean(0).astype(np.float64), max(iod, 1.0)


MOVE_BOX = 0.1
"""The box follows the face only once it moved more than this (IOD units) or rescaled by more
than this fraction. The predictor's output depends slightly on its box, so a box re-placed
from every frame's landmarks feeds its own noise back (measured: 0.012 IOD of jitter on a
perfectly still video); a box that stays put while the face stays put adds none."""


RETRY = 5
"""While no face is found, detection is retried on every RETRY-th frame."""


class FaceTracker:
    """Feed frames in order; `update(frame)` returns [68, 2] landmarks or None (no face).

    The box for frame t is the first detection's box moved and scaled like the stable
    landmarks (nose bridge, eyes) moved between the detection and frame t-1.
    """

    def __init__(self, redetect_every: int = 100):
        self.redetect_every = redetect_every
        self._prev: np.ndarray | None = None
        self._ref: tuple[np.ndarray, float, np.ndarray] | None = None
        self._since = 0
        self._box: np.ndarray | None = None
        self._box_anchor: tuple[np.ndarray, float] | None = None
        self.detections = 0
        self._misses = 0

    def _detect(self, frame: np.ndarray) -> np.ndarray | None:
        self.detections += 1
        found = detect(frame)
        if found is None:
            self._prev = None
            return None
        lm, box = found
        self._misses = 0
        centre, iod = _anchor(lm)
        self._ref = (centre, iod, np.asarray(box, dtype=np.float64))
        self._box = np.asarray(box, dtype=np.float64)
        self._box_anchor = (centre, iod)
        self._prev = lm
        self._since = 0
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
        c0, iod0, box0 = self._ref
        c, iod = _anchor(self._prev)
        bc, biod = self._box_anchor
        if np.linalg.norm(c - bc) > MOVE_BOX * biod or abs(iod / biod - 1) > MOVE_BOX:
            s = iod / iod0
            self._box = np.r_[(box0[:2] - c0) * s + c, (box0[2:] - c0) * s + c]
            self._box_anchor = (c, iod)
        box = self._box
        lm = predict_landmarks(frame, tuple(box))
        c1, iod1 = _anchor(lm)
        if not (0.8 < iod1 / iod < 1.25 and np.linalg.norm(c1 - c) < 0.5 * iod):
            return self._detect(frame)  # lost track: the landmarks jumped
        self._prev = lm
        self._since += 1
        return lm
