"""The painted mouth interior: cavity, tongue, lower and upper teeth, matched to the photo.

Replaces the flat band + ellipse painter (user study: teeth "one flat white or grey
plate with a zig-zag outline", "piano keys" on the astronaut, tongue and lower lip blending,
lip edges sharper than the photo). Per (rig, output size) `MouthInterior` prepares:
the photo's look (photomatch), the upper-teeth sprite (the portrait's own teeth when it
shows them, else a synthesised arch; teeth.py), the lower arch, a grain field and the
tongue track (tongue.py). Per frame `paint` composes, back to front, inside the inner-lip
polygon: a cavity that darkens with depth and has a lit rim of wet lip lining, the tongue
(a front-lit dome behind the lower teeth, its tip per viseme; tongue.py), the lower teeth
carried by the jaw (their edges rising above the lower lip as the jaw drops), the upper
teeth carried by the skull (the head model's transform at tooth depth, so they follow the
3-D pose) and shown more as the upper lip lifts off them on wide openings. All of it is
drawn crisp, then blurred once to the portrait's own sharpness and given its grain, and
composited with an edge exactly as soft as the photo's own edges (no halo, no smear).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.engines.mouth import photomatch as pm
from core.engines.mouth.lips import pressed_track, shape_lips
from core.engines.mouth.teeth import Sprite, draw_arch, place
from core.engines.mouth.tongue import tongue_layer_boxed, tongue_track
from core.motion.landmarks import RigGeometry, apply_head
from core.types import FaceRig

SHIFT = 4
TOOTH_DEPTH = 0.30  # face heights towards the camera: just behind the lips (0.34)
TONGUE_RISE = 1.5
TONGUE_MAX = 0.7
"""The tongue's back reaches TONGUE_RISE x its viseme height (tongue.TONGUE) of the opening
above the lower lip, at most TONGUE_MAX, and always below the upper teeth with a band of
dark between. A real open mouth (vasa-1_10, its widest frames) shows, top to bottom, upper
teeth, a dark cavity, the tongue's back in shadow (darker and greyer than the lips), its lit
front, then the lower incisors' edges; the lit front is as red as the lips (0.8-0.87 of
their red-minus-green, 0.85-0.98 of their brightness). At 1.0 the tongue behind the
lower teeth showed as a thin pink strip; at 1.3, before the lower teeth were shown, the lit
tongue ran down to the lower lip where nothing told it from the lip (to a viewer and to
the evaluator's lipgap the mouth looked half as open as drawn). Now the lower teeth and the
lip's inner shadow part them, so it may rise to about half the opening as the peers'."""
UPPER_SHOW = 0.3
UPPER_MAX_MM = 8.0
"""Upper teeth shown, as a fraction of the opening, at most UPPER_MAX_MM. Why: the upper
lip is not a lid fixed to the skull; opening wide it lifts and shows the incisors. The
peers' widest frames (VASA-1, EMO) show about a quarter to a third of the opening as upper
incisors; skull-rigid teeth 1.8 mm under the rest lip showed a thin grey strip. Capped
below the central incisor's crown (10.5 mm) so the gum stays under the lip."""
LOWER_SHOW = 0.22
LOWER_FROM_MM = 9.0
LOWER_MAX_MM = 4.5
"""Lower incisors' edges shown above the lower lip as the jaw drops past LOWER_FROM_MM
(LOWER_SHOW mm per mm of opening beyond it, at most LOWER_MAX_MM): none on moderate
openings, ~1.3 mm at 15 mm, ~3.5 mm at 25 mm. The peers (VASA-1, EMO) show the tongue over
a lower lip that covers the lower teeth until the jaw drops far; a share of the whole
opening (0.15-0.17) drew a band as tall as the upper teeth on vasa-1_5's moderate ones."""
CONTENT_SIGMA = 0.9
"""The softness our crisp drawing already shows to the edge measure (photomatch.edge_sigma):
anti-aliasing plus the teeth's own rounded, translucent edges. A synthesised arch blurred
to sigma 0.6 measures 1.1, to 1.0 measures 1.2: blurring the interior by the portrait's
whole sigma on top left it 1.2-1.3x softer than the portrait (echomimic_a, hallo_1)."""
TEETH_OF_SKIN = 0.35
"""Synthesised teeth carry this fraction of the skin's chroma, in its hue: warm white under
ordinary light (skin chroma ~0.2-0.4 of its luma), cream under a varnish (emo_talk_mola)."""
TONGUE_LIT = 0.8
"""The tongue's colour as a fraction of the lip's (then shaded by tongue_layer): 0.9 made
its lit front as bright as the lips themselves; the peers' is 0.85-0.98 at its brightest."""


def inner_outline(P: np.ndarray, per_segment: int = 6) -> np.ndarray:
    """The inner-lip opening as a smooth closed curve through landmarks 60-67: Catmull-Rom
    arcs along the upper (60-64) and the lower (64-67, 60) lip, meeting in points at the
    corners. The 8-point polygon itself drew a hard hexagon with straight sides that no real
    lip has (a lip edge is a curve; the corners are where the two curves meet)."""
    def arc(pts: np.ndarray) -> np.ndarray:
        ext = np.vstack([2 * pts[0] - pts[1], pts, 2 * pts[-1] - pts[-2]])
        t = np.linspace(0, 1, per_segment, endpoint=False)[None, :, None]
        # every segment at once ([segment, t, xy]; the same arithmetic per point as a loop)
        p0, p1, p2, p3 = (ext[k:len(ext) - 3 + k, None] for k in range(4))
        out = 0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                     + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
        return out.reshape(-1, 2)

    P = np.asarray(P, np.float64)
    return np.vstack([arc(P[[60, 61, 62, 63, 64]]), arc(P[[64, 65, 66, 67, 60]])])


def _mm_px(geo: RigGeometry, out_scale: float) -> float:
    """Output pixels per millimetre: face height ~130 mm and rest mouth width ~50 mm,
    averaged (stylised faces have small mouths in big faces)."""
    mouth_w = float(np.dot(geo.rest[54] - geo.rest[48], geo.ex))
    return 0.5 * (geo.face_h / 130.0 + max(mouth_w, 1.0) / 50.0) * out_scale


def _enamel(rgb: np.ndarray, max_sat: float = 0.12, tint: np.ndarray | None = None,
            of_skin: float | None = None) -> np.ndarray:
    """The teeth colour with its saturation capped: the palette's teeth pixels of a photo
    with a few-pixel smile include lip (measured: salmon teeth on vasa-1_15); enamel is
    near-neutral, warmed only a little by the light. Under a strongly tinted light (an old
    varnished painting: emo_talk_mola) a neutral grey beside yellow skin reads blue-grey, so
    the cap follows the skin: up to 45 % of the skin's own chroma, in the skin's hue.
    `of_skin` sets the chroma to that fraction of the skin's (synthesised teeth: the skin
    tone the palette derives them from is diluted for any skin, so in the Mona Lisa's
    varnish they read blue-white beside the yellow face; the peers' are cream there)."""
    rgb = np.asarray(rgb, np.float32)
    hi = float(rgb.max())
    sat = (hi - float(rgb.min())) / max(hi, 1.0)
    grey = float(rgb @ pm.LUMA)
    if tint is not None:
        # in the skin's hue whatever the measured hue: a portrait's own teeth pixels that
        # mix in lip read mauve (vasa-1_10: R > B > G), which no lit enamel is
        t = np.asarray(tint, np.float32)
        skin_sat = (float(t.max()) - float(t.min())) / max(float(t.max()), 1e-6)
        max_sat = max(max_sat, 0.45 * skin_sat)
        k = min(sat, max_sat) / max(skin_sat, 1e-6)
        if of_skin is not None:
            k = of_skin
        return (grey * (1.0 + (t - 1.0) * min(k, 1.0))).astype(np.float32)
    if sat <= max_sat:
        return rgb
    return grey + (rgb - grey) * (max_sat / sat)


def _skin_tint(rig: FaceRig) -> np.ndarray:
    """The skin's colour divided by its luma (1, 1, 1 for a grey portrait)."""
    img = rig.image.astype(np.float32)
    face = rig.masks.get("face") if rig.masks else None
    px = img[face > 0.7] if face is not None and (face > 0.7).sum() > 50 else img.reshape(-1, 3)
    skin = np.median(px, axis=0)
    return skin / max(float(skin @ pm.LUMA), 1.0)


def skull_matrix(geo: RigGeometry, pose: np.ndarray, shift: np.ndarray, out_scale: float,
                 depth: float = TOOTH_DEPTH) -> np.ndarray:
    """2x3 affine, rig-output pixels -> frame-output pixels, of a point rigid with the skull
    at the teeth's depth, under the renderer's head model (apply_head)."""
    c = geo.rest[62]
    span = 0.2 * geo.face_h
    src = np.array([c, c + geo.ex * span, c + geo.ey * span, c - geo.ex * span])
    dst = apply_head(geo, src[None], depth, np.asarray(pose, np.float64)[None],
                     np.asarray(shift, np.float64)[None])[0]
    s, d = (src + 0.5) * out_scale - 0.5, (dst + 0.5) * out_scale - 0.5
    A = np.hstack([s, np.ones((4, 1))])
    sol, *_ = np.linalg.lstsq(A, d, rcond=None)
    return sol.T  # [2,3]


class MouthInterior:
    """Per (rig, size) preparation of the painted interior; `paint` per frame."""

    def __init__(self, rig: FaceRig, geo: RigGeometry, size: int, palette,
                 viseme_weights: np.ndarray | None = None, n_frames: int = 0,
                 fps: float = 25.0, seed: int = 0):
        self.geo = geo
        self.scale = size / float(rig.image.shape[1])
        self.stats = pm.estimate(rig, size)
        self.palette = palette
        self.mm = _mm_px(geo, self.scale)
        self.skin_tint = _skin_tint(rig)
        lip = np.asarray(palette.tongue, np.float32) / 0.75  # palette.tongue ~ 0.7 lip
        cav = np.asarray(palette.cavity, np.float32)
        # dark, but the warm dark of a mouth, not a hole: the peers' open mouths (VASA-1,
        # EMO) read dark red-brown between teeth and tongue, never black
        cav = 0.6 * cav + 0.22 * lip
        self.cavity = cav
        self.rim = 0.5 * lip + 0.1 * cav
        self.tongue_rgb = TONGUE_LIT * lip * np.array([1.0, 0.86, 0.88], np.float32)
        if self.stats.grey:
            self.rim, self.tongue_rgb = pm.to_grey(self.rim), pm.to_grey(self.tongue_rgb)
            self.cavity = pm.to_grey(cav)
        teeth = np.asarray(palette.teeth, np.float32)
        gum = 0.8 * lip + 0.2 * teeth
        # The upper teeth are always drawn (whole crowns) in the portrait's teeth colour: a
        # portrait's own teeth are only the band its upper lip leaves uncovered, so carried
        # into a wider opening they became a thin strip over a black hole, and resampled from
        # a small photo their gaps read as "piano keys" (astronaut demo, vasa-1_10).
        teeth = _enamel(teeth, tint=self.skin_tint,
                        of_skin=None if palette.has_teeth else TEETH_OF_SKIN)
        self.upper = draw_arch(self.mm, teeth, gum, cav, self.stats, lower=False, seed=seed,
                               finish=False)
        self.upper_at_rest = False
        self.lower = draw_arch(self.mm, 0.92 * teeth, gum, cav, self.stats, lower=True,
                               seed=seed, finish=False)
        self.grain = pm.grain((size, size), self.stats, max(self.scale, 1.0), seed + 1)
        from core.audio.visemes import VISEMES

        self.t_height, self.t_forward, self.t_up = tongue_track(viseme_weights, list(VISEMES),
                                                     max(n_frames, 1), fps)
        self.pressed = pressed_track(viseme_weights, list(VISEMES), max(n_frames, 1))

    def lips(self, lm: np.ndarray, width: float, index: int) -> np.ndarray:
        """Frame landmarks (rig pixels) with lip volume applied (core.engines.mouth.lips)."""
        i = min(max(index, 0), len(self.pressed) - 1)
        return shape_lips(lm, self.geo, width, float(self.pressed[i]))

    # -------------------------------------------------------------- geometry
    def _upper_matrix(self, skull: np.ndarray) -> np.ndarray:
        """Sprite px -> frame px for the upper teeth."""
        if self.upper_at_rest:  # photo crop: sprite px = rig-output px minus its corner
            ox, oy = self.upper.origin
            lm = (self.geo.landmarks[62] + 0.5) * self.scale - 0.5
            t = np.array([[1, 0, lm[0] - ox], [0, 1, lm[1] - oy], [0, 0, 1]])
            return skull @ t
        return skull @ self._local(self.upper, self.geo.rest[62], 1.8)

    def _local(self, sp: Sprite, anchor_rig: np.ndarray, down_mm: float) -> np.ndarray:
        """3x3: sprite px -> rig-output px, origin at `anchor_rig` + `down_mm` along the face."""
        ex, ey = self.geo.ex, self.geo.ey
        a = (anchor_rig + 0.5) * self.scale - 0.5 + ey * down_mm * self.mm
        ox, oy = sp.origin
        return np.array([[ex[0], ey[0], a[0] - ex[0] * ox - ey[0] * oy],
                         [ex[1], ey[1], a[1] - ex[1] * ox - ey[1] * oy], [0, 0, 1]])

    # -------------------------------------------------------------- per frame
    def paint(self, frame: np.ndarray, lm: np.ndarray, index: int, pose: np.ndarray,
              shift: np.ndarray, strength: float, box: tuple[int, int, int, int],
              frame_matrix: np.ndarray | None = None) -> None:
        """Compose the interior into `frame` (uint8 RGB, in place) inside window `box` for
        output-pixel landmarks `lm`; `strength` fades the paint in. `frame_matrix` (2x3 or
        3x3, rig-output -> frame-output) overrides the skull transform from pose/shift,
        for renderers with their own 3-D head."""
        x0, y0, x1, y1 = box
        rh, rw = y1 - y0, x1 - x0
        P = lm - np.array([x0, y0], np.float64)
        st = self.stats
        hole = np.zeros((rh, rw), np.uint8)
        cv2.fillPoly(hole, [np.round(inner_outline(P) * (1 << SHIFT)).astype(np.int32)], 255,
                     cv2.LINE_AA, SHIFT)
        hole_f = hole.astype(np.float32) / 255.0
        up, lo = P[[61, 62, 63]], P[[67, 66, 65]]
        gap = float(np.linalg.norm(lo - up, axis=1).mean())
        mouth_w = float(np.linalg.norm(P[64] - P[60]))
        # the commissures: the lips meet at the corners, so the opening's dark tapers in over
        # the last ~8 % of its width (painted to the tip it drew dark wings past the lips)
        ax = (P[64] - P[60]) / max(mouth_w, 1e-6)
        gx, gy = np.meshgrid(np.arange(rw, dtype=np.float32), np.arange(rh, dtype=np.float32))
        t = (gx - P[60, 0]) * ax[0] + (gy - P[60, 1]) * ax[1]
        edge = np.minimum(t, mouth_w - t) / max(0.08 * mouth_w, 1.0)
        hole_f = hole_f * np.clip(edge, 0, 1) ** 0.7
        alpha = pm.match(hole_f, st)

        # cavity: a lit rim of lip lining, darkening with depth towards the middle
        depth = cv2.GaussianBlur(hole_f, (0, 0), max(1.0, 0.1 * gap))
        deep = np.clip((depth - 0.3) / 0.45, 0, 1)[..., None]
        col = self.rim * (1 - deep) + self.cavity * (0.7 + 0.3 * (1 - deep)) * deep

        yy, xx = gy, gx  # the window's pixel grid (float32)
        if frame_matrix is not None:
            fm = np.asarray(frame_matrix, np.float64)
            skull = np.vstack([fm, [0, 0, 1]]) if fm.shape == (2, 3) else fm
        else:
            skull = np.vstack([skull_matrix(self.geo, pose, shift, self.scale), [0, 0, 1]])
        ex_f = skull[:2, :2] @ self.geo.ex
        ey_f = np.array([-ex_f[1], ex_f[0]]) / max(np.linalg.norm(ex_f), 1e-6)
        mm = self.mm * float(np.linalg.norm(ex_f))  # frame px per mm at the teeth

        # upper teeth: rigid with the skull, but as the mouth opens the upper lip lifts off
        # them (see UPPER_SHOW); the incisal edge then hangs `show` below the upper lip
        m_up = skull @ self._upper_matrix(np.eye(3))
        e = m_up @ np.array([*self.upper.origin, 1.0])
        d0 = float((e[:2] / e[2] - lm[62]) @ ey_f)
        show = max(d0, min(UPPER_SHOW * gap, UPPER_MAX_MM * mm))
        m_up[:2, 2] += ey_f * (show - d0) * e[2]
        up_edge = P[62] + ey_f * show
        # lower teeth: carried by the jaw, their edge rising above the lower lip as it drops
        vis = float(np.clip(LOWER_SHOW * (gap - LOWER_FROM_MM * mm), 0, LOWER_MAX_MM * mm))
        lo_edge = P[66] - ey_f * vis

        i = min(max(index, 0), len(self.t_height) - 1)
        th, tf, tu = float(self.t_height[i]), float(self.t_forward[i]), float(self.t_up[i])
        lo_mid = P[66]
        # the back of the tongue: its viseme height above the lower lip, but always below
        # the upper teeth with some dark between (a real open mouth shows, top to bottom,
        # upper teeth, dark cavity, the tongue's back in shadow, its lit front, lower teeth)
        top_y = float(lo_mid[1] - min(TONGUE_RISE * th, TONGUE_MAX) * gap)
        top_y = max(top_y, float(up_edge[1]) + 0.12 * gap)
        front_y = float(lo_edge[1])
        t_col, t_a, t_fwd = tongue_layer_boxed(
            xx, yy, lo_mid, 0.42 * mouth_w, top_y, max(front_y, top_y + 1.0), self.tongue_rgb,
            self.cavity, tip_up=tu, tip_y=float(up_edge[1]) + 0.05 * gap, forward=tf,
            fwd_y=float(lo_mid[1]) + 0.5)
        fade = float(np.clip(gap / (3.0 * self.mm), 0, 1))  # a slit shows no tongue
        t_a, t_fwd = t_a * fade, t_fwd * fade
        col = col * (1 - t_a[..., None]) + t_col * t_a[..., None]
        # where the lower lip turns in, a dark line parts it from the tongue and teeth
        lo_line = np.interp(np.arange(rw, dtype=np.float32), P[[64, 65, 66, 67, 60], 0][::-1],
                            P[[64, 65, 66, 67, 60], 1][::-1])
        yy0 = np.arange(rh, dtype=np.float32)[:, None]
        crease = np.exp(-(((lo_line[None] - 0.06 * gap - yy0) / max(0.05 * gap, 0.8)) ** 2))
        col = col * (1 - 0.5 * crease[..., None])

        m_lo = skull @ self._local(self.lower, self.geo.rest[66], 0.0)
        o = m_lo @ np.array([*self.lower.origin, 1.0])
        m_lo[:2, 2] += (lm[66] - ey_f * vis - o[:2] / o[2]) * o[2]
        lc, la = place(self.lower, m_lo, box)
        col = col * (1 - la[..., None]) + lc
        if tf > 0.02:  # the tip of a "th" lies over the lower teeth
            fa = t_fwd[..., None]
            col = col * (1 - fa) + t_col * fa
        uc, ua = place(self.upper, m_up, box)
        col = col * (1 - ua[..., None]) + uc
        # the upper lip's shadow on what hangs under it
        shadow = np.clip((yy - (up[:, 1].mean() - 1)) / max(0.08 * gap, 1.5), 0, 1)
        col *= (0.88 + 0.12 * shadow)[..., None]
        # drawn crisp (anti-aliased, placed by a bilinear warp), matched once to the photo's
        # blur, then its grain
        col = pm.match(col, st, float(np.hypot(CONTENT_SIGMA, pm.WARP_SIGMA)))
        col = col + self.grain[y0:y1, x0:x1, None]
        if st.grey:
            col = pm.to_grey(col)

        a = (alpha * strength)[..., None]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + col * a, 0, 255).astype(np.uint8)
