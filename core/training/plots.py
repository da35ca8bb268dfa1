"""Pictures of a run drawn with PIL (matplotlib is not a dependency): the loss curve and
contact sheets (rows of frames)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def loss_curve(losses: list[float], width: int = 640, height: int = 320) -> Image.Image:
    """The loss per step on a log10 axis, raw (light) and smoothed (dark), with the min/max
    and the step count written on the axes."""
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 60, width - 10, 10, height - 30
    d.rectangle([left, top, right, bottom], outline=(0, 0, 0))
    y = np.log10(np.maximum(np.asarray(losses, np.float64), 1e-12))
    if len(y) == 0:
        return img
    lo, hi = float(y.min()), float(y.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n = len(y)

    def pts(v: np.ndarray) -> list[tuple[float, float]]:
        xs = left + (np.arange(len(v)) / max(1, n - 1)) * (right - left)
        ys = bottom - (v - lo) / (hi - lo) * (bottom - top)
        return list(zip(xs.tolist(), ys.tolist(), strict=True))

    if n > 1:
        d.line(pts(y), fill=(170, 190, 230), width=1)
        k = max(1, n // 20)
        smooth = np.convolve(np.pad(y, (k - 1, 0), mode="edge"), np.ones(k) / k, mode="valid")
        d.line(pts(smooth), fill=(20, 60, 160), width=2)
    else:
        d.ellipse([left - 2, bottom - 2, left + 2, bottom + 2], fill=(20, 60, 160))
    d.text((4, top), f"{10 ** hi:.3g}", fill=(0, 0, 0))
    d.text((4, bottom - 10), f"{10 ** lo:.3g}", fill=(0, 0, 0))
    d.text((left, bottom + 8), "step 1", fill=(0, 0, 0))
    d.text((right - 70, bottom + 8), f"step {n}", fill=(0, 0, 0))
    d.text((width // 2 - 40, bottom + 8), "loss (log)", fill=(0, 0, 0))
    return img


def contact_sheet(rows: list[list[np.ndarray]], pad: int = 2) -> Image.Image:
    """One image of rows of equally sized RGB uint8 frames (white gaps)."""
    rows = [r for r in rows if len(r)]
    if not rows:
        return Image.new("RGB", (1, 1), "white")
    h, w = np.asarray(rows[0][0]).shape[:2]
    cols = max(len(r) for r in rows)
    sheet = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, f in enumerate(r):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            sheet[y : y + h, x : x + w] = np.asarray(f)[:h, :w, :3]
    return Image.fromarray(sheet)
