"""Closing and closed eyelids of the WarpEngine (core.engines.warp_eyes) on real portraits:
the closed lid is textured skin (not a flat painted patch), trackers read it closed, the eye
under a half-closed lid is the photo's own (not a squeezed, smeared iris), and blink 0 draws
nothing. Each renders three frames of a 512 px still head."""

from __future__ import annotations

from dataclasses import fields, replace
from functools import lru_cache

import cv2
import numpy as np
import pytest

from core.engines.warp import WarpEngine
from core.engines.warp_eyes import lid_skin_mask, under_eye_mask
from core.motion import plan
from core.types import Expression, RenderRequest
from tests.core.test_motion_support import synthetic_features

LUM = np.array([0.299, 0.587, 0.114], np.float32)
SIZE = 512
EYES = (list(range(36, 42)), list(range(42, 48)))


@lru_cache(maxsize=4)
def _rig(path: str):
    import core.face
    from core.image import load_image

    return core.face.analyze(load_image(path))



def _blink_frames(path: str):
    """(rig, motion, request, frames {open, half, closed: (frame index, blink)}) of a still
    head blinking (planned blinks, head and gaze zeroed)."""
    rig = _rig(path)
    n = 60
    feats = synthetic_features(n, rms=np.zeros(n), vad=np.zeros(n))
    m = plan(rig, feats, Expression(blink_rate=2.0), seed=3)
    z = np.zeros_like
    m = replace(m, head_pose=z(m.head_pose), head_shift=z(m.head_shift), gaze=z(m.gaze))
    b = np.asarray(m.blink)
    peak = int(np.flatnonzero(b >= 0.99)[0])
    half = int(np.argmin(np.abs(b[:peak] - 0.5)))
    still = int(np.flatnonzero(b == 0)[0])
    return rig, m, RenderRequest(rig=rig, features=feats, motion=m, size=SIZE), {
        "open": still, "half": half, "closed": peak}


def _lm(rig, m, i: int) -> np.ndarray:
    return (np.asarray(m.landmarks[i], np.float64) + 0.5) * SIZE / rig.image.shape[1] - 0.5


def _high_pass(frame: np.ndarray) -> np.ndarray:
    lum = frame.astype(np.float32) @ LUM
    return lum - cv2.GaussianBlur(lum, (0, 0), 1.5)


