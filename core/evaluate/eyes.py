"""Brow and gaze motion: the upper face's share of a lively talking head.

Why: viewers read raised brows and moving eyes as attention and emphasis; a render whose
brows and irises never move looks like a photograph with a moving mouth even when the head
turns. Both signals are per frame, then summarised by their std over the clip (after the
same light smoothing as the head pose, core.evaluate.pose.smooth_series).

* Brow raise (`brow_raise`): distance of each brow (mean of its five points) above the line
  through its eye's two corners, perpendicular to that line, in IOD units; mean of both
  sides. The eye corners (not the lids) are the base because the lids blink.
* Gaze (`gaze_68` for 68 points): the pupil/iris is the darkest part of the eye opening, so
  its position is the darkness-weighted centroid of the pixels inside the eye contour that
  are darker than the eye's 35th percentile; reported relative to the eye corners
  (horizontal along the corner-to-corner axis, vertical across it) in eye widths, averaged
  over both eyes. With Face Mesh iris points (`gaze_mesh`, 478 points) the iris centres are
  used directly. Frames with closed eyes (blinks) are dropped: the lid, not the eye, moves.
"""

from __future__ import annotations

import numpy as np

DARK_QUANTILE = 35.0
"""Pixels darker than this percentile of the eye opening count as iris/pupil: the iris
covers roughly a third to a half of a visible eye; the brightest rest is sclera and lid."""

# Face Mesh: eye corners (image-left eye outer, inner; image-right eye inner, outer) and the
# iris centres of a refined 478-point mesh (core.types.FaceMesh keeps its iris apart).
MESH_EYES = ((33, 133, 468), (362, 263, 473))


def _axes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit axis from a to b, its perpendicular (pointing down on screen), and the lengths."""
    v = b - a
    w = np.linalg.norm(v, axis=-1, keepdims=True)
    u = v / np.maximum(w, 1e-9)
    return u, np.stack([-u[..., 1], u[..., 0]], axis=-1), w[..., 0]


def brow_raise(lms: np.ndarray) -> np.ndarray:
    """[n] brow height above the eye-corner line, in IOD units (NaN rows stay NaN)."""
    lms = np.asarray(lms, dtype=np.float64)
    iod = np.linalg.norm(lms[:, 42:48].mean(1) - lms[:, 36:42].mean(1), axis=-1)
    heights = []
    for brow, (c0, c1) in ((slice(17, 22), (36, 39)), (slice(22, 27), (42, 45))):
        _, down, _ = _axes(lms[:, c0], lms[:, c1])
        mid = 0.5 * (lms[:, c0] + lms[:, c1])
        heights.append(-np.sum((lms[:, brow].mean(1) - mid) * down, axis=-1))
    return 0.5 * (heights[0] + heights[1]) / np.maximum(iod, 1e-9)


def _dark_centroid(gray: np.ndarray, eye: np.ndarray) -> np.ndarray | None:
    """Darkness-weighted centroid (x, y) of the iris pixels inside a 6-point eye contour."""
    import cv2

    h, w = gray.shape
    x0, y0 = np.floor(eye.min(0)).astype(int) - 1
    x1, y1 = np.ceil(eye.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 2:
        return None
    crop = gray[y0:y1, x0:x1].astype(np.float64)
    mask = np.zeros(crop.shape, np.uint8)
    cv2.fillPoly(mask, [np.round((eye - [x0, y0]) * 4).astype(np.int32)], 1, shift=2)
    vals = crop[mask > 0]
    if len(vals) < 6:
        return None
    thr = np.percentile(vals, DARK_QUANTILE)
    wgt = np.where(mask > 0, np.clip(thr - crop, 0, None), 0.0) + (mask > 0) * (crop <= thr)
    total = wgt.sum()
    if total <= 0:
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1]
    return np.array([(wgt * xs).sum() / total, (wgt * ys).sum() / total])


def gaze_68(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """(horizontal, vertical) iris position relative to the eye corners, in eye widths,
    mean of both eyes; NaN when no eye could be read. Horizontal > 0: toward image-right;
    vertical > 0: down. Both eyes use the image-left to image-right corner axis, so looking
    sideways moves both the same way."""
    if frame.ndim == 3:
        gray = frame[..., 0] * 0.299 + frame[..., 1] * 0.587 + frame[..., 2] * 0.114
    else:
        gray = frame
    out = []
    for sl, (ca, cb) in ((slice(36, 42), (36, 39)), (slice(42, 48), (42, 45))):
        c = _dark_centroid(gray, lm[sl])
        if c is None:
            continue
        u, down, w = _axes(lm[ca], lm[cb])
        d = c - 0.5 * (lm[ca] + lm[cb])
        out.append([float(d @ u) / max(w, 1e-9), float(d @ down) / max(w, 1e-9)])
    return np.mean(out, axis=0) if out else np.full(2, np.nan)


def gaze_mesh(mesh: np.ndarray, iris: np.ndarray | None = None) -> np.ndarray:
    """[n, 2] gaze from Face Mesh points ([n, >=468, >=2]) and iris points ([n, 10, >=2]:
    rows 0 and 5 the image-left and image-right iris centres, core.types.FaceMesh.iris) or,
    without `iris`, the refined 478-point mesh's own iris centres (468, 473); same units and
    signs as `gaze_68`. All NaN when neither is there."""
    mesh = np.asarray(mesh, dtype=np.float64)
    if iris is not None:
        iris = np.asarray(iris, dtype=np.float64)
        centres = (iris[:, 0, :2], iris[:, 5, :2])
    elif mesh.shape[1] >= 478:
        centres = (mesh[:, MESH_EYES[0][2], :2], mesh[:, MESH_EYES[1][2], :2])
    else:
        return np.full((len(mesh), 2), np.nan)
    rows = []
    for (left, right, _), centre in zip(MESH_EYES, centres, strict=True):
        a, b = mesh[:, left, :2], mesh[:, right, :2]
        u, down, w = _axes(a, b)
        d = centre - 0.5 * (a + b)
        rows.append(np.stack([np.sum(d * u, -1), np.sum(d * down, -1)], -1) / w[:, None])
    return 0.5 * (rows[0] + rows[1])


def motion_std(series: np.ndarray, fps: float, keep: np.ndarray | None = None) -> float | None:
    """Std over time of a smoothed per-frame signal ([n] or [n, 2]: the 2-D std is the root
    of the summed variances); frames outside `keep` are treated as missing. None when fewer
    than 10 frames remain."""
    from core.evaluate.pose import smooth_series

    x = np.asarray(series, dtype=np.float64).copy()
    if keep is not None:
        x[~keep] = np.nan
    flat = x.reshape(len(x), -1)
    ok = np.isfinite(flat).all(1)
    if ok.sum() < 10:
        return None
    sm = smooth_series(x, fps).reshape(len(x), -1)
    return float(np.sqrt(np.sum(np.var(sm[ok], axis=0))))
