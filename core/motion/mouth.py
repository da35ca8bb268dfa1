"""Mouth channels from audio: one jaw cycle per syllable, shaped by phones, gated by voice.

Why syllables: speech is a train of jaw cycles, one per syllable (the mouth opens into the
vowel nucleus and closes toward the consonants between), and a viewer reads lip-sync from
that rhythm. A mouth driven by loudness pumps with the volume (band-passed lip-sync r
~0.8 where real speakers and published generators give 0.35-0.53); a mouth driven only by
free phone decoding keeps the wrong rhythm wherever the phones are mistimed.

Pipeline (all at video frame rate, all global: lip motion never depends on segments):
1. Syllables. With a forced alignment, every vowel is a syllable, its peak at the energy
   maximum inside the vowel (the acoustic nucleus). Without one, the syllable nuclei of the
   voice's intensity contour (core.audio.prosody: voiced peaks, robust in time; plus energy
   peaks inside detected speech where no pitch was heard) place the syllables and the
   phone loop only names their vowel (when a decoded vowel overlaps the nucleus); free
   phone decoding is too noisy to time them.
2. Amplitude per syllable: the vowel's jaw opening (open vowels large, close and rounded
   ones small; core.motion.visemes), reduced / unstressed vowels smaller (vowel_gain),
   times its prominence (0.95 .. 1.08), the phrase's loudness (0.9 .. 1.06) and a +-20 %
   draw: vowel and stress set the opening, loudness barely modulates it.
3. The jaw: cycles by cosine interpolation from each nucleus peak (~1 frame before the
   acoustic peak: the jaw leads the sound) down to a trough as deep as the consonants
   between need (DIP: p/b/m close, f/v nearly, tongue consonants a third to a half,
   vowel to vowel barely) and up to the next; runs open from / close to rest over ~0.15 s.
   The phone-led track (jaw_track) holds the vowels' height across the consonants, pulled
   down by the same dips. Half and half on an alignment; on a phone loop, blend() picks
   the share of cycles, the dip depth, the per-syllable draw and how far loudness
   modulates the opening so that the finished opening keeps the voice's rhythm (lip-sync
   z) and its band-passed r against the loudness lands mid-range (mouth_blend.LOUDNESS_R), both as
   core.evaluate measures them.
4. Silence: a gate from voice activity closes the lips in pauses; energy opens it only
   next to detected speech (silero VAD lags onsets), and only relative to the clip's own
   noise floor, so music, breaths and room noise never open the mouth.
5. Hard constraints from timed phones: at every bilabial (P, B, M) the lips close fully for
   at least the frame at the phone's centre (a smooth ~70 ms notch); f/v narrow the gap.
Mouth width comes from the dominance-weighted viseme targets (Cohen-Massaro style
coarticulation: rounding and spreading anticipate their phone by ~100 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.audio.visemes import BILABIALS, VOWELS, viseme_of
from core.motion import visemes as vz
from core.motion.features_memo import by_features
from core.motion.mouth_blend import blend, loudness_pump
from core.types import AudioFeatures

ANTICIPATION_S = 0.10
RELEASE_S = 0.07
LEAD_S = 0.03
"""The jaw peaks this long before the acoustic nucleus (articulation leads the sound; ~1
frame at 25 fps)."""
ARTICULATION = 1.35
"""Global gain on the table's openings (core.motion.visemes, calibrated against VASA-1's
widest openings: 0.40-0.48 IOD in the evaluator's reading)."""


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
"""Phrase-loudness modulation of the opening (a louder voice opens the jaw a little more).
At 0.75-1.15 with an energy share the mouth followed the loudness envelope (band-passed
lip-sync r 0.68-0.80 on the VASA-1 / EMO inputs, the peers 0.35-0.53)."""
LOUD_SMOOTH_S = 0.25
"""Loudness for the gain is smoothed over ~0.25 s (the phrase's level, not the syllable's)."""
PROM_MIN, PROM_MAX = 0.95, 1.08
"""Opening factor of the least / most prominent syllable (prosody's prominence 0..1:
loudness, pitch height and excursion); a stressed vowel of an alignment counts 0.8."""
SYLLABLE_SPREAD = 0.2
"""Per-syllable opening factor 1 +- this (seeded by the syllable's time): real speakers
open the same vowel differently from one syllable to the next."""
LOOP_VOWEL_TRUST = 0.5
"""How far a nucleus's opening follows the vowel the phone loop decoded there (the rest is
GENERIC_VOWEL's): the loop's vowel is a guess."""
GENERIC_VOWEL = "E"
"""Vowel assumed for a nucleus whose vowel the phone loop did not name (a mid opening)."""
TROUGH = 0.4
"""Opening between two syllables as a share of the smaller peak where no phones are given
(jaw_cycles without phones); closer syllables dip less (the jaw cannot close in 80 ms)."""
VOWEL_DIP = 0.1
"""Dip between two syllables with only vowels between them (co-articulation: the jaw glides
from one vowel to the next without closing)."""
RUN_GAP_S = 0.8
"""Syllables further apart than this (or with a pause between) are separate runs: the mouth
closes between them."""
PEAK_HOLD_S = 0.06
"""A syllable's peak opening is held this long (at most a quarter of the distance to its
neighbours): vowels are held, not touched."""
EDGE_S = 0.15
"""A run of syllables opens from rest / closes to rest over this long."""
CYCLE_SHARE_ALIGNED = 0.5
"""Share of the opening that follows the syllable cycles on a forced alignment; the rest
follows the phones' own viseme targets (dominance-weighted over their spans), which hold
each vowel's opening over its length."""
GATE_HOLD_S = 0.1
"""The silence gate holds over +-0.1 s: the dip between two syllables is not a pause;
pauses of ~0.3 s still close the lips."""
GATE_FLOOR = 0.08
ONSET_REACH_S = 0.3
"""Energy may open the gate only this close to frames the VAD calls speech (it lags
onsets by a few frames); farther away loud sound is music, laughter or noise."""


