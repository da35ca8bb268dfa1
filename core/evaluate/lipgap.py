"""Visible inner-lip gap read from the image, between the tracker's lip landmarks.

Why: MediaPipe's Face Mesh (the evaluator's tracker) keeps its inner-lip ring inside the
mouth: closed lips read 0.015-0.06 IOD apart and wide openings read about a third of their
true size (measured on warp renders whose lip positions are known exactly, and on VASA-1's
videos against dlib's 68 points). Its landmarks still say WHERE the mouth is and which way
is across it; the image says how far apart the lips are. So the gap is measured on a few
intensity/colour profiles across the mouth, perpendicular to the corner-to-corner axis,
from above the upper lip to below the lower lip: lips are the most chromatic (red) pixels
around the mouth; the opening between them is darker (cavity, shadowed tongue) or
colourless (teeth). The gap on a profile is the run of non-lip pixels around the mesh's
inner-lip line, bounded by lip pixels above and below; closed lips show no run or only the
thin dark seam between them, which mouth_series discounts per clip.

Without colour (black-and-white photographs, statues) the same profiles are read by
brightness alone (grey_profile, grey_gaps): interior is what is much darker (cavity) or
brighter (teeth) than the clip's lip level, and the clip's closed floor is read on the
frames the mesh finds most closed. It is used only where it follows the mesh's own lips
(GREY_MIN_AGREEMENT); where it does not (a carved statue), mouth_series says the lips
were not read ("mesh") and the evaluator reports no rest ratio rather than a wrong one.
"""

from __future__ import annotations

import cv2
import numpy as np

PROFILE_U = (-0.3, -0.15, 0.0, 0.15, 0.3)
"""Profile positions along the mouth, as fractions of the half-width between the mouth
corners (48, 54): the middle of the mouth, where the opening is widest and the lips are
seen face-on."""
STEP = 0.004
"""Sample spacing along a profile, IOD units (~0.4 px at IOD 100 px)."""
MARGIN = 0.06
"""Profile extension beyond the outer lip contour (IOD units): skin at both ends."""
WINDOW = 0.03
"""The interior must reach within this (IOD) of the mesh's inner-lip points."""
LIP_FRAC = 0.7
DARK_FRAC = 0.6
"""Interior thresholds, fractions of the lips' red-minus-green and brightness: teeth are
bright but colourless, the cavity dark; a closed-lip seam dips to ~0.8 of the lips'
brightness and stays red (it reads 0). Chosen on warp renders of hallo_1 (384 and 256
px; at 256 px a 0.05 IOD opening is 2-3 px and its blurred interior is only a little less
red than the lips: 0.6 read it closed, r 0.90 -> 0.93 with 0.7) and VASA-1 frames with
pressed lips (still 0.000 with 0.7; a brightness cut of 0.8 reads them 0.02-0.04)."""
OUTER = np.array([50, 51, 52, 56, 57, 58])
INNER = np.array([61, 62, 63, 65, 66, 67])
BODY = 0.35
"""The lips' own colour is read at these points: a third of the way from the outer lip
contour (which the mesh tracks well) to the inner one (which it places inside an open
mouth), i.e. on the lip's body. Not the reddest pixels around: a painted or shadowed
interior can be redder than pale or grey lips."""
SEAM_MAX = 0.04
"""Largest closed floor taken off a colour clip (IOD): a seam, not an opening."""
MIN_CHROMA = 15.0
"""Below this red-minus-green (8-bit levels) on the lips the video has no colour to go by:
lip_gap is NaN and the caller reads brightness instead (grey_gaps, mouth_series). Lips
measured on the colour sample portraits 70-115, the peers' videos 46-136; the sepia statue
hallo_5.jpg 4.5 (6-8 once encoded), the black-and-white hallo_3.jpg 0."""


