"""Mouth channels from audio: visemes with coarticulation, energy, closures, silence.

Pipeline (all at video frame rate, all global: lip motion never depends on segments):
1. Dominance-weighted targets (Cohen-Massaro style): each viseme's soft activation is
   spread in time with an asymmetric kernel (anticipation ~100 ms before its onset, a
   slower release after), multiplied by the class's dominance, and the mouth target is the
   dominance-weighted mean of the class targets. Closures (PP, FF) dominate so they are
   reached even between open vowels.
2. Loudness modulates, it does not drive: the viseme target is scaled by 0.90 (soft) ..
   1.06 (loud) by the phrase's loudness, and by a +-18 % per-vowel spread. On a phone-loop
   track a share of the opening follows the RMS only as far as the phones miss the
   syllable rhythm (phone_rhythm_share). Only with no phone activity at all does energy
   drive the opening directly.
3. Silence: a smoothed voice-activity gate closes the lips during pauses.
4. Hard constraints from timed phones: at every bilabial (P, B, M) the lips close fully for
   at least the frame at the phone's centre (a smooth ~70 ms notch around it); stressed
   vowels get a minimum, boosted opening.
"""

from __future__ import annotations

import numpy as np

from core.audio.visemes import BILABIALS, VOWELS
from core.motion import visemes as vz
from core.types import AudioFeatures

ANTICIPATION_S = 0.10
RELEASE_S = 0.07
ARTICULATION = 1.3
"""Global gain on the viseme openings. The table's vowels are on the careful side (aa = 0.11
face heights, ~13 mm); real conversational "aa" opens 15-25 mm, and an under-driven mouth
reads as mumbling and makes a closed rest hard to tell from speech (measured: mouth-rest
ratio 0.35 on a teeth-showing portrait at gain 1.0)."""


def smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge padding (no leakage of zeros at the ends)."""
    if sigma_frames <= 0 or x.shape[0] < 2:
        return x.astype(np.float64)
    r = int(np.ceil(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma_frames) ** 2)
    k /= k.sum()
    pad = [(r, r)] + [(0, 0)] * (x.ndim - 1)
    xp = np.pad(x.astype(np.float64), pad, mode="edge")
    if x.ndim == 1:
        return np.convolve(xp, k, mode="valid")
    return np.stack([np.convolve(xp[:, j], k, mode="valid") for j in range(x.shape[1])], 1)


def asym_spread(w: np.ndarray, fps: float) -> np.ndarray:
    """Spread activations [n,V] in time: exponential look-ahead (anticipation) and a slower
    carry-over (release); the max of both keeps the peak where the phone is."""
    a_ant = np.exp(-1.0 / max(ANTICIPATION_S * fps / 2.2, 1e-3))
    a_rel = np.exp(-1.0 / max(RELEASE_S * fps / 1.5, 1e-3))
    n = w.shape[0]
    fwd = w.astype(np.float64).copy()
    bwd = fwd.copy()
    for i in range(1, n):  # carry-over (release): decays after the phone
        np.maximum(fwd[i], fwd[i - 1] * a_rel, out=fwd[i])
    for i in range(n - 2, -1, -1):  # anticipation: rises before the phone
        np.maximum(bwd[i], bwd[i + 1] * a_ant, out=bwd[i])
    return np.maximum(fwd, bwd)


LOUD_MIN, LOUD_MAX = 0.9, 1.06
"""Loudness modulation of the viseme opening. At 0.75-1.15 (with the energy share below) the
mouth followed the loudness envelope: band-passed lip-sync r 0.68-0.80 on the VASA-1 / EMO
inputs (`main.py bench quality`), where the peers' own videos give 0.28-0.43."""
SYLLABLE_SPREAD = 0.18
"""Per-vowel opening factor 1 +- this (uniform, seeded by the vowel's time): real speakers
open the same vowel differently from one syllable to the next; without it every "aa" of a
clip was the same height, scaled only by loudness."""
ENERGY_OPEN = 0.07 * ARTICULATION  # opening (face-height units) at normal loudness, energy path
ENERGY_SHARE_UNALIGNED = 0.45
"""Share of the opening that follows energy when phones come from the phone loop. Measured
(hallo_3.jpg, 256 px, `main.py evaluate`): echomimic_en / echomimic_en_girl give lip-sync
r 0.41 / 0.47 and z 2.8 / 3.0 at 0.35 (z under the evaluator's 3: the noisy phone timing
loses the sync), r 0.49 / 0.51 and z 3.9 / 3.4 at 0.45, r 0.53 / 0.58 at 0.55; the old
energy-led mouth gave r 0.61 / 0.63 (real speakers 0.15-0.45). With the Face Mesh tracker and
the band-passed r of `bench quality`, 0.45 gave r_bp 0.68-0.80 on the peers' inputs (peers
0.28-0.43). Lower shares do lower it (vasa-1_10: 0.54 at 0.12, 0.61 at 0.25, 0.68 at 0.35) but
lose the sync where the phone loop is noisy (echomimic_a+echomimic_en z 1.1 / 2.2 / 2.7, 3.5
at 0.45): the share stays until the unaligned phone timing is better."""