@dataclass(frozen=True)
class Syllable:
    """One jaw cycle: peak time, opening, and the vowel's span (s) that bounds its troughs."""

    t: float
    amp: float
    lo: float
    hi: float


def loudness_gain(e: np.ndarray) -> np.ndarray:
    """Opening multiplier from smoothed normalised RMS: LOUD_MIN at a soft voice (<= 0.2),
    LOUD_MAX at the clip's loud level (>= 1)."""
    return LOUD_MIN + (LOUD_MAX - LOUD_MIN) * np.clip((e - 0.2) / 0.8, 0, 1)


def _frame_of(t: float, fps: float, n: int) -> int:
    return int(min(max(np.floor(t * fps), 0), n - 1))


@by_features
def mouth_channels(features: AudioFeatures) -> dict[str, np.ndarray]:
    """mouth_open, mouth_width, jaw [n] (face-height units / relative width). A pure
    function of the speech, remembered across re-plans of it (core.motion.features_memo)."""
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
    spread = asym_spread(w, fps) * dom[None]
    denom = np.maximum(spread.sum(1), 1e-6)
    width_t = spread @ t_width / denom

    rms = np.nan_to_num(np.asarray(features.rms, dtype=np.float64)[:n])
    e = smooth(np.clip(rms, 0, 2.0), 0.04 * fps)
    gate = silence_gate(features, e)
    # labiodentals: the lower lip tucks under the teeth, the gap nearly closes;
    # bilabial closures: a notch reaching exactly 0 at the frames around the phone centre
    ff = _notch(features, n, fps, {"F", "V"}, ramp_s=0.05)
    close = _notch(features, n, fps, BILABIALS)

    def finish(x: np.ndarray) -> np.ndarray:
        x = x * gate
        x = x * (1 - ff) + np.minimum(x, vz.TARGETS["FF"][0]) * ff
        return x * (1.0 - close)

    syl = syllables(features, e)
    if syl:  # (syllables exist whenever a vowel phone does)
        loud = loudness_gain(smooth(e, LOUD_SMOOTH_S * fps))
        phones = list(features.phones)
        pause = gate < 0.3
        per_vary: dict[float, tuple[list[Syllable], np.ndarray]] = {}

        def tracks(depth: float, vary: float = SYLLABLE_SPREAD
                   ) -> tuple[np.ndarray, np.ndarray]:
            """(syllable cycles, phone-led opening) with consonant dips scaled by `depth`
            and per-syllable draws of size `vary` (SYLLABLE_SPREAD)."""
            if vary not in per_vary:
                per_vary[vary] = (syl if vary == SYLLABLE_SPREAD else syllables(features, e, vary),
                                  loud * _vowel_gain_track(features, n, fps, vary))
            sy, gain = per_vary[vary]
            cyc = jaw_cycles(sy, n, fps, pause, phones, features.aligned, depth)
            return cyc, jaw_track(spread, names, t_open * ARTICULATION, fps, depth) * gain

        if features.aligned:
            cyc, ph = tracks(1.0)
            open_ = finish(CYCLE_SHARE_ALIGNED * cyc + (1 - CYCLE_SHARE_ALIGNED) * ph)
        else:
            open_ = blend(tracks, finish, rms, fps, pump=loudness_pump(e, gate))
    else:  # no vowel and no nucleus in speech: a small energy-led opening, gated
        open_ = finish(0.06 * np.clip(e - 0.1, 0, 1.3))
        width_t = np.zeros(n)
    width_t = width_t * gate * (1 - close) - 0.02 * close  # lips pressed: slightly narrower

    jaw = 0.55 * open_ + 0.012 * np.clip(e, 0, 1.5) * gate
    return {"mouth_open": open_, "mouth_width": width_t, "jaw": jaw}


