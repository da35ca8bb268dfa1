"""`plan`: audio features + portrait + expression -> MotionTrack (the structured motion prior).

Segment contract (what the timeline relies on)
---------------------------------------------
A timeline re-renders one segment at a time and must splice it between untouched
neighbours, so per-segment overrides (`SegmentControl`) obey two rules:

* Locality: frames outside [start, end) of a segment do not depend on that segment's
  controls at all. Changing a segment's expression or seed leaves every other frame
  bit-identical, so its neighbours' cached renders stay valid.
* Continuity: inside the segment an override fades in from the base plan over its first
  frames and back out over its last ones (8 frames each side, fewer for short segments;
  weight smoothstep((k+1)/(F+1))), so the re-rendered segment meets its neighbours without a jump.
  An expression override (smile, brows, head motion, emotion with its intensity,
  expressiveness, gaze) is a vector of per-frame controls blended with that weight, so an
  emotion fades in and out too (its brows, lids, mouth and head carriage alike).
  A seed override re-draws the random parts (blinks, sway noise, phrase orientations,
  saccades and look-aways) inside the segment only: they are cross-faded with the same
  ramp, and blinks are whole events (a base blink that straddles an edge or sits in a
  fade stays; new blinks are only placed where they fit entirely in the segment's core).

What is global (audio-driven, the same whatever the segment's controls): the lips, the
phrase structure and accents from prosody (core.audio.prosody via core.motion.head), and so
the times of nods, turns, settling and emphasis (brows, knit inner brows and widening
lids: head.emphasis, scaled by expressiveness); the controls only scale them. The final
head pose is eased into the renderer's range (head.soft_limit, elementwise per frame).

Lip motion comes from the audio and is global: the same in every segment, whatever its
controls. Everything after the per-frame channels (landmark synthesis) is elementwise per
frame, which is what makes locality exact rather than approximate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.motion import blink as blinks
from core.motion import emotion, head
from core.motion.landmarks import RigGeometry, rig_geometry, synthesize
from core.motion.mouth import mouth_channels
from core.types import AudioFeatures, Expression, FaceRig, MotionTrack

FADE_FRAMES = 8
_STREAM_BLINK, _STREAM_HEAD, _STREAM_GAZE, _STREAM_PHRASE, _STREAM_LOOK = 1, 2, 3, 4, 5

# per-frame control columns (blended with the segment fade weights)
_CTL = (
    "smile", "brows", "brow_inner", "lids", "mouth_width", "sneer",
    "pitch", "yaw", "roll", "gaze_x", "gaze_y", "motion", "face", "gaze",
)
_C = {name: i for i, name in enumerate(_CTL)}


@dataclass(frozen=True)
class SegmentControl:
    """Overrides for frames [start, end): an expression and/or a seed (None = base)."""

    start: int
    end: int
    expression: Expression | None = None
    seed: int | None = None


def _rng(seed: int, stream: int, start: int = -1) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stream, start + 1])


def fade_weights(length: int, fade: int = FADE_FRAMES) -> np.ndarray:
    """[length] override weight inside a segment: smoothstep of (k+1)/(F+1) in and out."""
    if length <= 0:
        return np.zeros(0)
    f = max(1, min(fade, length // 3))
    k = np.arange(length, dtype=np.float64)
    x = np.minimum(1.0, np.minimum((k + 1) / (f + 1), (length - k) / (f + 1)))
    return x * x * (3 - 2 * x)  # smoothstep: the first frame moves only ~3 % of the way


def control_vector(ex: Expression) -> np.ndarray:
    """The per-frame control values an (already clamped) expression asks for, in _CTL order:
    user controls plus the emotion's offsets (core.motion.emotion) and motion multipliers."""
    off = emotion.offsets(ex)
    dyn = emotion.dynamics(ex)
    v = dict(off)
    v["smile"] = float(np.clip(ex.smile + off["smile"], -1, 1))
    v["brows"] = float(np.clip(ex.brows + off["brows"], -1, 1))
    v["motion"] = ex.head_motion * dyn
    v["face"] = ex.expressiveness * dyn
    v["gaze"] = ex.gaze
    gz = min(1.0, ex.gaze)  # a gaze of 0 keeps the eyes on the camera, emotion or not
    v["gaze_x"], v["gaze_y"] = off["gaze_x"] * gz, off["gaze_y"] * gz
    return np.array([v[c] for c in _CTL], dtype=np.float64)


