"""The studio's only doorway into core's generation stages (lazy imports).

Keeping every call into core here means API drift in core is fixed in one place, and
importing `studio` (e.g. for `project list`) stays cheap: nothing heavy is loaded until a
portrait is analysed or a frame rendered.

`encode_frames`, the render step every project job and one-shot render runs, lives here
rather than in studio.runner so that a one-shot render never imports the database layer
(SQLAlchemy alone is ~0.3 s of a 10 s clip's ~4 s render).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import Cancelled
from core.types import (
    AudioFeatures,
    CancelFn,
    Expression,
    FaceRig,
    MotionTrack,
    ProgressFn,
    RenderRequest,
    Waveform,
)

RENDER_CRF = 18
"""Quality of segment renders. Export stream-copies them when asked for the same CRF."""
RENDER_PRESET = "veryfast"


def load_image(path: str | Path) -> np.ndarray:
    from core.image import load_image as _load

    return _load(path)


def load_landmarks(path: str | Path) -> np.ndarray:
    from core.face import load_landmarks_json

    return np.asarray(load_landmarks_json(path), dtype=np.float32)


def analyze_face(image: np.ndarray, landmarks: np.ndarray | None = None) -> FaceRig:
    from core.face import analyze

    return analyze(image, landmarks=landmarks)


def load_audio(path: str | Path) -> Waveform:
    from core.audio import load

    return load(path)


def analyze_audio(wave: Waveform, fps: float, transcript: str | None) -> AudioFeatures:
    from core.audio import analyze

    return analyze(wave, fps, transcript)


def plan_motion(rig: FaceRig, features: AudioFeatures, expression: Expression, seed: int,
                controls: list[tuple[int, int, Expression | None, int | None]] | None = None
                ) -> MotionTrack:
    """The whole-track motion plan; `controls` = per-segment overrides
    (start, end, expression or None, seed or None) that fade to the base at their edges."""
    from core import motion

    segs = [motion.SegmentControl(s, e, ex, sd) for s, e, ex, sd in (controls or [])]
    return motion.plan(rig, features, expression, seed, segments=segs)


def create_engine(name: str, **options):
    """A new engine (kept for callers outside the studio; studio.engines.EngineHost builds
    and caches engines for the queue, previews and export)."""
    from studio import engines

    return engines.create(name, options)


def engine_names() -> list[str]:
    from studio import engines

    return engines.names()


def strip_rig(rig: FaceRig) -> FaceRig:
    """The rig as the project cache stores it: without pixels (core.face.compact)."""
    from core.face import compact

    return compact.strip(rig)


def restore_rig(rig: FaceRig, portrait_path: str | Path) -> FaceRig:
    """A stripped rig made whole again from the portrait it was analysed from."""
    from core.face import compact

    return compact.restore(rig, load_image(portrait_path))


def source_sample_rate(path: str | Path) -> int:
    """The sample rate an audio file declares (0 when unknown), shown to the user."""
    from core.audio.loader import source_sample_rate as _rate

    return _rate(path)


def encode_frames(engine, request: RenderRequest, frames: range, out: Path,
                  audio: Waveform | None = None, crf: int = RENDER_CRF,
                  preset: str | None = RENDER_PRESET, progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None,
                  frame_label: Callable[[int], str] | None = None,
                  fps: float | None = None, threaded: bool = True) -> Path:
    """THE studio render step, shared by project jobs and one-shot renders: `frames` of
    `request` rendered by `engine`, checked (size, count) and encoded to `out` atomically
    (with `audio` muxed when given). Nothing is left behind on cancel or error.
    `threaded`: encode in a thread of its own while the engine renders (core.video.write_mp4;
    the same file either way)."""
    from core.video import write_mp4

    n = len(frames)
    size = request.size
    is_cancelled = cancel or (lambda: False)
    label = frame_label or (lambda i: f"frame {i}/{n}")
    it = engine.render(request, frames=frames, cancel=cancel)

    def counted():
        i = 0
        for i, frame in enumerate(it, start=1):  # noqa: B007
            if frame.shape[:2] != (size, size):
                raise RuntimeError(f"engine returned a {frame.shape[1]}x{frame.shape[0]} "
                                   f"frame, expected {size}x{size}")
            yield frame
            if progress is not None:
                progress(min(1.0, i / n) * 0.999, label(i))
            if is_cancelled():
                raise Cancelled()
        if i != n:
            raise RuntimeError(f"engine yielded {i} frames, expected {n}")

    kw = {} if preset is None else {"preset": preset}
    return write_mp4(counted(), request.fps if fps is None else fps, out, audio=audio, crf=crf, n_frames=n,
                     cancel=cancel, threaded=threaded, **kw)
