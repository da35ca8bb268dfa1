"""The evaluator's measures, as pure functions of per-frame landmarks and audio.

Conventions: `lms` is [n, 68, 2] float (iBUG-68, NaN rows where no face was found); every
distance is divided by the inter-ocular distance (IOD: between the two eye centres) so the
numbers do not depend on the video size or how large the face is in the frame. Each
function documents why it measures what it measures and how the target was chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
"""Upper/lower inner-lip landmark pairs; their mean distance is the visible mouth gap."""
STABLE_POINTS = (27, 28, 29, 30, 36, 39, 42, 45)
"""Nose bridge and the four eye corners: rigid with the skull, so their frame-to-frame
noise is landmark/render jitter rather than expression (the eyelids and lips do move)."""
BILABIALS = frozenset({"P", "B", "M"})
VOWELS = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
)


# ---------------------------------------------------------------- per-frame signals
def inter_ocular(lms: np.ndarray) -> np.ndarray:
    """[n] distance between the eye centres (mean of 36-41 and of 42-47)."""
    return np.linalg.norm(lms[:, 42:48].mean(1) - lms[:, 36:42].mean(1), axis=-1)


def mouth_opening(lms: np.ndarray) -> np.ndarray:
    """[n] inner-lip gap of the LANDMARKS / IOD: 0 with closed lips, ~0.2-0.5 on open vowels
    for dlib-like points.

    The evaluator reads the opening from the image instead (core.evaluate.lipgap) and uses
    this only for grey videos: with the Face Mesh's points closed lips read 0.015-0.06 and
    wide openings about a third of their size (see lipgap). The measures below take any
    per-frame opening series in IOD units.

    The inner lips (not the outer contour, not the jaw) are what a viewer reads as an open
    or closed mouth; three pairs are averaged to tame single-point noise. The gap is the
    separation ACROSS the mouth (perpendicular to the corner-to-corner axis 48-54), not the
    point distance: on closed lips dlib often places the upper and lower inner points a few
    pixels apart sideways, which a Euclidean distance would read as an opening (measured:
    ~0.02 IOD on closed lips, a third of a typical speaking opening). Lips pressed past each
    other count as closed (0).
    """
    axis = lms[:, 54] - lms[:, 48]
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    down = np.stack([-axis[:, 1], axis[:, 0]], axis=-1)  # image y grows downwards
    gaps = [np.clip(np.sum((lms[:, b] - lms[:, a]) * down, axis=-1), 0, None)
            for a, b in INNER_LIP_PAIRS]
    return np.mean(gaps, axis=0) / inter_ocular(lms)


def eye_aspect_ratio(lms: np.ndarray) -> np.ndarray:
    """[n] mean eye aspect ratio of both eyes (Soukupová & Čech 2016): the two vertical lid
    distances over the horizontal one; ~0.25-0.35 open, below ~0.15 closed."""

    def ear(e: np.ndarray) -> np.ndarray:
        v = np.linalg.norm(e[:, 1] - e[:, 5], axis=-1) + np.linalg.norm(e[:, 2] - e[:, 4], axis=-1)
        return v / (2.0 * np.linalg.norm(e[:, 0] - e[:, 3], axis=-1))

    return 0.5 * (ear(lms[:, 36:42]) + ear(lms[:, 42:48]))


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN entries (frames without a face); all-NaN stays NaN."""
    x = np.asarray(x, dtype=np.float64).copy()
    bad = ~np.isfinite(x)
    if bad.all() or not bad.any():
        return x
    idx = np.arange(len(x))
    x[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return x


def frame_energy(samples: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
    """[n_frames] RMS of the audio under each video frame (frame i = [i/fps, (i+1)/fps)).

    Linear RMS (not dB): the mouth opens roughly in proportion to the loudness envelope of
    syllables, and silence at -60 dB must not weigh like speech at -20 dB.
    """
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    edges = np.round(np.arange(n_frames + 1) * sample_rate / fps).astype(np.int64)
    need = int(edges[-1])
    if len(samples) < need:
        samples = np.concatenate([samples, np.zeros(need - len(samples))])
    csum = np.concatenate([[0.0], np.cumsum(samples[:need] ** 2)])
    width = np.maximum(np.diff(edges), 1)
    return np.sqrt((csum[edges[1:]] - csum[edges[:-1]]) / width)


def speech_mask(energy: np.ndarray, hangover: int = 0) -> np.ndarray:
    """[n] bool: frames with speech, by an energy threshold adapted to the clip.

    Threshold = the larger of 10 dB above the noise floor (10th percentile) and 26 dB below
    the speech level (95th percentile): robust to both clean studio audio and a hissy
    recording, and needs no model. `hangover` widens speech by that many frames each side.
    """
    e = np.asarray(energy, dtype=np.float64)
    if len(e) == 0 or e.max() <= 0:
        return np.zeros(len(e), dtype=bool)
    floor, level = np.percentile(e, 10), np.percentile(e, 95)
    mask = e > max(floor * 10 ** (10 / 20), level * 10 ** (-26 / 20))
    if hangover > 0:
        from scipy.ndimage import binary_dilation

        mask = binary_dilation(mask, iterations=hangover)
    return mask


def bandpass(x: np.ndarray, fps: float, lo: float = 2.0, hi: float = 7.0) -> np.ndarray:
    """Zero-phase band-pass to the syllable rate (2-7 Hz): keeps the open/close rhythm of
    speech and drops both slow drifts (pose, loudness trends) and frame noise. Zero-phase
    (forward-backward) so filtering adds no lag to the lag we measure."""
    from scipy.signal import sosfiltfilt

    sos = _band_sos(float(lo), float(min(hi, 0.45 * fps)), float(fps)).copy()
    padlen = min(len(x) - 1, 3 * (2 * len(sos) + 1))
    return sosfiltfilt(sos, np.asarray(x, dtype=np.float64), padlen=padlen)


@lru_cache(maxsize=16)
def _band_sos(lo: float, hi: float, fps: float) -> np.ndarray:
    """bandpass()'s filter, designed once per band and rate: the mouth planner
    (core.motion.mouth_blend) scores a few hundred candidate openings with it per clip, and
    designing the filter cost more than filtering."""
    from scipy.signal import butter

    sos = butter(2, [lo, hi], btype="bandpass", fs=fps, output="sos")
    return sos


# ---------------------------------------------------------------- lip sync
def lip_sync(mouth: np.ndarray, energy: np.ndarray, fps: float, max_lag: int = 5,
             min_shift_s: float = 1.0) -> dict:
    """Correlation of mouth opening with audio energy, and how far above chance it is.

    Both signals are band-passed to 2-7 Hz and standardised. r(k) is the Pearson r of
    mouth[t] with energy[t - k] (k > 0: the mouth lags the sound), computed circularly for
    every k at once with an FFT. We report the best r within |k| <= max_lag frames and its
    lag. Because any two speech-rate signals correlate a little by chance, r alone says little
    on short clips; the z-score compares r_best with the same best-of-11-lags statistic for
    the audio circularly shifted by every offset that keeps it at least `min_shift_s` away
    from alignment (the null: same signals, same spectra, no sync). z >= 3 means the sync is
    real; lip-sync that is merely "mouth moves while sound plays" scores low.
    """
    n = len(mouth)
    out = {"r": None, "lag": None, "z": None, "null_mean": None, "null_std": None,
           "n_shifts": 0}
    if n < 2 * max_lag + 8 or not np.isfinite(mouth).any():
        return out
    m = bandpass(fill_gaps(mouth), fps)
    e = bandpass(energy, fps)
    if m.std() < 1e-12 or e.std() < 1e-12:
        return out
    m = (m - m.mean()) / m.std()
    e = (e - e.mean()) / e.std()
    c = np.fft.irfft(np.fft.rfft(m) * np.conj(np.fft.rfft(e)), n) / n  # c[k] = r(lag k)
    lags = np.arange(-max_lag, max_lag + 1)
    best = int(lags[np.argmax(c[lags % n])])
    out["r"], out["lag"] = float(c[best % n]), best
    s0 = int(np.ceil(min_shift_s * fps)) + max_lag
    shifts = np.arange(s0, n - s0 + 1)
    if len(shifts) >= 10:
        null = c[(shifts[:, None] + lags[None, :]) % n].max(1)
        out.update(null_mean=float(null.mean()), null_std=float(null.std()),
                   n_shifts=len(shifts))
        if null.std() > 1e-9:
            out["z"] = float((out["r"] - null.mean()) / null.std())
    return out


def lip_sync_bp(mouth: np.ndarray, energy: np.ndarray, fps: float, lo: float = 1.0,
                hi: float = 8.0, max_lag: int = 2) -> float | None:
    """Band-passed lip-sync r: Pearson r of the mouth opening and the audio RMS envelope,
    both zero-phase band-passed to syllable rates (1-8 Hz), at the best lag within +-max_lag
    frames (default 2: 80 ms at 25 fps, inside what viewers accept as in sync; generators
    often show the mouth a frame after the sound, and lag 0 would then under-read them:
    measured on VASA-1's vasa-1_5, r 0.24 at lag 0 vs 0.37 at its lag of 1 frame).

    Why a second lip-sync r: `lip_sync` asks "is the sync real?" (best of 11 lags, 2-7 Hz,
    against a null). This one asks "how tightly is the mouth slaved to loudness?", which is
    comparable across generators and real footage: real speakers and published generators
    sit at ~0.15-0.6 (the mouth shapes phonemes, it does not follow the volume knob), while a
    renderer that opens the mouth by loudness scores ~0.8. Targets are the peers' range.
    """
    n = len(mouth)
    if n < 16 or not np.isfinite(mouth).any():
        return None
    m = bandpass(fill_gaps(mouth), fps, lo, hi)
    e = bandpass(np.asarray(energy, dtype=np.float64), fps, lo, hi)
    best = None
    for k in range(-max_lag, max_lag + 1):
        a, b = (m[k:], e[:n - k]) if k >= 0 else (m[:n + k], e[-k:])
        if a.std() < 1e-12 or b.std() < 1e-12:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        best = r if best is None or r > best else best
    return best


def mouth_rest_ratio(mouth: np.ndarray, energy: np.ndarray, margin: int = 3,
                     min_frames: int = 5, speech: np.ndarray | None = None,
                     min_pause: int = 1) -> float | None:
    """Mean mouth opening in pauses / mean opening while speaking (target <= 0.25).

    A talking head that keeps chewing through pauses looks wrong even when its lip-sync r is
    fine. Frames within `margin` frames of speech are excluded (closing takes ~0.1 s), and
    so are pauses shorter than `min_pause` frames after that margin (between words the lips
    need not close). `speech`: a per-frame voice-activity mask (the evaluator passes the
    silero VAD's, see speech_frames); without it, an energy threshold (speech_mask), which
    a music or noise bed under the voice defeats: emo_talk_jocker's track spans only 12 dB
    from its 10th to 95th percentile, so the energy cut called 56% of its frames silent,
    most of them words over the music.
    Read with the image opening (core.evaluate.lipgap), renders that close in pauses score
    0.00-0.07 (hallo_1, echomimic_a); real speakers need not close: VASA-1's vasa-1_10
    holds a smiling open mouth in its pauses (1.2 with the energy's pauses, 0.36 with the
    VAD's, which keep only their middle), the peers read 0.0-1.05 (EMO's mola shuts in its
    long pauses, 0.0; vasa-1_12 1.05), so the target is for our renders, and a peer above
    it is not a measuring error.
    None when the clip has fewer than `min_frames` silent or speaking frames.
    """
    if speech is None:
        speech = speech_mask(energy)
    speech = np.asarray(speech, bool)
    from scipy.ndimage import binary_dilation, label

    silence = ~binary_dilation(speech, iterations=margin) if margin > 0 else ~speech
    if min_pause > 1:
        runs, k = label(silence)
        sizes = np.bincount(runs.ravel(), minlength=k + 1)
        silence &= sizes[runs] >= min_pause
    ok = np.isfinite(mouth)
    if (silence & ok).sum() < min_frames or (speech & ok).sum() < min_frames:
        return None
    talk = float(np.mean(mouth[speech & ok]))
    if talk <= 1e-9:
        return None
    return float(np.mean(mouth[silence & ok]) / talk)


def speech_frames(samples: np.ndarray, sample_rate: int, fps: float, n_frames: int,
                  threshold: float = 0.5) -> np.ndarray | None:
    """[n_frames] bool voice activity from the silero VAD (core.audio.features), which
    tells a voice from music or noise at any level; None where it cannot run."""
    try:
        from core.audio.features import SAMPLE_RATE, frame_vad, vad_probs
    except ImportError:
        return None
    if sample_rate != SAMPLE_RATE:
        return None
    try:
        probs = vad_probs(np.asarray(samples, np.float32).reshape(-1))
    except (ImportError, RuntimeError):  # the model or its runtime is not installed
        return None
    return frame_vad(probs, fps, n_frames) >= threshold


def _span(start: float, end: float, fps: float, n: int, pad: int) -> slice:
    a = max(0, int(np.floor(start * fps)) - pad)
    b = min(n, int(np.ceil(end * fps)) + pad)
    return slice(a, max(b, a + 1))


def bilabial_closure(mouth: np.ndarray, phones: Sequence, fps: float,
                     closed_frac: float = 0.15) -> dict:
    """Fraction of P/B/M phones during which the lips actually meet (target >= 0.8).

    /p b m/ are made by closing the lips; renderers driven by energy alone keep the mouth
    open through them, which viewers notice. A phone counts as closed when the inner gap
    anywhere in its span (+-1 frame for alignment slack) drops below `closed_frac` of the
    clip's largest gap. With the image opening (core.evaluate.lipgap) closed lips read 0
    (less the clip's seam floor), so the relative cut is not fooled by a closed floor.
    """
    n = len(mouth)
    peak = np.nanmax(mouth) if np.isfinite(mouth).any() else np.nan
    hits = []
    for ph in phones:
        if ph.label.upper() not in BILABIALS:
            continue
        seg = mouth[_span(ph.start, ph.end, fps, n, 1)]
        seg = seg[np.isfinite(seg)]
        if len(seg):
            hits.append(bool(seg.min() < closed_frac * peak))
    return {"count": len(hits), "closed": int(sum(hits)),
            "fraction": float(np.mean(hits)) if hits else None}


def stressed_vowel_opening(mouth: np.ndarray, phones: Sequence, fps: float) -> float | None:
    """Mean opening on stressed vowels / mean opening over the clip (visibly open: >= 1.2).

    Stressed vowels are the widest mouth shapes of speech; if they are not clearly more open
    than average, the articulation looks mumbled."""
    n = len(mouth)
    frames = [np.arange(n)[_span(p.start, p.end, fps, n, 0)] for p in phones
              if p.stressed and p.label.upper() in VOWELS]
    if not frames:
        return None
    idx = np.unique(np.concatenate(frames))
    overall = np.nanmean(mouth)
    if not np.isfinite(overall) or overall <= 1e-9:
        return None
    return float(np.nanmean(mouth[idx]) / overall)


# ---------------------------------------------------------------- eyes, jitter, head
def blinks(ear: np.ndarray, fps: float) -> dict:
    """Blinks = runs of frames whose eye aspect ratio dips below an adaptive threshold.

    The threshold adapts to the face (EAR differs between people and styles): 75% of the
    clip's median EAR (eyes are open most of the time), and at least 4 robust sigmas (MAD)
    below it so landmark noise on open eyes never counts. Runs separated by a single frame
    merge (one blink seen as two dips). Returns count, per_minute, the start frames and the
    last frame of each dip (ends).
    """
    e = fill_gaps(ear)
    n = len(e)
    out = {"count": 0, "per_minute": 0.0, "frames": [], "ends": [], "threshold": None}
    if n == 0 or not np.isfinite(e).any():
        out.update(count=None, per_minute=None)  # no face: unknown, not "no blinks"
        return out
    base = float(np.median(e))
    sigma = 1.4826 * float(np.median(np.abs(e - base)))
    thr = min(0.75 * base, base - 4.0 * sigma)
    low = e < thr
    starts, ends = [], []
    i = 0
    while i < n:
        if low[i]:
            j = i
            while j + 1 < n and (low[j + 1] or (j + 2 < n and low[j + 2])):
                j += 1
            starts.append(i)
            ends.append(j)
            i = j + 1
        else:
            i += 1
    minutes = n / fps / 60.0
    out.update(count=len(starts), per_minute=len(starts) / minutes, frames=starts, ends=ends,
               threshold=thr)
    return out


def jitter(lms: np.ndarray) -> float | None:
    """Frame-to-frame landmark noise of the rigid points, in IOD units (target <= 0.02).

    For each stable point the trajectory minus its 3-tap smoothed version
    (x[t] - (x[t-1] + x[t+1]) / 2) removes any motion that is smooth over three frames
    (head turns, nods) and keeps the high-frequency shimmer that makes renders look unstable.
    Divided by sqrt(1.5) it equals the std of white noise added to a smooth track.
    """
    p = lms[:, list(STABLE_POINTS)]
    ok = np.isfinite(p).all(axis=(1, 2))
    if ok.sum() < 5:
        return None
    iod = float(np.nanmedian(inter_ocular(lms)))
    r = p[1:-1] - 0.5 * (p[:-2] + p[2:])
    valid = ok[1:-1] & ok[:-2] & ok[2:]
    r = r[valid]
    rms = np.sqrt(np.mean(np.sum(r**2, axis=-1)))
    return float(rms / np.sqrt(1.5) / iod)


def head_motion(lms: np.ndarray) -> dict:
    """How much the head moves: std of the face position (IOD units) and of its roll
    (degrees, from the eye line). A still-image-with-moving-lips result has ~0 for both;
    natural talking heads move a few percent of IOD and a degree or more."""
    ok = np.isfinite(lms).all(axis=(1, 2))
    if ok.sum() < 3:
        return {"position_std": None, "roll_std_deg": None}
    x = lms[ok]
    iod = float(np.median(inter_ocular(x)))
    centre = x[:, list(STABLE_POINTS)].mean(1)
    pos = float(np.sqrt(np.sum(centre.var(0))) / iod)
    eye = x[:, 42:48].mean(1) - x[:, 36:42].mean(1)
    roll = np.degrees(np.arctan2(eye[:, 1], eye[:, 0]))
    return {"position_std": pos, "roll_std_deg": float(roll.std())}
