"""`mouth_interior_texture`: does the open mouth look like a mouth or like a painted plate?

The user study's worst mouth defect was a flat plate: one white band of teeth over one
black cavity. Such a mouth is a two-level picture: everything inside the lips is one of two
flat tones, and all its detail is the border between them. A filmed (or well generated)
mouth is not: teeth have shading and gaps, the tongue a gradient, the cavity darkens with
depth. So on the widest-open frames we split the inner-lip polygon's luminance into two
levels (Otsu: the best two-tone explanation), drop the pixels next to the split (its
edge), and measure the tonal variation left *inside* each level relative to the contrast
between the levels:

    texture = within-level std / (bright mean - dark mean)

0 for a flat plate however sharp or soft its outline; ~0.1-0.3 for a real mouth. The
crop is resampled to a fixed inter-ocular distance first, so 256 px and 1024 px videos
of the same mouth give the same number. Frames whose opening is too small to hold a
measurable interior are skipped, and so is every frame opened less than MIN_OPENING: in a
narrow opening the interior is a few pixels of lip-edge blur and the two levels are lip
and shadow, whatever was painted there, so a clip that never opens that wide reads None
(with the reason) rather than a number that does not separate a plate from a mouth.
"""

from __future__ import annotations

import heapq

import cv2
import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
IOD_PX = 160.0  # canonical inter-ocular distance of the measured crop
TOP_K = 6
MIN_PIXELS = 40
MIN_OPENING = 0.08
"""Least inner-lip gap (IOD, the evaluator's image reading) of a frame that is measured.
Measured on the peers' videos and our renders, every third frame with its real interior
and with a flat two-tone plate painted into the same polygon (the plate of
tests/core/test_mouth_interior.py): at gaps of 0.03-0.06 the plate reads up to 0.072 (90th
percentile) and the real mouths down to 0.070 (10th): they overlap; from 0.08 up the
plates' 90th percentiles stay at 0.016-0.074 and the clips' medians 0.012-0.039, the real
mouths' clip medians 0.080-0.150."""
WIDE_ENOUGH = 0.7
"""Frames opened less than this fraction of the widest are dropped: in a thin opening the
interior is a few pixels of lip-edge blur, whatever was painted there."""


class WidestFrames:
    """Keeps the `k` frames with the widest mouth opening seen so far (bounded memory),
    at least `spacing` frames apart so one long vowel does not fill the list."""

    def __init__(self, k: int = TOP_K, spacing: int = 4):
        self.k, self.spacing = k, spacing
        self._heap: list[tuple[float, int, np.ndarray, np.ndarray]] = []

    def offer(self, index: int, frame: np.ndarray, landmarks: np.ndarray, opening: float) -> None:
        if not np.isfinite(opening) or opening <= 0:
            return
        near = [e for e in self._heap if abs(e[1] - index) < self.spacing]
        if near and max(e[0] for e in near) >= opening:
            return
        if len(self._heap) >= self.k and opening <= self._heap[0][0]:
            return  # not wider than the narrowest kept frame
        self._heap = [e for e in self._heap if abs(e[1] - index) >= self.spacing]
        heapq.heapify(self._heap)
        item = (float(opening), int(index), frame.copy(), np.asarray(landmarks, np.float64))
        if len(self._heap) >= self.k:
            heapq.heapreplace(self._heap, item)
        else:
            heapq.heappush(self._heap, item)

    def items(self, relative: float = WIDE_ENOUGH) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(index, frame, landmarks), widest first, those at least `relative` of the widest."""
        kept = sorted(self._heap, key=lambda e: -e[0])
        top = kept[0][0] if kept else 0.0
        return [(i, f, lm) for o, i, f, lm in kept if o >= relative * top]


def frame_texture(frame: np.ndarray, lm: np.ndarray) -> float | None:
    """Within-level tonal variation of one frame's mouth interior (see module doc), or None
    when the opening holds too few pixels."""
    lm = np.asarray(lm, np.float64)
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    if not np.isfinite(iod) or iod < 4:
        return None
    s = IOD_PX / iod
    pad = 4.0 / s + 2
    x0, y0 = np.floor(lm[60:68].min(0) - pad).astype(int)
    x1, y1 = np.ceil(lm[60:68].max(0) + pad).astype(int)
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    crop = frame[y0:y1, x0:x1].astype(np.float32) @ LUMA
    cw, ch = max(int(round((x1 - x0) * s)), 3), max(int(round((y1 - y0) * s)), 3)
    lum = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    poly = np.round(((lm[60:68] - [x0, y0]) * s) * 16).astype(np.int32)
    inner = np.zeros((ch, cw), np.uint8)
    cv2.fillPoly(inner, [poly], 1, cv2.LINE_8, 4)
    inner = cv2.erode(inner, np.ones((7, 7), np.uint8)) > 0  # off the lips' edge
    if inner.sum() < MIN_PIXELS:
        return None
    li = lum[inner]
    thr, _ = cv2.threshold(np.clip(li, 0, 255).astype(np.uint8).reshape(-1, 1), 0, 255,
                           cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    hi = (lum > thr) & inner
    edge = cv2.morphologyEx(hi.astype(np.uint8), cv2.MORPH_GRADIENT,
                            np.ones((5, 5), np.uint8)) > 0
    core = inner & ~edge
    a, b = lum[core & hi], lum[core & ~hi]
    if len(a) + len(b) < MIN_PIXELS // 2:
        return None
    within = [x.var() * len(x) for x in (a, b) if len(x) > 3]
    n = sum(len(x) for x in (a, b) if len(x) > 3)
    spread = float(np.sqrt(sum(within) / max(n, 1)))
    contrast = float(np.percentile(li, 95) - np.percentile(li, 5))
    return spread / max(contrast, 8.0)


def mouth_interior_texture(widest: WidestFrames, opening: np.ndarray | None = None,
                           min_opening: float = MIN_OPENING) -> tuple[float | None, dict]:
    """(median texture over the widest frames, details) or (None, {"note": why}).

    `opening`: the clip's per-frame inner-lip gap (IOD) as the evaluator finally reads it;
    frames under `min_opening` there are not measured (see MIN_OPENING). Without it every
    kept frame is measured (the ranking's own openings)."""
    items = widest.items()
    if opening is not None:
        opening = np.asarray(opening, np.float64)
        widest_seen = float(np.nanmax(opening)) if np.isfinite(opening).any() else 0.0
        items = [(i, f, lm) for i, f, lm in items
                 if i < len(opening) and np.isfinite(opening[i]) and opening[i] >= min_opening]
        if not items:
            return None, {"note": f"the mouth never opens {min_opening:g} IOD or more (widest "
                                  f"{widest_seen:.3f}): too narrow to tell a painted plate "
                                  "from a mouth"}
    vals = {}
    for i, f, lm in items:
        v = frame_texture(f, lm)
        if v is not None:
            vals[i] = round(float(v), 4)
    if not vals:
        return None, {"note": "no frame with a measurable open mouth"}
    return float(np.median(list(vals.values()))), {"frames": vals}
