"""How the evaluator reads lips without colour, blinks the lids miss, pauses under music and
painted mouth interiors, on real videos and on renders whose truth we know.

Renders: the warp engine draws its lips and blinks where the planner says, so a render of a
real portrait is ground truth for the opening (the lips it paints) and for the blink times.
Peers: VASA-1's and EMO's own videos (../shared/peers), read the same way.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.evaluate import eyes as E
from core.evaluate import metrics as M
from core.evaluate.lipgap import grey_gaps, grey_profile, lip_gap, mouth_series
from core.evaluate.mouth_interior import WidestFrames, mouth_interior_texture
from core.evaluate.tracking import FaceTracker
from core.types import Waveform
from core.video import read_frames, write_mp4

FPS = 25.0


def _grey(frame: np.ndarray) -> np.ndarray:
    y = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(np.clip(y, 0, 255).astype(np.uint8)[..., None], 3, -1)


def _render(portrait, wave: Waveform | None, n: int, size: int, tmp):
    """(decoded frames, drawn 68 points per frame, planned blink closure per frame) of a warp
    render: the speech of `wave`, or `n` frames of synthetic loud speech without it."""
    from core import audio, face, motion
    from core.image import load_image
    from core.types import RenderRequest

    rig = face.analyze(load_image(portrait))
    if wave is None:
        from tests.core.test_motion_support import synthetic_features

        feats = synthetic_features(n, rms=np.full(n, 0.5), vad=np.ones(n))
    else:
        feats = audio.analyze(wave, fps=FPS)
    plan = motion.plan(rig, feats)
    req = RenderRequest(rig=rig, features=feats, motion=plan, size=size)
    from tests.core.test_motion_support import render_drawn

    frames, drawn = render_drawn(req)
    path = write_mp4(iter(frames), FPS, tmp / "r.mp4", audio=wave)
    return list(read_frames(path)), drawn, np.asarray(plan.blink)


def _track(frames: list[np.ndarray]) -> np.ndarray:
    tracker = FaceTracker()
    lms = [tracker.update(f) for f in frames]
    assert all(lm is not None for lm in lms)
    return np.stack(lms).astype(np.float64)


# ---------------------------------------------------------------- lips without colour
@pytest.fixture(scope="module")
def vasa(peers):
    """First 100 frames of VASA-1's vasa-1_10 (colour): frames, landmarks, colour reading."""
    frames = []
    for i, f in enumerate(read_frames(peers / "vasa-1_10" / "gt.mp4")):
        if i >= 100:
            break
        frames.append(f)
    lms = _track(frames)
    colour = np.array([lip_gap(f, lm) for f, lm in zip(frames, lms, strict=True)])
    return frames, lms, colour


def test_grey_reading_agrees_with_the_colour_reading_on_a_peer_video(vasa):
    """The same video made grey reads the same opening by brightness as by lip colour."""
    frames, lms, colour = vasa
    mesh = M.mouth_opening(lms)
    col, how = mouth_series(colour, mesh)
    assert how.startswith("image")
    shades = grey_gaps([grey_profile(_grey(f), lm) for f, lm in zip(frames, lms, strict=True)])
    grey, how = mouth_series(np.full(len(frames), np.nan), mesh, shades)
    assert how.startswith("grey image"), how
    r = np.corrcoef(col, grey)[0, 1]
    slope = np.polyfit(col, grey, 1)[0]
    print(f"vasa-1_10 grey vs colour: r {r:.3f}, slope {slope:.2f}")
    assert r > 0.9 and 0.7 < slope < 1.4


@pytest.mark.parametrize("portrait,readable", [("hallo_3.jpg", True), ("hallo_5.jpg", False)])
def test_grey_portrait_render(samples, tmp_path, portrait, readable):
    """hallo_3 (a black-and-white photograph): the brightness reading follows the drawn gap
    and reads the closed frames closed. hallo_5 (a marble statue whose carved closed-lip
    groove is as dark as its open mouth): brightness does not follow the lips, and the
    series says so ("mesh") instead of passing a wrong reading off as the image's."""
    from core import audio

    wave = audio.load(samples / "audio" / "hallo_2.wav")
    wave = Waveform(wave.samples[: 4 * wave.sample_rate], "first 4 s", wave.sample_rate)
    frames, drawn, _ = _render(samples / "portraits" / portrait, wave, 0, 320, tmp_path)
    lms = _track(frames)
    colour = np.array([lip_gap(f, lm) for f, lm in zip(frames, lms, strict=True)])
    assert np.isnan(colour).mean() > 0.9  # no lip colour to go by
    shades = grey_gaps([grey_profile(f, lm) for f, lm in zip(frames, lms, strict=True)])
    mouth, how = mouth_series(colour, M.mouth_opening(lms), shades)
    truth = M.mouth_opening(drawn)
    closed = truth < 0.005
    assert closed.sum() >= 5 and (truth > 0.08).sum() >= 5
    print(f"{portrait}: {how}; r {np.corrcoef(truth, mouth)[0, 1]:.3f}, closed median "
          f"{np.median(mouth[closed]):.3f}")
    if readable:
        assert how.startswith("grey image"), how
        assert np.corrcoef(truth, mouth)[0, 1] > 0.75
        assert np.median(mouth[closed]) < 0.01
    else:
        assert how.startswith("mesh"), how


