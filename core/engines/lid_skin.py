"""The lid skin of the portrait's eyes: where it lies (the band between lid and brow, the
skin under the eye), its fine texture level and spectrum, and the seeded random-phase grain
a closing lid is given from them.

Why apart from warp_eyes: the lid renderer needs these statistics once per portrait, and
the lid's tone (lid_tone) reads the same skin regions; they are one idea, the skin's
measurements, not the per-frame lid geometry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from core.engines.warp_eyes import LidModel

EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))
BROWS = (list(range(17, 22)), list(range(22, 27)))


def eye_axes(pts: np.ndarray, eye: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(origin, u along the corners, v across them pointing down, eye width) in src px."""
    ids = EYES[eye]
    c0, c1 = pts[ids[0]], pts[ids[3]]
    ew = float(np.linalg.norm(c1 - c0))
    u = (c1 - c0) / max(ew, 1e-9)
    v = np.array([-u[1], u[0]])
    return c0, u, (v if v[1] >= 0 else -v), ew


def lid_skin_mask(pts: np.ndarray, eye: int, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask of the upper-lid skin of `eye` in an image with landmarks `pts`: the band
    from 25 % to 60 % of the way from the upper lid up to the brow, inside the corners."""
    ids = EYES[eye]
    upper = pts[list(ids[:4])]
    brow = pts[BROWS[eye]]
    order = np.argsort(brow[:, 0])
    by = np.interp(upper[:, 0], brow[order, 0], brow[order, 1])
    top = np.stack([upper[:, 0], upper[:, 1] + 0.6 * (by - upper[:, 1])], 1)
    bot = np.stack([upper[:, 0], upper[:, 1] + 0.25 * (by - upper[:, 1])], 1)
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.concatenate([bot, top[::-1]])).astype(np.int32)], 1)
    return mask > 0


def high_pass(img: np.ndarray, sigma: float) -> np.ndarray:
    """Luminance minus its Gaussian blur: the fine texture (pores, grain, brush strokes)."""
    lum = (img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
           if img.ndim == 3 else img.astype(np.float32))
    return lum - cv2.GaussianBlur(lum, (0, 0), sigma)


def under_eye_mask(pts: np.ndarray, eye: int, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask of the skin under `eye`: 0.25-0.5 eye widths below the lower lid, inside
    the middle of the eye (plain skin when the lid band is all liner or eye shadow)."""
    ids = EYES[eye]
    c0, u, v, ew = eye_axes(pts, eye)
    low = pts[[ids[5], ids[4]]]
    a = low + 0.25 * ew * v
    b = low + 0.5 * ew * v
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.concatenate([a, b[::-1]])).astype(np.int32)], 1)
    return mask > 0


def skin_region(model: LidModel, eye: int) -> tuple[np.ndarray, np.ndarray]:
    """(high-pass at the lid's low-pass scale, mask) of the plainer of the lid skin band and
    the skin under the eye (lower robust level): the lid band of a made-up eye is liner and
    eye shadow, whose edges are no skin grain."""
    ew = float(np.mean([np.linalg.norm(model.pts[e[3]] - model.pts[e[0]]) for e in EYES]))
    hp = high_pass(model.src, max(1.5, 0.035 * ew))  # the scale of LidModel.low_pass
    best, best_level = lid_skin_mask(model.pts, eye, hp.shape), np.inf
    for mask in (best, under_eye_mask(model.pts, eye, hp.shape)):
        vals = hp[mask]
        if len(vals) < 10:
            continue
        level = 1.4826 * np.median(np.abs(vals - np.median(vals)))
        if level < best_level:
            best, best_level = mask, level
    return hp, best


def skin_texture(model: LidModel, eye: int) -> float:
    """Robust std of the skin's high-pass (lid band or under the eye, the plainer)."""
    hp, mask = skin_region(model, eye)
    vals = hp[mask]
    if len(vals) < 10:
        return 2.0
    return float(max(1.4826 * np.median(np.abs(vals - np.median(vals))), 0.5))


