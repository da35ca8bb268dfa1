"""Head motion and gaze planned from prosody: phrase turns, nods on stresses, settling, sway.

Why this shape (what real talking heads do, and what a still head lacks):
* Phrases: at the start of a phrase the head takes up a new orientation (a turn in yaw,
  a tilt in roll, a small lift) and holds it, drifting, through the phrase; long phrases
  re-orient at a later accent. In pauses it settles part of the way back to rest.
* Accents: on a stressed syllable the head nods (pitch down, then back with a small
  rebound), bigger for more prominent syllables (Graf et al. 2002; Hadar et al. 1983).
* Melody: the head rises a little with the voice's pitch (Yehia, Kuratate &
  Vatikiotis-Bateson 2002: f0 and head motion correlate).
* Idle sway: slow smooth noise (a few tenths of a Hz) so the head is never frozen.
Amplitudes: speech of 5 s or more gives yaw std ~4-6 degrees, pitch ~3-5 and roll ~1.5-3.5
at head_motion 1, which the evaluator reads from our renders as 3-5 degrees of head motion:
the middle of VASA-1's and EMO's own footage (1.3-5.7; yaw moves most). `soft_limit` eases
the total pose into what the warp renderer draws without tearing (+-15 yaw, +-10 pitch,
+-8 roll), so head_motion 2 or an emotion's carriage never overshoots.

Pitch is + when the face turns down (the nod direction), as in core.motion.landmarks.

The audio-driven parts (nods, melody, event times) are global; the random parts (phrase
targets, sway, saccades, look-aways) are *seeded per frame range*, so a segment with its
own seed can re-draw them inside its frames only (see core.motion.planner).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.audio import prosody as prosodymod
from core.motion.mouth import smooth
from core.types import AudioFeatures

AMPLITUDE = np.array([1.6, 1.6, 1.0])
"""Idle sway, degrees of yaw, pitch, roll (std) at energy 1 and head_motion 1."""
TURN_YAW = (3.5, 7.5)  # |yaw| of a phrase orientation, degrees
TURN_PITCH = (2.0, 5.5)  # |pitch| of a phrase orientation, degrees
TURN_ROLL_SD = 1.8
TURN_S, SETTLE_S = 0.75, 1.1  # duration of a re-orientation / of settling in a pause
SETTLE_KEEP = 0.35  # share of the phrase pose kept while settled in a pause
REORIENT_S = 1.6  # a phrase longer than this re-orients at a later accent
NOD_DEG = 4.5  # nod depth at full prominence
MELODY_DEG_PER_ST = 0.5  # head lift per semitone above the speaker's median
MELODY_MAX_DEG = 3.0


@dataclass(frozen=True)
class Structure:
    """The audio's phrase structure at video frames (global, from prosody or voice activity).

    starts/ends: phrase frames; stresses/strength: accents; events: frames where the head
    takes a new orientation (phrase starts and late accents of long phrases); settles:
    frames where a pause long enough to settle begins.
    """

    starts: np.ndarray
    ends: np.ndarray
    stresses: np.ndarray
    strength: np.ndarray
    events: np.ndarray
    settles: np.ndarray


def structure(features: AudioFeatures) -> Structure:
    n, fps = int(features.n_frames), float(features.fps)
    p = features.prosody
    if p is not None and len(p.f0) == n:
        starts, ends = np.asarray(p.phrase_starts), np.asarray(p.phrase_ends)
        stresses, strength = np.asarray(p.stresses), np.asarray(p.stress_strength, np.float64)
    else:  # features without prosody: phrases from voice activity, accents from phones
        vad = np.nan_to_num(np.asarray(features.vad, dtype=np.float64)[:n])
        starts, ends = prosodymod.phrases(vad >= 0.5, fps)
        rms = np.nan_to_num(np.asarray(features.rms, dtype=np.float64)[:n])
        st, sg, last = [], [], -1.0
        for ph in features.phones:
            if ph.stressed and ph.start - last >= prosodymod.STRESS_MIN_GAP_S and n:
                last = ph.start
                f = min(n - 1, max(0, int(ph.start * fps)))
                st.append(f)
                sg.append(float(np.clip(rms[f : f + 3].mean(), 0.3, 1.0)))
        stresses, strength = np.asarray(st, np.int64), np.asarray(sg, np.float64)
    events: list[int] = []
    settles: list[int] = []
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        events.append(int(max(0, a - round(0.1 * fps))))  # the head leads the voice a little
        last = a
        for s in stresses[(stresses > a) & (stresses < b)]:
            if s - last >= REORIENT_S * fps and b - s >= 0.6 * fps:
                events.append(int(s - round(0.1 * fps)))
                last = s
        nxt = starts[i + 1] if i + 1 < len(starts) else n
        if nxt - b >= 0.6 * fps:
            settles.append(int(b + round(0.1 * fps)))
    return Structure(
        np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(stresses, np.int64),
        np.asarray(strength, np.float64), np.asarray(events, np.int64),
        np.asarray(settles, np.int64),
    )


def _min_jerk(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (10 - 15 * x + 6 * x * x)


def phrase_pose(rng: np.random.Generator, st: Structure, n: int, fps: float) -> np.ndarray:
    """[n, 3] seeded phrase orientations: a new (yaw, pitch, roll) at each event, reached
    with a minimum-jerk turn; part of the way back to rest in long pauses."""
    out = np.zeros((n, 3))
    if n == 0:
        return out
    moves: list[tuple[int, np.ndarray, float]] = []
    side = 1.0 if rng.uniform() < 0.5 else -1.0
    cur = np.array([side * rng.uniform(*TURN_YAW) * 0.5, rng.normal(0, 1.0), rng.normal(0, 0.8)])
    start_pose = cur.copy()
    tip = 1.0 if rng.uniform() < 0.5 else -1.0
    for f, kind in sorted([(int(e), 0) for e in st.events] + [(int(s), 1) for s in st.settles]):
        if kind == 0:
            side = -side if rng.uniform() < 0.85 else side  # mostly turn the other way
            tip = -tip if rng.uniform() < 0.7 else tip  # and mostly raise/lower in turn
            yaw = side * rng.uniform(*TURN_YAW)
            pitch = tip * rng.uniform(*TURN_PITCH) - 0.6  # phrases start slightly raised
            tgt = np.array([yaw, pitch, 0.4 * yaw + rng.normal(0, TURN_ROLL_SD)])
            moves.append((f, tgt, TURN_S))
            cur = tgt
        else:
            moves.append((f, cur * SETTLE_KEEP, SETTLE_S))
            cur = cur * SETTLE_KEEP
    # superposed minimum-jerk steps: overlapping moves blend with continuous velocity.
    # Each move ramps over its duration, then holds (a step added once via a cumulative
    # sum), so the cost is O(n + moves * duration), not O(n * moves).
    steps = np.zeros((n + 1, 3))
    steps[0] = start_pose
    prev = start_pose
    for f, tgt, dur in moves:
        if f >= n:
            break
        length = max(int(np.ceil(dur * fps)), 1)
        hi = min(n, f + length)
        k = _min_jerk((np.arange(f, hi) - f) / max(dur * fps, 1.0))[:, None]
        out[f:hi] += (tgt - prev) * k
        steps[hi] += tgt - prev
        prev = tgt
    out += np.cumsum(steps, axis=0)[:n]
    return out


LIMITS = np.array([14.0, 9.5, 7.5])
"""Largest yaw, pitch, roll (degrees) a plan asks for: inside the renderer's range."""
KNEE = 0.7  # poses up to this share of the limit pass unchanged


