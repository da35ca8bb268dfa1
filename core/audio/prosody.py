"""Prosody at video frame rate: pitch (f0) with voicing, energy, stressed syllables, phrases.

Why: a talking head moves with the *melody* of speech, not its loudness alone. People nod
on stressed syllables (pitch accents: a loud, high or long vowel), turn or tilt the head
when a new phrase starts, and settle in pauses. The motion planner (core.motion.head)
reads these events; this module only measures them.

Pitch is tracked with YIN (de Cheveigne & Kawahara 2002: cumulative-mean-normalised
difference function, absolute threshold, parabolic refinement) on 40 ms windows every
10 ms, in numpy only, chunked so an hour of audio needs a few MB of working memory.
Octave jumps are repaired against a running median, and the contour is normalised per
speaker to semitones around the speaker's median (a deep and a high voice then read alike).

Syllable nuclei are peaks of the voiced intensity contour (after de Jong & Wempe 2009:
a peak at least `NUCLEUS_DIP_DB` above the dip before it, voiced, not in the bottom of the
speaker's loudness range); their *prominence* combines loudness, pitch height and pitch
excursion, and the most prominent nuclei (at most one per `STRESS_MIN_GAP_S`) are stresses.
Phrases are the stretches of speech between pauses of at least `PAUSE_MIN_S`.
"""

from __future__ import annotations

import numpy as np

from core.types import SAMPLE_RATE, Prosody

HOP = 160  # 10 ms at 16 kHz
WINDOW = 640  # 40 ms integration window: two periods of a 50 Hz voice
F0_MIN, F0_MAX = 60.0, 500.0
YIN_THRESHOLD = 0.15
VOICED_MAX_APERIODICITY = 0.35
"""A frame is voiced when the CMNDF minimum is below this (clean vowels: < 0.1)."""
CHUNK_HOPS = 500  # 5 s of hops per FFT batch: ~40 MB of spectra, so an hour of audio stays in bounds
NUCLEUS_DIP_DB = 2.0
NUCLEUS_MIN_GAP_S = 0.1
STRESS_MIN_GAP_S = 0.35
PAUSE_MIN_S = 0.2
PHRASE_MIN_S = 0.25


