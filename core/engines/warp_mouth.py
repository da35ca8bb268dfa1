"""The mouth interior painted into the opened inner-lip polygon of a warped frame.

A mesh warp can only stretch what the photo shows; for a closed-mouth portrait the inner
lip polygon holds a line of lip pixels, and stretching it gives a smear. So when the planned
opening exceeds the portrait's own, we paint (core.engines.mouth.interior): a cavity that
darkens with depth, upper teeth carried by the skull, lower teeth carried by the jaw and a
tongue behind them (the flat painter below is the fallback without an interior).
Colours are derived from the portrait (`MouthPalette`), so a painting, a
greyscale photo or a marble bust each get matching teeth and cavity, never a flat black hole.
When the portrait already shows teeth we take their colour from it, and up to the
portrait's own opening the warped photo (its real teeth) is kept as is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from core.types import FaceRig

SHIFT = 4
UPPER = [60, 61, 62, 63, 64]
LOWER = [64, 65, 66, 67, 60]


@dataclass(frozen=True)
class MouthPalette:
    """RGB float colours of the painted interior, derived from the portrait."""

    cavity: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray
    has_teeth: bool
    line: np.ndarray | None = None  # the shadow where closed lips meet

    @classmethod
    def from_rig(cls, rig: FaceRig) -> MouthPalette:
        img = rig.image.astype(np.float32)
        lm = np.asarray(rig.landmarks, np.float64)
        h, w = img.shape[:2]
        outer = np.zeros((h, w), np.uint8)
        cv2.fillPoly(outer, [np.round(lm[48:60]).astype(np.int32)], 1)
        inner = np.zeros((h, w), np.uint8)
        cv2.fillPoly(inner, [np.round(lm[60:68]).astype(np.int32)], 1)
        lips = img[(outer > 0) & (inner == 0)]
        if lips.size == 0:
            lips = img[outer > 0] if (outer > 0).any() else img.reshape(-1, 3)
        lip = np.median(lips, axis=0)
        face = rig.masks.get("face") if rig.masks else None
        skin_px = img[face > 0.7] if face is not None and (face > 0.7).sum() > 50 else lips
        skin = np.median(skin_px, axis=0)
        lum = skin_px @ np.array([0.299, 0.587, 0.114], np.float32)
        bright = float(np.percentile(lum, 97))

        # teeth: the portrait's own when its open mouth shows bright, low-saturation pixels
        mouth_px = img[inner > 0]
        has_teeth = False
        teeth = None
        if len(mouth_px) >= 20:
            mx, mn = mouth_px.max(1), mouth_px.min(1)
            sat = (mx - mn) / np.maximum(mx, 1)
            cand = mouth_px[(sat < 0.35) & (mx > max(0.75 * bright, np.percentile(mx, 60)))]
            if len(cand) >= 0.08 * len(mouth_px) and len(cand) >= 10:
                # the lit half of them: the rest is the teeth's shadowed edge and the lip
                # pixels of a few-pixel smile (vasa-1_10: pinkish grey teeth)
                lum = cand @ np.array([0.299, 0.587, 0.114], np.float32)
                teeth = np.median(cand[lum >= np.median(lum)], axis=0)
                has_teeth = True
        if teeth is None:
            # desaturated skin tone as bright as the face's highlights: enamel reflects more
            # than skin, so under the same light it is at least as bright as the lit skin
            # (0.86 x the highlight read as grey teeth beside the peers' white ones)
            grey = float(skin @ np.array([0.299, 0.587, 0.114]))
            tint = 0.25 * skin + 0.75 * grey
            teeth = tint / max(grey, 1.0) * min(1.02 * bright + 6, 240.0)
        cavity = 0.3 * np.minimum(lip, np.percentile(lips, 10, axis=0)) + 0.05 * skin
        tongue = 0.7 * lip + 0.05 * skin
        line = 0.55 * np.percentile(lips, 8, axis=0) + 0.02 * skin
        return cls(
            cavity.astype(np.float32),
            np.clip(teeth, 0, 255).astype(np.float32),
            tongue.astype(np.float32),
            has_teeth,
            line.astype(np.float32),
        )



def _inner_gap(up: np.ndarray, lo: np.ndarray) -> float:
    """Mean distance between the three upper and lower inner-lip points, in pixels."""
    return float(np.linalg.norm(lo - up, axis=1).mean())


def _inner_lip_box(lm: np.ndarray, pad: int, shape: tuple) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around the inner lips (points 60-67) plus `pad`, clipped to the
    frame; None when too small to paint."""
    h, w = shape[:2]
    x0 = max(int(np.floor(lm[60:68, 0].min())) - pad, 0)
    x1 = min(int(np.ceil(lm[60:68, 0].max())) + pad + 1, w)
    y0 = max(int(np.floor(lm[60:68, 1].min())) - pad, 0)
    y1 = min(int(np.ceil(lm[60:68, 1].max())) + pad + 1, h)
    if x1 - x0 < 3 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def mouth_strength(lm: np.ndarray, src_gap: float) -> float:
    """How much of the painted interior `paint_mouth` draws for frame landmarks `lm` (0:
    none). Below the portrait's own opening the warped photo is right; above it, the paint
    fades in."""
    gap = _inner_gap(lm[[61, 62, 63]], lm[[67, 66, 65]])
    return float(np.clip((gap - 1.1 * src_gap - 0.6) / (0.4 * src_gap + 2.0), 0, 1))