def soft_limit(pose: np.ndarray) -> np.ndarray:
    """[n, 3] pose eased into +-LIMITS: unchanged up to KNEE * limit, then a tanh
    shoulder (continuous slope, so a turn that runs into the limit slows instead of
    stopping). Elementwise per frame (segment locality holds)."""
    pose = np.asarray(pose, dtype=np.float64)
    k = KNEE * LIMITS
    room = LIMITS - k
    a = np.abs(pose)
    eased = k + room * np.tanh((a - k) / room)
    return np.where(a <= k, pose, np.sign(pose) * eased)


def unit_noise(rng: np.random.Generator, n: int, fps: float, channels: int) -> np.ndarray:
    """[n, channels] smooth noise with unit standard deviation (approx.), deterministic."""
    if n == 0:
        return np.zeros((0, channels))
    pad = int(fps)  # filter warm-up, so the first frames are as smooth as the rest
    raw = rng.standard_normal((2, n + 2 * pad, channels))
    s1, s2 = 0.4 * fps, 0.2 * fps
    slow = smooth(raw[0], s1)  # ~0.35 Hz sway
    fast = smooth(raw[1], s2)  # ~0.8 Hz jitter
    # analytic std of Gaussian-filtered white noise: (2 sqrt(pi) sigma)^-1/2; a constant,
    # so a short segment has the same amplitude as a long clip
    sd = np.sqrt((2.2**2) / (2 * np.sqrt(np.pi) * s1) + (0.5**2) / (2 * np.sqrt(np.pi) * s2))
    return (slow * 2.2 + fast * 0.5)[pad : pad + n] / sd


