"""core.audio.prosody: pitch on synthetic tones, stresses and phrases on real speech."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio import prosody
from core.types import SAMPLE_RATE
from tests.core.test_motion_support import features_of, joined_features

FPS = 25.0


def _tone(f0: float, kind: str, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    if kind == "sine":
        return (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)
    return (0.5 * (2 * ((f0 * t) % 1.0) - 1)).astype(np.float32)  # sawtooth: all harmonics


@pytest.mark.parametrize("kind", ["sine", "saw"])
@pytest.mark.parametrize("f0", [85.0, 130.0, 220.0, 310.0, 440.0])
def test_pitch_of_synthetic_tones_within_one_percent(f0, kind):
    x = _tone(f0, kind)
    n = int(len(x) / SAMPLE_RATE * FPS)
    p = prosody.analyze(x, FPS, n)
    inner = slice(2, n - 2)  # edge frames see half a window
    assert np.all(p.voicing[inner] > 0.9)
    assert np.all(np.abs(p.f0[inner] / f0 - 1) < 0.01), p.f0[inner]
    assert p.f0_median == pytest.approx(f0, rel=0.01)
    assert np.abs(p.semitones[inner]).max() < 0.2  # a flat tone is flat around its median


def test_pitch_glide_and_noise_and_silence():
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    f = 120 * 2 ** (t / 2)  # one octave up over 2 s
    x = 0.4 * np.sin(2 * np.pi * np.cumsum(f) / SAMPLE_RATE)
    rng = np.random.default_rng(0)
    x = np.concatenate([x, 0.2 * rng.standard_normal(SAMPLE_RATE), np.zeros(SAMPLE_RATE)])
    n = int(len(x) / SAMPLE_RATE * FPS)
    p = prosody.analyze(x.astype(np.float32), FPS, n)
    frames = np.arange(3, 47)
    want = 120 * 2 ** ((frames + 0.5) / FPS / 2)
    assert np.all(np.abs(p.f0[frames] / want - 1) < 0.02)
    assert p.semitones[45] - p.semitones[5] == pytest.approx(12 * 40 / FPS / 2, abs=0.5)
    assert np.all(p.f0[53:75] == 0)  # white noise is unvoiced
    assert np.all(p.f0[78:] == 0) and np.all(p.energy[78:] == 0)  # silence


def test_empty_and_silent_input():
    p = prosody.analyze(np.zeros(SAMPLE_RATE, np.float32), FPS, 25)
    assert p.f0.shape == (25,) and not p.f0.any()
    assert p.stresses.size == 0 and p.phrase_starts.size == 0
    assert prosody.empty(7).f0.shape == (7,)


def _near(frame: int, phones, tol: float = 2.0) -> bool:
    return any(ph.start * FPS - tol <= frame <= ph.end * FPS + tol for ph in phones)


@pytest.fixture(scope="module")
def aligned_clips(samples):
    return [
        joined_features(),
        features_of(
            "asterisk_conf-onlyperson.wav", "You are currently the only person in this conference."
        ),
    ]


def test_stresses_land_on_lexically_stressed_vowels(aligned_clips):
    """Acoustic stresses (loud, high nuclei) must fall on the vowels the dictionary marks as
    stressed far more often than a random speech frame does."""
    hits, total, chance = 0, 0, []
    for f in aligned_clips:
        p = f.prosody
        assert p is not None
        stressed = [ph for ph in f.phones if ph.stressed]
        speech_s = float((f.vad >= 0.5).sum()) / FPS
        assert 0.4 <= len(p.stresses) / speech_s <= 3.0  # accents, not every syllable
        assert len(p.nuclei) > len(p.stresses)
        assert np.all((p.stress_strength >= 0.5) & (p.stress_strength <= 1))
        hits += sum(_near(int(s), stressed) for s in p.stresses)
        total += len(p.stresses)
        sp = np.flatnonzero(f.vad >= 0.5)
        chance.append(np.mean([_near(int(s), stressed) for s in sp]))
    assert total >= 6
    assert hits / total >= 0.8 and hits / total > max(chance) + 0.2, (hits, total, chance)


def test_phrase_starts_after_pauses(samples):
    f = joined_features()  # 0.4 s silence, prompt, 1.2 s silence, prompt, 0.6 s silence
    p = f.prosody
    assert len(p.phrase_starts) == 2 and len(p.phrase_ends) == 2
    second = next(w for w in f.words if w.text.lower() == "all")
    assert abs(p.phrase_starts[1] - second.start * FPS) <= 4
    assert abs(p.phrase_starts[0] - f.words[0].start * FPS) <= 4
    assert p.phrase_ends[0] < p.phrase_starts[1] - 0.8 * FPS  # the 1.2 s pause between
    # a long real recording with pauses: several phrases, each starting after silence
    g = features_of("asterisk_demo-congrats.wav", None)
    q = g.prosody
    assert len(q.phrase_starts) >= 3
    for s in q.phrase_starts[1:]:
        assert np.all(g.vad[max(0, s - 5) : s - 1] < 0.5)


def test_speaker_normalisation_makes_voices_comparable(samples):
    """A deep and a high voice: different medians, similar semitone ranges."""
    a = features_of("sonic_talk_male_law_10s.wav", None).prosody
    b = features_of("echomimic_en_girl.wav", None).prosody
    assert a.f0_median < 0.85 * b.f0_median
    for p in (a, b):
        sd = float(p.semitones[p.f0 > 0].std())
        assert 1.0 < sd < 6.0
        assert abs(float(np.median(p.semitones[p.f0 > 0]))) < 0.6
