"""The mouth plan (core.motion.mouth) on real speech: openings peak on vowel nuclei, open
vowels open wider than close vowels and consonants, loudness modulates without driving,
and the lips stay closed in pauses, also when the pause holds noise or music."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio.visemes import BILABIALS, VOWELS
from core.evaluate import metrics as M
from core.motion.mouth import mouth_channels
from core.types import Waveform
from tests.core.test_motion_support import (
    BILABIAL_SENTENCE,
    SAMPLES,
    espeak_features,
    features_of,
)

FPS = 25.0
SENTENCE = "You are currently the only person in this conference."
OPEN_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY"}
CLOSE_VOWELS = {"IY", "IH", "UW", "UH"}


@pytest.fixture(scope="module")
def aligned(samples):
    return features_of("asterisk_conf-onlyperson.wav", SENTENCE)


def _centre(ph) -> int:
    return int(0.5 * (ph.start + ph.end) * FPS)


def test_opening_peaks_sit_on_vowel_nuclei(aligned):
    """Every clear local maximum of the opening lies on a vowel (+-1 frame: the jaw leads
    the sound slightly), and almost every vowel of 3+ frames holds one."""
    o = mouth_channels(aligned)["mouth_open"]
    top = o.max()
    peaks = [i for i in range(1, len(o) - 1)
             if o[i] >= o[i - 1] and o[i] > o[i + 1] and o[i] > 0.3 * top]
    assert len(peaks) >= 8
    vowels = [p for p in aligned.phones if p.label in VOWELS]

    def on_vowel(i: int) -> bool:
        return any(p.start * FPS - 1.5 <= i + 0.5 <= p.end * FPS + 1.5 for p in vowels)

    assert sum(map(on_vowel, peaks)) >= 0.85 * len(peaks), peaks
    long_vowels = [p for p in vowels if (p.end - p.start) * FPS >= 3]
    held = [p for p in long_vowels
            if any(p.start * FPS - 1.5 <= i + 0.5 <= p.end * FPS + 1.5 for i in peaks)]
    assert len(held) >= 0.7 * len(long_vowels)


def test_open_vowels_open_wider_than_close_vowels_and_consonants(aligned, samples):
    """Jaw opening by phoneme class: open vowels (aa, ae, ah, ao) above close and rounded
    vowels (iy, ih, uw) and above consonants, on two aligned real clips pooled."""
    clips = [aligned, features_of("asterisk_tt-weasels.wav",
                                  "Weasels have eaten our phone system.")]
    open_v, close_v, cons = [], [], []
    for f in clips:
        o = mouth_channels(f)["mouth_open"]
        for ph in f.phones:
            v = o[min(_centre(ph), len(o) - 1)]
            if ph.label in OPEN_VOWELS:
                open_v.append(v)
            elif ph.label in CLOSE_VOWELS:
                close_v.append(v)
            elif ph.label not in VOWELS and ph.label != "SIL":
                cons.append(v)
    assert len(open_v) >= 4 and len(close_v) >= 3 and len(cons) >= 10
    assert np.mean(open_v) > 1.25 * np.mean(close_v)
    assert np.mean(open_v) > 1.5 * np.mean(cons)


def test_widest_openings_reach_a_real_jaw_drop(aligned):
    """Open vowels reach ~0.15-0.3 face heights (VASA-1's widest: 0.40-0.48 IOD, ~0.25 face
    heights), not the timid ~0.1 of a mumbling mouth, and never an absurd gape."""
    o = mouth_channels(aligned)["mouth_open"]
    assert 0.15 < o.max() < 0.32


@pytest.mark.parametrize("wav", ["hallo_2.wav", "sonic_talk_male_law_10s.wav"])
def test_loudness_modulates_but_does_not_drive(samples, wav):
    """On real speech without a transcript (the phone loop), the opening keeps the voice's
    syllable rhythm (sync z >= 3 against the audio, as core.evaluate computes it), yet it
    is not slaved to the loudness envelope: its band-passed r sits in the range of real
    speakers and published generators (0.15-0.50; one jaw cycle per syllable read 0.6-0.7,
    a loudness-driven mouth ~0.8), and its raw correlation with the envelope stays low.
    (Was: r_bp < 0.65 on hallo_2 alone; now the real range, on two voices.)"""
    import core.audio

    wave = core.audio.load(SAMPLES / "audio" / wav)
    f = features_of(wav, None)
    o = mouth_channels(f)["mouth_open"]
    e = M.frame_energy(wave.samples, wave.sample_rate, FPS, f.n_frames)
    sync = M.lip_sync(o, e, FPS)
    assert sync["z"] is not None and sync["z"] >= 3, sync
    assert 0.15 <= M.lip_sync_bp(o, e, FPS) <= 0.50
    assert np.corrcoef(o, e)[0, 1] < 0.7


@pytest.mark.parametrize("wav", ["hallo_1.wav", "echomimic_en.wav", "hallo_2.wav"])
def test_phone_loop_plan_aims_band_passed_r_at_the_middle_of_the_range(samples, wav):
    """The phone-loop plan's band-passed lip-sync r, read as core.evaluate reads it (raw
    RMS, 1-8 Hz), lands near blend()'s target (the middle of 0.35-0.50) on voices that
    left it at the edges: hallo_1 read 0.55 (the mouth slaved to loudness: a short clip
    whose only candidates above the fixed z bar followed the loudness), echomimic_en 0.35
    (no candidate tied the mouth to the voice enough). The syllable rhythm stays above
    chance (z >= the evaluator's 3)."""
    import core.audio
    from core.motion.mouth_blend import LOUDNESS_R

    wave = core.audio.load(SAMPLES / "audio" / wav)
    f = features_of(wav, None)
    assert not f.aligned
    o = mouth_channels(f)["mouth_open"]
    e = M.frame_energy(wave.samples, wave.sample_rate, FPS, f.n_frames)
    r_bp = M.lip_sync_bp(o, e, FPS)
    assert abs(r_bp - LOUDNESS_R) <= 0.06, r_bp
    assert 0.37 <= r_bp <= 0.49, r_bp  # inside VASA-1's 0.35-0.53 with room for the render
    z = M.lip_sync(o, e, FPS)["z"]
    assert z is not None and z >= 3.0, z


def test_blend_choice_prefers_sync_then_relaxes_it_to_reach_the_target_r():
    """choose(): a well-synced candidate on target wins over a closer, weakly synced one; a
    short clip whose well-synced candidates are all tied to the loudness (hallo_1's case)
    gets the on-target one above the floor instead; below the floor nothing is chosen
    while anything reaches it, and with nothing reaching it the best-synced tier is used."""
    from core.motion.mouth_blend import BLEND_Z_FLOOR, BLEND_Z_GOOD, LOUDNESS_R, choose

    t = LOUDNESS_R
    long_clip = [(BLEND_Z_GOOD + 3, t + 0.03, "synced"), (BLEND_Z_FLOOR + 0.1, t, "weak"),
                 (BLEND_Z_GOOD + 6, t + 0.2, "loud")]
    assert choose(long_clip) == "synced"
    short_clip = [(BLEND_Z_GOOD + 0.5, t + 0.1, "loud"), (BLEND_Z_FLOOR + 0.1, t + 0.02, "mid"),
                  (BLEND_Z_FLOOR - 1.0, t, "unsynced")]
    assert choose(short_clip) == "mid"
    hopeless = [(2.0, t + 0.2, "best z"), (1.0, t, "on target")]
    assert choose(hopeless) == "best z"


@pytest.fixture(scope="module")
def hiatus(tmp_path_factory):
    """espeak-ng speech, aligned, full of words with two vowels side by side (no consonant
    between: no-ah, cha-os, are-a, le-o, ide-a)."""
    return espeak_features("Noah knew the chaos of the area, and Leo saw the idea.",
                           str(tmp_path_factory.mktemp("hiatus")))


TONGUE = {"T", "D", "N", "L", "S", "Z", "TH", "DH", "K", "G", "R"}


def test_jaw_stays_open_between_vowels_of_a_word(hiatus):
    """Co-articulation: between two vowels of one word with no consonant between them the
    jaw glides from one opening to the next without closing; across a tongue consonant
    (t d n l s z th k g r: the tongue does the work) it stays fairly open (median trough
    above 70 % of the smaller vowel; one cycle per syllable dipped to ~0.66 here)."""
    o = mouth_channels(hiatus)["mouth_open"]
    ph = hiatus.phones
    glides, tongue = [], []
    for a, b in zip(ph, ph[1:], strict=False):
        if a.label in VOWELS and b.label in VOWELS and a.word == b.word:
            ca, cb = _centre(a), _centre(b)
            glides.append(o[ca : cb + 1].min() / min(o[ca], o[cb]))
    for a, c, b in zip(ph, ph[1:], ph[2:], strict=False):
        if a.label in VOWELS and b.label in VOWELS and c.label in TONGUE:
            ca, cb = _centre(a), _centre(b)
            tongue.append(o[ca : cb + 1].min() / min(o[ca], o[cb]))
    assert len(glides) >= 3, [(p.label, p.word) for p in ph]
    assert min(glides) > 0.9, glides
    assert len(tongue) >= 4 and np.median(tongue) > 0.7, tongue


def test_bilabials_still_close_the_lips(tmp_path):
    """p/b/m close the lips fully at the phone's centre (the dips of the tongue consonants
    are shallow now; the bilabial closure is not)."""
    f = espeak_features(BILABIAL_SENTENCE, str(tmp_path))
    o = mouth_channels(f)["mouth_open"]
    bil = [p for p in f.phones if p.label in BILABIALS]
    assert len(bil) >= 8
    assert all(o[min(_centre(p), len(o) - 1)] <= 0.02 * o.max() for p in bil), \
        [(p.label, round(float(o[_centre(p)]), 3)) for p in bil]
    assert o.max() > 0.12


def _with_pause(noise: str) -> tuple[object, slice]:
    """A real prompt, then 2 s of `noise` ("silence", "hiss", "music") as loud as the
    voice's average (about half its syllable peaks: a loud background, like the music under
    emo_talk_jocker), then the prompt again: features, and the frames of the pause's core."""
    import core.audio

    x = core.audio.load(SAMPLES / "audio" / "asterisk_tt-weasels.wav").samples
    sr = 16000
    n = 2 * sr
    rng = np.random.default_rng(0)
    t = np.arange(n) / sr
    level = float(np.sqrt(np.mean(x**2)))
    if noise == "hiss":
        pause = rng.standard_normal(n) * level
    elif noise == "music":  # a chord with a slow beat: tonal, loud enough to read as sound
        chord = sum(np.sin(2 * np.pi * f0 * t) for f0 in (220.0, 277.2, 329.6))
        pause = level * chord * (0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t) ** 2)
    else:
        pause = np.zeros(n)
    y = np.concatenate([x, pause, x]).astype(np.float32)
    feats = core.audio.analyze(Waveform(y, noise), FPS, None)
    a = int((len(x) / sr + 0.3) * FPS)
    b = int((len(x) / sr + 1.7) * FPS)
    return feats, slice(a, b)


@pytest.mark.parametrize("noise", ["silence", "hiss", "music"])
def test_lips_closed_in_pauses_even_with_noise_or_music(samples, noise):
    """Voice activity leads the silence gate: a pause closes the lips fully, even when it
    holds sound as loud as the voice's average that is not speech (an energy-led gate
    opened the mouth to 4-9 % of its widest there)."""
    feats, pause = _with_pause(noise)
    o = mouth_channels(feats)["mouth_open"]
    assert o.max() > 0.08  # it speaks around the pause
    assert o[pause].max() < 0.02 * o.max(), (noise, o[pause].round(3))
