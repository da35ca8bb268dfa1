"""Blinks: seeded, natural intervals, drawn towards phrase boundaries and gaze shifts.

Inter-blink intervals are gamma distributed (shape 3, mean 3.5 s / blink_rate -> ~17 blinks
a minute at rate 1, the typical rate while talking). The hazard is raised where people
actually blink: a blink that falls within 1 s of a *preferred* frame (just after a
phrase ends, at a big gaze shift) moves there (85 %); otherwise one within 0.6 s of a pause
moves into the pause (60 %). Moving events keeps the rate while shifting the timing. One blink closes
in ~110 ms (ease-in), stays shut for a moment, and reopens more slowly (~190 ms).

Blinks are *events* (their peak frame), so the planner can keep or re-draw events per
segment and re-sum the curve without ever touching frames outside a segment.
"""

from __future__ import annotations

import numpy as np

MEAN_INTERVAL_S = 3.5
GAMMA_SHAPE = 3.0
CLOSE_S, HOLD_S, OPEN_S = 0.11, 0.03, 0.19
MIN_INTERVAL_S = 0.7
"""No double blinks: two closures closer than this read as a flutter (and as one blink)."""


def draw_events(
    rng: np.random.Generator,
    start: int,
    stop: int,
    fps: float,
    rate: float,
    pause: np.ndarray,
    prefer: np.ndarray | None = None,
) -> np.ndarray:
    """Peak frames (float) of blinks in [start, stop). `pause` [n_total] bool: no speech;
    `prefer`: frames where a blink is likely (phrase ends, gaze shifts)."""
    if rate <= 0 or stop <= start:
        return np.zeros(0)
    mean = MEAN_INTERVAL_S / rate
    scale = mean / GAMMA_SHAPE
    t = start / fps + rng.uniform(0.2, 1.0) * mean  # first blink: partway into an interval
    out = []
    pause_idx = np.flatnonzero(pause[start:stop]) + start
    pref = np.zeros(0) if prefer is None else np.sort(np.asarray(prefer, dtype=np.float64))
    pref = pref[(pref >= start) & (pref < stop)]
    while t < stop / fps:
        f = t * fps
        floor = (out[-1] + MIN_INTERVAL_S * fps) if out else -np.inf  # never a double blink
        moved = False
        if pref.size:
            j = np.searchsorted(pref, f)
            cands = pref[max(0, j - 1) : j + 1]
            near = cands[(np.abs(cands - f) <= 1.0 * fps) & (cands >= floor)]
            if near.size and rng.uniform() < 0.85:
                f = float(near[np.argmin(np.abs(near - f))])
                moved = True
        if pause_idx.size and not moved:
            j = np.searchsorted(pause_idx, f)
            cands = pause_idx[max(0, j - 1) : j + 1]
            near = cands[(np.abs(cands - f) <= 0.6 * fps) & (cands >= floor)]
            if near.size and rng.uniform() < 0.6:
                f = float(near[np.argmin(np.abs(near - f))])
        out.append(f)
        t = f / fps + max(MIN_INTERVAL_S, rng.gamma(GAMMA_SHAPE, scale))
    ev = np.asarray(out, dtype=np.float64)
    return ev[(ev >= start) & (ev < stop)]


def curve(events: np.ndarray, n: int, fps: float) -> np.ndarray:
    """Eyelid closure [n] in [0,1] from blink peak frames."""
    out = np.zeros(n)
    if events.size == 0 or n == 0:
        return out
    t = np.arange(n, dtype=np.float64)
    c, h, o = CLOSE_S * fps, HOLD_S * fps, OPEN_S * fps
    for p in events:
        lo, hi = int(max(0, np.floor(p - c - 1))), int(min(n, np.ceil(p + h + o + 1)))
        if hi <= lo:
            continue
        d = t[lo:hi] - p
        v = np.where(
            d < 0,
            np.clip(1 + d / c, 0, 1) ** 2,  # ease-in close
            np.where(d <= h, 1.0, np.clip(1 - (d - h) / o, 0, 1) ** 1.5),
        )
        np.maximum(out[lo:hi], v, out=out[lo:hi])
    return out
