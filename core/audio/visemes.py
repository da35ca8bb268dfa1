"""Phones -> visemes: the 15 Oculus/MPEG-4-style mouth classes, and per-frame tracks.

Why 15 classes: they are the common currency of lip-sync rigs (Oculus LipSync, many game
engines), fine enough to keep the visually distinct closures (PP for p/b/m, FF for f/v)
and coarse enough that a noisy phone recogniser rarely lands in a visibly wrong class.

Diphthongs glide between two mouth shapes, so `PHONE_GLIDE` gives their end viseme; the
frame tracks spend the first 60 % of such a phone on the start shape and the rest on the end.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.types import Phone

VISEMES: list[str] = [
    "sil",  # 0: silence, mouth at rest
    "PP",  # p b m: lips pressed together
    "FF",  # f v: lower lip under upper teeth
    "TH",  # th dh: tongue between teeth
    "DD",  # t d: tongue on the ridge, slightly open
    "kk",  # k g ng hh: back consonants, slightly open
    "CH",  # ch jh sh zh: lips forward, teeth close
    "SS",  # s z: teeth close, lips spread
    "nn",  # n l: tongue up, slightly open
    "RR",  # r er: lips slightly rounded
    "aa",  # aa ae ah (+ start of aw ay): wide open
    "E",  # eh ey: half open, spread
    "ih",  # ih iy y: narrow, spread
    "oh",  # ao ow oy: open, rounded
    "ou",  # uh uw w: small, rounded
]
VISEME_INDEX: dict[str, int] = {v: i for i, v in enumerate(VISEMES)}

PHONE_TO_VISEME: dict[str, str] = {
    # vowels
    "AA": "aa", "AE": "aa", "AH": "aa", "AO": "oh", "AW": "aa", "AY": "aa",
    "EH": "E", "ER": "RR", "EY": "E", "IH": "ih", "IY": "ih", "OW": "oh",
    "OY": "oh", "UH": "ou", "UW": "ou",
    # consonants
    "B": "PP", "P": "PP", "M": "PP",
    "F": "FF", "V": "FF",
    "TH": "TH", "DH": "TH",
    "T": "DD", "D": "DD",
    "K": "kk", "G": "kk", "NG": "kk", "HH": "kk",
    "CH": "CH", "JH": "CH", "SH": "CH", "ZH": "CH",
    "S": "SS", "Z": "SS",
    "N": "nn", "L": "nn",
    "R": "RR",
    "W": "ou", "Y": "ih",
    # silence and fillers (pocketsphinx names them SIL, +NSN+ noise, +SPN+ speech-like)
    "SIL": "sil", "SP": "sil", "NSN": "sil", "SPN": "sil", "NOISE": "sil",
    "+NSN+": "sil", "+SPN+": "sil",
}  # fmt: skip

PHONE_GLIDE: dict[str, str] = {"AW": "ou", "AY": "ih", "EY": "ih", "OW": "ou", "OY": "ih"}
"""Diphthongs: the viseme their second part moves to."""

VOWELS = frozenset(
    ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
)
BILABIALS = frozenset({"P", "B", "M"})
_GLIDE_SPLIT = 0.6


def viseme_of(label: str) -> int:
    """Index into VISEMES of a phone label (unknown labels count as silence)."""
    return VISEME_INDEX[PHONE_TO_VISEME.get(label.upper(), "sil")]


def frame_tracks(
    phones: Sequence[Phone], n_frames: int, fps: float, smooth_frames: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """(visemes [n] int16, viseme_weights [n, V] float32) from timed phones.

    Weights are the fraction of each frame's time spent in each viseme (so a row sums to 1),
    then blurred with a Gaussian of `smooth_frames` frames: the motion planner gets a little
    anticipation/carry-over (coarticulation) for free. The hard track is the argmax before
    blurring, except that a bilabial closure present for >= 30 % of a frame wins that frame,
    because a missed p/b/m closure is the most visible lip-sync error.
    """
    n_v = len(VISEMES)
    w = np.zeros((n_frames, n_v), dtype=np.float64)
    pp = VISEME_INDEX["PP"]
    for ph in phones:
        start, end = max(0.0, ph.start), ph.end
        if end <= start:
            continue
        v0 = viseme_of(ph.label)
        glide = PHONE_GLIDE.get(ph.label.upper())
        if glide is None:
            _add_span(w, start, end, v0, fps)
        else:
            mid = start + _GLIDE_SPLIT * (end - start)
            _add_span(w, start, mid, v0, fps)
            _add_span(w, mid, end, VISEME_INDEX[glide], fps)
    covered = w.sum(axis=1)
    w[:, 0] += np.clip(1.0 - covered, 0.0, None)  # time without any phone is silence
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-9)

    hard = w.argmax(axis=1).astype(np.int16)
    hard[w[:, pp] >= 0.3] = pp
    if smooth_frames > 0 and n_frames > 1:
        w = _gauss_blur(w, smooth_frames)
    return hard, w.astype(np.float32)


def _add_span(w: np.ndarray, start: float, end: float, v: int, fps: float) -> None:
    n = w.shape[0]
    f0 = int(np.floor(start * fps))
    f1 = min(n - 1, int(np.ceil(end * fps)) - 1)
    for f in range(max(0, f0), f1 + 1):
        a, b = f / fps, (f + 1) / fps
        ov = min(b, end) - max(a, start)
        if ov > 0:
            w[f, v] += ov * fps


def _gauss_blur(w: np.ndarray, sigma: float) -> np.ndarray:
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(w, ((r, r), (0, 0)), mode="edge")
    out = np.empty_like(w)
    for j in range(w.shape[1]):
        out[:, j] = np.convolve(pad[:, j], k, mode="valid")
    return out
