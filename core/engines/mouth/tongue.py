"""The tongue: its pose per frame from visemes, and its layer (shape and shading) per frame.

Why visemes: the tongue is what tells "th" from "f" and "l" from "ah" to a lip-reader, and a
tongue that never moves reads as a prop. Each viseme class gets (height, forward, tip up):
height = how much of the opening, from the lower lip up, the tongue's back fills; forward
= how far the tip comes over the lower teeth (1 for "th": between the teeth); tip up = how
far the tip rises towards the upper teeth ("l", "n", "t", "d" touch the ridge behind them).
Open vowels keep it low and flat, "ee/ih" raise the body. The per-frame values are the
viseme weights' mean, smoothed over ~60 ms so the tongue glides like the lips.

Why a shaped layer, not an oval (user study: "a pink oval filling the bottom", "lower lip
and tongue blending"): seen through an open mouth a tongue is a wide, low dome whose front
rests behind the lower incisors and whose back curves away into the dark; it is lit from
the front (the camera side) so it darkens towards the back and the sides, a median groove
runs down its middle, and its wet surface has a soft sheen across the front. Its tip
changes shape: rounded and flat behind the teeth, a narrower lobe rising in the middle when
raised (its darker, redder underside towards us), a rounded tip over the lower teeth for
"th". It is drawn behind the lower teeth, so the teeth's edge and a shadow separate it
from the lower lip.
"""

from __future__ import annotations

import cv2
import numpy as np

# viseme name: (height as a fraction of the opening, tip forward 0..1, tip up 0..1)
TONGUE: dict[str, tuple[float, float, float]] = {
    "sil": (0.32, 0.0, 0.0),
    "PP": (0.32, 0.0, 0.0),
    "FF": (0.36, 0.0, 0.0),
    "TH": (0.50, 1.0, 0.0),
    "DD": (0.50, 0.0, 0.8),
    "kk": (0.42, 0.0, 0.0),
    "CH": (0.45, 0.0, 0.3),
    "SS": (0.45, 0.1, 0.2),
    "nn": (0.50, 0.0, 0.9),
    "RR": (0.42, 0.0, 0.35),
    "aa": (0.34, 0.0, 0.0),
    "E": (0.46, 0.0, 0.0),
    "ih": (0.54, 0.0, 0.0),
    "oh": (0.30, 0.0, 0.0),
    "ou": (0.32, 0.0, 0.0),
}

_MOTTLE = np.random.default_rng(12).standard_normal((256, 512)).astype(np.float32)