def _robust_std(v: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def _upper_opening(lm: np.ndarray, eye: list[int], shape) -> np.ndarray:
    """The upper third of the OPEN eye's opening (eroded 1 px): at full closure the lid
    covers it with unfolded skin (the lash line lies lower, near the lower lid)."""
    p = lm[eye]
    mid = p[[1, 2]] + (p[[5, 4]] - p[[1, 2]]) / 3.0
    poly = np.concatenate([p[[0, 1, 2, 3]], mid[::-1]])
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    return cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0


@pytest.mark.parametrize("name", ["hallo_3.jpg", "hallo_5.jpg", "vasa-1_10"])
def test_closed_lid_is_textured_skin(samples, peers, name):
    """At full closure the skin over the eye has the portrait's own fine texture: the robust
    std of its high-pass is 0.5-2x that of the portrait's skin (a greyscale photo,
    a statue, a held-out peer photo). Before, a flat painted patch: 0.07x on hallo_3,
    0.1x on hallo_5, 0.35x on vasa-1_10."""
    path = str(peers / name / "ref.jpg") if "." not in name else str(samples / "portraits" / name)
    rig, m, req, idx = _blink_frames(path)
    eng = WarpEngine()
    f_open = eng.render_frame(req, idx["open"])
    f_closed = eng.render_frame(req, idx["closed"])
    lm = _lm(rig, m, idx["open"])
    hp_open, hp_closed = _high_pass(f_open), _high_pass(f_closed)
    # the skin's grain: the plainer of the lid band and the skin under the eye (hallo_3's
    # lid band is liner and eye-shadow edges, 7x its skin's grain: copying those onto the
    # closed lid made a hatched weave)
    ref = min(_robust_std(np.concatenate([hp_open[mk(lm, e, hp_open.shape)] for e in (0, 1)]))
              for mk in (lid_skin_mask, under_eye_mask))
    lid = np.concatenate([hp_closed[_upper_opening(lm, EYES[e], hp_open.shape)] for e in (0, 1)])
    assert len(lid) > 50
    ratio = _robust_std(lid) / ref
    assert 0.5 <= ratio <= 2.0, (name, round(ratio, 3))


@pytest.mark.parametrize("name", ["hallo_1.jpg", "hallo_3.jpg", "vasa-1_10"])
def test_tracker_reads_the_closed_lids_closed(samples, peers, name):
    """The evaluator's tracker (core.evaluate.tracking, Face Mesh) reads the eye aspect
    ratio of the fully closed frame below the evaluator's blink threshold (75 % of the open
    eye's, core.evaluate.metrics.blinks), and the half-closed one in between."""
    from core.evaluate.metrics import eye_aspect_ratio
    from core.evaluate.tracking import FaceTracker

    path = str(peers / name / "ref.jpg") if "." not in name else str(samples / "portraits" / name)
    rig, m, req, idx = _blink_frames(path)
    eng = WarpEngine()
    ear = {}
    for k in ("open", "closed"):
        lm = FaceTracker().update(eng.render_frame(req, idx[k]))
        assert lm is not None, (name, k)
        ear[k] = float(eye_aspect_ratio(np.asarray(lm, np.float64)[None])[0])
    assert ear["closed"] < 0.75 * ear["open"], (name, ear)


def test_half_closed_eye_shows_the_photos_own_eye(samples, monkeypatch):
    """Half closed, the eye below the moving lid edge is the open eye's pixels, not a
    squeezed copy: the lower part of the opening is much closer to the open frame's than
    the warp alone makes it (the warp squeezes the iris into the gap between the lids)."""
    import core.engines.warp as warp_mod

    rig, m, req, idx = _blink_frames(str(samples / "portraits" / "hallo_1.jpg"))
    f_open = WarpEngine().render_frame(req, idx["open"]).astype(np.float32)
    f_half = WarpEngine().render_frame(req, idx["half"]).astype(np.float32)
    monkeypatch.setattr(warp_mod, "paint_lids", lambda *a, **k: None)
    f_warp = WarpEngine().render_frame(req, idx["half"]).astype(np.float32)
    lm_open, lm_half = _lm(rig, m, idx["open"]), _lm(rig, m, idx["half"])
    ours, warp_only = [], []
    for eye in EYES:
        # the planned face sways a few pixels between the frames: align the open eye on
        # its corners (a blink leaves them in place)
        d = (lm_half[eye[0]] + lm_half[eye[3]] - lm_open[eye[0]] - lm_open[eye[3]]) / 2
        shifted = cv2.warpAffine(f_open, np.float32([[1, 0, d[0]], [0, 1, d[1]]]),
                                 f_open.shape[1::-1], flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT_101)
        p, q = lm_open[eye] + d, lm_half[eye]
        # below the half-closed upper lid (with a margin for the lash band) and above the
        # lower lid (with a margin for its small rise), inside the corners
        top = q[[1, 2]] + 0.35 * (p[[5, 4]] - q[[1, 2]])
        bot = p[[5, 4]] - 0.25 * (p[[5, 4]] - q[[1, 2]])
        mask = np.zeros(f_open.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(np.concatenate([top, bot[::-1]])).astype(np.int32)], 1)
        sel = mask > 0
        assert sel.sum() > 20
        ours.append(float(np.abs(shifted[sel] - f_half[sel]).mean()))
        warp_only.append(float(np.abs(shifted[sel] - f_warp[sel]).mean()))
    assert np.mean(ours) < 0.6 * np.mean(warp_only), (ours, warp_only)


def test_blink_zero_draws_nothing(samples):
    """A frame with blink 0 is bit-identical to the same frame of a track without blinks
    (open eyes are the warp's own)."""
    rig, m, req, idx = _blink_frames(str(samples / "portraits" / "hallo_2.jpg"))
    i = idx["open"]
    assert np.any(m.blink > 0) and m.blink[i] == 0
    no_blink = replace(m, blink=np.zeros_like(m.blink))
    req0 = RenderRequest(rig=rig, features=req.features, motion=no_blink, size=SIZE)
    a = WarpEngine().render_frame(req, i)
    b = WarpEngine().render_frame(req0, i)
    assert np.array_equal(a, b)


