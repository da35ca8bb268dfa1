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
  A seed override re-draws the random events (blinks, head noise, gaze) inside the
  segment only: noise is cross-faded with the same ramp, and blinks are whole events (a
  base blink that straddles an edge or sits in a fade stays; new blinks are only placed
  where they fit entirely in the segment's core).

Lip motion comes from the audio and is global: the same in every segment, whatever its
controls. Everything after the per-frame channels (landmark synthesis) is elementwise per
frame, which is what makes locality exact rather than approximate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.motion import blink as blinks
from core.motion import head
from core.motion.landmarks import RigGeometry, geometry, synthesize
from core.motion.mouth import mouth_channels, smooth
from core.types import AudioFeatures, Expression, FaceRig, MotionTrack

FADE_FRAMES = 8
_STREAM_BLINK, _STREAM_HEAD, _STREAM_GAZE = 1, 2, 3


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
    geo = geometry(rig.landmarks)
    return plan_geometry(geo, features, expression, seed, segments)


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
    env = head.envelope(features)
    nod = head.nods(features)
    vad = np.nan_to_num(np.asarray(features.vad, dtype=np.float64)[:n])
    pause = vad < 0.5
    emphasis = _brow_emphasis(features, nod)

    # ---- base plan: expression controls per frame + seeded random events
    smile_c = np.full(n, ex.smile)
    brows_c = np.full(n, ex.brows)
    motion_c = np.full(n, ex.head_motion)
    noise = head.unit_noise(_rng(seed, _STREAM_HEAD), n, fps, 3)
    gaze = head.saccades(_rng(seed, _STREAM_GAZE), n, fps)
    events = blinks.draw_events(_rng(seed, _STREAM_BLINK), 0, n, fps, ex.blink_rate, pause)
    blink = blinks.curve(events, n, fps)

    # ---- segment overrides: each writes only rows [s, e)
    for seg in segments:
        s, e = max(0, int(seg.start)), min(n, int(seg.end))
        if e <= s:
            continue
        w = fade_weights(e - s)
        sx = seg.expression.clamped() if seg.expression is not None else ex
        if seg.expression is not None:
            for arr, val in ((smile_c, sx.smile), (brows_c, sx.brows), (motion_c, sx.head_motion)):
                arr[s:e] = arr[s:e] + w * (val - arr[s:e])
        reseed = seg.seed is not None and seg.seed != seed
        if not reseed and sx.blink_rate == ex.blink_rate:
            continue
        sseed = seg.seed if seg.seed is not None else seed
        if reseed:
            seg_noise = head.unit_noise(_rng(sseed, _STREAM_HEAD, s), e - s, fps, 3)
            noise[s:e] = noise[s:e] + w[:, None] * (seg_noise - noise[s:e])
            seg_gaze = head.saccades(_rng(sseed, _STREAM_GAZE, s), e - s, fps)
            gaze[s:e] = gaze[s:e] + w[:, None] * (seg_gaze - gaze[s:e])
        events = _redraw_blinks(
            events, s, e, w, _rng(sseed, _STREAM_BLINK, s), fps, sx.blink_rate, pause
        )
        blink[s:e] = blinks.curve(events, n, fps)[s:e]

    # ---- assemble channels
    amp = head.AMPLITUDE[None] * env[:, None] * noise
    amp[:, 1] += nod
    head_pose = amp * motion_c[:, None]
    head_shift = np.stack([head_pose[:, 0] * 0.004, head_pose[:, 1] * 0.003], axis=1)
    ch.update(
        blink=blink,
        smile=smile_c,
        brows=brows_c + emphasis * np.minimum(motion_c, 1.0),
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
    )


def _brow_emphasis(features: AudioFeatures, nod: np.ndarray) -> np.ndarray:
    """Small brow raises with the nods (emphasis), [n] in brows units."""
    if nod.size == 0:
        return nod
    return smooth(np.clip(nod / head.NOD_DEG, 0, 1), 0.05 * features.fps) * 0.18


def _redraw_blinks(
    events: np.ndarray,
    s: int,
    e: int,
    w: np.ndarray,
    rng: np.random.Generator,
    fps: float,
    rate: float,
    pause: np.ndarray,
) -> np.ndarray:
    """Replace the blinks that lie wholly in the segment's core by freshly drawn ones."""
    before = blinks.CLOSE_S * fps + 1
    after = (blinks.HOLD_S + blinks.OPEN_S) * fps + 1

    def in_core(p: np.ndarray) -> np.ndarray:
        k = np.clip(np.floor(p).astype(int) - s, 0, e - s - 1)
        return (p - before >= s) & (p + after < e) & (w[k] >= 0.5)

    keep = events[~in_core(events)] if events.size else events
    new = blinks.draw_events(rng, s, e, fps, rate, pause)
    new = new[in_core(new)] if new.size else new
    return np.sort(np.concatenate([keep, new]))
