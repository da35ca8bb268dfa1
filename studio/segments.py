"""Automatic segmentation of a timeline at pauses in speech.

Why dynamic programming instead of "cut at every pause": a speaker may pause every second
or talk for 15 s without a breath. Cuts are chosen to maximise the pause quality at the cut
points while keeping every segment between MIN and MAX seconds and near a preferred length,
so segments are short enough to re-render cheaply and long enough to be worth a job.
A cut inside silence scores by how long that silence is; a cut inside speech is allowed
(only when no pause is in reach) but penalised by the loudness there.
"""

from __future__ import annotations

import numpy as np

MIN_SECONDS = 2.0
MAX_SECONDS = 8.0
PREFERRED_SECONDS = 4.5
SEGMENT_COST = 2.0


def cut_scores(vad: np.ndarray, rms: np.ndarray | None, fps: float,
               threshold: float = 0.5) -> np.ndarray:
    """Per frame boundary i (cut before frame i), how good a cut there is (higher = better).

    Inside a pause the score grows with the pause length and peaks in the pause's middle;
    inside speech it is negative, more so where it is loud.
    """
    n = len(vad)
    silent = np.asarray(vad, dtype=np.float32) < threshold
    score = np.full(n + 1, -2.0, dtype=np.float64)
    if rms is not None and len(rms) == n:
        loud = np.clip(np.asarray(rms, dtype=np.float64), 0, 3)
        score[:n] -= loud
    i = 0
    while i < n:
        if not silent[i]:
            i += 1
            continue
        j = i
        while j < n and silent[j]:
            j += 1
        length = (j - i) / fps  # seconds of pause
        centre = (i + j) / 2.0
        half = max((j - i) / 2.0, 1.0)
        for k in range(i, j + 1):
            closeness = 1.0 - abs(k - centre) / half  # 1 in the middle, 0 at the edges
            score[k] = max(score[k], 1.0 + 4.0 * min(length, 1.0) * (0.5 + 0.5 * closeness))
        i = j
    return score


def split_at_pauses(vad: np.ndarray, fps: float, rms: np.ndarray | None = None,
                    min_s: float = MIN_SECONDS, max_s: float = MAX_SECONDS,
                    preferred_s: float = PREFERRED_SECONDS) -> list[tuple[int, int]]:
    """Frame ranges [(start, end), ...] covering all of `vad`'s frames, each min_s..max_s
    long (a clip shorter than min_s is one segment), cut preferably in pauses."""
    n = len(vad)
    if n == 0:
        return []
    lo = max(1, int(round(min_s * fps)))
    hi = max(lo, int(round(max_s * fps)))
    if n <= hi:
        # one segment unless a good pause splits it into two valid halves
        return [(0, n)] if n < 2 * lo else _dp(n, cut_scores(vad, rms, fps), lo, hi,
                                                 preferred_s * fps, single_ok=True)
    return _dp(n, cut_scores(vad, rms, fps), lo, hi, preferred_s * fps, single_ok=False)


def _dp(n: int, score: np.ndarray, lo: int, hi: int, pref: float,
        single_ok: bool) -> list[tuple[int, int]]:
    # best[j] = best total for a partition of frames [0, j) whose last cut is at j
    best = np.full(n + 1, -np.inf)
    prev = np.full(n + 1, -1, dtype=np.int64)
    best[0] = 0.0
    lengths = np.arange(hi + 1, dtype=np.float64)
    # per segment: a fixed cost (so only a real pause is worth an extra cut; without it
    # a run of short pauses becomes a run of minimum-length segments) plus a penalty for
    # straying from the preferred length
    length_pen = SEGMENT_COST + 2.0 * ((lengths - pref) / pref) ** 2
    for j in range(lo, n + 1):
        i0, i1 = max(0, j - hi), j - lo
        if i1 < i0:
            continue
        cand = best[i0:i1 + 1] - length_pen[j - np.arange(i0, i1 + 1)]
        k = int(np.argmax(cand))
        if np.isfinite(cand[k]):
            best[j] = cand[k] + (score[j] if j < n else 0.0)
            prev[j] = i0 + k
    if not np.isfinite(best[n]):
        # no valid partition (cannot happen for n >= lo); fall back to one segment
        return [(0, n)]
    cuts = [n]
    while cuts[-1] > 0:
        cuts.append(int(prev[cuts[-1]]))
    cuts.reverse()
    out = list(zip(cuts[:-1], cuts[1:], strict=True))
    if single_ok and len(out) == 2 and score[out[0][1]] < 1.0:
        return [(0, n)]  # a short clip is only split at a real pause
    return out
