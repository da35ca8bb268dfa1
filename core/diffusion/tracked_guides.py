"""The motion-prior landmarks the guider is shown: the plan as a face tracker sees it.

Why: a guider (FaceLocator) learns from guide maps drawn from landmarks a tracker found on
real video: `data prepare` tracks every training video with the product's Face Mesh, and
Hallo-family models were trained on MediaPipe's tracks. A tracker does not report lips
where they are: the Face Mesh keeps closed lips 0.015-0.06 IOD apart and reads wide
openings at a fraction of their size (core.evaluate.lipgap). The planner's landmarks are
where the lips are: 0 apart when closed, the full gap when open. Drawn from the plan, the
guides showed the guider mouths it had never seen.

Measured on `bench learn`'s model (stage 1 1200 steps, stage 2 200, on one CPU-engine
clip of the astronaut): the plan's inner-lip gap and the tracker's on the same clip
correlate 0.90, but span 0-7.3 px against 1.9-5.0 px; rendered with the plan's guides the
model's mouth did not follow the training video's (r -0.08), with the training video's own
tracked guides it did (r 0.50).

So the engine renders the plan with the warp engine (the CPU engine: no weights, ~300
frames/s), tracks those frames exactly as `data prepare` tracks a video
(`core.training.data`'s detection every CHECK_EVERY frames, the previous frame's box
between), and draws the guides from the tracked points mapped back to portrait pixels. A
frame the tracker loses keeps the plan's landmarks, and so do the frames up to the next
full detection (a face the detector does not find costs one detection per CHECK_EVERY
frames, not one per frame).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import numpy as np

from core.types import RenderRequest

log = logging.getLogger(__name__)
TRACK_SIZE = 384
"""Warp render size the plan is tracked at: the face spans ~170 px of it in a
head-and-shoulders portrait, as in a 512 px training video, at ~200 frames/s."""
CHECK_EVERY = 10
"""Full face detection this often, as `data prepare` tracks a training video
(core.face.track_landmarks, the tracker both use)."""


def tracked_landmarks(request: RenderRequest, frames: range,
                      cancel: Callable[[], bool] | None = None) -> np.ndarray:
    """[n_frames, 68, 2] landmarks in FaceRig image pixels: for `frames`, the Face Mesh's
    68 points on the warp engine's render of the plan; elsewhere (and on frames where the
    tracker finds no face) the plan's own."""
    from core.engines.warp import WarpEngine
    from core.face import track_landmarks

    plan = np.asarray(request.motion.landmarks, np.float64)
    out = plan.copy()
    if len(frames) == 0:
        return out
    w = float(request.rig.image.shape[1])
    scale = TRACK_SIZE / w  # the warp output is the rig image scaled to the output width
    warp = dataclasses.replace(request, size=TRACK_SIZE)
    # the track restarts at every multiple of CHECK_EVERY, so a frame's points depend on
    # its clip index only: a re-rendered segment is shown the guides the whole render had
    run = range(frames.start - frames.start % CHECK_EVERY, frames.stop)
    lost = 0
    tracked = track_landmarks(zip(run, WarpEngine().render(warp, run), strict=True), CHECK_EVERY)
    for i, lm in zip(run, tracked, strict=True):
        if cancel is not None and cancel():
            break
        if lm is None:
            lost += i in frames
        else:
            out[i] = (np.asarray(lm, np.float64) + 0.5) / scale - 0.5
    if lost:
        log.info("tracked guides: no face on %d of %d warp frames; the plan's landmarks "
                 "stand in there", lost, len(frames))
    return out


def with_tracked_landmarks(request: RenderRequest, frames: range,
                           cancel: Callable[[], bool] | None = None) -> RenderRequest:
    """`request` whose motion's landmarks are `tracked_landmarks` (everything else kept)."""
    motion = dataclasses.replace(request.motion,
                                 landmarks=tracked_landmarks(request, frames, cancel))
    return dataclasses.replace(request, motion=motion)
