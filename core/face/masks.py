"""Soft region masks of a face: [H, W] float32 in [0, 1] with feathered edges.

Why soft: engines blend by these masks (paint the mouth interior, keep the background
still, restrict texture edits to the face); a hard edge would show as a seam in every
frame. Feather widths scale with the inter-ocular distance, so masks look the same at any
resolution. The polygon outline sits at ~0.5 after feathering.

    face         jaw line + forehead up to about the hairline
    mouth        outer lip contour 48-59, slightly grown
    mouth_inner  inner lip polygon 60-67 (near empty when the mouth is closed)
    eyes         both eye contours (36-41, 42-47), slightly grown
    brows        both brows (17-21, 22-26) as thick strokes
"""

from __future__ import annotations

import cv2
import numpy as np

from core.face.mesh import face_frame

_SHIFT = 4  # fixed-point bits for sub-pixel polygon filling


def _fill(shape: tuple[int, int], polys: list[np.ndarray]) -> np.ndarray:
    m = np.zeros(shape, dtype=np.uint8)
    pts = [np.round(np.asarray(q, np.float64) * (1 << _SHIFT)).astype(np.int32) for q in polys]
    cv2.fillPoly(m, pts, 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return m


def _soft(mask_u8: np.ndarray, grow: float, sigma: float) -> np.ndarray:
    m = mask_u8
    r = int(round(grow))
    if r > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        m = cv2.dilate(m, k)
    f = m.astype(np.float32) / 255.0
    bx, by, bw, bh = cv2.boundingRect(m)
    if sigma > 0.3 and bw > 0:
        # blur only the region the mask can reach (3.5 sigma): masks are small
        pad = int(np.ceil(3.5 * sigma)) + 1
        y0, y1 = max(by - pad, 0), min(by + bh + pad, m.shape[0])
        x0, x1 = max(bx - pad, 0), min(bx + bw + pad, m.shape[1])
        f[y0:y1, x0:x1] = cv2.GaussianBlur(
            f[y0:y1, x0:x1], (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE
        )
    return np.clip(f, 0.0, 1.0, out=f)


def face_outline(landmarks: np.ndarray) -> np.ndarray:
    """Closed face polygon: jaw 0..16, then the brows lifted towards the hairline."""
    p = np.asarray(landmarks, dtype=np.float64)
    _, _, ey, iod = face_frame(p)
    top = [p[i] - ey * iod * (0.55 if 19 <= i <= 24 else 0.4) for i in range(26, 16, -1)]
    return np.concatenate([p[:17], np.asarray(top)])


def build_masks(landmarks: np.ndarray, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """The region masks for an image of `size` (w, h)."""
    w, h = size
    shape = (h, w)
    p = np.asarray(landmarks, dtype=np.float64)
    _, _, _, iod = face_frame(p)
    masks = {
        "face": _soft(_fill(shape, [face_outline(p)]), 0, 0.08 * iod),
        "mouth": _soft(_fill(shape, [p[48:60]]), 0.06 * iod, 0.05 * iod),
        "mouth_inner": _soft(_fill(shape, [p[60:68]]), 0, max(0.5, 0.015 * iod)),
        "eyes": _soft(_fill(shape, [p[36:42], p[42:48]]), 0.05 * iod, 0.04 * iod),
    }
    brows = np.zeros(shape, np.uint8)
    thick = max(1, int(round(0.08 * iod)))
    for a, b in ((17, 22), (22, 27)):
        q = np.round(p[a:b] * (1 << _SHIFT)).astype(np.int32)
        cv2.polylines(brows, [q], False, 255, thick, cv2.LINE_AA, _SHIFT)
    masks["brows"] = _soft(brows, 0, 0.04 * iod)
    return masks