def paint_seam(
    frame: np.ndarray,
    lm: np.ndarray,
    palette: MouthPalette,
    src_gap: float,
    face_h: float,
) -> None:
    """Draw the dark line where the lips meet, for a portrait photographed with parted lips
    whose planned gap is below its own (`frame` uint8 RGB in place, `lm` in frame pixels).

    Closing such a mouth squeezes the photo's teeth and inner mouth into the last pixel
    rows between the lips and makes a stair-stepped, often light seam: dlib then reads the
    lips as parted (measured on hallo_3: rest gap 0.025 IOD, speaking 0.06) and a viewer
    sees a light fleck. Real closed lips meet in a thin shadow, so we draw one: a feathered
    polyline through the inner-lip midpoints in the lips' darkest colour, fading in as the
    gap falls below the portrait's, thinner towards the corners.
    """
    if palette.line is None or not palette.has_teeth or src_gap < 1.0:
        return  # a photo with a dark, closed or toothless mouth keeps its own lip line
    up, lo = lm[[61, 62, 63]], lm[[67, 66, 65]]
    gap = _inner_gap(up, lo)
    closure = float(np.clip(1.0 - gap / src_gap, 0.0, 1.0))
    if closure <= 0.02:
        return
    box = _inner_lip_box(lm, 4, frame.shape)
    if box is None:
        return
    x0, y0, x1, y1 = box
    mid = np.concatenate([lm[[60]], 0.5 * (up + lo), lm[[64]]]) - np.array([x0, y0])
    thick = max(1.0, 0.008 * face_h)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round(mid * (1 << SHIFT)).astype(np.int32)
    # full width in the middle, half at the corners
    for k in range(len(mid) - 1):
        t = thick if 0 < k < len(mid) - 2 else 0.6 * thick
        cv2.line(mask, tuple(pts[k]), tuple(pts[k + 1]), 255, max(1, round(t)), cv2.LINE_AA,
                 SHIFT)
    a = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(0.5, 0.35 * thick))
    a = (np.clip(a * 1.4, 0, 1) * 0.9 * closure)[..., None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + palette.line[None, None] * a, 0, 255).astype(
        np.uint8
    )


