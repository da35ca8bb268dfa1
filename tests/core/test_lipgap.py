"""The evaluator's mouth opening (core.evaluate.lipgap) against openings we know.

Our own warp render draws its lips exactly where the planner's landmarks (after the mouth
interior's lip adjustment) put them, so a render is ground truth for the inner-lip gap:
measured through the real tracker on the decoded MP4 it must follow the drawn gap frame by
frame, read closed lips as closed, and read open ones at their size. On real footage (a
VASA-1 video) frames whose lips visibly touch must read closed, wide ones wide.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluate import metrics as M
from core.evaluate.lipgap import grey_gaps, grey_profile, lip_gap, mouth_series
from core.evaluate.tracking import FaceTracker, detect
from core.types import Waveform
from core.video import read_frames, write_mp4

FPS = 25.0


@pytest.fixture(scope="module")
def render(samples, tmp_path_factory):
    """(decoded frames, drawn 68 points per frame) of a 256 px warp render of hallo_1 with
    the first 3 s of echomimic_en, encoded and decoded like any video we evaluate."""
    from core import audio, face, motion
    from core.image import load_image
    from core.types import RenderRequest

    rig = face.analyze(load_image(samples / "portraits" / "hallo_1.jpg"))
    wave = audio.load(samples / "audio" / "echomimic_en.wav")
    wave = Waveform(wave.samples[: 3 * wave.sample_rate], "first 3 s", wave.sample_rate)
    feats = audio.analyze(wave, fps=FPS)
    req = RenderRequest(rig=rig, features=feats, motion=motion.plan(rig, feats), size=256)
    from tests.core.test_motion_support import render_drawn

    frames, drawn = render_drawn(req)
    path = write_mp4(iter(frames), FPS, tmp_path_factory.mktemp("lipgap") / "r.mp4", audio=wave)
    return list(read_frames(path)), drawn


def test_render_opening_is_measured_at_its_drawn_size(render):
    frames, drawn = render
    truth = M.mouth_opening(drawn)
    tracker = FaceTracker()
    lms = [tracker.update(f) for f in frames]
    assert all(lm is not None for lm in lms)
    got = np.array([lip_gap(f, lm) for f, lm in zip(frames, lms, strict=True)])
    mesh = M.mouth_opening(np.stack(lms).astype(np.float64))
    closed, wide = truth < 0.005, truth > 0.08
    assert closed.sum() >= 5 and wide.sum() >= 5, "the clip must both close and open"
    print(f"r {np.corrcoef(truth, got)[0, 1]:.3f} (mesh {np.corrcoef(truth, mesh)[0, 1]:.3f}); "
          f"closed {got[closed].max():.3f} (mesh {mesh[closed].mean():.3f}); "
          f"wide ratio {np.median(got[wide] / truth[wide]):.2f}")
    assert np.corrcoef(truth, got)[0, 1] > 0.9
    assert got[closed].max() < 0.02  # closed lips read closed (the mesh alone: ~0.02)
    assert 0.75 < np.median(got[wide] / truth[wide]) < 1.4  # open lips read at their size


def test_vasa_frames_read_closed_when_the_lips_touch_and_wide_when_open(peers):
    """vasa-1_10: frames 15-16 and 36 show lips pressed together, 30 and 99 a wide mouth
    with teeth and a tongue as pink as the lips (checked on crops of the decoded frames)."""
    want = {15: "closed", 16: "closed", 36: "closed", 30: "wide", 99: "wide"}
    got = {}
    for i, frame in enumerate(read_frames(peers / "vasa-1_10" / "gt.mp4")):
        if i in want:
            found = detect(frame)
            assert found is not None
            got[i] = lip_gap(frame, found[0])
        if i >= max(want):
            break
    print(got)
    for i, kind in want.items():
        if kind == "closed":
            assert got[i] < 0.02, (i, got[i])
        else:
            assert got[i] > 0.3, (i, got[i])  # a wide mouth: a third of the IOD or more


def test_grey_video_is_read_from_brightness(render):
    """Without colour lip_gap says so (NaN); the brightness reading (grey_gaps) through
    mouth_series reads the grey render's closed frames closed and follows the drawn gap; the
    mesh alone (no grey reading given) is marked as such."""
    frames, drawn = render
    grey = [np.repeat(f.mean(-1, keepdims=True), 3, -1).astype(np.uint8) for f in frames]
    tracker = FaceTracker()
    lms = np.stack([tracker.update(f) for f in grey]).astype(np.float64)
    gaps = np.array([lip_gap(f, lm) for f, lm in zip(grey, lms, strict=True)])
    assert np.isnan(gaps).all()
    mesh = M.mouth_opening(lms)
    shades = grey_gaps([grey_profile(f, lm) for f, lm in zip(grey, lms, strict=True)])
    mouth, how = mouth_series(gaps, mesh, shades)
    assert how.startswith("grey image"), how
    truth = M.mouth_opening(drawn)
    r = np.corrcoef(truth, mouth)[0, 1]
    print(f"grey r {r:.3f}, closed median {np.median(mouth[truth < 0.005]):.3f}")
    assert np.median(mouth[truth < 0.005]) < 0.01
    assert r > 0.8
    fallback, how = mouth_series(gaps, mesh)
    assert how.startswith("mesh") and np.corrcoef(truth, fallback)[0, 1] > 0.6
    colour, how = mouth_series(np.array([lip_gap(frames[0], lms[0])]), M.mouth_opening(lms[:1]))
    assert how.startswith("image") and colour[0] == 0.0  # frame 0 is closed, in colour
    assert np.isnan(lip_gap(frames[0], np.zeros((68, 2))))  # degenerate landmarks


def test_vasa_silent_stretches_read_as_the_frames_show(peers):
    """vasa-1_15 (a bearded man, pale lips) opens with lips shut in silence (frames 0-7),
    and holds his mouth half open, teeth showing, in a later pause (38-42): the pauses of a
    real-looking speaker are not all closed, and the measure tells the two apart."""
    from core.evaluate.evaluator import _load_audio

    path = peers / "vasa-1_15" / "gt.mp4"
    tracker = FaceTracker()
    got = []
    for i, frame in enumerate(read_frames(path)):
        if i > 42:
            break
        lm = tracker.update(frame)
        assert lm is not None
        got.append(lip_gap(frame, lm))
    got = np.array(got)
    wave = _load_audio(path)
    from core.video import probe

    energy = M.frame_energy(wave.samples, wave.sample_rate, FPS, int(probe(path)["n_frames"]))
    silent = ~M.speech_mask(energy, hangover=3)
    assert silent[:8].all() and silent[38:43].all()
    print(np.round(got, 3))
    assert got[:8].max() < 0.02
    assert got[38:43].min() > 0.06