def _colour(frame: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """[..., 3] float RGB sampled bilinearly at pixel points [..., 2]."""
    shape = pts.shape[:-1]
    p = pts.reshape(-1, 2).astype(np.float32)
    out = cv2.remap(frame, p[:, 0].reshape(-1, 1), p[:, 1].reshape(-1, 1), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(*shape, 3).astype(np.float64)


def lip_gap(frame: np.ndarray, lm: np.ndarray) -> float:
    """Visible inner-lip gap / IOD of one RGB frame with its [68, 2] landmarks: the median
    over the PROFILE_U profiles of the span of mouth-interior pixels between the lips.

    The lips' colour is read on their bodies (OUTER/INNER/BODY), and a profile sample is
    interior when its red-minus-green is under LIP_FRAC of the lips' or it is darker than
    DARK_FRAC of their brightness. NaN without colour (MIN_CHROMA) or with degenerate
    landmarks. Measured against the lips the warp renderer draws (its own landmarks, after
    encoding, through the tracker): hallo_1 + echomimic_en at 384 px r 0.97, slope 1.16,
    every closed frame 0.000 (at 256 px: r 0.93, slope 1.07; the mesh's inner lips alone:
    r 0.86, slope 0.31, closed 0.018); echomimic_a + echomimic_en at 512 px r 0.98 (closed
    frames 0.02-0.03: the photo's dark seam, taken off by mouth_series' floor);
    emo_talk_jocker's ref + aud at 512 px r 0.95. Openings under ~0.04 IOD that the
    renderer draws without a visible interior read 0, as they look.
    """
    got = _profiles(frame, lm)
    if got is None:
        return float("nan")  # degenerate landmarks
    rgb, t, body, iod, (lo_win, hi_win) = got
    luma = rgb.mean(-1)
    chroma = rgb[..., 0] - rgb[..., 1]  # lips: red over green, more than skin or teeth
    ref_c = float(np.median(body[:, 0] - body[:, 1]))
    ref_y = float(np.median(body.mean(-1)))
    if ref_c < MIN_CHROMA:  # no colour: lips, seam and grey teeth are not told apart
        return float("nan")
    interior = (chroma < LIP_FRAC * ref_c) | (luma < DARK_FRAC * ref_y)
    gaps = [_run_through(row, t, lo_win, hi_win) / iod for row in interior]
    return float(np.median(gaps))


def _profiles(frame: np.ndarray, lm: np.ndarray) -> tuple | None:
    """The PROFILE_U profiles across the mouth of one frame: (rgb [k, m, 3] along each,
    offsets t [m] in pixels along `down`, the lip-body colours [6, 3], IOD in pixels, the
    inner-lip window (lo, hi) in pixels) or None with degenerate landmarks. The profile runs
    from above the outer upper lip to below the outer lower lip (skin at both ends); the
    interior must overlap the mesh's inner-lip line, widened by WINDOW."""
    lm = np.asarray(lm, np.float64)
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    axis = lm[54] - lm[48]
    half = 0.5 * float(np.linalg.norm(axis))
    axis = axis / max(2 * half, 1e-9)
    down = np.array([-axis[1], axis[0]])
    centre = 0.5 * (lm[48] + lm[54])
    top = float(np.dot(lm[50:53].mean(0) - centre, down)) - MARGIN * iod
    bot = float(np.dot(lm[56:59].mean(0) - centre, down)) + MARGIN * iod
    lo_win = float(np.dot(lm[61:64].mean(0) - centre, down)) - WINDOW * iod
    hi_win = float(np.dot(lm[65:68].mean(0) - centre, down)) + WINDOW * iod
    if not (np.isfinite(iod) and iod >= 1.0 and np.isfinite([top, bot]).all()):
        return None
    t = np.arange(top, bot, STEP * iod)
    if len(t) < 8:
        return None
    base = centre[None] + np.outer(np.asarray(PROFILE_U) * half, axis)  # [k, 2]
    pts = base[:, None, :] + t[None, :, None] * down[None, None, :]  # [k, m, 2]
    body = _colour(frame, lm[OUTER] + BODY * (lm[INNER] - lm[OUTER]))
    return _colour(frame, pts), t, body, iod, (lo_win, hi_win)


GREY_DARK = 0.7
GREY_BRIGHT = 0.1
GREY_BODY = 0.5
"""Grey interior thresholds against the CLIP's lip brightness: interior is darker than
GREY_DARK of it (cavity, the shadow under the upper teeth) or brighter by GREY_BRIGHT of
the way to white (teeth). The lip brightness is the median over the clip's frames of six
samples half-way (GREY_BODY) from the outer lip contour to the inner one: a clip-wide
level, not each frame's, because a frame's lip samples fall into the seam's shadow when
the lips press (the statue hallo_5: 68 on closed frames, 131 on open ones), and a
per-frame level then reads every lip pixel as teeth.

Chosen on a grid (body 0.2/0.35/0.5; clip level from all frames or the most closed
quarter; one level or one per lip; dark 0.7/0.8; bright 0.1/0.2), scored by r against
the drawn gap of warp renders (hallo_3, hallo_1, 384 px) and against the colour reading
of the peers' videos and two of our renders, every frame made grey. Chosen: r 0.87
(hallo_3), 0.96 (hallo_1), VASA-1 0.86-0.99, EMO 0.41 (mola)-0.93, ours 0.88-0.97. One
level per lip helps emo_talk_mola (pale lower lip, dark upper: 0.41 -> 0.6-0.84) and
breaks hallo_3 (thin upper lip whose samples land on skin: 0.87 -> 0.6-0.7)."""
GREY_SHUT_PCT = 10.0
"""The grey reading's closed floor is its median over the frames the mesh finds most closed
(this percentile of the mesh's gap), not its own 5th percentile: a grey seam reads a
little wider on some closed frames than on others (hallo_3's render 0.00-0.03), and the
rest ratio, a mean over the pauses, counts that residue as opening (0.30 against a drawn
0.002 with the 5th percentile; see tests). Not capped as the colour floor is (SEAM_MAX):
a dark carved groove reads as wide as a small opening (the hallo_5 statue at 256 px with
its mouth warped open and shut: 0.15 IOD on every shut frame, its mesh 0.002), and a
floor capped below it left every pause "open" (rest 0.59 where the mouth was shut). A
clip that never shuts its lips loses its smallest opening, so its openings read smaller,
not larger."""
GREY_MIN_AGREEMENT = 0.7
"""Least correlation of the grey reading with the Face Mesh's own inner-lip gap over a clip
for the grey reading to be used. The mesh is loose but never inverted (r 0.63-0.66 with the
drawn gap on hallo_3 and hallo_5 renders); brightness is exact where lips, teeth and cavity
differ in tone and meaningless where they do not: the marble statue hallo_5 has a carved
closed-lip groove as dark as its open mouth (grey vs drawn r -0.45, grey vs mesh -0.1).
With brighter drawn teeth the statue's wrong reading rose to r 0.45 with the mesh (0.35
with the drawn gap), while a true reading (hallo_3's render) agrees at 0.79 (0.96 with the
drawn gap): 0.4 let the statue through. Later renders of the statue (dense mesh, the
compiled map kernel's seam pixels) read 0.56-0.61 with the mesh (0.43 with the drawn gap)
and hallo_3's 0.81-0.83: 0.7 sits between them with a margin of ~0.1 on both sides."""


def grey_profile(frame: np.ndarray, lm: np.ndarray) -> tuple | None:
    """One frame's brightness profiles for `grey_gaps`: (luma [k, m] float32, t [m], lo, hi,
    lip brightness), lengths in IOD units; None with degenerate landmarks. Kept per frame
    (a few hundred floats) because the threshold needs the whole clip's lip level."""
    got = _profiles(frame, lm)
    if got is None:
        return None
    rgb, t, _, iod, (lo, hi) = got
    lm = np.asarray(lm, np.float64)
    lips = _colour(frame, lm[OUTER] + GREY_BODY * (lm[INNER] - lm[OUTER])).mean(-1)
    return (rgb.mean(-1).astype(np.float32), t / iod, lo / iod, hi / iod,
            float(np.median(lips)))


def grey_gaps(profiles: list) -> np.ndarray:
    """Per-frame inner-lip gap (IOD) of a clip without colour, from `grey_profile` rows (None
    where no face): the span of interior samples (GREY_DARK / GREY_BRIGHT against the clip's
    lip brightness) between the lips, median over the profiles, as `lip_gap` does in colour.
    On colour videos made grey it follows their colour reading (tests/core/test_lipgap.py)."""
    refs = np.array([np.nan if p is None else p[4] for p in profiles])
    out = np.full(len(profiles), np.nan)
    if not np.isfinite(refs).any():
        return out
    ref = float(np.nanmedian(refs))
    dark, bright = GREY_DARK * ref, ref + GREY_BRIGHT * (255.0 - ref)
    for i, p in enumerate(profiles):
        if p is None:
            continue
        luma, t, lo, hi = p[:4]
        interior = (luma < dark) | (luma > bright)
        out[i] = float(np.median([_run_through(row, t, lo, hi) for row in interior]))
    return out


def _run_through(interior: np.ndarray, t: np.ndarray, lo: float, hi: float) -> float:
    """Span (pixels) from the top of the highest to the bottom of the lowest run of interior
    samples that overlaps [lo, hi] and is bounded by lip samples on both sides (a run that
    reaches the profile's end is skin). A span, not the longest run: a tongue as pink as
    the lips splits a wide opening into upper-teeth and lower-teeth runs."""
    n = len(interior)
    first = last = None
    i = 0
    while i < n:
        if not interior[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and interior[j + 1]:
            j += 1
        if i > 0 and j < n - 1 and t[j] >= lo and t[i] <= hi:
            first = t[i] if first is None else first
            last = t[j]
        i = j + 1
    return 0.0 if first is None else float(last - first + (t[1] - t[0]))


def mouth_series(gaps: np.ndarray, mesh_opening: np.ndarray,
                 grey: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Per-frame mouth opening of a clip and how it was read (the text starts with "image",
    "grey image" or "mesh"; "mesh" means the lips could not be read from the image and the
    opening is only loosely known: closed lips do not read closed).

    `gaps`: lip_gap per frame (NaN without a face or without colour); `mesh_opening`: the
    landmarks' own inner-lip gap (metrics.mouth_opening; NaN without a face); `grey`:
    grey_gaps of the clip (brightness only), or None.

    Colour (most tracked frames had a lip_gap): the image reading minus the clip's closed
    floor, its 5th percentile capped at SEAM_MAX. Closed lips with a dark seam (the photo's
    mouth line, 2-3 px) read that seam's width on every closed frame: echomimic_a's render
    reads 0.020-0.028 on frames whose drawn gap is 0, hallo_1's and VASA-1's 0.000, so the
    floor takes out a seam where a clip has one and nothing where it has none; a clip that
    never closes its lips loses at most SEAM_MAX.

    Grey (no colour): the brightness reading minus its closed floor (GREY_SHUT_PCT) when it
    agrees with the mesh (GREY_MIN_AGREEMENT); otherwise the landmarks' gap minus the
    clip's floor (its 5th percentile): the Face Mesh keeps closed lips ~0.015-0.06 IOD
    apart and under-reads openings (~0.3x on warp renders) and follows them loosely (r
    0.55-0.71 against the drawn gap), so ratios built on it (rest ratio) are not trusted.
    """
    gaps = np.asarray(gaps, np.float64)
    mesh = np.asarray(mesh_opening, np.float64)
    face = np.isfinite(mesh)
    if face.sum() == 0:
        return gaps, "no face"
    ok = np.isfinite(gaps) & face
    if ok.mean() >= 0.5 * face.mean():
        floor = min(float(np.percentile(gaps[ok], 5)), SEAM_MAX)
        return np.clip(gaps - floor, 0, None), (
            f"image: interior between the lips (core.evaluate.lipgap), less the clip's "
            f"closed floor {floor:.3f} IOD")
    agree = None
    if grey is not None:
        grey = np.asarray(grey, np.float64)
        g_ok = np.isfinite(grey) & face
        if g_ok.sum() >= 10 and grey[g_ok].std() > 1e-6 and mesh[g_ok].std() > 1e-6:
            agree = float(np.corrcoef(grey[g_ok], mesh[g_ok])[0, 1])
        if agree is not None and agree >= GREY_MIN_AGREEMENT:
            shut = g_ok & (mesh <= np.percentile(mesh[g_ok], GREY_SHUT_PCT))
            floor = float(np.median(grey[shut]))
            out = np.where(face, np.clip(grey - floor, 0, None), np.nan)
            return out, (
                f"grey image: interior between the lips by brightness (no colour; r "
                f"{agree:.2f} with the mesh's lips), less the clip's closed floor "
                f"{floor:.3f} IOD")
    floor = float(np.percentile(mesh[face], 5))
    why = "no colour" + ("" if agree is None else
                         f", and its brightness does not follow the lips (r {agree:.2f} "
                         "with the mesh's)")
    return np.clip(mesh - floor, 0, None), (
        f"mesh: {why}: Face Mesh inner lips minus the clip's closed floor ({floor:.3f} "
        "IOD); closed lips do not read closed")
