"""Head motion and gaze: smooth seeded noise that follows speech energy, nods, saccades.

Why this shape: listeners read a still head as a photograph; a head that moves with the
voice (bigger while speaking loudly, calmer in pauses) plus small nods on stressed
syllables reads as speech. The noise is unit-amplitude, band-limited (0.3-1.5 Hz) and
*seeded per frame range*, so a segment with its own seed can re-draw it inside its frames
only; the amplitude envelope and nods come from the audio and are global.
"""

from __future__ import annotations

import numpy as np

from core.motion.mouth import smooth
from core.types import AudioFeatures

# degrees of yaw, pitch, roll at energy 1 and head_motion 1 (idle floor is a third)
AMPLITUDE = np.array([3.0, 2.0, 1.4])
NOD_DEG = 1.6


def unit_noise(rng: np.random.Generator, n: int, fps: float, channels: int) -> np.ndarray:
    """[n, channels] smooth noise with unit standard deviation (approx.), deterministic."""
    if n == 0:
        return np.zeros((0, channels))
    pad = int(fps)  # filter warm-up, so the first frames are as smooth as the rest
    raw = rng.standard_normal((2, n + 2 * pad, channels))
    s1, s2 = 0.4 * fps, 0.2 * fps
    slow = smooth(raw[0], s1)  # ~0.35 Hz sway
    fast = smooth(raw[1], s2)  # ~0.8 Hz jitter
    # analytic std of Gaussian-filtered white noise: (2 sqrt(pi) sigma)^-1/2; a constant,
    # so a short segment has the same amplitude as a long clip
    sd = np.sqrt((2.2**2) / (2 * np.sqrt(np.pi) * s1) + (0.5**2) / (2 * np.sqrt(np.pi) * s2))
    return (slow * 2.2 + fast * 0.5)[pad : pad + n] / sd


def envelope(features: AudioFeatures) -> np.ndarray:
    """[n] head-motion amplitude from slowly smoothed energy: ~0.35 idle .. ~1.2 loud."""
    n, fps = features.n_frames, float(features.fps)
    rms = np.nan_to_num(np.asarray(features.rms, dtype=np.float64)[:n])
    e = smooth(np.clip(rms, 0, 1.5), 0.5 * fps)
    return 0.35 + 0.85 * np.clip(e, 0, 1.0)


def nods(features: AudioFeatures) -> np.ndarray:
    """[n] pitch offsets (degrees at head_motion 1): a small dip on each stressed vowel,
    scaled by its loudness; decays over ~300 ms."""
    n, fps = features.n_frames, float(features.fps)
    out = np.zeros(n)
    if n == 0:
        return out
    rms = np.nan_to_num(np.asarray(features.rms, dtype=np.float64)[:n])
    t = np.arange(n, dtype=np.float64) / fps
    last = -1.0
    for ph in features.phones:
        if not ph.stressed or ph.start - last < 0.45:
            continue
        last = ph.start
        f = min(n - 1, max(0, int(ph.start * fps)))
        amp = NOD_DEG * float(np.clip(rms[f : f + 3].mean() if f < n else 0, 0.3, 1.2))
        d = t - (ph.start + 0.05)
        out += amp * np.exp(-0.5 * (d / 0.12) ** 2)
    return out


def saccades(rng: np.random.Generator, n: int, fps: float) -> np.ndarray:
    """[n, 2] gaze offsets in eye-width units: fixations of 0.6-2.5 s with quick (~40 ms)
    moves between small targets, mostly near the centre (talking to the camera)."""
    out = np.zeros((n, 2))
    if n == 0:
        return out
    t, cur = 0, np.zeros(2)
    while t < n:
        dur = max(2, int(rng.uniform(0.6, 2.5) * fps))
        nxt = rng.normal(0, [0.05, 0.025]) if rng.uniform() < 0.75 else np.zeros(2)
        ramp = max(1, int(round(0.04 * fps)))
        k = np.clip(np.arange(1, min(dur, n - t) + 1) / ramp, 0, 1)[:, None]
        out[t : t + dur] = cur + (nxt - cur) * k
        cur = nxt
        t += dur
    return out