def paint_mouth(
    frame: np.ndarray,
    lm: np.ndarray,
    palette: MouthPalette,
    src_gap: float,
    face_h: float,
    interior=None,
    index: int = 0,
    pose: np.ndarray | None = None,
    shift: np.ndarray | None = None,
    frame_matrix: np.ndarray | Callable[[], np.ndarray] | None = None,
) -> None:
    """Paint the interior into `frame` (uint8 RGB, in place) for landmarks `lm` [68,2] in
    frame pixels. `src_gap` is the portrait's own inner gap and `face_h` the face height,
    both in frame pixels. `interior` (core.engines.mouth.interior.MouthInterior) paints
    teeth, tongue and cavity matched to the photo; without it, the old flat painter.
    `frame_matrix` places the skull-rigid teeth (the renderer's own 3-D head transform),
    or a callable giving it (called only when something is painted)."""
    up, lo = lm[[61, 62, 63]], lm[[67, 66, 65]]
    gap = _inner_gap(up, lo)
    strength = mouth_strength(lm, src_gap)
    if strength <= 0:
        return
    if callable(frame_matrix):  # made only now that the interior is painted
        frame_matrix = frame_matrix()
    if interior is not None:
        pad = 3 + int(np.ceil(2 * interior.stats.sigma))
        box = _inner_lip_box(lm, pad, frame.shape)
        if box is not None:
            interior.paint(frame, lm, index, np.zeros(3) if pose is None else pose,
                           np.zeros(2) if shift is None else shift, strength, box,
                           frame_matrix=frame_matrix)
        return
    box = _inner_lip_box(lm, 3, frame.shape)
    if box is None:
        return
    x0, y0, x1, y1 = box
    rh, rw = y1 - y0, x1 - x0
    off = np.array([x0, y0], np.float64)
    P = lm - off

    def poly(mask: np.ndarray, pts: np.ndarray) -> None:
        cv2.fillPoly(mask, [np.round(pts * (1 << SHIFT)).astype(np.int32)], 255, cv2.LINE_AA, SHIFT)

    hole = np.zeros((rh, rw), np.uint8)
    poly(hole, P[60:68])
    alpha = hole.astype(np.float32) / 255.0
    blur = max(0.5, 0.004 * face_h)
    alpha = cv2.GaussianBlur(alpha, (0, 0), blur)

    # geometry of the opening
    mouth_w = float(np.linalg.norm(P[64] - P[60]))
    centre_x = 0.5 * (P[60, 0] + P[64, 0])
    yy, xx = np.mgrid[0:rh, 0:rw].astype(np.float32)
    u = np.clip(np.abs(xx - centre_x) / max(mouth_w / 2, 1.0), 0, 1)

    # cavity: darker at the back (centre, lower) and near the edges (occlusion)
    occl = cv2.GaussianBlur(hole.astype(np.float32) / 255.0, (0, 0), max(1.0, 0.12 * gap))
    shade = 0.5 + 0.6 * (1 - occl)
    col = palette.cavity[None, None] * shade[..., None]

    # tongue: an ellipse rising from the lower lip, visible when the jaw is open
    lo_mid = P[66]
    t_w = 0.34 * mouth_w
    t_h = 0.45 * gap
    tcy = lo_mid[1] + 0.15 * gap
    tongue = ((xx - lo_mid[0]) / max(t_w, 1)) ** 2 + ((yy - tcy) / max(t_h, 1)) ** 2
    t_a = np.clip((1.0 - tongue) * 3.0, 0, 1) * np.clip(
        (gap - 0.02 * face_h) / (0.03 * face_h), 0, 1
    )
    t_shade = np.clip(0.55 + 0.6 * (tcy - yy) / max(t_h, 1), 0.4, 1.0)[..., None]
    col = col * (1 - t_a[..., None]) + palette.tongue[None, None] * t_shade * t_a[..., None]

    # upper teeth: a band under the upper inner lip, hidden towards the corners
    teeth_h = min(0.42 * gap, 0.045 * face_h)
    band = np.zeros((rh, rw), np.uint8)
    upper = P[UPPER]
    inset = upper.copy()
    inset[:, 0] = centre_x + (inset[:, 0] - centre_x) * 0.88
    lower_edge = inset[::-1] + np.array([0.0, teeth_h])
    lower_edge[[0, -1], 1] -= 0.5 * teeth_h  # the band narrows towards the corners
    poly(band, np.concatenate([inset, lower_edge]))
    b_a = cv2.GaussianBlur(band.astype(np.float32) / 255.0, (0, 0), max(0.6, 0.12 * teeth_h))
    tooth_shade = (1.0 - 0.45 * u**2)[..., None]
    # faint gaps between the front teeth
    gaps = 1.0 - 0.12 * np.clip(
        1 - np.abs(((xx - centre_x) / max(0.085 * mouth_w, 1)) % 1.0 - 0.5) * 10, 0, 1
    )
    col = (
        col * (1 - b_a[..., None])
        + palette.teeth[None, None] * tooth_shade * gaps[..., None] * b_a[..., None]
    )

    a = (alpha * strength)[..., None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + col * a, 0, 255).astype(np.uint8)
