"""The studio's only doorway into core's generation stages (lazy imports).

Keeping every call into core here means API drift in core is fixed in one place, and
importing `studio` (e.g. for `project list`) stays cheap: nothing heavy is loaded until a
portrait is analysed or a frame rendered.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.types import AudioFeatures, Expression, FaceRig, MotionTrack, Waveform


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