def skin_spectrum(model: LidModel, eye: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Radial power spectrum of the lid skin's high-pass (the grain's size and softness:
    film grain, pores, JPEG blocks, a statue's pitted stone), from the soft-windowed lid skin
    band; None when the band is too small to measure."""
    hp, mask = skin_region(model, eye)
    ys, xs = np.nonzero(mask)
    if len(ys) < 40:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    win = cv2.GaussianBlur(mask[y0:y1, x0:x1].astype(np.float32), (0, 0), 1.0) * \
        mask[y0:y1, x0:x1]
    patch = hp[y0:y1, x0:x1]
    # grain only: liner, lash tips and crease edges in the band (far above the band's
    # robust level) are left out of the window, or their edges would sharpen the grain
    edge = (np.abs(patch) > 2.5 * model.texture[eye]).astype(np.uint8)
    win = win * (cv2.dilate(edge, np.ones((5, 5), np.uint8)) == 0)
    if win.sum() < 30:
        return None
    patch = (patch - np.sum(patch * win) / win.sum()) * win
    n = max(64, 1 << int(np.ceil(np.log2(max(patch.shape)))))
    power = np.abs(np.fft.fft2(patch, (n, n))) ** 2 / max(float(np.sum(win ** 2)), 1.0)
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))
    bins = np.linspace(0, 0.5, n // 2 + 1)
    idx = np.clip(np.digitize(f.ravel(), bins) - 1, 0, len(bins) - 1)
    tot = np.bincount(idx, power.ravel(), len(bins))
    cnt = np.bincount(idx, minlength=len(bins))
    rad = tot / np.maximum(cnt, 1)
    rad[0] = 0.0  # no mean
    return bins + 0.5 / n, rad


def grain(model: LidModel, eye: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The unfolded lid's fine texture at lid coordinates (x along the eye, y from the moving
    lid edge; src px): Gaussian noise shaped to the lid skin's measured spectrum, its robust
    level the skin's. One field per eye in source pixels (cached; not per frame scale, or a
    nodding head would redraw the grain each frame), phase from the portrait's seed: stable
    across frames, no period anywhere (the field is larger than the lid, so its FFT wrap
    never shows). Drawn on a 2x finer grid and read nearest: no bilinear mixing, whose
    varying sub-pixel weights would modulate the grain's level in streaks."""
    ew = float(np.linalg.norm(model.pts[EYES[eye][3]] - model.pts[EYES[eye][0]]))
    cache = getattr(model, "_grain", None)
    if cache is None:
        cache = model._grain = {}  # type: ignore[attr-defined]
    if eye not in cache:
        ox, oy = -0.3 * ew, -1.4 * ew
        w = h = int(np.ceil(1.6 * ew)) + 8
        rng = np.random.default_rng([model.seed, eye])
        white = rng.standard_normal((h, w))
        fy = np.fft.fftfreq(h)[:, None]
        fx = np.fft.rfftfreq(w)[None, :]
        f = np.hypot(fy, fx)  # cycles per src px
        spec = model.spectrum[eye]
        if spec is None:  # white grain softened to the photo's blur
            amp = np.exp(-2 * (np.pi * f * max(model.sigma, 0.5)) ** 2)
        else:
            amp = np.sqrt(np.interp(f, spec[0], spec[1], right=0.0))
        field = np.fft.irfft2(np.fft.rfft2(white) * amp, (h, w))
        level = 1.4826 * np.median(np.abs(field - np.median(field)))
        # never weaker than the photo's own sensor/film noise (measured on its flat areas):
        # a lid smoother than the noise around it reads as a pasted patch
        field *= max(model.texture[eye], model.noise) / max(level, 1e-6)
        # the skin around it reaches the frame through the warp's bilinear sampling of the
        # source (a 1 src px triangle at any scale), which softens its finest grain
        field = np.fft.irfft2(np.fft.rfft2(field) * (np.sinc(fy) * np.sinc(fx)) ** 2, (h, w))
        fine = cv2.resize(field.astype(np.float32), (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC)
        cache[eye] = (ox, oy, fine)
    ox, oy, field = cache[eye]
    ix = np.clip(np.rint(2 * (x - ox)).astype(np.int64), 0, field.shape[1] - 1)
    iy = np.clip(np.rint(2 * (y - oy)).astype(np.int64), 0, field.shape[0] - 1)
    return field[iy, ix]