LOUD_SMOOTH_S = 0.25
"""Loudness for the gain is smoothed over ~0.25 s (the phrase's level, not the syllable's)."""
GATE_HOLD_S = 0.1
"""The silence gate holds over +-0.1 s: the dip between two syllables is not a pause (the
mouth closed a little at each, pumping with the envelope); pauses of ~0.3 s still close it."""
GATE_FLOOR = 0.08
ENERGY_SMOOTH_S = 0.0
"""Smoothing of the energy share's RMS (0: frame level; smoothing it lost echomimic's sync)."""


def loudness_gain(e: np.ndarray) -> np.ndarray:
    """Opening multiplier from smoothed normalised RMS: LOUD_MIN at a soft voice (<= 0.2),
    LOUD_MAX at the clip's loud level (>= 1)."""
    return LOUD_MIN + (LOUD_MAX - LOUD_MIN) * np.clip((e - 0.2) / 0.8, 0, 1)


def _frame_of(t: float, fps: float, n: int) -> int:
    return int(min(max(np.floor(t * fps), 0), n - 1))


def mouth_channels(features: AudioFeatures) -> dict[str, np.ndarray]:
    """mouth_open, mouth_width, jaw [n] (face-height units / relative width)."""
    n, fps = features.n_frames, float(features.fps)
    if n == 0:
        z = np.zeros(0)
        return {"mouth_open": z, "mouth_width": z.copy(), "jaw": z.copy()}

    w = np.asarray(features.viseme_weights, dtype=np.float64)
    names = vz.viseme_names()
    if w.ndim != 2 or w.shape[0] != n:
        w = np.zeros((n, len(names)))
        w[:, 0] = 1.0
    names = names[: w.shape[1]] + ["sil"] * max(0, w.shape[1] - len(names))
    t_open, t_width, dom = vz.target_arrays(names)
    t_open = t_open * ARTICULATION

    spread = asym_spread(w, fps) * dom[None]
    denom = np.maximum(spread.sum(1), 1e-6)
    open_t = spread @ t_open / denom
    width_t = spread @ t_width / denom

    # energy: smoothed RMS, ~1 at normal speech level
    rms = np.nan_to_num(np.asarray(features.rms, dtype=np.float64)[:n])
    e = smooth(np.clip(rms, 0, 2.0), 0.04 * fps)
    speech_w = 1.0 - w[:, 0]
    has_visemes = speech_w.sum() > 0.5  # any phone activity at all
    if has_visemes:
        # The phone/viseme target is the primary driver (real mouths open by phoneme);
        # loudness only modulates it, 0.90 (soft) .. 1.06 (loud), as a louder voice opens the
        # jaw a little more. An energy-driven opening would make the mouth pump with the
        # loudness envelope (band-passed lip-sync r 0.75-0.83 where real speakers give 0.15-0.45).
        # the loudness of the phrase (~0.25 s), not of each syllable: a louder voice opens
        # the jaw more, but a syllable-rate gain pumps the mouth with the envelope
        open_ = open_t * loudness_gain(smooth(e, LOUD_SMOOTH_S * fps)) * _syllable_gain(features, n, fps)
        if not features.aligned:
            # free phone-loop decoding is noisy (wrong classes, shifted times): a share of
            # the opening follows the voice's energy, which is always right about *when*;
            # how large a share depends on how well this clip's phone track already keeps
            # the syllable rhythm (see phone_rhythm_share)
            share = phone_rhythm_share(open_t, e, fps)
            e_s = smooth(e, ENERGY_SMOOTH_S * fps) if ENERGY_SMOOTH_S > 0 else e
            open_ = (1 - share) * open_ + share * ENERGY_OPEN * np.clip(e_s - 0.1, 0, 1.3)
        # fallback where the phone track says silence but the voice is there
        open_ = np.maximum(open_, 0.035 * np.clip(e - 0.15, 0, 1.2) * (1 - speech_w))
    else:
        open_ = 0.075 * np.clip(e - 0.05, 0, 1.3)
        width_t = np.zeros(n)

    # silence gate from voice activity (and energy: vad can lag a trailing breath)
    vad = np.nan_to_num(np.asarray(features.vad, dtype=np.float64)[:n])
    # VAD lags speech onsets by a few frames (measured: 0.2-0.3 on the loud "He" of "Hello",
    # rms 1.1-1.2), so clearly voiced energy opens the gate too; quiet breaths and room noise
    # (normalised rms well under 0.35) do not.
    voiced = np.maximum(np.clip((vad - 0.3) / 0.4, 0, 1), np.clip((e - 0.35) / 0.35, 0, 1))
    if GATE_HOLD_S > 0:
        voiced = _hold(voiced, int(round(GATE_HOLD_S * fps)))
    gate = smooth(voiced, 0.05 * fps)
    gate *= np.clip(e / GATE_FLOOR, 0, 1)
    open_ *= gate
    width_t *= gate

    # stressed vowels: visibly open (minimum and a boost)
    boost = np.zeros(n)
    for ph in features.phones:
        lab = ph.label.upper()
        if lab in VOWELS and ph.stressed:
            a, b = _frame_of(ph.start, fps, n), _frame_of(ph.end, fps, n)
            boost[a : b + 1] = 1.0
    boost = smooth(boost, 0.03 * fps)
    open_ = np.maximum(open_ * (1 + 0.25 * boost), 0.05 * boost * np.clip(gate * 2, 0, 1))

    # bilabial closures: a notch reaching exactly 0 at the frames around the phone centre
    close = _closure_notch(features, n, fps)
    open_ *= 1.0 - close
    width_t = width_t * (1 - close) - 0.02 * close  # lips pressed: slightly narrower

    jaw = 0.55 * open_ + 0.012 * np.clip(e, 0, 1.5) * gate
    return {"mouth_open": open_, "mouth_width": width_t, "jaw": jaw}


