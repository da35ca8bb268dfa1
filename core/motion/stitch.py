"""Stitching a re-planned motion track into the one it replaces (a script edit).

A pure function of two motion tracks: studio.scripts calls it when an edit of a script's
text re-plans the speech, so the renders it keeps still meet the new plan without a jump.
"""

from __future__ import annotations

import numpy as np

STITCH_FRAMES = 12
"""Frames over which the re-planned motion of an edit blends from/into the kept motion."""


def stitch_motion(old, new, lo: int, hi: int, shift: int, rig=None,
                  fade: int = STITCH_FRAMES):
    """The base motion of an edited track: the OLD plan where renders were kept (frames
    [0, lo) as they were, [hi, n) = old frames shifted by `shift`), the new plan over the
    edit, blended from the old motion over `fade` frames after `lo` and back into it over
    the `fade` frames before `hi`. Mouth channels always follow the new audio; landmarks
    are re-synthesised from the stitched channels (with `rig`).

    Why: the planner's head, gaze and blink channels are drawn over the whole track, so a
    fresh plan of the edited track differs everywhere (measured: head pose up to 2 degrees
    before the edit, 10 after). The kept renders show the old plan; re-rendered segments
    planned from this stitched track meet them without a jump, and later edits of the
    track start from it (it is the cached base plan of the new audio)."""
    from dataclasses import fields, replace

    n = int(new.n_frames)
    k = np.arange(n)
    w_in = np.clip((k - lo + 1) / (fade + 1), 0, 1) if lo > 0 else np.ones(n)
    w_out = np.clip((hi - k) / (fade + 1), 0, 1) if hi < n else np.ones(n)
    w = np.minimum(w_in, w_out)  # 1 = new plan, 0 = old plan
    w = w * w * (3 - 2 * w)
    src = np.where(k < (lo + hi) / 2, k, k - shift)  # the old frame each new frame continues
    src = np.clip(src, 0, int(old.n_frames) - 1)
    kw = {}
    for f in fields(new):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if (f.name in _AUDIO_CHANNELS or not isinstance(b, np.ndarray)
                or not isinstance(a, np.ndarray) or len(b) != n):
            continue
        o = a[src]
        ww = w.reshape((n,) + (1,) * (b.ndim - 1))
        kw[f.name] = (o + ww * (b - o)).astype(b.dtype)
    out = replace(new, **kw)
    if rig is not None:
        from core.motion.landmarks import rig_geometry, synthesize

        ch = {f.name: np.asarray(getattr(out, f.name), np.float64) for f in fields(out)
              if isinstance(getattr(out, f.name), np.ndarray) and f.name != "landmarks"}
        out = replace(out, landmarks=synthesize(rig_geometry(rig), ch).astype(
            new.landmarks.dtype))
    return out


_AUDIO_CHANNELS = frozenset(["mouth_open", "mouth_width", "jaw"])
