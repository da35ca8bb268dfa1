"""Closed-eyelid helpers for core.engines.warp_eyes: how bright a closed lid should be
(the portrait's lid band, unless that band is a shadow: a statue's carved eye socket,
then the skin around the eye), and where a turned head's lids are (the warp's own map).

Why: core.engines.warp_eyes builds the closing lid from the portrait's own lid band
(between the lid and the brow). On a photograph that band is lid skin. On a marble bust it
is the socket under the brow ridge, in deep shadow (hallo_5: a tenth of the brightness of
the cheek and brow around it), and the closed lid read as a dark hole: a statue's lid is
stone lit like the stone around it. So per eye we compare the lid band with the skin ring
around the eye (above the brow and below the eye, the dimmer side's median) and, only when the band
is far darker than any lid skin or make-up we have measured (photographs and paintings:
0.46-0.97 of the ring; the statue: 0.11-0.12), lift the closed lid towards the ring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from core.engines.warp_mesh import FrameMap

SHADOW = (0.2, 0.4)
"""Lid band / ring brightness ratios: at or below the first the band is a shadow (the lid
takes `LID_TONE` of the ring), at or above the second it is the lid's own colour
(nothing changes), smoothly in between. Photographs measured 0.46-0.97 (0.46: heavy eye
shadow), the marble bust 0.11-0.12."""
LID_TONE = 0.85
"""A lid over a shadowed socket: this fraction of the surrounding skin's brightness
(a closed lid is a little darker than the skin around it; warp_eyes shades it further
towards the lashes)."""
LUM = np.array([0.299, 0.587, 0.114], np.float32)


def _band(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.concatenate([a, b[::-1]])).astype(np.int32)], 1)
    return mask > 0


def skin_ring(pts: np.ndarray, eye: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(above, below) bool masks of the skin around `eye`: a band 0.15-0.45 eye widths
    above its brow (forehead, or the brow ridge's lit top) and one 0.25-0.5 below the
    lower lid (cheek)."""
    from core.engines.lid_skin import BROWS, under_eye_mask

    ids = (36, 37, 38, 39, 40, 41) if eye == 0 else (42, 43, 44, 45, 46, 47)
    c0, c1 = pts[ids[0]], pts[ids[3]]
    ew = float(np.linalg.norm(c1 - c0))
    u = (c1 - c0) / max(ew, 1e-9)
    v = np.array([-u[1], u[0]])
    v = v if v[1] >= 0 else -v
    brow = pts[BROWS[eye]]
    above = _band(brow - 0.15 * ew * v, brow - 0.45 * ew * v, shape)
    return above, under_eye_mask(pts, eye, shape)


def lid_tone(src: np.ndarray, pts: np.ndarray, eye: int) -> tuple[float, float]:
    """(q, level) for the closed lid of `eye` in `src` (landmarks `pts` in its pixels):
    its shading is moved a fraction q towards luminance `level` (`LID_TONE` x the skin
    ring's dimmer side's median); q = 0 where the lid band is lid skin, 1 where it is a shadow."""
    from core.engines.lid_skin import lid_skin_mask

    lum = src.astype(np.float32) @ LUM
    band = lum[lid_skin_mask(pts, eye, lum.shape)]
    above, below = skin_ring(pts, eye, lum.shape)
    if band.size < 10 or lum[above].size < 10 or lum[below].size < 10:
        return 0.0, 0.0
    # the dimmer of the two sides: a lid faces the camera as the cheek does, and a brow
    # ridge lit from above is brighter than anything under it
    lid = float(np.median(band))
    skin = min(float(np.median(lum[above])), float(np.median(lum[below])))
    if skin < 20.0 or lid >= LID_TONE * skin:  # a dark face, or a lid as bright as the skin
        return 0.0, 0.0
    lo, hi = SHADOW
    q = float(np.clip((hi - lid / skin) / (hi - lo), 0.0, 1.0))
    return q * q * (3.0 - 2.0 * q), LID_TONE * skin


def toward(img: np.ndarray, lum: np.ndarray, tone: tuple[float, float], k: np.ndarray) -> np.ndarray:
    """`img` [h,w,3] (luminance `lum` [h,w]) moved a fraction q x `k` of the way towards
    the luminance level of `tone` = (q, level) (lid_tone), all channels alike."""
    q, level = tone
    return (img + (q * k * (level - lum))[..., None]).astype(np.float32)


def map_points(src_map: FrameMap, p: np.ndarray) -> np.ndarray:
    """Frame points `p` [..., 2] -> source pixels through the warp's backward map
    (bilinear; edge values outside the map's rectangle)."""
    q = np.asarray(p, np.float32).reshape(1, -1, 2) - np.float32([src_map.x0, src_map.y0])
    got = [cv2.remap(m, q[..., 0], q[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)[0] for m in (src_map.map_x, src_map.map_y)]
    return np.stack(got, -1).astype(np.float64).reshape(np.shape(p))


def map_rect(src_map: FrameMap, fx: np.ndarray, fy: np.ndarray, x0: int, y0: int) -> None:
    """Overwrite, in place, the source coordinates `fx`, `fy` of a frame rectangle at
    (x0, y0) with the warp's backward map where the rectangle lies inside the map's: on a
    turned head an affine fit of the eye corners is off by pixels at the brows, where
    the re-rendered eye meets the warped face (a visible patch edge)."""
    mx0, my0 = src_map.x0, src_map.y0
    hh, ww = src_map.map_x.shape
    h, w = fx.shape
    ix0, iy0 = max(x0, mx0), max(y0, my0)
    ix1, iy1 = min(x0 + w, mx0 + ww), min(y0 + h, my0 + hh)
    if ix1 > ix0 and iy1 > iy0:
        fx[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = src_map.map_x[iy0 - my0:iy1 - my0,
                                                                 ix0 - mx0:ix1 - mx0]
        fy[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = src_map.map_y[iy0 - my0:iy1 - my0,
                                                                 ix0 - mx0:ix1 - mx0]