# ---------------------------------------------------------------- blinks
def test_blinks_the_lids_miss_are_read_from_the_eye_image(peers, tmp_path):
    """EMO's joker portrait (painted eyes): the Face Mesh's lids stay open through our
    render's blinks; the eye-patch spikes find each planned blink, and nothing else."""
    frames, _, blink = _render(peers / "emo_talk_jocker" / "ref.jpg", None, 150, 384, tmp_path)
    on = blink > 0.5
    starts = np.flatnonzero(on & ~np.r_[False, on[:-1]])
    assert len(starts) >= 1, "the planner must blink in 6 s for this test"
    lms = _track(frames)
    ear = M.blinks(M.eye_aspect_ratio(lms), FPS)
    patches = np.stack([E.eye_patches(f, lm) for f, lm in zip(frames, lms, strict=True)])
    spikes = E.patch_blinks(patches, FPS)
    found = E.merge_blinks(ear["frames"], ear["ends"], spikes, FPS)
    print(f"planned {starts.tolist()}, lids {ear['frames']}, image {spikes}, merged {found}")
    assert len(found) == len(starts)
    for s in starts:
        assert min(abs(f - s) for f in found) <= 5


def test_patch_spikes_ignore_a_gaze_step():
    """An eye patch that changes once and stays changed (a gaze shift, a new expression) is
    not a blink; one that changes and comes back within 0.2 s is."""
    rng = np.random.default_rng(0)
    base = rng.normal(0, 20, (2, E.PATCH_V, E.PATCH_U))
    other = rng.normal(0, 20, (2, E.PATCH_V, E.PATCH_U))
    seq = np.stack([base + rng.normal(0, 2, base.shape) for _ in range(100)])
    seq[60:] += other - base  # a step
    assert E.patch_blinks(seq, FPS) == []
    seq[30:34] = other  # a spike
    assert [abs(f - 31) <= 2 for f in E.patch_blinks(seq, FPS)] == [True]


# ---------------------------------------------------------------- pauses under music
def test_rest_ratio_pauses_come_from_the_voice_not_the_loudness(peers):
    """emo_talk_jocker's speech runs over music: the energy cut calls most words silent, the
    VAD does not. A mouth that opens exactly while the VAD hears a voice and shuts
    otherwise rests at 0 by the VAD's pauses; by the energy's it would read far above the
    target, blaming the mouth for the music."""
    from core.evaluate.evaluator import _load_audio

    wave = _load_audio(peers / "emo_talk_jocker" / "aud.mp3")
    n = int(len(wave.samples) / wave.sample_rate * FPS)
    energy = M.frame_energy(wave.samples, wave.sample_rate, FPS, n)
    vad = M.speech_frames(wave.samples, wave.sample_rate, FPS, n)
    if vad is None:
        pytest.skip("silero VAD not installed")
    loud = M.speech_mask(energy)
    print(f"VAD speech {vad.mean():.2f}, energy speech {loud.mean():.2f}")
    assert vad.mean() > 1.5 * loud.mean()
    mouth = np.where(vad, 0.1, 0.0)
    assert M.mouth_rest_ratio(mouth, energy, speech=vad, min_pause=8) == 0.0
    assert M.mouth_rest_ratio(mouth, energy) > 0.25


# ---------------------------------------------------------------- painted interiors
def _plate(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The frame with a flat two-tone plate (white band over black) in its inner lips."""
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(lm[60:68]).astype(np.int32)], 1)
    mask = mask > 0
    out = frame.copy()
    ys = np.nonzero(mask)[0]
    if len(ys):
        split = ys.min() + 0.4 * (ys.max() - ys.min())
        rows = np.arange(frame.shape[0])[:, None] < split
        out[mask & rows] = (235, 235, 235)
        out[mask & ~rows] = (25, 10, 10)
    return cv2.GaussianBlur(out, (0, 0), 0.8)


def test_texture_separates_plate_from_mouth_and_refuses_narrow_openings(vasa):
    """Over a real clip, the widest frames' texture is a mouth's (>= 0.09) and, with a flat
    plate painted into the same frames, a plate's (< 0.05); a clip whose mouth never opens
    0.08 IOD reads None with the reason instead of a number."""
    frames, lms, colour = vasa
    opening, _ = mouth_series(colour, M.mouth_opening(lms))
    real, plate = WidestFrames(), WidestFrames()
    for i, (f, lm) in enumerate(zip(frames, lms, strict=True)):
        real.offer(i, f, lm, colour[i])
        plate.offer(i, _plate(f, lm), lm, colour[i])
    tex, info = mouth_interior_texture(real, opening)
    flat, _ = mouth_interior_texture(plate, opening)
    print(f"real {tex}, plate {flat}, frames {info.get('frames')}")
    assert tex is not None and flat is not None
    assert tex >= 0.09 and flat < 0.05
    narrow = np.minimum(opening, 0.06)
    none, why = mouth_interior_texture(real, narrow)
    assert none is None and "never opens" in why["note"]