def envelope(features: AudioFeatures) -> np.ndarray:
    """[n] sway amplitude from slowly smoothed energy: ~0.6 idle .. ~1.2 loud."""
    n, fps = features.n_frames, float(features.fps)
    rms = np.nan_to_num(np.asarray(features.rms, dtype=np.float64)[:n])
    e = smooth(np.clip(rms, 0, 1.5), 0.5 * fps)
    return 0.6 + 0.6 * np.clip(e, 0, 1.0)


def nods(features: AudioFeatures, st: Structure | None = None) -> np.ndarray:
    """[n] pitch offsets (degrees at head_motion 1): on each accent the head dips (from
    ~150 ms before the vowel, deepest ~60 ms after its onset) and comes back with a small
    rebound; depth scales with the accent's prominence."""
    n, fps = features.n_frames, float(features.fps)
    st = st if st is not None else structure(features)
    out = np.zeros(n)
    if n == 0:
        return out
    for f, s in zip(st.stresses, st.strength, strict=True):
        amp = NOD_DEG * (0.35 + 0.65 * float(np.clip((s - 0.5) / 0.45, 0, 1)))
        lo, hi = max(0, int(f - 0.5 * fps)), min(n, int(f + 1.2 * fps) + 1)
        t = np.arange(lo, hi, dtype=np.float64) / fps
        c = f / fps
        dip = np.exp(-0.5 * ((t - c - 0.06) / 0.11) ** 2)  # deepest just after the onset
        rebound = 0.25 * np.exp(-0.5 * ((t - c - 0.36) / 0.15) ** 2)  # back past rest
        out[lo:hi] += amp * (dip - rebound)
    return out


def melody(features: AudioFeatures) -> np.ndarray:
    """[n] pitch offset (degrees, - = up) following the voice's pitch above its median,
    held across unvoiced gaps and smoothed (~150 ms)."""
    n, fps = features.n_frames, float(features.fps)
    p = features.prosody
    if p is None or len(p.f0) != n or n == 0 or not np.any(p.f0 > 0):
        return np.zeros(n)
    st = np.asarray(p.semitones, dtype=np.float64)
    voiced = np.asarray(p.f0) > 0
    idx = np.flatnonzero(voiced)
    held = np.interp(np.arange(n), idx, st[idx])
    vad = np.nan_to_num(np.asarray(features.vad, dtype=np.float64)[:n])
    gate = smooth((vad >= 0.5).astype(np.float64), 0.15 * fps)
    lift = smooth(held, 0.15 * fps) * gate
    return -np.clip(MELODY_DEG_PER_ST * lift, -MELODY_MAX_DEG, MELODY_MAX_DEG)


@dataclass(frozen=True)
class Emphasis:
    """Face channels driven by the voice's emphasis, at expressiveness 1 (the planner scales
    them): brows [n] (raised + / knit -), brow_inner [n] (- = drawn together and down),
    lids [n] (+ = upper lids up: eyes widen with raised brows; - = a frown's slight squint)."""

    brows: np.ndarray
    brow_inner: np.ndarray
    lids: np.ndarray


