"""One-shot render: portrait + speech -> MP4, without a project.

This is the pipeline behind `python main.py render --portrait P --audio A` and `demo`.
Every input is validated (and the output path checked) before any expensive work, so bad
input fails in milliseconds with a one-line error and never leaves a partial file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EngineUnavailable, InputError
from core.types import CancelFn, Expression, ProgressFn, RenderRequest, TextEdit

MIN_SIZE, MAX_SIZE = 256, 1024


@dataclass
class OneShotJob:
    portrait: Path
    audio: Path
    out: Path
    transcript: str | None = None
    landmarks: Path | None = None
    size: int = 512
    fps: float = 25.0
    engine: str = "warp"
    seed: int = 0
    expression: Expression = field(default_factory=Expression)
    text: TextEdit = field(default_factory=TextEdit)
    settings: dict = field(default_factory=dict)
    crf: int = 18


@dataclass
class OneShotResult:
    out: Path
    n_frames: int
    duration: float
    timings: dict[str, float]
    warnings: list[str]


def validate_size(size: int) -> int:
    if not MIN_SIZE <= size <= MAX_SIZE or size % 2:
        raise InputError(None, f"--size {size} is not supported: use an even size from {MIN_SIZE} to {MAX_SIZE}")
    return size


def validate_fps(fps: float) -> float:
    if not 1 <= fps <= 60:
        raise InputError(None, f"--fps {fps} is not supported: use 1 to 60")
    return fps


def render_oneshot(
    job: OneShotJob, progress: ProgressFn | None = None, cancel: CancelFn | None = None
) -> OneShotResult:
    """Analyse, plan, render and encode; returns the written path and stage timings."""
    from core import audio as core_audio
    from core import engines, face, image, motion, video
    from core.audio.text import check_transcript
    from core.fsutil import check_input_file

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    validate_size(job.size)
    validate_fps(job.fps)
    video.check_writable(job.out)
    engine = engines.create(job.engine, **job.settings)
    ok, why = engine.available()
    if not ok:
        raise EngineUnavailable(job.engine, why)
    check_input_file(job.portrait, "an image file")
    check_input_file(job.audio, "an audio file")
    check_transcript(job.transcript)

    def stage(fraction: float, message: str) -> None:
        if progress:
            progress(fraction, message)
        if cancel and cancel():
            from core.errors import Cancelled

            raise Cancelled()

    stage(0.0, "analysing portrait")
    points = face.load_landmarks_json(job.landmarks) if job.landmarks else None
    rig = face.analyze(image.load_image(job.portrait), landmarks=points, source_path=job.portrait)
    timings["face"] = time.perf_counter() - t0

    t = time.perf_counter()
    stage(0.02, "analysing audio")
    wave = core_audio.load(job.audio)
    features = core_audio.analyze(wave, fps=job.fps, transcript=job.transcript)
    timings["audio"] = time.perf_counter() - t

    t = time.perf_counter()
    track = motion.plan(rig, features, expression=job.expression, seed=job.seed)
    timings["plan"] = time.perf_counter() - t

    request = RenderRequest(
        rig=rig,
        features=features,
        motion=track,
        size=job.size,
        fps=job.fps,
        seed=job.seed,
        expression=job.expression,
        text=job.text,
        settings=dict(job.settings),
        audio=wave,
    )
    n = track.n_frames

    def frame_progress(fraction: float, message: str) -> None:
        if progress:
            progress(0.05 + 0.95 * fraction, message)

    t = time.perf_counter()
    frames = engine.render(request, progress=None, cancel=cancel)
    video.write_mp4(
        frames,
        fps=job.fps,
        out_path=job.out,
        audio=wave,
        crf=job.crf,
        n_frames=n,
        progress=frame_progress,
        cancel=cancel,
    )
    timings["render_encode"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return OneShotResult(Path(job.out), n, n / job.fps, timings, list(rig.warnings))