SHARE_RHYTHM_GOOD, SHARE_RHYTHM_POOR = 0.45, 0.2
"""Syllable-rhythm agreement (1-8 Hz r of the phone-led opening with the smoothed RMS) at
which the phone track needs no energy share / the full ENERGY_SHARE_UNALIGNED. Measured on
the phone loop: vasa-1_10, vasa-1_5 and emo_talk_mola's tracks agree at 0.45-0.55 alone
(adding the 0.45 share gave lip-sync r_bp 0.75-0.8, the peers 0.28-0.43), echomimic_en's at
~0.2 (without the share its lip-sync z fell from 3.5 to under 1: the phones are mistimed)."""


def _rhythm_r(a: np.ndarray, b: np.ndarray, fps: float, max_lag: int = 2) -> float:
    """Best Pearson r within +-max_lag frames of two signals band-passed to ~1-8 Hz
    (a difference of Gaussians: cheap, no filter design, zero phase)."""
    s_hi, s_lo = fps / (2 * np.pi * 8.0), fps / (2 * np.pi * 1.0)
    x = smooth(a, s_hi) - smooth(a, s_lo)
    y = smooth(b, s_hi) - smooth(b, s_lo)
    n, best = len(x), -1.0
    for k in range(-max_lag, max_lag + 1):
        u, v = (x[k:], y[: n - k]) if k >= 0 else (x[: n + k], y[-k:])
        if len(u) < 16 or u.std() < 1e-12 or v.std() < 1e-12:
            continue
        best = max(best, float(np.corrcoef(u, v)[0, 1]))
    return best


