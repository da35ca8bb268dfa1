"""Closing and closed eyelids made of the portrait's own lid skin.

Why not the mesh warp alone: a piecewise-affine warp closes an eye by stretching the skin
between brow and lash line down over the eye; on the coarse mesh that kinks the crease,
lashes and eyeliner at every triangle edge and squeezes the iris into a dark almond (dlib
read hallo_3's closed eyes as half open). Why not a painted lid (the previous fix): a flat
skin-coloured patch with a drawn black line reads as paint for the 0.1-0.2 s of every blink,
visible at 25 fps, most of all on greyscale photos and statues.

So while the lids move we re-render each eye from the portrait by a smooth, column-wise
remap in the eye's own frame (s along the corner-to-corner axis, t across it, in eye
widths), with the lid curves as cubics through the landmarks (no polyline, no kink):

* above the lash band nothing moves: brow, crease and lid skin stay where they are, as on a
  real closing eye (the warp alone dragged the brows and crease down);
* the lash band (lashes and liner above the lid margin, measured per portrait: thin on a
  statue, none where the photo has none, thick under heavy liner) rides down rigidly on
  the moving lid edge, so the closed lash line has the portrait's own width, darkness and
  blur and follows the lids' smooth curve, tapering into the corners where the lid's
  travel does;
* between them, the lid skin the closing eye unfolds: its colour is the portrait's lid skin
  (per column, the brightest of three rows between lid and brow, blended into the band
  edges so both seams vanish), its fine texture grain synthesised in random phase with
  the skin's own measured spectrum and level (the plainer of lid band and under-eye skin),
  fixed to the moving lid and seeded per portrait: the skin copied at offsets repeated
  into a hatched weave on a grainy photo, and a made-up lid band is liner edges); the crease and any liner left above the band fade toward the skin as the lid
  stretches, a little shading darkens the skin towards the lashes (the lid curves over the
  cornea), and a soft shadow marks where the lids meet;
* below the moving lid edge: the photo's eye, unsqueezed (the lid covers the iris, it does
  not flatten it), with the lower lid's small rise; where the lids meet the closed lid
  also hides the eye measured below the lower-lid landmarks (they often sit inside the
  eye, which left a sliver of iris under the lashes); the edge is softened to the photo's
  own edge blur (core.engines.mouth.photomatch).

Geometry comes from the frame's posed landmarks: an affine fitted on points the blink does
not move (eye corners, nose bridge) maps the frame to the rig image, so a turned or tilted
head closes its eyes in place. The re-rendered eye fades in over the first fifth of a
blink; at blink 0 nothing is drawn (open eyes are the warp's, bit for bit).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.engines.lid_skin import (  # noqa: F401  (EYES, BROWS and the masks: re-exported)
    BROWS,
    EYES,
    eye_axes,
    grain,
    high_pass,
    lid_skin_mask,
    skin_spectrum,
    skin_texture,
    under_eye_mask,
)
from core.engines.lid_tone import lid_tone, map_points, map_rect, toward
from core.types import FaceRig

if TYPE_CHECKING:
    from core.engines.warp_mesh import FrameMap

RIGID = (36, 39, 42, 45, 27, 28, 29)
"""Landmarks a blink (and the brows) leave in place: the frame->rig affine is fitted on them."""
LASH_BAND = 0.09
"""Band above the lid margin moved rigidly with the lid (eye widths): lashes and liner."""
FADE_IN = 0.2
"""Blink closure over which the re-rendered eye replaces the warp's (small closures differ
little, and a gradual hand-over hides any difference)."""
SHADE = 0.10
"""Darkening of the stretched lid skin towards its edge over the eyeball (roundness)."""
LOWER_SKIP = 0.05
"""Eye rows below the lower-lid landmarks hidden by a closed lid (eye widths)."""
LOWER_MAX = 0.1
"""Most of the measured eye below the lower-lid landmarks a closed lid also hides (eye widths)."""
MEET_SHADOW = 0.16
"""Darkening of the line where the lids meet (a statue without lashes still shows it)."""


@dataclass
class LidModel:
    """What the lids need of the portrait at one output size: the warp's source image (so
    the lid is sampled exactly as the open face is), its scale, the rig's landmarks in that
    image, and the photo's grain and edge blur."""

    src: np.ndarray  # [H, W, 3] uint8, the warp's source image
    pts: np.ndarray  # [68, 2] rig landmarks in src pixels
    noise: float  # luminance grain std (levels)
    sigma: float  # edge blur (src px)
    texture: tuple[float, float] = (2.0, 2.0)
    """Per eye: the lid skin's fine-texture level (robust std of its high-pass, levels)."""
    lash: tuple = ((LASH_BAND, np.zeros(3)), (LASH_BAND, np.zeros(3)))
    """Per eye: lash band width and the margin's offset curve from the landmarks' (eye widths)."""
    spectrum: tuple = (None, None)
    """Per eye: the lid skin high-pass's radial power spectrum (cycles per src px, power), or
    None (then white grain at the photo's blur)."""
    lower: tuple[float, float] = (0.0, 0.0)
    """Per eye: how far the visible eye (iris, sclera) reaches below the lower-lid landmarks'
    curve (eye widths): a closed lid covers it too."""
    seed: int = 0
    """Grain phase seed: from the portrait's pixels (the same grain in every frame)."""
    tone: tuple = ((0.0, 0.0), (0.0, 0.0))
    """Per eye: (q, level): the closed lid's shading is moved a fraction q towards
    luminance `level` where the lid band is a shadow (a statue's socket;
    core.engines.lid_tone), q = 0 on lid skin."""

    def low_pass(self) -> np.ndarray:
        """The source blurred to the scale of skin shading (cached): the unfolded lid takes
        its colour from this and its fine texture from the photo."""
        if getattr(self, "_low", None) is None:
            ew = float(np.mean([np.linalg.norm(self.pts[e[3]] - self.pts[e[0]]) for e in EYES]))
            self._low = cv2.GaussianBlur(self.src.astype(np.float32), (0, 0),
                                         max(1.5, 0.035 * ew))
        return self._low

    @classmethod
    def build(cls, rig: FaceRig, src: np.ndarray, src_scale: float) -> LidModel:
        from core.engines.mouth import photomatch

        pts = (np.asarray(rig.landmarks, np.float64) + 0.5) * src_scale - 0.5
        try:
            st = photomatch.estimate(rig, src.shape[1])
            noise, sigma = float(st.noise), float(st.sigma)
        except Exception:  # noqa: BLE001 - measurement is a refinement, never a failure
            noise, sigma = 0.0, 1.0
        lash = tuple(_lash_band(src, pts, e) for e in (0, 1))
        model = cls(src, pts, noise, sigma)
        model.lash = lash
        model.texture = tuple(skin_texture(model, e) for e in (0, 1))  # type: ignore[assignment]
        model.spectrum = tuple(skin_spectrum(model, e) for e in (0, 1))
        model.lower = tuple(_lower_extent(model, e) for e in (0, 1))  # type: ignore[assignment]
        model.seed = zlib.crc32(np.ascontiguousarray(src[::5, ::5]).tobytes())
        model.tone = tuple(lid_tone(src, pts, e) for e in (0, 1))
        return model