# ------------------------------------------------------------------ pitch (YIN)
def yin(
    x: np.ndarray, sr: int = SAMPLE_RATE, fmin: float = F0_MIN, fmax: float = F0_MAX
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(f0 Hz, aperiodicity 0..1, intensity dB) every 10 ms (hop i centred at i*HOP).

    f0 is the raw YIN estimate of every hop (also where unvoiced); the caller decides
    voicing from aperiodicity (low = periodic) and intensity.
    """
    # x stays in its own dtype (float32 from the loader): a float64 copy of an hour of
    # 16 kHz audio, padded, would add ~900 MB; each chunk is framed and widened on its own.
    x = np.asarray(x).reshape(-1)
    hop = int(round(HOP * sr / SAMPLE_RATE))
    win = int(round(WINDOW * sr / SAMPLE_RATE))
    tmin = max(2, int(np.floor(sr / fmax)))
    tmax = int(np.ceil(sr / fmin))
    n_hops = len(x) // hop + 1
    length = win + tmax
    nfft = 1 << int(np.ceil(np.log2(length + win)))
    mean = float(x.mean(dtype=np.float64)) if x.size else 0.0
    left = win // 2
    f0 = np.zeros(n_hops)
    ap = np.ones(n_hops)
    db = np.full(n_hops, -120.0)
    taus = np.arange(tmax + 1, dtype=np.float64)
    for h0 in range(0, n_hops, CHUNK_HOPS):
        h1 = min(n_hops, h0 + CHUNK_HOPS)
        idx = np.arange(h0, h1) * hop
        seg0, seg1 = int(idx[0]), int(idx[-1]) + length  # [seg0, seg1) of the padded signal
        chunk = np.zeros(seg1 - seg0)
        a0, a1 = max(seg0 - left, 0), min(seg1 - left, x.size)
        if a1 > a0:
            chunk[a0 + left - seg0 : a1 + left - seg0] = x[a0:a1] - mean
        frames = np.lib.stride_tricks.sliding_window_view(chunk, length)[idx - seg0]  # [k, length]
        a = frames[:, :win]
        # r(tau) = sum_j a_j x_{j+tau}: correlation of the window with the whole frame
        fa = np.fft.rfft(a, nfft)
        fx = np.fft.rfft(frames, nfft)
        r = np.fft.irfft(np.conj(fa) * fx, nfft)[:, : tmax + 1]
        c = np.concatenate([np.zeros((frames.shape[0], 1)), np.cumsum(frames**2, axis=1)], 1)
        e0 = c[:, win]
        et = c[:, win : win + tmax + 1] - c[:, : tmax + 1]
        d = np.maximum(e0[:, None] + et - 2 * r, 0.0)
        d[:, 0] = 0.0
        cm = np.cumsum(d[:, 1:], axis=1) / taus[None, 1:]
        cmndf = np.ones_like(d)
        cmndf[:, 1:] = d[:, 1:] / np.maximum(cm, 1e-12)
        seg = cmndf[:, tmin : tmax + 1]
        below = seg < YIN_THRESHOLD
        first = np.where(below.any(1), below.argmax(1), seg.argmin(1))
        # walk down to the local minimum after the first dip under the threshold: the first
        # position at or after it where the curve stops falling
        k = np.arange(seg.shape[0])
        cols = np.arange(seg.shape[1] - 1)[None]
        stops = (seg[:, 1:] >= seg[:, :-1]) & (cols >= first[:, None])
        best = np.where(stops.any(1), stops.argmax(1), seg.shape[1] - 1)
        tau = best + tmin
        # parabolic refinement on the CMNDF around the minimum
        lo = np.clip(tau - 1, 1, tmax)
        hi = np.clip(tau + 1, 1, tmax)
        y0, y1, y2 = cmndf[k, lo], cmndf[k, tau], cmndf[k, hi]
        den = y0 - 2 * y1 + y2
        off = np.where(np.abs(den) > 1e-12, 0.5 * (y0 - y2) / np.where(den == 0, 1, den), 0.0)
        off = np.clip(off, -1, 1)
        f0[h0:h1] = sr / (tau + off)
        ap[h0:h1] = np.clip(y1, 0, 1)
        db[h0:h1] = 10 * np.log10(np.maximum(e0 / win, 1e-12))
    return f0, ap, db


def _repair_octaves(f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Fold halvings/doublings back towards a running median of the voiced contour, then
    median-filter (5 hops) inside voiced runs."""
    out = f0.copy()
    vi = np.flatnonzero(voiced)
    if vi.size < 3:
        return out
    ref = float(np.median(f0[vi]))
    for _ in range(2):
        ratio = out[vi] / ref
        out[vi] = np.where((ratio > 1.7) & (ratio < 2.3), out[vi] / 2,
                           np.where((ratio > 0.43) & (ratio < 0.59), out[vi] * 2, out[vi]))
        ref = float(np.median(out[vi]))
    padded = np.pad(np.where(voiced, out, np.nan), 2, constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(padded, 5)[vi]
    sm = out.copy()
    sm[vi] = np.nanmedian(win, axis=1)  # the centre is voiced, so never all-NaN
    return sm


def _to_video(values: np.ndarray, weights: np.ndarray, n: int, fps: float) -> np.ndarray:
    """Weighted mean of 10 ms hop values per video frame (frame of the hop centre); frames
    without weight get 0."""
    if n == 0:
        return np.zeros(0)
    t = np.arange(values.size) * (HOP / SAMPLE_RATE)
    idx = np.minimum((t * fps).astype(np.int64), n - 1)
    num = np.bincount(idx, weights=values * weights, minlength=n)[:n]
    den = np.bincount(idx, weights=weights, minlength=n)[:n]
    return np.where(den > 1e-9, num / np.maximum(den, 1e-9), 0.0)


# ------------------------------------------------------------------ analysis
def analyze(
    x: np.ndarray,
    fps: float,
    n_frames: int,
    vad: np.ndarray | None = None,
) -> Prosody:
    """Prosody of 16 kHz mono samples `x` for `n_frames` video frames at `fps`.

    `vad` [n_frames] (speech probability) sets the pauses; without it, voiced intensity does.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    n = int(n_frames)
    f0h, aph, dbh = yin(x)
    loud_ref = float(np.percentile(dbh, 95)) if dbh.size else 0.0
    voiced_h = (aph < VOICED_MAX_APERIODICITY) & (dbh > loud_ref - 35.0) & (dbh > -70.0)
    # isolated voiced hops are noise
    voiced_h &= np.convolve(voiced_h.astype(float), np.ones(3), "same") >= 2
    f0h = _repair_octaves(f0h, voiced_h)

    vw = voiced_h.astype(np.float64)
    voicing = _to_video(vw, np.ones_like(vw), n, fps)
    f0 = _to_video(f0h, vw, n, fps)
    f0[voicing < 0.3] = 0.0
    voiced = f0 > 0
    median = float(np.median(f0[voiced])) if voiced.sum() >= 3 else 0.0
    semis = np.zeros(n)
    if median > 0:
        semis[voiced] = 12.0 * np.log2(f0[voiced] / median)
    energy_db = _to_video(dbh, np.ones_like(dbh), n, fps)
    energy = np.clip((energy_db - (loud_ref - 40.0)) / 40.0, 0.0, 1.2) if n else energy_db

    if vad is None or len(vad) != n:
        sp = np.convolve(voicing > 0.2, np.ones(5), "same") > 0
    else:
        sp = np.nan_to_num(np.asarray(vad, dtype=np.float64)) >= 0.5
    starts, ends = phrases(sp, fps)
    nuc, prom = nuclei(dbh, voiced_h, f0h, median, fps, n)
    stress = stresses(nuc, prom, fps)
    return Prosody(
        f0=f0.astype(np.float32),
        voicing=voicing.astype(np.float32),
        semitones=semis.astype(np.float32),
        energy=energy.astype(np.float32),
        f0_median=median,
        nuclei=nuc.astype(np.int64),
        nucleus_prominence=prom.astype(np.float32),
        stresses=stress.astype(np.int64),
        stress_strength=(prom[np.searchsorted(nuc, stress)] if stress.size else prom[:0]).astype(
            np.float32
        ),
        phrase_starts=starts,
        phrase_ends=ends,
    )


def phrases(speech: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) video frames of phrases: speech runs, with pauses shorter than
    PAUSE_MIN_S bridged and runs shorter than PHRASE_MIN_S dropped."""
    sp = np.asarray(speech, dtype=bool).copy()
    n = sp.size
    if n == 0 or not sp.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    gap = max(1, int(round(PAUSE_MIN_S * fps)))
    edges = np.diff(np.r_[0, sp.astype(np.int8), 0])
    s, e = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    ms, me = [int(s[0])], [int(e[0])]
    for a, b in zip(s[1:], e[1:], strict=True):
        if a - me[-1] < gap:
            me[-1] = int(b)
        else:
            ms.append(int(a))
            me.append(int(b))
    keep = [(a, b) for a, b in zip(ms, me, strict=True) if b - a >= PHRASE_MIN_S * fps]
    if not keep:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    arr = np.asarray(keep, dtype=np.int64)
    return arr[:, 0], arr[:, 1]


def nuclei(
    db: np.ndarray, voiced: np.ndarray, f0: np.ndarray, median: float, fps: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(video frames [k], prominence [k] in 0..1) of syllable nuclei from 10 ms hops."""
    if db.size < 5 or not voiced.any():
        return np.zeros(0, np.int64), np.zeros(0)
    k = np.exp(-0.5 * (np.arange(-4, 5) / 2.0) ** 2)
    sm = np.convolve(np.pad(db, 4, mode="edge"), k / k.sum(), "valid")
    floor = float(np.percentile(sm[voiced], 25)) if voiced.sum() > 4 else float(sm.min())
    peaks = np.flatnonzero((sm[1:-1] > sm[:-2]) & (sm[1:-1] >= sm[2:])) + 1
    min_gap = int(NUCLEUS_MIN_GAP_S * SAMPLE_RATE / HOP)
    chosen: list[int] = []
    last_dip_from = 0
    for p in peaks:
        if not voiced[max(0, p - 2) : p + 3].any() or sm[p] < floor:
            continue
        dip = float(sm[last_dip_from : p + 1].min())
        if sm[p] - dip < NUCLEUS_DIP_DB:
            continue
        if chosen and p - chosen[-1] < min_gap:
            if sm[p] > sm[chosen[-1]]:
                chosen[-1] = int(p)
            continue
        chosen.append(int(p))
        last_dip_from = int(p)
    if not chosen:
        return np.zeros(0, np.int64), np.zeros(0)
    hops = np.asarray(chosen)
    loud = sm[hops]
    semis = np.zeros(hops.size)
    excursion = np.zeros(hops.size)
    if median > 0:
        st = np.where(voiced & (f0 > 0), 12 * np.log2(np.maximum(f0, 1) / median), np.nan)
        for i, h in enumerate(hops):
            w = st[max(0, h - 8) : h + 9]
            if np.isfinite(w).any():
                semis[i] = float(np.nanmean(w))
                excursion[i] = float(np.nanmax(w) - np.nanmin(w))

    def z(v: np.ndarray) -> np.ndarray:
        sd = float(v.std())
        return (v - v.mean()) / sd if sd > 1e-6 else np.zeros_like(v)

    score = 0.5 * z(loud) + 0.35 * z(semis) + 0.15 * z(excursion)
    prom = 1.0 / (1.0 + np.exp(-1.6 * score))
    frames = np.minimum((hops * (HOP / SAMPLE_RATE) * fps).astype(np.int64), max(n - 1, 0))
    return frames, prom


def stresses(nuc: np.ndarray, prom: np.ndarray, fps: float) -> np.ndarray:
    """The nuclei that carry stress: prominent ones (>= 0.5), greedily by prominence, at
    least STRESS_MIN_GAP_S apart."""
    if nuc.size == 0:
        return nuc
    order = np.argsort(-prom, kind="stable")
    gap = STRESS_MIN_GAP_S * fps
    taken: list[int] = []
    for i in order:
        if prom[i] < 0.5:
            break
        if all(abs(int(nuc[i]) - int(nuc[j])) >= gap for j in taken):
            taken.append(int(i))
    return np.sort(nuc[taken]) if taken else nuc[:0]


def empty(n: int) -> Prosody:
    """A silent clip's prosody (no voice, no events)."""
    z = np.zeros(n, np.float32)
    i = np.zeros(0, np.int64)
    return Prosody(z, z.copy(), z.copy(), z.copy(), 0.0, i, z[:0], i.copy(), z[:0], i.copy(), i)