def phone_rhythm_share(open_t: np.ndarray, e: np.ndarray, fps: float) -> float:
    """Share of the opening that follows energy on an unaligned (phone-loop) track: the
    full ENERGY_SHARE_UNALIGNED where the phones miss the syllable rhythm, none where they
    already keep it (then energy would only slave the mouth to loudness). A clip too short
    to tell gets the full share."""
    if len(open_t) < 3 * fps:
        return ENERGY_SHARE_UNALIGNED
    r = _rhythm_r(open_t, e, fps)
    t = np.clip((SHARE_RHYTHM_GOOD - r) / (SHARE_RHYTHM_GOOD - SHARE_RHYTHM_POOR), 0, 1)
    return float(ENERGY_SHARE_UNALIGNED * t)


def _hold(x: np.ndarray, r: int) -> np.ndarray:
    """Running max over +-r frames."""
    if r <= 0:
        return x
    xp = np.pad(x, r, mode="edge")
    return np.max(np.lib.stride_tricks.sliding_window_view(xp, 2 * r + 1), axis=1)


def _syllable_gain(features: AudioFeatures, n: int, fps: float) -> np.ndarray:
    """[n] opening factor: 1 +- SYLLABLE_SPREAD per vowel, smoothed over ~40 ms; 1 outside
    vowels. Deterministic: each vowel's draw is seeded by its start time."""
    g = np.ones(n)
    for ph in features.phones:
        if ph.label.upper() in VOWELS:
            a, b = _frame_of(ph.start, fps, n), _frame_of(ph.end, fps, n)
            rng = np.random.default_rng(int(round(ph.start * 1000)) & 0xFFFFFFFF)
            g[a : b + 1] = 1.0 + SYLLABLE_SPREAD * (2.0 * rng.random() - 1.0)
    return smooth(g, 0.04 * fps)


def _closure_notch(features: AudioFeatures, n: int, fps: float) -> np.ndarray:
    """[n] in [0,1]: 1 at the frames of each bilabial's centre (and its whole span when
    it covers frames), falling to 0 with a raised cosine over ~70 ms on each side."""
    c = np.zeros(n)
    ramp = max(1.0, 0.07 * fps)
    t = np.arange(n, dtype=np.float64)
    spans = []
    for ph in features.phones:
        if ph.label.upper() in BILABIALS:
            spans.append((ph.start, ph.end))
    if not spans:  # no timed phones: use the hard viseme track (PP = index 1)
        vis = np.asarray(features.visemes)
        idx = np.flatnonzero(vis == 1) if vis.shape[0] == n else []
        spans = [(i / fps, (i + 1) / fps) for i in idx]
    for start, end in spans:
        mid = 0.5 * (start + end)
        core_a = _frame_of(max(start, mid - 0.5 / fps), fps, n)
        core_b = _frame_of(min(end, mid + 0.5 / fps) - 1e-6, fps, n)
        core_a, core_b = min(core_a, _frame_of(mid, fps, n)), max(core_b, _frame_of(mid, fps, n))
        d = np.where(t < core_a, core_a - t, np.where(t > core_b, t - core_b, 0.0))
        v = np.where(
            d <= 0, 1.0, np.where(d < ramp + 1, 0.5 + 0.5 * np.cos(np.pi * d / (ramp + 1)), 0.0)
        )
        np.maximum(c, v, out=c)
    return c