# ---------------------------------------------------------------- phone-led jaw
def jaw_track(spread: np.ndarray, names: list[str], t_open: np.ndarray,
              fps: float, depth: float = 1.0) -> np.ndarray:
    """[n] phone-led opening: the vowels' jaw height held across the consonants between
    them, pulled down by each consonant's DIP (core.motion.visemes).

    Why not the weighted mean of every class's own opening: that dips to a consonant's
    small target at every t, d, n or s, one full open-close cycle per syllable that follows
    the loudness envelope (band-passed r 0.6-0.7 against the peers' 0.35-0.53). The jaw of a
    real speaker stays fairly open through tongue consonants and across vowel-to-vowel
    transitions; only p/b/m and f/v bring the lips together."""
    n = spread.shape[0]
    if n == 0:
        return np.zeros(0)
    is_vowel = np.array([nm not in vz.DIP for nm in names])
    dip = np.array([_deepen(vz.DIP.get(nm, 0.0), depth) for nm in names])
    vw = spread[:, is_vowel]
    vsum = vw.sum(1)
    total = np.maximum(spread.sum(1), 1e-6)
    have = vsum > 0.25 * total
    vopen = np.where(have, vw @ t_open[is_vowel] / np.maximum(vsum, 1e-6), 0.0)
    if have.any():
        idx = np.arange(n)
        level = np.interp(idx, idx[have], vopen[have])
    else:  # no vowel decoded at all: a mid opening the gate shapes
        level = np.full(n, vz.TARGETS["E"][0] * t_open.max() / max(vz.MAX_OPEN, 1e-9))
    d = (spread[:, ~is_vowel] @ dip[~is_vowel]) / total
    return smooth(level * (1.0 - d), 0.03 * fps)


# ---------------------------------------------------------------- silence
def silence_gate(features: AudioFeatures, e: np.ndarray) -> np.ndarray:
    """[n] 0..1: 1 while the voice speaks, 0 in pauses, smooth (~50 ms) in between.

    Voice activity leads. Energy opens the gate only next to VAD speech (onsets the VAD is
    late for, measured 0.2-0.3 on the loud "He" of "Hello") and only above the clip's
    noise floor: background music, breaths and room noise stay closed."""
    n, fps = len(e), float(features.fps)
    vad = np.nan_to_num(np.asarray(features.vad, dtype=np.float64)[:n])
    speech = vad >= 0.5
    floor = float(np.percentile(e[~speech], 50)) if (~speech).sum() >= 5 else 0.0
    on_level = max(0.35, 2.5 * floor)
    near = _hold(speech.astype(np.float64), int(round(ONSET_REACH_S * fps)))
    voiced = np.maximum(np.clip((vad - 0.3) / 0.4, 0, 1),
                        np.clip((e - on_level) / 0.35, 0, 1) * near)
    if GATE_HOLD_S > 0:
        voiced = _hold(voiced, int(round(GATE_HOLD_S * fps)))
    gate = smooth(voiced, 0.05 * fps)
    # near-silent stretches close even where the VAD hangs over; smoothed (~0.1 s) so the
    # dips between syllables do not pump the lips with the loudness envelope
    quiet = smooth(e, 0.1 * fps) - floor
    return gate * np.clip(quiet / GATE_FLOOR, 0, 1)


