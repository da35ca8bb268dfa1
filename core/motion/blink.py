"""Blinks: seeded, natural intervals, drawn towards phrase boundaries and gaze shifts.

Inter-blink intervals are gamma distributed (shape 3, mean 3.1 s / blink_rate -> ~23 blinks
a minute at rate 1 with the doubles: talking raises the resting rate of ~15/min to 20-30;
VASA-1's and EMO's footage blinks 16-50 times a minute). Some blinks are doubles (a second
closure 0.33-0.5 s after the first), a quarter of those at phrase boundaries, few
mid-phrase. The hazard is raised where people
actually blink: a blink that falls within 1.4 s of a *preferred* frame (just after a
phrase ends, at a big gaze shift) moves there (85 %); otherwise one within 0.6 s of a pause
moves into the pause (60 %). Moving events keeps the rate while shifting the timing. One blink closes
in ~110 ms (ease-in), stays shut for a moment, and reopens more slowly (~190 ms).

Blinks are *events* (their peak frame), so the planner can keep or re-draw events per
segment and re-sum the curve without ever touching frames outside a segment.
"""

from __future__ import annotations

import numpy as np

MEAN_INTERVAL_S = 3.1
GAMMA_SHAPE = 3.0
CLOSE_S, HOLD_S, OPEN_S = 0.11, 0.03, 0.19
MIN_INTERVAL_S = 0.7
"""Apart from deliberate doubles, two closures closer than this read as a flutter."""
DOUBLE_P, DOUBLE_P_BOUNDARY = 0.08, 0.25
"""Share of double blinks: more at a phrase boundary or gaze shift than mid-phrase."""
PREFER_S = 1.4
"""A blink drawn within this of a preferred frame (phrase end, gaze shift) moves there."""
DOUBLE_GAP_S = (0.33, 0.5)
"""A double blink's second peak follows the first by this much: the lid opens fully
(CLOSE_S + HOLD_S + OPEN_S = 0.33 s) before it closes again."""


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
            near = cands[(np.abs(cands - f) <= PREFER_S * fps) & (cands >= floor)]
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
        draw = rng.uniform(size=2)  # always two draws, so the sequence stays seeded alike
        if draw[0] < (DOUBLE_P_BOUNDARY if moved else DOUBLE_P):
            out.append(f + (DOUBLE_GAP_S[0] + (DOUBLE_GAP_S[1] - DOUBLE_GAP_S[0]) * draw[1])
                       * fps)
        t = out[-1] / fps + max(MIN_INTERVAL_S, rng.gamma(GAMMA_SHAPE, scale))
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