def _lower_extent(model: LidModel, eye: int) -> float:
    """How far below the lower-lid landmarks' curve the open eye still shows (eye widths,
    capped at LOWER_MAX): landmarks often sit inside the eye (a stylised face, heavy
    liner), and a closed lid that stops at them keeps a sliver of iris under its lashes.
    Per middle column, on the low pass: from the curve down, the rows whose colour lies
    nearer the eye's own just inside the curve (iris or sclera) than the skin's below the
    eye, projected on the line between them; the median run over the columns."""
    c0, u, v, ew = eye_axes(model.pts, eye)
    if ew < 6:
        return 0.0
    axes = np.stack([u, v], 1)
    ids = EYES[eye]
    low = np.stack([(model.pts[k] - c0) @ axes / ew for k in (ids[0], ids[5], ids[4], ids[3])])
    if np.any(np.diff(low[:, 0]) <= 0.02):
        return 0.0
    cl = _cubic(low[:, 0], low[:, 1])
    ss = np.linspace(0.3, 0.7, 9)
    dt = np.arange(-0.05, 0.46, 0.01)
    t = np.polyval(cl, ss)[:, None] + dt[None]
    x = (c0[0] + ew * (ss[:, None] * u[0] + t * v[0])).astype(np.float32)
    y = (c0[1] + ew * (ss[:, None] * u[1] + t * v[1])).astype(np.float32)
    img = cv2.remap(model.low_pass(), x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    runs = []
    for i in range(len(ss)):
        eye_c = img[i, 1]  # 0.04 inside the curve
        skin = np.median(img[i, (dt >= 0.3) & (dt <= 0.45)], axis=0)
        d = eye_c - skin
        if float(d @ d) < 15.0 ** 2:  # the eye there looks like skin: nothing to hide
            runs.append(0.0)
            continue
        p = (img[i] - skin) @ d / float(d @ d)
        below = np.flatnonzero((dt >= 0) & (p < 0.5))
        runs.append(float(dt[below[0]]) if len(below) else LOWER_MAX)
    return float(np.clip(np.median(runs), 0.0, LOWER_MAX))


def _lash_band(src: np.ndarray, pts: np.ndarray, eye: int) -> tuple[float, np.ndarray]:
    """(lash band width, margin offset curve) of the portrait's upper lid, in eye widths.

    Landmarks sit near, not on, the lid margin (on a stylised face a tenth of an eye width
    inside the eye), and the lashes and liner above it are as thick as the portrait makes
    them. Per column in the middle of the eye: the lash line is the darkest point just
    above the lid landmarks' curve; the band reaches up to where the luminance is back within
    a quarter of the dip from the lid skin's. The offsets of the lash line from the curve are
    smoothed (a quadratic over the eye, tapering to zero at the corners, which the
    landmarks pin). Thin on a statue or a bare lid, thick under heavy liner: moving that
    band rigidly with the lid keeps its width and darkness the portrait's own."""
    none = (LASH_BAND, np.zeros(3))
    c0, u, v, ew = eye_axes(pts, eye)
    if ew < 6:
        return none
    axes = np.stack([u, v], 1)
    up = np.stack([(pts[k] - c0) @ axes / ew for k in EYES[eye][:4]])
    brow = np.stack([(pts[k] - c0) @ axes / ew for k in BROWS[eye]])
    cu = _cubic(up[:, 0], up[:, 1])
    cb = np.polyfit(brow[:, 0], brow[:, 1], 2)
    ss = np.linspace(0.2, 0.8, 13)
    tu = np.polyval(cu, ss)
    gap = np.maximum(tu - np.polyval(cb, ss), 0.15)
    dt = np.linspace(0.03, -0.7, 74)  # offsets from the lid curve, in units of `gap`... upward
    t = tu[:, None] + gap[:, None] * np.minimum(dt[None], 0) + np.maximum(dt[None], 0)
    x = (c0[0] + ew * (ss[:, None] * u[0] + t * v[0])).astype(np.float32)
    y = (c0[1] + ew * (ss[:, None] * u[1] + t * v[1])).astype(np.float32)
    img = cv2.remap(src, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    lum = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lum = cv2.GaussianBlur(lum, (1, 3), 0)
    near = (dt >= -0.3) & (dt <= -0.01)  # lash line: above the curve, low on the lid
    far = (dt <= -0.15) & (dt >= -0.6)
    widths, offs = [], []
    for i in range(len(ss)):
        skin = float(np.percentile(lum[i, far], 90))  # lid skin, not crease or brow
        # the lowest point at least 60 % as dark as the darkest: the lash line, not a
        # crease or brow shadow above it
        depth = np.where(near, skin - lum[i], -np.inf)
        if depth.max() < 12:  # no lash line darker than the skin: a thin band at the curve
            widths.append(0.03)
            offs.append(0.0)
            continue
        j = int(np.flatnonzero(depth >= 0.6 * depth.max())[0])
        dip = float(lum[i, j])
        back = np.flatnonzero(lum[i, j:] > skin - 0.25 * (skin - dip))
        top = j + (int(back[0]) if len(back) else 0)
        offs.append(float(t[i, j] - tu[i]))
        widths.append(float(t[i, j] - t[i, top]))
    offs_a = np.minimum(np.array(offs), 0.0)
    # fit offset(s) = a * s * (1 - s) (zero at the corners) by least squares
    basis = 4 * ss * (1 - ss)
    a_fit = float(np.clip(np.median(offs_a / basis), -0.12, 0.0))
    width = float(np.clip(np.median(widths) + 0.02, 0.03, min(0.15, 0.3 * float(np.median(gap)))))
    return width, np.array([-4 * a_fit, 4 * a_fit, 0.0])


def _cubic(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Coefficients of the smooth curve t(s) through the points (a cubic through four lid
    points: no corner anywhere, unlike a polyline or the mesh's triangles)."""
    deg = min(3, len(s) - 1)
    if len(s) == deg + 1:  # through the points: the interpolating polynomial (a 4x4 solve,
        # a fifth of polyfit's cost, called four times a blink frame per eye)
        return np.linalg.solve(np.vander(np.asarray(s, np.float64), deg + 1), t)
    return np.polyfit(s, t, deg)


def _affine(frame_pts: np.ndarray, src_pts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """2x3 weighted least-squares affine frame px -> src px."""
    a = np.hstack([frame_pts, np.ones((len(frame_pts), 1))]) * weights[:, None]
    sol, *_ = np.linalg.lstsq(a, src_pts * weights[:, None], rcond=None)
    return sol.T


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def lid_frame(
    model: LidModel, lm: np.ndarray, eye: int, closure: float, gaze: np.ndarray | None = None,
    eye_rect: tuple[int, int, int, int] | None = None, src_map: FrameMap | None = None,
) -> tuple[tuple[int, int], np.ndarray, np.ndarray] | None:
    """The re-rendered eye `eye` (0 image-left, 1 image-right) for frame landmarks `lm`:
    ((x0, y0), colour [h,w,3] float32, weight [h,w] float32 in 0..1), or None when the eye
    is too small or degenerate. `eye_rect` overrides the frame rectangle (for tests)."""
    ids = EYES[eye]
    src_pts = model.pts
    wts = np.array([4.0 if k in (ids[0], ids[3]) else 1.0 for k in RIGID])
    aff = _affine(lm[list(RIGID)], src_pts[list(RIGID)], wts)

    scale = float(np.sqrt(abs(np.linalg.det(aff[:, :2]))))  # src px per frame px
    inv = cv2.invertAffineTransform(aff)

    def to_src(p: np.ndarray) -> np.ndarray:
        return p @ aff[:, :2].T + aff[:, 2] if src_map is None else map_points(src_map, p)

    c0, c1 = src_pts[ids[0]], src_pts[ids[3]]
    ew = float(np.linalg.norm(c1 - c0))
    if ew < 4:
        return None
    u = (c1 - c0) / ew
    v = np.array([-u[1], u[0]])
    if v[1] < 0:
        v = -v

    def st(p: np.ndarray) -> np.ndarray:
        d = np.atleast_2d(p) - c0
        return np.stack([d @ u, d @ v], -1) / ew

    # curves t(s): open upper/lower lid (rig), moving upper/lower lid (frame, in rig space),
    # brow centre line (frame: brows may be raised)
    order_u = [ids[0], ids[1], ids[2], ids[3]]
    order_l = [ids[0], ids[5], ids[4], ids[3]]
    ou, ol = st(src_pts[order_u]), st(src_pts[order_l])
    fu, fl = st(to_src(lm[order_u])), st(to_src(lm[order_l]))
    # the corners are the same points in both: pin the moving curves to the rig's corners
    fu[[0, 3]] = ou[[0, 3]]
    fl[[0, 3]] = ol[[0, 3]]
    if np.any(np.diff(ou[:, 0]) <= 0.02) or np.any(np.diff(fu[:, 0]) <= 0.02):
        return None
    brow = st(to_src(lm[BROWS[eye]]))
    cu, cl = _cubic(ou[:, 0], ou[:, 1]), _cubic(ol[:, 0], ol[:, 1])
    cub, clb = _cubic(fu[:, 0], fu[:, 1]), _cubic(fl[:, 0], fl[:, 1])
    cb = np.polyfit(brow[:, 0], brow[:, 1], 2)

    # frame rectangle: the eye from a little above the brow to below the lower lid
    corners_st = np.array([[-0.15, brow[:, 1].min() - 0.1], [1.15, brow[:, 1].min() - 0.1],
                           [-0.15, ol[:, 1].max() + 0.4], [1.15, ol[:, 1].max() + 0.4]])
    corners_src = c0 + ew * (corners_st[:, :1] * u + corners_st[:, 1:] * v)
    corners_f = corners_src @ inv[:, :2].T + inv[:, 2]
    poly = lm[[ids[0], *BROWS[eye], ids[3], ids[4], ids[5]]] if eye == 0 else \
        lm[[ids[3], *BROWS[eye][::-1], ids[0], ids[5], ids[4]]]
    if eye_rect is None:
        pad = 0.06 * ew / float(np.sqrt(abs(np.linalg.det(aff[:, :2]))))
        every = np.concatenate([corners_f, poly])
        x0, y0 = np.floor(every.min(0) - pad).astype(int)
        x1, y1 = np.ceil(every.max(0) + pad).astype(int) + 1
    else:
        x0, y0, x1, y1 = eye_rect
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    fx = xx * aff[0, 0] + yy * aff[0, 1] + aff[0, 2]
    fy = xx * aff[1, 0] + yy * aff[1, 1] + aff[1, 2]
    if src_map is not None:  # a turned head: where the warp itself takes each pixel from
        map_rect(src_map, fx, fy, x0, y0)
    s = ((fx - c0[0]) * u[0] + (fy - c0[1]) * u[1]) / ew
    t = ((fx - c0[0]) * v[0] + (fy - c0[1]) * v[1]) / ew
    sc = np.clip(s, 0.0, 1.0)
    U, L = np.polyval(cu, sc), np.polyval(cl, sc)
    Ub, Lb = np.polyval(cub, sc), np.polyval(clb, sc)
    B = np.minimum(np.polyval(cb, sc), U - 0.15)
    # inside the corners the curves meet; beyond them nothing moves
    inside = (s > 0) & (s < 1)
    Ub = np.where(inside, Ub, U)
    Lb = np.where(inside, np.minimum(Lb, L), L)
    Ub = np.minimum(Ub, Lb)
    band, margin = model.lash[eye]
    # the lid's real margin (lash line) may sit above the landmarks' curve: the moving edge
    # closes the same fraction of the real opening as the landmarks close of theirs
    Um = U + np.minimum(np.polyval(margin, sc) + 0.4 * band, 0.0)
    Ub = Um + (Ub - U) * (L - Um) / np.maximum(L - U, 1e-3)
    U = Um
    dU = Ub - U
    wl = np.minimum(band, 0.35 * (U - B))
    bot = L + 0.3
    ts = t.copy()
    # above the lash band nothing moves (brow, crease and the skin below it stay, as on a
    # real closing eye); the lash band rides down on the moving lid edge
    lash = (t >= Ub - wl) & (t < Ub)
    ts = np.where(lash, t - dU, ts)
    # the lid skin the closing eye unfolds between them (drawn below: the lid skin's own
    # colour and folded fine texture)
    base = U - wl  # source row at both edges of the unfolded skin
    new = (t >= base) & (t < Ub - wl) & (dU > 1e-4)
    # the eye below the moving lid: unsqueezed, the lower lid's rise taken up at its bottom
    gap = Lb - Ub
    eyez = (t >= Ub) & (t < Lb)
    ts = np.where(eyez, Ub + (t - Ub) * (L - Ub) / np.maximum(gap, 1e-6), ts)
    low = (t >= Lb) & (t < bot)
    # (the lower-lid landmarks often sit a little inside the eye: a closing lid hides the
    # eye's bottom rows too, or a closed eye keeps a sliver of iris under its lashes)
    # (and the eye measured below them, at the end of the closure, where the lids meet,
    # tapering into the corners: earlier it would cut the bottom off a visible iris)
    extra = model.lower[eye] * float(_smooth(np.asarray((closure - 0.5) / 0.5))) * np.sqrt(
        np.clip(np.sin(np.pi * sc), 0, 1))
    lo0 = L + LOWER_SKIP * float(np.clip(closure, 0, 1)) + extra
    ts = np.where(low, lo0 + (t - Lb) * (bot - lo0) / np.maximum(bot - Lb, 1e-6), ts)
    sx, sy = s.copy(), ts
    if gaze is not None and np.any(gaze != 0):
        # the iris keeps its gaze under the lid (as the warp moves it in the open eye)
        q = _smooth((t - Ub) / 0.05) * _smooth((Lb - t) / 0.05) * _smooth(np.minimum(s, 1 - s)
                                                                           / 0.15)
        q = q * (1.0 - closure)  # as the warp does (core.engines.warp._shift_irises)
        sx = sx - q * float(gaze[0])
        sy = sy - q * float(gaze[1])

    def sample(img: np.ndarray, ss: np.ndarray, tt: np.ndarray,
               interp: int = cv2.INTER_LINEAR) -> np.ndarray:
        mx = (c0[0] + ew * (ss * u[0] + tt * v[0])).astype(np.float32)
        my = (c0[1] + ew * (ss * u[1] + tt * v[1])).astype(np.float32)
        return cv2.remap(img, mx, my, interp, borderMode=cv2.BORDER_REFLECT_101).astype(
            np.float32)

    col = sample(model.src, sx, sy)
    strength = np.clip(dU / 0.12, 0, 1)
    sc_side = np.sqrt(np.clip(np.sin(np.pi * sc), 0, 1))  # tapering into the corners
    top_c = U - 0.55 * (U - B)  # the lid zone: from about the crease to the lash band
    zone = (t >= top_c) & (t < Ub - wl) & (strength > 0)
    rows_any, cols_any = zone.any(1), zone.any(0)
    if rows_any.any():
        # everything below is per pixel: computed on the zone's bounding box only (a band
        # of the eye's window, a third of it or less; same pixels, same values)
        r0, r1 = int(np.argmax(rows_any)), len(rows_any) - int(np.argmax(rows_any[::-1]))
        k0, k1 = int(np.argmax(cols_any)), len(cols_any) - int(np.argmax(cols_any[::-1]))
        box = (slice(r0, r1), slice(k0, k1))
        zs, zt, zU, zB, zUb = s[box], t[box], U[box], B[box], Ub[box]
        znew, zwl, ztop = new[box], wl[box], top_c[box]
        zcol = col[box]
        lo = model.low_pass()
        lum_w = np.array([0.299, 0.587, 0.114], np.float32)
        # the lid skin's own colour: per column the brightest of three rows of the band
        # between lid and brow (skin, not crease)
        rows = [sample(lo, zs, zU - f * (zU - zB)) for f in (0.3, 0.42, 0.55)]
        lums = np.stack([r @ lum_w for r in rows])
        soft = np.exp((lums - lums.max(0)) / 6.0)  # soft choice: no seams between columns
        skin = sum(r * (wk / soft.sum(0))[..., None] for r, wk in zip(rows, soft, strict=True))
        lo_here = sample(lo, zs, np.where(znew, base[box], ts[box]))
        # the unfolded skin's fine texture: grain with the lid skin's own spectrum and
        # level in random phase (no copied patch, so no period to read as a weave), fixed
        # to the lid (it rides down with the edge) and seeded per portrait (no crawl)
        fine = np.repeat(grain(model, eye, zs * ew, (zt - zUb) * ew)[..., None], 3, axis=2)
        hp = np.where(znew[..., None], fine, zcol - lo_here)
        # a lid stretching over the eye smooths its crease and any liner left above the
        # lash band: towards the skin colour, the detail held to the skin's texture level
        # (a lash hair or liner stroke would otherwise fold into stripes)
        y = np.clip((zt - ztop) / np.maximum(zUb - zwl - ztop, 1e-6), 0, 1)
        m = (np.sin(np.pi * y) * strength[box])[..., None]
        lim = 2.5 * model.texture[eye]
        hp_c = lim * np.tanh(hp / max(lim, 1e-3))
        hp = np.where(znew[..., None], hp_c, hp * (1 - m) + hp_c * m)
        shading = lo_here * (1 - m) + skin * m
        if model.tone[eye][0] > 0:  # a shadowed socket (a statue): lit like the skin
            ramp = _smooth((zt - ztop) / np.maximum(base[box] - ztop, 1e-6))
            shading = toward(shading, shading @ lum_w, model.tone[eye],
                             strength[box] * sc_side[box] * np.where(znew, 1.0, ramp))
        lid = shading + hp
        col[box] = np.where(zone[box][..., None], lid, zcol)
    if model.tone[eye][0] > 0 and (lash & (strength > 0)).any():
        # a statue has no lashes: the band above its lid margin is the socket's shadow too
        lo_l = sample(model.low_pass(), sx, ts) @ np.array([0.299, 0.587, 0.114], np.float32)
        col = toward(col, lo_l, model.tone[eye], strength * sc_side * lash)

    # shading: the unfolded lid curves away over the eyeball (darker towards the lashes and
    # the corners), and a soft shadow where the lids meet, at the photo's own edge blur
    side = np.sqrt(np.clip(np.sin(np.pi * sc), 0, 1))
    k = np.where(new, np.clip((t - base) / np.maximum(dU, 1e-6), 0, 1), 0.0)
    amount = np.clip(dU / 0.25, 0, 1) * side
    shade = 1.0 - SHADE * k * k * amount
    sig = max(model.sigma, 0.6) / ew
    meet = np.exp(-0.5 * ((t - Ub) / max(sig * 1.5, 0.012)) ** 2) * side * np.clip(
        1.0 - gap / 0.08, 0, 1) * np.clip(closure, 0, 1)
    shade = shade * (1.0 - MEET_SHADOW * meet)
    col *= shade[..., None].astype(np.float32)
    # the moving lid edge is a jump in the map: soften it to the photo's own edge blur
    sig_f = max(model.sigma, 0.7) / scale  # frame px
    near_edge = np.exp(-0.5 * ((t - Ub) * ew / scale / (2.0 * sig_f)) ** 2) * (dU > 1e-3)
    if near_edge.max() > 0.05:
        soft = cv2.GaussianBlur(col, (0, 0), sig_f)
        col = col + (soft - col) * near_edge[..., None].astype(np.float32)

    # weight: 1 over every pixel the warp moved for the blink (its triangles from the eye
    # corners up to the brow, and the eye) and the band below the eye; feathered only where
    # both this map and the warp are the rigid face (brow line, corner-to-brow-end edges)
    mask = np.zeros(t.shape, np.uint8)
    cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    feather = max(1.0, 0.02 * ew * float(np.sqrt(abs(np.linalg.det(aff[:, :2])))) ** -1)
    wt = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), feather)
    below = (_smooth((t - (L - 0.1)) / 0.05) * _smooth((bot - t) / 0.12)
             * _smooth((s + 0.05) / 0.1) * _smooth((1.05 - s) / 0.1))
    wt = np.maximum(np.clip(wt * 2.0, 0, 1), below)
    return (int(x0), int(y0)), col, wt.astype(np.float32)


def paint_lids(
    frame: np.ndarray,
    lm: np.ndarray,
    model: LidModel,
    closure: float,
    face_h: float = 0.0,
    gaze: np.ndarray | None = None,
    src_map: FrameMap | None = None,
) -> None:
    """Re-render the eyes of `frame` (uint8 RGB, in place) for blink `closure` in [0, 1];
    `lm` [68,2] the frame's (posed) landmarks in frame pixels; `gaze` the planned gaze
    (eye widths), kept by the iris under a closing lid; `src_map` the warp's backward map
    around the eyes with them open, for a turned head (lid_tone.map_rect). Nothing is drawn at 0."""
    del face_h  # kept for the caller's signature
    fade = float(_smooth(np.asarray(closure / FADE_IN)))
    if fade <= 0:
        return
    h, w = frame.shape[:2]
    for eye in (0, 1):
        got = lid_frame(model, lm, eye, closure, gaze, src_map=src_map)
        if got is None:
            continue
        (x0, y0), col, wt = got
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x0 + col.shape[1], w), min(y0 + col.shape[0], h)
        if fx1 - fx0 < 2 or fy1 - fy0 < 2:
            continue
        c = col[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
        a = (wt[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0] * fade)[..., None]
        roi = frame[fy0:fy1, fx0:fx1].astype(np.float32)
        frame[fy0:fy1, fx0:fx1] = np.clip(roi * (1 - a) + c * a + 0.5, 0, 255).astype(np.uint8)
