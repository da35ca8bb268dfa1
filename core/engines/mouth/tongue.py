"""The tongue: how high it shows and how far forward its tip is, per frame, from visemes.

Why visemes: the tongue is what tells "th" from "f" and "l" from "ah" to a lip-reader, and a
tongue that never moves reads as a prop. Each viseme class gets (height, forward):
height = how much of the opening, from the lower lip up, the tongue's back fills; forward
= how far the tip comes over the lower teeth (1 for "th": between the teeth). Open vowels
keep it low and flat, "l/n/t/d" raise the tip, "ee/ih" raise the body. The per-frame values
are the viseme weights' mean, smoothed over ~60 ms so the tongue glides like the lips.
"""

from __future__ import annotations

import numpy as np

# viseme name: (height as a fraction of the opening, tip forward 0..1)
TONGUE: dict[str, tuple[float, float]] = {
    "sil": (0.32, 0.0),
    "PP": (0.32, 0.0),
    "FF": (0.36, 0.0),
    "TH": (0.62, 1.0),
    "DD": (0.55, 0.35),
    "kk": (0.40, 0.0),
    "CH": (0.45, 0.0),
    "SS": (0.45, 0.1),
    "nn": (0.60, 0.45),
    "RR": (0.42, 0.0),
    "aa": (0.36, 0.0),
    "E": (0.46, 0.0),
    "ih": (0.54, 0.0),
    "oh": (0.30, 0.0),
    "ou": (0.32, 0.0),
}


def tongue_track(viseme_weights: np.ndarray | None, names: list[str], n: int,
                 fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(height [n], forward [n]) for a clip of `n` frames from soft viseme weights [m, V]
    (class order `names`); a missing or mismatched track gives a resting tongue."""
    rest = TONGUE["sil"]
    h, f = np.full(n, rest[0]), np.full(n, rest[1])
    w = None if viseme_weights is None else np.asarray(viseme_weights, np.float64)
    if w is None or w.ndim != 2 or w.shape[0] == 0:
        return h, f
    m = min(n, w.shape[0])
    table = np.array([TONGUE.get(nm, rest) for nm in names[: w.shape[1]]]
                     + [rest] * max(0, w.shape[1] - len(names)))
    s = np.maximum(w[:m].sum(1, keepdims=True), 1e-6)
    hf = (w[:m] @ table) / s
    sig = max(0.06 * fps / 2.0, 0.5)
    r = int(np.ceil(3 * sig))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sig) ** 2)
    k /= k.sum()
    for j in range(2):
        x = np.pad(hf[:, j], r, mode="edge")
        hf[:, j] = np.convolve(x, k, mode="valid")
    h[:m], f[:m] = hf[:, 0], hf[:, 1]
    return h, f


def tongue_layer(xx: np.ndarray, yy: np.ndarray, lo_mid: np.ndarray, half_w: float,
                 top_y: float, down: float, colour: np.ndarray,
                 dark: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(colour [h,w,3], alpha [h,w]) of the tongue in a window with pixel grids xx, yy.

    A rounded body centred under `lo_mid` (the lower lip's middle), `half_w` wide, its top
    (the back of the tongue, deep in the mouth) at `top_y`, extending `down` px below the
    lip (hidden by it). Darker towards the back and the sides, a shallow median groove and
    a broad soft sheen on the front: shape, not a flat disc."""
    cx = float(lo_mid[0])
    hgt = max(float(lo_mid[1] + down - top_y), 1.0)
    u = (xx - cx) / max(half_w, 1.0)
    v = (yy - top_y) / hgt  # 0 at the back (top), 1 below the lip
    # a superellipse: flat front, rounded back corners
    body = np.clip(1.0 - (np.abs(u) ** 2.4 + np.abs(1.0 - v) ** 2.4), -1, 1)
    a = np.clip(body * 6.0, 0, 1) * (v >= 0)
    back = 0.62 + 0.38 * np.clip(v * 1.5, 0, 1)
    sides = 1.0 - 0.35 * np.abs(u) ** 2
    groove = 1.0 - 0.12 * np.exp(-((u / 0.08) ** 2)) * np.clip(v * 2, 0, 1)
    sheen = 0.10 * np.exp(-((u / 0.45) ** 2 + ((v - 0.55) / 0.25) ** 2))
    shade = np.clip(back * sides * groove + sheen, 0, 1.2)[..., None]
    col = colour[None, None] * shade + dark[None, None] * (1 - shade) * 0.3
    return col.astype(np.float32), a.astype(np.float32)
