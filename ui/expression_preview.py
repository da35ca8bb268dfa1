"""One warp-engine frame of a timeline with a given expression (the preset editor's live
preview). Runs on the preview thread; the studio's caches make the rig and the audio
features free after the first call, so a slider move costs one motion plan + one frame.
The engine is the project's engine host's (the window's one host, shared with the render
lane): no engine of its own."""

from __future__ import annotations

import numpy as np

from core.errors import InputError
from core.types import Expression, RenderRequest, TextEdit


def render_expression_frame(project, timeline_id: int | None, frame: int,
                            expression: Expression, portrait_id: int | None = None
                            ) -> np.ndarray:
    from studio import pipeline

    if timeline_id is None:
        raise InputError(None, "create a timeline to see a live preview of the expression")
    tl = project.timeline(timeline_id)
    rig = project.portrait_rig(portrait_id if portrait_id is not None else tl.portrait_id)
    features = project.audio_features(tl.audio_id, tl.fps)
    expression = expression.clamped()
    motion = pipeline.plan_motion(rig, features, expression, tl.seed)
    frame = int(np.clip(frame, 0, motion.n_frames - 1))
    request = RenderRequest(rig=rig, features=features, motion=motion, size=min(tl.size, 384),
                            fps=float(tl.fps), seed=tl.seed, expression=expression,
                            text=TextEdit(), settings={})
    engine = project.engine_host.get("warp")
    return next(iter(engine.render(request, frames=range(frame, frame + 1))))