def tongue_track(viseme_weights: np.ndarray | None, names: list[str], n: int,
                 fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(height [n], forward [n], tip up [n]) for a clip of `n` frames from soft viseme
    weights [m, V] (class order `names`); a missing or mismatched track gives a resting
    tongue."""
    rest = TONGUE["sil"]
    out = np.tile(np.asarray(rest, np.float64), (n, 1))
    w = None if viseme_weights is None else np.asarray(viseme_weights, np.float64)
    if w is None or w.ndim != 2 or w.shape[0] == 0:
        return out[:, 0], out[:, 1], out[:, 2]
    m = min(n, w.shape[0])
    table = np.array([TONGUE.get(nm, rest) for nm in names[: w.shape[1]]]
                     + [rest] * max(0, w.shape[1] - len(names)))
    s = np.maximum(w[:m].sum(1, keepdims=True), 1e-6)
    hf = (w[:m] @ table) / s
    sig = max(0.06 * fps / 2.0, 0.5)
    r = int(np.ceil(3 * sig))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sig) ** 2)
    k /= k.sum()
    for j in range(hf.shape[1]):
        x = np.pad(hf[:, j], r, mode="edge")
        hf[:, j] = np.convolve(x, k, mode="valid")
    out[:m] = hf
    return out[:, 0], out[:, 1], out[:, 2]


def _smooth(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / max(e1 - e0, 1e-6), 0, 1)
    return t * t * (3 - 2 * t)


def tongue_layer(xx: np.ndarray, yy: np.ndarray, lo_mid: np.ndarray, half_w: float,
                 top_y: float, front_y: float, colour: np.ndarray, dark: np.ndarray,
                 tip_up: float = 0.0, tip_y: float | None = None, forward: float = 0.0,
                 fwd_y: float | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(colour [h,w,3], alpha [h,w], tip-over-teeth alpha [h,w]) of the tongue in a window
    with pixel grids xx, yy (y down).

    `lo_mid`: the lower lip's inner middle (x centre; the body runs on below it, hidden).
    `half_w`: the dome's half width. `top_y`: its back (highest point, deep in the mouth).
    `front_y`: where its front meets the lower teeth (lit most). `tip_up` 0..1 raises a
    narrower lobe from the front up to `tip_y` (the upper teeth's edge); `forward` 0..1
    brings a rounded tip down over the lower teeth to `fwd_y`. The third array is that
    forward tip's own alpha: the caller draws it over the lower teeth."""
    cx = float(lo_mid[0])
    bottom = float(lo_mid[1]) + 0.25 * max(front_y - top_y, 1.0)  # hidden under the lip
    u = (xx - cx) / max(half_w, 1.0)
    au = np.abs(u)
    # the dome's outline: highest in the middle, falling to the sides (a low arch, not a disc)
    edge_top = top_y + (front_y - top_y) * np.minimum(1.1 * au ** 2, 1.0)
    px = 1.0  # ~1 px soft outline, the photo's own blur is added by the caller
    a_top = np.clip((yy - edge_top) / px + 0.5, 0, 1)
    a_side = np.clip((1.0 - au) * half_w / px + 0.5, 0, 1)
    a = a_top * a_side * (yy <= bottom + px)
    # shading: lit from the front, darker towards the back and the sides, groove, sheen
    v = np.clip((yy - edge_top) / max(front_y - top_y, 1.0), 0, 1.5)  # 0 back .. 1 front
    lit = 0.5 + 0.5 * _smooth(0.0, 0.7, v)
    sides = 1.0 - 0.35 * au ** 2.5
    groove = 1.0 - 0.16 * np.exp(-((u / 0.07) ** 2)) * _smooth(0.05, 0.4, v) * (1 - 0.6 * tip_up)
    sheen = 0.10 * np.exp(-((u / 0.5) ** 2 + ((v - 0.7) / 0.22) ** 2))
    # papillae: a fine, faint mottling (a wet tongue is never a smooth plastic fill)
    # drawn from a fixed field in the tongue's own frame, so it moves with the tongue and
    # never crawls from frame to frame
    mx = (xx - cx + 0.5 * _MOTTLE.shape[1]).astype(np.float32)
    my = (yy - top_y + 4.0).astype(np.float32)
    fine = 1.0 + 0.05 * cv2.remap(_MOTTLE, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    shade = lit * sides * groove * fine + sheen
    col = colour[None, None] * shade[..., None]

    tu = float(np.clip(tip_up, 0, 1))
    if tu > 0.02 and tip_y is not None:
        # the raised tip: a lobe ~40 % of the dome's width, its rounded top at `peak`; its
        # underside faces us, redder and darker than the lit dorsum
        peak = front_y + (tip_y - front_y) * tu
        lw = 0.4 * half_w
        lu = (xx - cx) / max(lw, 1.0)
        ltop = peak + (front_y - peak) * np.clip(lu, -1, 1) ** 2
        la = (np.clip((yy - ltop) / px + 0.5, 0, 1) * np.clip((1 - np.abs(lu)) * lw / px + 0.5, 0, 1)
              * (yy <= bottom))
        lv = np.clip((yy - peak) / max(front_y - peak, 1.0), 0, 1)
        frenum = 1.0 - 0.25 * np.exp(-((lu / 0.12) ** 2)) * lv
        lshade = (0.62 + 0.25 * (1 - np.abs(lu) ** 2)) * frenum * (0.9 + 0.1 * (1 - lv))
        under = colour * np.array([1.0, 0.8, 0.85], np.float32)
        lcol = under[None, None] * lshade[..., None]
        col = col * (1 - la[..., None]) + lcol * la[..., None]
        a = np.maximum(a, la)

    fa = np.zeros_like(a)
    fw = float(np.clip(forward, 0, 1))
    if fw > 0.02 and fwd_y is not None:
        # "th": a rounded tip out over the lower teeth, lit brightest (nearest the light)
        reach = front_y + (fwd_y - front_y) * fw
        tw = 0.5 * half_w
        tu_ = (xx - cx) / max(tw, 1.0)
        tbot = reach - (reach - front_y) * 0.8 * np.clip(tu_, -1, 1) ** 2
        fa = (np.clip((tbot - yy) / px + 0.5, 0, 1) * np.clip((1 - np.abs(tu_)) * tw / px + 0.5, 0, 1)
              * (yy >= top_y)) * fw
        tshade = (1.0 - 0.25 * np.abs(tu_) ** 2) * (1.05 - 0.1 * _smooth(front_y, reach, yy))
        tcol = colour[None, None] * tshade[..., None]
        col = col * (1 - fa[..., None]) + tcol * fa[..., None]
        a = np.maximum(a, fa)
    col = col + dark[None, None] * 0.08
    return col.astype(np.float32), a.astype(np.float32), fa.astype(np.float32)


def tongue_layer_boxed(xx: np.ndarray, yy: np.ndarray, lo_mid: np.ndarray, half_w: float,
                       top_y: float, front_y: float, colour: np.ndarray, dark: np.ndarray,
                       tip_up: float = 0.0, tip_y: float | None = None, forward: float = 0.0,
                       fwd_y: float | None = None,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`tongue_layer` computed only on the rows and columns its alphas can reach (every
    value is per pixel, so those pixels are the same; elsewhere both alphas are 0 and the
    colour, never seen through a zero alpha, is 0). The tongue covers about half of the
    mouth's window: this halves its cost, once per painted frame."""
    h, w = xx.shape
    lobes = [half_w, 0.4 * half_w, 0.5 * half_w]  # dome, raised tip, "th" tip
    if min(lobes) < 0.5 or h < 2 or w < 2:
        return tongue_layer(xx, yy, lo_mid, half_w, top_y, front_y, colour, dark, tip_up,
                            tip_y, forward, fwd_y)
    # each lobe's alpha is 0 beyond |x - cx| >= max(hw, 1) * (1 + 0.5 / hw) (its soft side)
    reach_x = max(max(hw, 1.0) * (1.0 + 0.5 / hw) for hw in lobes) + 2.0
    # rows: the dome from its back (top_y), the raised tip from its peak, down to the
    # hidden bottom under the lip or the "th" tip's reach over the lower teeth
    bottom = float(lo_mid[1]) + 0.25 * max(front_y - top_y, 1.0)
    lo_y, hi_y = min(top_y, front_y), max(bottom, front_y) + 1.0
    tu = float(np.clip(tip_up, 0, 1))
    if tu > 0.02 and tip_y is not None:
        lo_y = min(lo_y, front_y + (tip_y - front_y) * tu)
    fw = float(np.clip(forward, 0, 1))
    if fw > 0.02 and fwd_y is not None:
        hi_y = max(hi_y, front_y + (fwd_y - front_y) * fw)
    cx = float(lo_mid[0])
    # the window's grids are the pixel grid from (0, 0): rows and columns are their indices
    x0 = int(np.clip(np.floor(cx - reach_x - float(xx[0, 0])), 0, w))
    x1 = int(np.clip(np.ceil(cx + reach_x - float(xx[0, 0])) + 1, 0, w))
    y0 = int(np.clip(np.floor(lo_y - 2.0 - float(yy[0, 0])), 0, h))
    y1 = int(np.clip(np.ceil(hi_y + 2.0 - float(yy[0, 0])) + 1, 0, h))
    col = np.zeros((h, w, 3), np.float32)
    a = np.zeros((h, w), np.float32)
    fa = np.zeros((h, w), np.float32)
    if x1 > x0 and y1 > y0:
        box = (slice(y0, y1), slice(x0, x1))
        col[box], a[box], fa[box] = tongue_layer(
            xx[box], yy[box], lo_mid, half_w, top_y, front_y, colour, dark, tip_up, tip_y,
            forward, fwd_y)
    return col, a, fa