# ---------------------------------------------------------------- syllables
def _vowel_open(label: str) -> float:
    """Jaw opening of a vowel phone (its first part, for diphthongs) in face heights."""
    return vz.TARGETS[vz.viseme_names()[viseme_of(label)]][0] * ARTICULATION


def _nuclei(features: AudioFeatures, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times s, prominence 0..1) of syllable nuclei: prosody's voiced intensity peaks, plus
    peaks of the smoothed energy inside detected speech wherever prosody found none nearby
    (speech over loud music or noise, whispered or creaky voice: YIN hears no pitch there,
    measured voicing 0 through most of emo_talk_jocker's speech)."""
    fps = float(features.fps)
    pr = features.prosody
    t = np.zeros(0)
    p = np.zeros(0)
    if pr is not None and len(pr.nuclei):
        t = (np.asarray(pr.nuclei, np.float64) + 0.5) / fps
        p = np.asarray(pr.nucleus_prominence, np.float64)
    vad = np.nan_to_num(np.asarray(features.vad, dtype=np.float64)[: len(e)])
    et, ep = _energy_nuclei(e, vad >= 0.5, fps)
    if len(t):
        far = np.min(np.abs(et[:, None] - t[None, :]), axis=1) > ENERGY_NUCLEUS_GAP_S \
            if len(et) else np.zeros(0, bool)
        et, ep = et[far], ep[far]
    order = np.argsort(np.r_[t, et], kind="stable")
    return np.r_[t, et][order], np.r_[p, ep][order]


ENERGY_NUCLEUS_GAP_S = 0.12
"""An energy peak counts as a syllable of its own only this far from prosody's nuclei."""


def _energy_nuclei(e: np.ndarray, speech: np.ndarray, fps: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of the smoothed energy inside speech frames, >= 0.1 s apart, each rising at
    least 15 % above the dip before it (times s, prominence 0..1 from the peak's level)."""
    x = smooth(e, 0.03 * fps)
    n = len(x)
    if n < 3:
        return np.zeros(0), np.zeros(0)
    pk = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])) + 1
    keep: list[int] = []
    last = 0
    for q in pk:
        if not speech[q]:
            continue
        if x[q] - x[last : q + 1].min() < 0.15 * x[q]:
            continue
        if keep and q - keep[-1] < 0.1 * fps:
            if x[q] > x[keep[-1]]:
                keep[-1] = int(q)
            continue
        keep.append(int(q))
        last = int(q)
    if not keep:
        return np.zeros(0), np.zeros(0)
    k = np.asarray(keep)
    return (k + 0.5) / fps, np.clip(x[k] / 1.2, 0, 1)


def _draw(t: float, spread: float = SYLLABLE_SPREAD) -> float:
    """Deterministic per-syllable spread factor 1 +- spread, seeded by the syllable's time
    (the same syllable draws the same way at every spread: only the size changes)."""
    rng = np.random.default_rng(int(round(t * 1000)) & 0xFFFFFFFF)
    return 1.0 + spread * (2.0 * rng.random() - 1.0)