BROW_ACCENT = (0.45, 1.0)
"""Brow raise on an accent, brows units (1 ~ 0.075 inter-ocular distances), from the
weakest to the most prominent. Real speakers' brows move 0.01-0.04 IOD (std) over a clip
(measured on VASA-1 and EMO footage); raises on ~1 accent a second of this size give
~0.02."""
BROW_MINOR = 0.3
"""Raise on a prominent syllable that is not an accent (keeps sparse-accent speech alive)."""
BROW_PER_ST = 0.035
"""Brows follow the melody (Cave et al. 1996: brow raises go with f0 rises): per semitone
above the speaker's median, clipped to BROW_MELODY; an absolute scale, so a lively voice
moves the brows more than a flat one."""
BROW_MELODY = (-0.15, 0.35)
FROWN_ST = -1.0
"""An accent whose pitch is this many semitones under the speaker's median (a low, weighty
accent) knits the brows instead of raising them."""
FROWN_SHARE = 0.55  # knit depth relative to the raise the accent would have had
LIDS_PER_BROW = 1.2  # the upper lids rise with raised brows (AU5 with AU1+2: eyes widen)
LIDS_PER_FROWN = 0.2  # and tighten a little with a frown (AU7 with AU4)


def _pitch_at(features: AudioFeatures, f: int) -> float | None:
    """Median semitones (around the speaker's median) of the voiced frames at f..f+3."""
    p = features.prosody
    if p is None or len(p.f0) != features.n_frames:
        return None
    sl = slice(max(0, f - 1), f + 4)
    voiced = np.asarray(p.f0[sl]) > 0
    return float(np.median(np.asarray(p.semitones[sl])[voiced])) if voiced.any() else None


def emphasis(features: AudioFeatures, st: Structure) -> Emphasis:
    """Brows, inner brows and lids on emphasis (global: from the audio only).

    * On each accent the brows rise (~150 ms before the vowel, peak just after its onset,
      back over ~0.5 s), by its prominence (BROW_ACCENT); a low-pitched accent knits them
      instead (FROWN_ST), with the inner brows drawn down and the lids tightening.
    * Other prominent syllables get a small raise, phrase starts a slight lift.
    * A slow component follows the voice's pitch above the speaker's median.
    * The upper lids rise with the raised brows (the eyes widen on emphasis).
    """
    n, fps = features.n_frames, float(features.fps)
    up, down = np.zeros(n), np.zeros(n)

    def bump(out: np.ndarray, centre: float, amp: float, rise: float, fall: float) -> None:
        lo = max(0, int((centre - 4 * rise) * fps))
        hi = min(n, int((centre + 4 * fall) * fps) + 1)
        if hi <= lo:
            return
        t = np.arange(lo, hi, dtype=np.float64) / fps - centre
        v = amp * np.exp(-0.5 * (t / np.where(t < 0, rise, fall)) ** 2)
        if amp >= 0:
            np.maximum(out[lo:hi], v, out=out[lo:hi])
        else:
            np.minimum(out[lo:hi], v, out=out[lo:hi])

    accents = set()
    for f, s in zip(st.stresses, st.strength, strict=True):
        k = float(np.clip((s - 0.5) / 0.45, 0, 1))
        amp = BROW_ACCENT[0] + (BROW_ACCENT[1] - BROW_ACCENT[0]) * k
        pitch = _pitch_at(features, int(f))
        if pitch is not None and pitch <= FROWN_ST:
            bump(down, f / fps + 0.03, -FROWN_SHARE * amp, 0.15, 0.35)
        else:
            bump(up, f / fps + 0.03, amp, 0.12, 0.26)
        accents.add(int(f))
    p = features.prosody
    if p is not None and len(p.f0) == n:
        for f, prom in zip(p.nuclei, p.nucleus_prominence, strict=True):
            if prom >= 0.5 and not any(abs(int(f) - a) <= 0.25 * fps for a in accents):
                bump(up, f / fps + 0.03, BROW_MINOR * float(prom), 0.1, 0.2)
    for f in st.starts:
        bump(up, f / fps + 0.1, 0.12, 0.15, 0.25)

    tune = np.zeros(n)
    if p is not None and len(p.f0) == n and n and np.any(p.f0 > 0):
        voiced = np.asarray(p.f0) > 0
        idx = np.flatnonzero(voiced)
        held = np.interp(np.arange(n), idx, np.asarray(p.semitones, np.float64)[idx])
        vad = np.nan_to_num(np.asarray(features.vad, dtype=np.float64)[:n])
        gate = smooth((vad >= 0.5).astype(np.float64), 0.15 * fps)
        tune = np.clip(smooth(held, 0.2 * fps) * BROW_PER_ST, *BROW_MELODY) * gate

    raised = np.clip(up + tune, 0.0, 1.1)  # a raise tops out near the brows' full lift
    brows = raised + np.minimum(up + tune, 0.0) + down
    return Emphasis(
        brows=brows,
        brow_inner=0.8 * down,
        lids=np.minimum(LIDS_PER_BROW * raised, 1.0) + LIDS_PER_FROWN * down,
    )


