"""Teeth sprites: drawn once per (rig, output size), carried by a jaw frame every frame.

Why sprites in a jaw frame: teeth are rigid. The upper teeth are fixed to the skull and the
lower ones to the jaw, while the lips slide over them; a band re-drawn from the lip
polygon every frame (what we had) stretches with the lips, gets a zig-zag outline and no
separate teeth. So each arch is rendered once, in millimetres, from a small dental model:
teeth of real relative widths laid along an elliptic arch (incisors, canines, premolars,
a molar), seen from the front so side teeth are foreshortened and recede into the dark;
rounded incisal corners, pointed canines, the incisal "smile arc", interproximal gaps with
open embrasures towards the edge, a scalloped gum line, per-tooth shading (convex across,
darker towards the gum and the sides/back, a greyer translucent edge, a soft highlight).
Supersampled then box-filtered (anti-aliased), blurred to the portrait's sharpness and
given its grain (core.engines.mouth.photomatch), so it sits in the photo.

The sprite lives in a local frame (x across the mouth, y down the face, output pixels,
origin at the middle of the incisal edge); `place` maps it into a frame with any 2x3 affine
or 3x3 perspective matrix, so a renderer with a 3-D head pose can pass a homography.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.engines.mouth.photomatch import (
    OWN_SIGMA,
    WARP_SIGMA,
    PhotoStats,
    grain,
    match,
    to_grey,
)

# per tooth from the midline: (width along the arch, crown height, edge rise) in mm
UPPER_TEETH = ((8.5, 10.5, 0.0), (6.6, 9.0, 0.45), (7.6, 10.0, 0.1), (7.0, 8.5, 0.5),
               (6.6, 7.5, 0.8), (10.0, 7.0, 1.2))
LOWER_TEETH = ((5.4, 9.0, 0.0), (5.9, 9.5, 0.2), (6.9, 10.5, 0.0), (7.0, 8.0, 0.6),
               (7.0, 7.5, 1.0), (11.0, 7.0, 1.4))
UPPER_ARCH = (25.0, 22.0)  # ellipse half-width and depth of the arch, mm
LOWER_ARCH = (22.0, 20.0)
GUM_MM = 6.0  # gum drawn beyond the crowns (hidden under the lip unless it lifts)
SS = 3  # supersampling factor


@dataclass(frozen=True)
class Sprite:
    """Premultiplied colour [h,w,3] and alpha [h,w] float32, origin (x, y) in sprite px."""

    colour: np.ndarray
    alpha: np.ndarray
    origin: tuple[float, float]


def _arch_table(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """(phi, arc length) along x = a sin(phi), z = b (1 - cos(phi)), phi in [0, pi/2]."""
    phi = np.linspace(0, np.pi / 2, 2000)
    dx, dz = a * np.cos(phi), b * np.sin(phi)
    ds = np.sqrt(dx * dx + dz * dz)
    s = np.concatenate([[0], np.cumsum(0.5 * (ds[1:] + ds[:-1]) * np.diff(phi))])
    return phi, s


def _smooth(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / max(e1 - e0, 1e-6), 0, 1)
    return t * t * (3 - 2 * t)


def draw_arch(
    mm: float,
    teeth_rgb: np.ndarray,
    gum_rgb: np.ndarray,
    dark_rgb: np.ndarray,
    stats: PhotoStats,
    lower: bool = False,
    seed: int = 0,
    finish: bool = True,
) -> Sprite:
    """Render one dental arch as a Sprite at `mm` output pixels per millimetre.

    Colours are RGB floats from the portrait (MouthPalette): teeth, gum (lip tone), dark
    (cavity: what the sides of the arch recede into). `finish` blurs it to the portrait's
    sharpness and adds its grain; a caller that composes the whole interior crisp and
    matches it once in the frame (MouthInterior) passes False: blurring here and again
    by the warp that places the sprite left the teeth softer than the photo."""
    table = LOWER_TEETH if lower else UPPER_TEETH
    a, b = LOWER_ARCH if lower else UPPER_ARCH
    phi_t, s_t = _arch_table(a, b)
    edges = np.concatenate([[0.0], np.cumsum([t[0] for t in table])])
    max_crown = max(t[1] for t in table)
    half_w = a * 0.98
    # mm, y down from the central incisal edge (the lower arch hangs the other way)
    top, bottom = (-1.0, max_crown + GUM_MM) if lower else (-(max_crown + GUM_MM), 1.0)
    w = int(np.ceil(2 * half_w * mm)) + 2
    h = int(np.ceil((bottom - top) * mm)) + 2
    ox, oy = w / 2.0, -top * mm
    ys, xs = np.mgrid[0:h * SS, 0:w * SS].astype(np.float32)
    X = ((xs + 0.5) / SS - ox) / mm  # mm across
    Y = ((ys + 0.5) / SS - oy) / mm  # mm down from the incisal edge (upwards = into gum)
    phi = np.arcsin(np.clip(np.abs(X) / a, 0, 0.9999))
    s = np.interp(phi, phi_t, s_t)
    z = b * (1 - np.cos(phi))  # depth behind the central incisors, mm
    k = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, len(table) - 1)
    width = np.array([t[0] for t in table])[k]
    crown = np.array([t[1] for t in table])[k]
    rise = np.array([t[2] for t in table])[k]
    t = (s - edges[k]) / width  # 0..1 across the tooth (mesial to distal)
    u = np.abs(2 * t - 1)  # 0 at the tooth centre, 1 at its borders
    # projected half width of this tooth in mm (foreshortened by the arch)
    slope = np.cos(phi) * a / np.maximum(np.hypot(a * np.cos(phi), b * np.sin(phi)), 1e-6)
    hw_px = 0.5 * width * slope  # mm in the image

    # incisal outline: rounded corners (incisors), a point (canines)
    r = np.where(k == 2, 0.0, np.where(k < 2, 0.28, 0.4))
    corner = np.clip((u - (1 - r)) / np.maximum(r, 1e-3), 0, 1)
    lift = np.where(k == 2, 1.6 * u**1.5, 0.9 * (1 - np.sqrt(np.clip(1 - corner**2, 0, 1))) * 2)
    lift *= np.clip(hw_px / 2.0, 0.3, 1.0)
    edge_y = -rise - lift  # mm: y of the incisal edge at this column (negative is up)
    gum_y = -crown + 2.6 * u**2  # scalloped margin: papillae between the teeth
    if lower:  # mirror: incisal edge at the top, gum below
        Yl = -Y
    else:
        Yl = Y
    in_tooth = (Yl <= edge_y) & (Yl >= gum_y)
    in_gum = Yl < gum_y
    inside = (np.abs(X) < half_w) & (in_tooth | in_gum)

    # shading
    rng = np.random.default_rng(seed + (7 if lower else 0))
    tint = 1.0 + rng.normal(0, 0.03, len(table))[k]
    convex = 1.0 - 0.22 * u**3
    d_border = (1 - u) * hw_px  # mm to the nearest tooth border, in the image
    # interproximal shadow: a faint line (a deep one drew dark stripes, "piano keys")
    gap = 0.68 + 0.32 * _smooth(0.0, 0.45, d_border)
    depth = np.exp(-z / 10.0)
    rel = np.clip((Yl - gum_y) / np.maximum(edge_y - gum_y, 1e-3), 0, 1)  # 0 gum .. 1 edge
    vert = 0.88 + 0.12 * _smooth(0.0, 0.5, rel)
    translucent = _smooth(0.88, 1.0, rel)
    hl = 0.14 * np.exp(-(((t - 0.42) / 0.22) ** 2 + ((rel - 0.45) / 0.25) ** 2)) * (k < 2)
    shade = (convex * gap * vert * tint + hl) * depth
    teeth = teeth_rgb[None, None] * shade[..., None]
    teeth = teeth * (1 - 0.1 * translucent[..., None]) + dark_rgb * 0.1 * translucent[..., None]
    gshade = (0.75 + 0.25 * _smooth(-GUM_MM, 0, Yl - gum_y)) * depth
    gum = gum_rgb[None, None] * gshade[..., None]
    col = np.where(in_gum[..., None], gum, teeth)
    # the far side recedes into the cavity
    col = col * depth[..., None] + dark_rgb * (1 - depth[..., None]) * 0.6
    alpha = inside.astype(np.float32)
    if lower:
        col *= 0.88  # in the shadow of the upper teeth and lip
    col = col.astype(np.float32) * alpha[..., None]
    # box-filter the supersampled drawing (anti-aliasing), then match the photo
    col = cv2.resize(col, (w, h), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
    if not finish:
        return Sprite(np.ascontiguousarray(col, np.float32), alpha.astype(np.float32), (ox, oy))
    # placed later by a bilinear warp, which adds its own blur
    own = float(np.hypot(OWN_SIGMA, WARP_SIGMA))
    col, alpha = match(col, stats, own), match(alpha, stats, own)
    g = grain((h, w), stats, 1.0, seed)
    col = col + g[..., None] * alpha[..., None]
    if stats.grey:
        col = to_grey(col)
    return Sprite(np.ascontiguousarray(col, np.float32), alpha.astype(np.float32), (ox, oy))


def photo_sprite(
    image: np.ndarray, inner: np.ndarray, upper_line: np.ndarray, lower_line: np.ndarray
) -> Sprite:
    """The portrait's own teeth as a Sprite: the pixels inside its inner-lip polygon
    `inner` [8,2] (output pixels of `image`), fading out over the lower third of the
    opening (the upper teeth hang from the top; below them we paint). Origin: the middle
    of the upper inner lip."""
    x0, y0 = np.floor(inner.min(0)).astype(int) - 2
    x1, y1 = np.ceil(inner.max(0)).astype(int) + 3
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    crop = image[y0:y1, x0:x1].astype(np.float32)
    mask = np.zeros(crop.shape[:2], np.uint8)
    q = np.round((inner - [x0, y0]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [q], 255, cv2.LINE_AA, 4)
    a = mask.astype(np.float32) / 255.0
    yy = np.arange(crop.shape[0], dtype=np.float32)[:, None] + y0
    top, bot = float(upper_line[:, 1].mean()), float(lower_line[:, 1].mean())
    a *= 1.0 - _smooth(top + 0.6 * (bot - top), bot, yy)
    mid = upper_line[len(upper_line) // 2]
    return Sprite(crop * a[..., None], a, (float(mid[0] - x0), float(mid[1] - y0)))


def place(
    sprite: Sprite, matrix: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Warp `sprite` into the frame window `box` (x0, y0, x1, y1) with `matrix` (2x3
    affine or 3x3 perspective, sprite px -> frame px). Returns (premultiplied colour,
    alpha) of the window."""
    x0, y0, x1, y1 = box
    m = np.asarray(matrix, np.float64)
    m3 = np.vstack([m, [0, 0, 1]]) if m.shape == (2, 3) else m.copy()
    m3 = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ m3
    size = (x1 - x0, y1 - y0)
    rgba = np.dstack([sprite.colour, sprite.alpha])
    # (np.allclose(m3[2], [0, 0, 1]) without its per-call array machinery: once per frame)
    if abs(m3[2, 0]) <= 1e-8 and abs(m3[2, 1]) <= 1e-8 and abs(m3[2, 2] - 1) <= 1e-8 + 1e-5:
        out = cv2.warpAffine(rgba, m3[:2], size, flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    else:
        out = cv2.warpPerspective(rgba, m3, size, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out[..., :3], out[..., 3]