def syllables(features: AudioFeatures, e: np.ndarray,
              spread: float = SYLLABLE_SPREAD) -> list[Syllable]:
    """The syllables of the clip (see the module doc, steps 1-2), in time order; `spread`
    is the size of the per-syllable draw (SYLLABLE_SPREAD)."""
    n, fps = len(e), float(features.fps)
    nuc_t, nuc_p = _nuclei(features, e)
    loud = loudness_gain(smooth(e, LOUD_SMOOTH_S * fps))
    vowels = [p for p in features.phones if p.label.upper() in VOWELS and p.end > p.start]
    out: list[Syllable] = []

    def amp(open_v: float, prom: float, t: float) -> float:
        f = _frame_of(t, fps, n)
        return open_v * (PROM_MIN + (PROM_MAX - PROM_MIN) * prom) * loud[f] * _draw(t, spread)

    if features.aligned or len(nuc_t) == 0:  # no voiced nuclei: the vowels place them
        for ph in vowels:
            a, b = _frame_of(ph.start, fps, n), _frame_of(ph.end - 1e-6, fps, n)
            inside = (nuc_t >= ph.start - 0.5 / fps) & (nuc_t <= ph.end + 0.5 / fps)
            if inside.any():
                k = np.flatnonzero(inside)[np.argmax(nuc_p[inside])]
                t, prom = float(nuc_t[k]), float(nuc_p[k])
            else:
                t = (a + int(np.argmax(e[a : b + 1])) + 0.5) / fps
                prom = 0.5
            t = float(np.clip(t, ph.start, ph.end))
            if ph.stressed:
                prom = max(prom, 0.8)
            out.append(Syllable(t - LEAD_S, amp(_vowel_open(ph.label), prom, t),
                                ph.start, ph.end))
        return out
    generic = vz.TARGETS[GENERIC_VOWEL][0] * ARTICULATION
    for t, prom in zip(nuc_t, nuc_p, strict=True):
        near = [p for p in vowels if p.start - 0.04 <= t <= p.end + 0.04]
        if near:
            ph = min(near, key=lambda p: abs(0.5 * (p.start + p.end) - t))
            open_v = LOOP_VOWEL_TRUST * _vowel_open(ph.label) + (1 - LOOP_VOWEL_TRUST) * generic
        else:
            open_v = generic
        out.append(Syllable(float(t) - LEAD_S, amp(open_v, float(prom), float(t)),
                            float(t) - 0.04, float(t) + 0.04))
    return out


def _deepen(dip: float, depth: float) -> float:
    """A consonant's dip scaled by `depth` (tongue consonants only: p/b/m and f/v, the
    dips of 0.85 or more, keep theirs), at most 0.9."""
    return dip if dip >= 0.85 else min(dip * depth, 0.9)


def dip_between(phones: list, a: float, b: float, aligned: bool = True,
                depth: float = 1.0) -> float:
    """How far the jaw closes between two syllable peaks at times a < b (s), from the
    DIP (core.motion.visemes) of the phones between them (VOWEL_DIP for a vowel: the jaw
    stays open across vowel-to-vowel transitions). On an alignment the phones between two
    vowels are the consonant cluster: its largest dip. On the phone loop they are a guess,
    and the stretch between two loud nuclei often holds an unstressed syllable: the
    duration-weighted mean. DIP_UNKNOWN where no phone covers the stretch."""
    names = vz.viseme_names()
    d, w = [], []
    for p in phones:
        ov = min(p.end, b) - max(p.start, a)
        if ov > 0:
            d.append(_deepen(vz.DIP.get(names[viseme_of(p.label)], VOWEL_DIP), depth))
            w.append(ov)
    if not d:
        return _deepen(vz.DIP_UNKNOWN, depth)
    if aligned:
        return max(d)
    return float(np.average(d, weights=w))


