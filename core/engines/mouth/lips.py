"""Lips that behave like lips: thinner when stretched, fuller when rounded, pressed on p/b/m.

The planner moves the lip *outline* for opening and width, but the lip body keeps the
portrait's thickness whatever it does: an "ee" stretches a full lip sideways, an "oo" is a
narrower copy of the rest lips, and a "p" merely meets. Real lips are soft tissue of
roughly constant volume: stretched they thin, rounded and pushed forward they bunch up and
show more red, pressed together they roll in and thin. So the renderer moves the OUTER lip
points (the inner edge, which the lip-sync measures read, stays where the planner put it)
towards or away from the inner edge by a fraction of the portrait's own lip thickness.
Kept in the renderer on purpose: the planner's tracks stay what they mean, any engine may
choose to do this or not.
"""

from __future__ import annotations

import numpy as np

from core.motion.landmarks import RigGeometry

UPPER_OUTER, UPPER_INNER = [49, 50, 51, 52, 53], [61, 61, 62, 63, 63]
LOWER_OUTER, LOWER_INNER = [59, 58, 57, 56, 55], [67, 67, 66, 65, 65]
WEIGHT = np.array([0.55, 0.9, 1.0, 0.9, 0.55])  # the middle of the lip changes most
THIN_STRETCH = 0.22  # fraction of lip thickness lost at a full spread (width +0.2)
FULL_ROUND = 0.18  # gained at full rounding (width -0.26)
THIN_PRESS = 0.2  # lost when pressed together (p, b, m)


def pressed_track(viseme_weights: np.ndarray | None, names: list[str], n: int) -> np.ndarray:
    """[n] 0..1: how much each frame is a bilabial closure (the PP viseme's weight)."""
    out = np.zeros(n)
    w = None if viseme_weights is None else np.asarray(viseme_weights, np.float64)
    if w is None or w.ndim != 2 or "PP" not in names or names.index("PP") >= w.shape[1]:
        return out
    m = min(n, w.shape[0])
    out[:m] = np.clip(w[:m, names.index("PP")], 0, 1)
    return out


def shape_lips(lm: np.ndarray, geo: RigGeometry, width: float, pressed: float) -> np.ndarray:
    """Landmarks [68,2] (rig pixels) with the outer lip points moved for lip volume.

    `width` is the planner's mouth_width channel (+ spread, - rounded), `pressed` 0..1."""
    thin = (THIN_STRETCH * float(np.clip(width / 0.2, 0, 1))
            - FULL_ROUND * float(np.clip(-width / 0.26, 0, 1))
            + THIN_PRESS * float(np.clip(pressed, 0, 1)))
    if abs(thin) < 1e-4:
        return lm
    out = np.array(lm, np.float64, copy=True)
    rest = geo.rest
    for outer, inner in ((UPPER_OUTER, UPPER_INNER), (LOWER_OUTER, LOWER_INNER)):
        # the portrait's lip thickness at each point, across the face (ey)
        th = np.abs((rest[outer] - rest[inner]) @ geo.ey)
        towards = np.sign((out[inner] - out[outer]) @ geo.ey)
        out[outer] += (towards * th * WEIGHT * thin)[:, None] * geo.ey[None]
    return out