def plan(
    rig: FaceRig,
    features: AudioFeatures,
    expression: Expression = Expression(),
    seed: int = 0,
    segments: Sequence[SegmentControl] = (),
) -> MotionTrack:
    """Plan the motion of every video frame of `features` for portrait `rig`.

    Deterministic: the same inputs and seed give identical arrays. See the module
    docstring for how `segments` overrides behave (locality + continuity).
    """
    geo = rig_geometry(rig)
    return plan_geometry(geo, features, expression, seed, segments)


def _random_head(seed: int, st: head.Structure, n: int, fps: float, s: int = -1) -> np.ndarray:
    """[n, 3] the seeded part of the head pose for the whole clip: phrase orientations."""
    return head.phrase_pose(_rng(seed, _STREAM_PHRASE, s), st, n, fps)


def _random_gaze(
    seed: int, st: head.Structure, n: int, fps: float, s: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """([n, 2] saccades + look-aways over the whole clip, gaze-shift frames)."""
    sac, shifts = head.saccades(_rng(seed, _STREAM_GAZE, s), n, fps)
    look, onsets = head.look_aways(_rng(seed, _STREAM_LOOK, s), st, n, fps)
    return sac + look, np.union1d(shifts, onsets)


def plan_geometry(
    geo: RigGeometry,
    features: AudioFeatures,
    expression: Expression = Expression(),
    seed: int = 0,
    segments: Sequence[SegmentControl] = (),
) -> MotionTrack:
    """`plan` for a precomputed RigGeometry (lets callers re-plan without re-reading the rig)."""
    n, fps = int(features.n_frames), float(features.fps)
    ex = expression.clamped()

    # ---- global, audio-driven channels (identical in every segment)
    ch = mouth_channels(features)
    st = head.structure(features)
    env = head.envelope(features)
    nod = head.nods(features, st)
    tune = head.melody(features)
    emph = head.emphasis(features, st)
    vad = np.nan_to_num(np.asarray(features.vad, dtype=np.float64)[:n])
    pause = vad < 0.5
    after_phrase = st.ends + round(0.15 * fps)

    # ---- base plan: expression controls per frame + seeded random events
    ctl = np.broadcast_to(control_vector(ex), (n, len(_CTL))).copy()
    noise = head.unit_noise(_rng(seed, _STREAM_HEAD), n, fps, 3)
    turns = _random_head(seed, st, n, fps)
    wander, shifts = _random_gaze(seed, st, n, fps)
    base_rate = ex.blink_rate * emotion.blink_factor(ex)
    events = blinks.draw_events(
        _rng(seed, _STREAM_BLINK), 0, n, fps, base_rate, pause, np.r_[after_phrase, shifts]
    )
    blink = blinks.curve(events, n, fps)

    # ---- segment overrides: each writes only rows [s, e)
    for seg in segments:
        s, e = max(0, int(seg.start)), min(n, int(seg.end))
        if e <= s:
            continue
        w = fade_weights(e - s)
        sx = seg.expression.clamped() if seg.expression is not None else ex
        if seg.expression is not None:
            ctl[s:e] += w[:, None] * (control_vector(sx) - ctl[s:e])
        reseed = seg.seed is not None and seg.seed != seed
        rate = sx.blink_rate * emotion.blink_factor(sx)
        if not reseed and rate == base_rate:
            continue
        sseed = seg.seed if seg.seed is not None else seed
        seg_shifts = shifts
        if reseed:
            seg_noise = head.unit_noise(_rng(sseed, _STREAM_HEAD, s), e - s, fps, 3)
            noise[s:e] += w[:, None] * (seg_noise - noise[s:e])
            seg_turns = _random_head(sseed, st, n, fps, s)[s:e]
            turns[s:e] += w[:, None] * (seg_turns - turns[s:e])
            seg_wander, seg_shifts = _random_gaze(sseed, st, n, fps, s)
            wander[s:e] += w[:, None] * (seg_wander[s:e] - wander[s:e])
        events = _redraw_blinks(
            events, s, e, w, _rng(sseed, _STREAM_BLINK, s), fps, rate, pause,
            np.r_[after_phrase, seg_shifts],
        )
        blink[s:e] = blinks.curve(events, n, fps)[s:e]

    # ---- assemble channels
    motion_c, face_c = ctl[:, _C["motion"]], ctl[:, _C["face"]]
    sway = head.AMPLITUDE[None] * env[:, None] * noise
    moving = turns + sway
    moving[:, 1] += nod + tune
    carriage = ctl[:, [_C["yaw"], _C["pitch"], _C["roll"]]]
    head_pose = head.soft_limit(moving * motion_c[:, None] + carriage)
    head_shift = np.stack([head_pose[:, 0] * 0.004, head_pose[:, 1] * 0.003], axis=1)
    gaze = (wander + head.gaze_follow(moving[:, :2])) * ctl[:, _C["gaze"], None]
    gaze += ctl[:, [_C["gaze_x"], _C["gaze_y"]]]
    ch["mouth_width"] = ch["mouth_width"] + ctl[:, _C["mouth_width"]]
    face_k = np.minimum(face_c, 2.0)
    ch.update(
        blink=blink,
        smile=ctl[:, _C["smile"]],
        brows=ctl[:, _C["brows"]] + emph.brows * face_k,
        brow_inner=ctl[:, _C["brow_inner"]] + emph.brow_inner * face_k,
        lids=ctl[:, _C["lids"]] + emph.lids * face_k,
        sneer=ctl[:, _C["sneer"]],
        head_pose=head_pose,
        head_shift=head_shift,
    )
    landmarks = synthesize(geo, ch)
    f32 = np.float32
    return MotionTrack(
        fps=fps,
        mouth_open=ch["mouth_open"].astype(f32),
        mouth_width=ch["mouth_width"].astype(f32),
        jaw=ch["jaw"].astype(f32),
        blink=blink.astype(f32),
        gaze=gaze.astype(f32),
        head_pose=head_pose.astype(f32),
        head_shift=head_shift.astype(f32),
        smile=ch["smile"].astype(f32),
        brows=ch["brows"].astype(f32),
        landmarks=landmarks.astype(f32),
        seed=int(seed),
        brow_inner=ch["brow_inner"].astype(f32),
        lids=ch["lids"].astype(f32),
        sneer=ch["sneer"].astype(f32),
    )


def _redraw_blinks(
    events: np.ndarray,
    s: int,
    e: int,
    w: np.ndarray,
    rng: np.random.Generator,
    fps: float,
    rate: float,
    pause: np.ndarray,
    prefer: np.ndarray | None = None,
) -> np.ndarray:
    """Replace the blinks that lie wholly in the segment's core by freshly drawn ones."""
    before = blinks.CLOSE_S * fps + 1
    after = (blinks.HOLD_S + blinks.OPEN_S) * fps + 1

    def in_core(p: np.ndarray) -> np.ndarray:
        k = np.clip(np.floor(p).astype(int) - s, 0, e - s - 1)
        return (p - before >= s) & (p + after < e) & (w[k] >= 0.5)

    keep = events[~in_core(events)] if events.size else events
    new = blinks.draw_events(rng, s, e, fps, rate, pause, prefer)
    new = new[in_core(new)] if new.size else new
    return np.sort(np.concatenate([keep, new]))