def _autocorr_peak(hp: np.ndarray, mask: np.ndarray) -> float:
    """Highest normalised autocorrelation of the masked high-pass past its central lobe (lags
    of 3 px or more where the radial mean has dropped to 0.1; where the lid overlaps itself
    by at least 30 %): a texture repeated at an offset (a weave) peaks there, grain does not."""
    ys, xs = np.nonzero(mask)
    mk = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float64)
    p = hp[ys.min():ys.max() + 1, xs.min():xs.max() + 1] * mk
    p = p - p.sum() / mk.sum() * mk
    h, w = 2 * p.shape[0], 2 * p.shape[1]
    ac = np.fft.fftshift(np.fft.irfft2(np.abs(np.fft.rfft2(p, (h, w))) ** 2, (h, w)))
    n = np.fft.fftshift(np.fft.irfft2(np.abs(np.fft.rfft2(mk, (h, w))) ** 2, (h, w)))
    ac = ac / np.maximum(n, 1.0)
    ac = ac / ac[h // 2, w // 2]
    yy, xx = np.mgrid[:h, :w]
    r = np.rint(np.hypot(yy - h // 2, xx - w // 2)).astype(int)
    valid = n >= 0.3 * n.max()
    # past the central lobe (coarse grain is correlated over a few px: that is no period)
    radial = np.bincount(r[valid], ac[valid]) / np.maximum(np.bincount(r[valid]), 1)
    below = np.flatnonzero(radial <= 0.1)
    r0 = max(3, int(below[0]) if len(below) else 3)
    return float(ac[valid & (r >= r0)].max())


def test_closed_lid_texture_has_no_period(samples):
    """The closed lid's fine texture does not repeat: on the greyscale photo (fine film
    grain) its high-pass has no autocorrelation peak above 0.3 past the central lobe.
    Before, the lid skin copied at offsets read as a hatched weave: peaks 0.47 / 0.70 (now
    0.24 / 0.17). (Not a statue: its coarse, blotchy stone grain over the few pixels of a
    closed lid correlates at 3+ px lags by chance, weave or not.)"""
    name = "hallo_3.jpg"
    rig, m, req, idx = _blink_frames(str(samples / "portraits" / name))
    f = WarpEngine().render_frame(req, idx["closed"])
    lm = _lm(rig, m, idx["open"])
    hp = _high_pass(f)
    peaks = [_autocorr_peak(hp, _upper_opening(lm, EYES[e], hp.shape)) for e in (0, 1)]
    assert max(peaks) < 0.3, (name, [round(p, 3) for p in peaks])


def test_closed_lid_covers_iris_below_lower_landmarks(peers):
    """kara's lower-lid landmarks sit inside her eye: at full closure the band around where
    the lids meet (middle of the eye) is no longer iris-coloured. Before, a sliver of iris
    stayed under the lashes: 40 % of that band on her image-right eye (now ~18 %)."""
    rig, m, req, idx = _blink_frames(str(peers / "emo_talk_kara" / "ref.jpg"))
    eng = WarpEngine()
    fo = eng.render_frame(req, idx["open"]).astype(np.float32)
    fc = eng.render_frame(req, idx["closed"]).astype(np.float32)
    lo, lc = _lm(rig, m, idx["open"]), _lm(rig, m, idx["closed"])
    yy, xx = np.mgrid[:fo.shape[0], :fo.shape[1]]
    for eye in EYES:
        p = lo[eye]
        ew = float(np.linalg.norm(p[3] - p[0]))
        c = p.mean(0)
        iris = np.median(fo[np.hypot(yy - c[1], xx - c[0]) < 0.1 * ew], 0)
        q = lc[eye][[0, 5, 4, 3]]
        meet = np.interp(xx, q[:, 0], q[:, 1])
        band = ((np.abs(xx - c[0]) < 0.2 * ew) & (yy > meet - 0.04 * ew)
                & (yy < meet + 0.12 * ew))
        left = (np.linalg.norm(fc - iris, axis=2) < 30) & band
        assert band.sum() > 50
        assert left.sum() / band.sum() < 0.25, round(float(left.sum() / band.sum()), 3)


def _closed_lid_vs_skin(path: str) -> tuple[list[float], object]:
    """Per eye, the closed lid's median luminance (the open eye's opening, shrunk to 70 %
    about its centre) over the surrounding skin's (core.engines.lid_tone.skin_ring: the
    dimmer of above-the-brow and under-the-eye), both in the fully closed frame; and the
    request's lid model."""
    from core.engines.lid_tone import skin_ring

    rig, m, req, idx = _blink_frames(path)
    eng = WarpEngine()
    lum = eng.render_frame(req, idx["closed"]).astype(np.float32) @ LUM
    lm = _lm(rig, m, idx["open"])
    out = []
    for e in (0, 1):
        p = lm[EYES[e]]
        c = p.mean(0)
        mask = np.zeros(lum.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(c + 0.7 * (p - c)).astype(np.int32)], 1)
        above, below = skin_ring(lm, e, lum.shape)
        skin = min(float(np.median(lum[above])), float(np.median(lum[below])))
        out.append(float(np.median(lum[mask > 0])) / skin)
    return out, eng._prepare(req).lids


def test_closed_lid_on_a_statue_is_lit_like_the_stone(samples, peers):
    """hallo_5, a marble bust: its lid band is the socket's shadow under the brow ridge (a
    tenth of the surrounding stone's brightness), and a lid rebuilt from it read as a dark
    hole (closed lid / skin 0.16 and 0.27 over the open eye's opening, which on this
    bust includes the lid line). Now the closed lid is lit like the stone around it
    (0.60 and 0.81). On photographs (a greyscale one with eye make-up, a held-out peer)
    the lid band is lid skin: nothing changes (tone 0; their closed lids measure
    0.48-0.49, eye shadow, and 0.77-0.94)."""
    ratios, lids = _closed_lid_vs_skin(str(samples / "portraits" / "hallo_5.jpg"))
    assert all(q > 0.9 for q, _ in lids.tone)
    assert min(ratios) > 0.5 and max(ratios) < 1.2, ratios
    for path in (samples / "portraits" / "hallo_3.jpg", peers / "vasa-1_5" / "ref.jpg"):
        ratios, lids = _closed_lid_vs_skin(str(path))
        assert all(q == 0.0 for q, _ in lids.tone), path
        assert min(ratios) > 0.4, (path, ratios)  # hallo_3: 0.48-0.49 (dark eye shadow)


@pytest.mark.parametrize("name", ["hallo_3.jpg", "vasa-1_5"])
def test_closed_lids_of_a_turned_head_sit_in_the_warped_face(samples, peers, name, monkeypatch):
    """A blink with the head turned (15 degrees of yaw; 15/10/8 combined): the re-rendered
    eye region meets the warped face around it, so along the brows the painted frame is
    the warp's own (mean difference to the frame without the lid painter, in a band
    0.12 eye widths wide over the brow line, measured 0.7-2.7 levels). The lids used to
    be placed by an affine fit of the eye corners, which a 3-D turn does not follow: a
    visible patch edge over the brows (21-60 levels)."""
    from core.engines import warp as warp_mod
    from core.engines.warp_pose import repose
    from core.motion.landmarks import rig_geometry

    path = str(peers / name / "ref.jpg") if "." not in name else str(samples / "portraits" / name)
    rig, m, _, idx = _blink_frames(path)
    poses = np.array([(15, 0, 0), (-15, -10, -8)], np.float64)
    k = idx["closed"]
    lm = np.stack([repose(rig_geometry(rig), m.landmarks[k], m.head_pose[k], m.head_shift[k],
                          p, np.zeros(2)) for p in poses]).astype(np.float32)
    n = len(m.blink)
    per_frame = {f.name: np.asarray(getattr(m, f.name))[[k, k]] for f in fields(m)
                 if isinstance(getattr(m, f.name), np.ndarray) and len(getattr(m, f.name)) == n}
    track = replace(m, **{**per_frame, "landmarks": lm, "head_pose": poses.astype(np.float32),
                          "head_shift": np.zeros((2, 2), np.float32),
                          "gaze": np.zeros((2, 2), np.float32)})
    req = RenderRequest(rig=rig, features=synthetic_features(2), motion=track, size=SIZE)
    eng = WarpEngine()
    painted = [eng.render_frame(req, i).astype(np.float32) for i in (0, 1)]
    monkeypatch.setattr(warp_mod, "paint_lids", lambda *a, **kw: None)
    bare = [WarpEngine().render_frame(req, i).astype(np.float32) for i in (0, 1)]
    mesh = eng._prepare(req).mesh
    for i in (0, 1):
        dst, _ = mesh.dst_points3d(track.landmarks[i], track.head_pose[i], track.head_shift[i])
        out = (dst[:68] + 0.5) * mesh.out_scale - 0.5
        for brow, eye in ((list(range(17, 22)), EYES[0]), (list(range(22, 27)), EYES[1])):
            ew = float(np.linalg.norm(out[eye[3]] - out[eye[0]]))
            band = np.zeros(painted[i].shape[:2], np.uint8)
            cv2.polylines(band, [np.round(out[brow]).astype(np.int32)], False, 1,
                          max(2, int(0.12 * ew)))
            diff = np.abs(painted[i] - bare[i]).max(axis=2)[band > 0].mean()
            assert diff < 8.0, (name, poses[i], round(float(diff), 1))