def jaw_cycles(syl: list[Syllable], n: int, fps: float,
               pause: np.ndarray | None = None, phones: list | None = None,
               aligned: bool = True, depth: float = 1.0) -> np.ndarray:
    """[n] opening: cosine interpolation through the syllable peaks (each held over
    PEAK_HOLD_S) and the troughs between them (module doc, step 3), sampled at frame
    centres. `pause` [n] bool marks the frames the silence gate closes: a run of
    syllables ends at a pause (or after RUN_GAP_S without a syllable)."""
    knots_t: list[float] = []
    knots_v: list[float] = []
    syl = sorted(syl, key=lambda s: s.t)
    pause_at = np.zeros(n, bool) if pause is None else np.asarray(pause, bool)
    csum = np.r_[0, np.cumsum(pause_at)]

    def paused(a: float, b: float) -> bool:
        i, j = int(np.clip(a * fps, 0, n)), int(np.clip(b * fps, 0, n))
        return j > i and csum[j] - csum[i] > 0

    hold = 0.5 * PEAK_HOLD_S
    for i, s in enumerate(syl):
        prev = syl[i - 1] if i > 0 else None
        if prev is None or s.t - prev.t > RUN_GAP_S or paused(prev.t, s.t):
            if prev is not None:  # close the previous run
                knots_t.append(max(min(prev.t + hold + EDGE_S, 0.5 * (prev.t + s.t)),
                                   knots_t[-1] + 1e-3))
                knots_v.append(0.0)
            start = s.t - hold - EDGE_S
            knots_t.append(max(start, knots_t[-1] + 1e-3) if knots_t else start)
            knots_v.append(0.0)
        else:
            gap = s.t - prev.t
            full = (1 - TROUGH) if phones is None else dip_between(phones, prev.t, s.t,
                                                                     aligned, depth)
            sink = float(np.clip((gap - 0.08) / (0.2 - 0.08), 0, 1)) * full
            mid = 0.5 * (prev.hi + s.lo) if prev.hi < s.lo else 0.5 * (prev.t + s.t)
            mid = float(np.clip(mid, prev.t + 0.3 * gap, s.t - 0.3 * gap))
            knots_t.append(max(mid, knots_t[-1] + 1e-3))
            knots_v.append(min(prev.amp, s.amp) * (1.0 - sink))
        h = min(hold, 0.25 * (s.t - prev.t)) if prev is not None else hold
        if i + 1 < len(syl):
            h = min(h, 0.25 * (syl[i + 1].t - s.t))
        knots_t += [max(s.t - h, knots_t[-1] + 1e-3), max(s.t + h, knots_t[-1] + 2e-3)]
        knots_v += [s.amp, s.amp]
    if syl:
        knots_t.append(knots_t[-1] + EDGE_S)
        knots_v.append(0.0)
    kt, kv = np.asarray(knots_t), np.asarray(knots_v)
    t = (np.arange(n) + 0.5) / fps
    j = np.clip(np.searchsorted(kt, t) - 1, 0, len(kt) - 2)
    t0, t1 = kt[j], kt[j + 1]
    u = np.clip((t - t0) / np.maximum(t1 - t0, 1e-6), 0, 1)
    c = 0.5 - 0.5 * np.cos(np.pi * u)
    out = kv[j] + (kv[j + 1] - kv[j]) * c
    out[(t < kt[0]) | (t > kt[-1])] = 0.0
    return np.maximum(out, 0.0)


def _vowel_gain(features: AudioFeatures, ph) -> float:
    """Stress / reduction factor of one vowel phone (core.motion.visemes.vowel_gain); an
    alignment whose vowels carry no stress at all (no espeak-ng) counts as the loop."""
    stress_known = features.aligned and any(p.stressed for p in features.phones)
    return vz.vowel_gain(ph.label, ph.end - ph.start, ph.stressed, stress_known)


def _vowel_gain_track(features: AudioFeatures, n: int, fps: float,
                      spread: float = SYLLABLE_SPREAD) -> np.ndarray:
    """[n] opening factor of the phone-led part: per vowel phone, its stress / reduction
    gain times 1 +- spread (deterministic, seeded by the vowel's time), held over
    the consonants up to the next vowel and smoothed over ~40 ms."""
    g = np.full(n, np.nan)
    for ph in features.phones:
        if ph.label.upper() in VOWELS:
            a, b = _frame_of(ph.start, fps, n), _frame_of(ph.end, fps, n)
            g[a : b + 1] = _draw(ph.start, spread) * _vowel_gain(features, ph)
    ok = np.isfinite(g)
    if not ok.any():
        return np.ones(n)
    idx = np.arange(n)
    return smooth(np.interp(idx, idx[ok], g[ok]), 0.04 * fps)


# ---------------------------------------------------------------- helpers
def _hold(x: np.ndarray, r: int) -> np.ndarray:
    """Running max over +-r frames."""
    if r <= 0:
        return x
    xp = np.pad(x, r, mode="edge")
    return np.max(np.lib.stride_tricks.sliding_window_view(xp, 2 * r + 1), axis=1)


def _notch(features: AudioFeatures, n: int, fps: float, labels: set[str] | frozenset[str],
           ramp_s: float = 0.07) -> np.ndarray:
    """[n] in [0,1]: 1 at the frames of each `labels` phone's centre (and its whole span
    when it covers frames), falling to 0 with a raised cosine over `ramp_s` on each side.
    Without timed phones, bilabials come from the hard viseme track (PP = index 1)."""
    c = np.zeros(n)
    ramp = max(1.0, ramp_s * fps)
    t = np.arange(n, dtype=np.float64)
    spans = [(ph.start, ph.end) for ph in features.phones if ph.label.upper() in labels]
    if not spans and not features.phones and labels == BILABIALS:
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