# ------------------------------------------------------------------ gaze
def saccades(rng: np.random.Generator, n: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """([n, 2] gaze offsets in eye-width units, [k] frames of the big saccades):
    fixations of 0.6-2.5 s with quick (~40 ms) moves between small targets, mostly near the
    centre (talking to the camera)."""
    out = np.zeros((n, 2))
    shifts: list[int] = []
    if n == 0:
        return out, np.zeros(0, np.int64)
    t, cur = 0, np.zeros(2)
    while t < n:
        dur = max(2, int(rng.uniform(0.6, 2.5) * fps))
        nxt = rng.normal(0, [0.05, 0.025]) if rng.uniform() < 0.75 else np.zeros(2)
        ramp = max(1, int(round(0.04 * fps)))
        k = np.clip(np.arange(1, min(dur, n - t) + 1) / ramp, 0, 1)[:, None]
        out[t : t + dur] = cur + (nxt - cur) * k
        if t > 0 and np.abs(nxt - cur).max() > 0.08:  # only big shifts invite a blink
            shifts.append(t)
        cur = nxt
        t += dur
    return out, np.asarray(shifts, np.int64)


def look_aways(
    rng: np.random.Generator, st: Structure, n: int, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """([n, 2] offsets, [k] onset frames): at some phrase ends (40 %) the eyes leave the
    camera (sideways, a little up or down) for 0.4-1.2 s of the pause, as speakers do while
    planning the next phrase; they return by the next phrase start."""
    out = np.zeros((n, 2))
    onsets: list[int] = []
    for i, b in enumerate(st.ends):
        nxt = int(st.starts[i + 1]) if i + 1 < len(st.starts) else n
        draw = rng.uniform(size=4)
        if nxt - b < 0.4 * fps or draw[0] >= 0.4:
            continue
        a = int(b) + 2
        e = min(nxt - 1, a + int((0.4 + 0.8 * draw[1]) * fps))
        if e - a < 3 or a >= n:
            continue
        tgt = np.array([(0.09 + 0.06 * draw[2]) * (1 if draw[3] < 0.5 else -1),
                        0.05 * (draw[2] - 0.5)])
        k = np.arange(a, min(n, e + 3), dtype=np.float64)
        w = np.clip((k - a + 1) / 2.0, 0, 1) * np.clip((e - k + 3) / 3.0, 0, 1)
        out[a : a + len(k)] += w[:, None] * tgt
        onsets.append(a)
    return out, np.asarray(onsets, np.int64)


def gaze_follow(yaw_pitch: np.ndarray) -> np.ndarray:
    """[n, 2] the eyes' share of a head turn: they follow a fifth of its angle (0.004 eye
    widths per degree of yaw). Elementwise per frame, so segment locality holds."""
    return np.asarray(yaw_pitch, dtype=np.float64)[:, :2] * np.array([0.004, 0.003])
