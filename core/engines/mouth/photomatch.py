"""How sharp, how grainy and how colourful the portrait is, so a painted interior matches it.

Anything we synthesise (teeth, tongue, cavity) is drawn crisp and clean; pasted into a soft
oil painting or a grainy JPEG it reads as a sticker (the user study named "lip edges sharper
than the rest of the photo"). So, once per (rig, output size), we measure the portrait's
face region as it will appear in the frame (the rig image resized to the output size, the
same resampling the warp does):

- blur: the Gaussian sigma of its edges. For a step edge of contrast C blurred by a
  Gaussian of sigma s, the peak gradient is C / (sqrt(2 pi) s); so at the strongest edges of
  the face, s = local range / (sqrt(2 pi) * gradient). The median over those edges is robust
  to texture and to a few hard edges (hair against background).
- noise: Immerkaer's estimator (a 3x3 kernel that cancels planes and is blind to smooth
  shading) with a median, over the face's flat skin.
- colourfulness: whether the face is greyscale (then the interior is made grey).

`match` blurs a synthesised patch to that sigma; `grain` builds a noise field with the
portrait's noise level and correlation (drawn at the rig's resolution and resampled like
the photo), added once to sprites so grain moves with the teeth, never crawls.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.types import FaceRig

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SQRT_2PI = float(np.sqrt(2 * np.pi))
OWN_SIGMA = 0.5
"""Blur of our own anti-aliased drawing (supersampled, box-filtered): about half a pixel."""


@dataclass(frozen=True)
class PhotoStats:
    """The portrait's look at one output size (pixels of the output frame)."""

    sigma: float  # edge blur, Gaussian sigma in output pixels
    noise: float  # luminance noise std (0-255 levels)
    grey: bool  # greyscale portrait: the interior is made grey too
    saturation: float  # median skin chroma / luminance (0 for grey)


def _face_region(rig: FaceRig, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(image at output size as float32 RGB, face mask at output size)."""
    img = rig.image
    w = img.shape[1]
    interp = cv2.INTER_AREA if size < w else cv2.INTER_LINEAR
    out = cv2.resize(img, (size, size), interpolation=interp).astype(np.float32)
    face = rig.masks.get("face") if rig.masks else None
    if face is None or float(face.max(initial=0)) <= 0:
        lm = np.asarray(rig.landmarks, np.float64) * (size / w)
        m = np.zeros((size, size), np.uint8)
        cv2.fillConvexPoly(m, cv2.convexHull(np.round(lm).astype(np.int32)), 1)
        mask = m > 0
    else:
        mask = cv2.resize(face.astype(np.float32), (size, size)) > 0.5
    return out, mask


def edge_sigma(lum: np.ndarray, mask: np.ndarray, min_edges: int = 30,
               fallback: float = 1.0) -> float:
    """Gaussian sigma (px) of the strongest edges of `lum` inside `mask` (see module doc);
    `fallback` when fewer than `min_edges` edge pixels (a small region, e.g. a mouth at
    256 px, needs a lower count; a measurement passes nan to tell a fallback)."""
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    g = np.sqrt(gx * gx + gy * gy)
    k = np.ones((9, 9), np.uint8)
    rng = cv2.dilate(lum, k) - cv2.erode(lum, k)
    sel = mask & (g >= cv2.dilate(g, np.ones((3, 3), np.uint8)))  # ridge of the gradient
    sel &= rng > 12.0
    if sel.sum() < min_edges:
        return fallback
    thr = np.percentile(g[sel], 90)
    sel &= g >= thr
    s = rng[sel] / (SQRT_2PI * np.maximum(g[sel], 1e-3))
    # a 9 px window cannot see a step wider than ~4 sigma: clamp to what it can measure
    return float(np.clip(np.median(s), 0.4, 3.0))


def noise_level(lum: np.ndarray, mask: np.ndarray) -> float:
    """Luminance noise std (levels) over the flat part of `mask` (Immerkaer, median-based)."""
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    r = np.abs(cv2.filter2D(lum, cv2.CV_32F, k))
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    g = np.abs(gx) + np.abs(gy)
    sel = mask.copy()
    if sel.sum() > 100:
        sel &= g <= np.percentile(g[sel], 50)
    if sel.sum() < 50:
        return 0.0
    # |r| of white noise of std s has median 0.6745 * 6 s (the kernel's norm is 6)
    return float(np.median(r[sel]) / (0.6745 * 6.0))


def estimate(rig: FaceRig, size: int) -> PhotoStats:
    """Measure the portrait as it appears at output size `size` (see module doc)."""
    img, mask = _face_region(rig, size)
    lum = img @ LUMA
    sigma = edge_sigma(lum, mask)
    noise = noise_level(lum, mask)
    px = img[mask] if mask.sum() > 50 else img.reshape(-1, 3)
    chroma = px.max(1) - px.min(1)
    sat = float(np.median(chroma / np.maximum(px @ LUMA, 8.0)))
    grey = bool(np.percentile(chroma, 90) < 12.0)
    return PhotoStats(sigma, noise, grey, 0.0 if grey else sat)


WARP_SIGMA = 0.4
"""Blur a bilinear warp adds (a sprite placed at sub-pixel offsets: variance ~1/6 px^2)."""


def match(patch: np.ndarray, stats: PhotoStats, own: float = OWN_SIGMA) -> np.ndarray:
    """Blur a crisp synthesised float patch [h,w(,c)] to the portrait's edge sigma, given
    the blur `own` it has or will get anyway (our anti-aliasing, a later warp): blurring
    by the whole sigma left the interior ~1.1-1.4x softer than the frame around it."""
    extra = float(np.sqrt(max(stats.sigma**2 - own**2, 0.0)))
    if extra < 0.2:
        return patch
    return cv2.GaussianBlur(patch, (0, 0), extra)


def grain(shape: tuple[int, int], stats: PhotoStats, scale: float, seed: int = 0) -> np.ndarray:
    """[h,w] float32 noise with the portrait's level, correlated like the resampled photo:
    drawn at the rig's resolution (`scale` = output px per rig px) and resized."""
    h, w = shape
    if stats.noise < 0.3 or h < 1 or w < 1:
        return np.zeros((h, w), np.float32)
    rng = np.random.default_rng(seed)
    if scale > 1.05:
        small = rng.standard_normal((max(1, round(h / scale)), max(1, round(w / scale))))
        n = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        n = rng.standard_normal((h, w)).astype(np.float32)
    sd = float(n.std()) or 1.0
    return n * (stats.noise / sd)


def to_grey(col: np.ndarray) -> np.ndarray:
    """Replace colour by its luminance (for greyscale portraits)."""
    y = col @ LUMA
    return np.repeat(y[..., None], 3, axis=-1)
