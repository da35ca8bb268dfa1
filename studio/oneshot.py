"""One-shot render: portrait + speech -> MP4, without a project.

This is the pipeline behind `python main.py render --portrait P --audio A` and `demo`.
Every input is validated (and the output path checked) before any expensive work, so bad
input fails in milliseconds with a one-line error and never leaves a partial file.

It shares the studio's render path: engines come from studio.engines (one registry, typed
options), limits from core.types (SIZE_RANGE, FPS_RANGE, CRF_RANGE, SEED_RANGE), and the
frames are rendered and encoded by `studio.runner.encode_frames`, the step every project
job runs too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EngineUnavailable, InputError
from core.types import (
    CRF_RANGE,
    FPS_RANGE,
    SEED_RANGE,
    SIZE_RANGE,
    CancelFn,
    Expression,
    ProgressFn,
    RenderRequest,
    TextEdit,
    check_size,
)
from studio import engines
from studio.engines import EngineOptions

MIN_SIZE, MAX_SIZE = int(SIZE_RANGE.min), int(SIZE_RANGE.max)


@dataclass(frozen=True)
class OneShotJob:
    """A one-shot render request (typed; `settings` are the engine's options)."""

    portrait: Path
    audio: Path
    out: Path
    transcript: str | None = None
    landmarks: Path | None = None
    size: int = int(SIZE_RANGE.default)
    fps: float = FPS_RANGE.default
    engine: str = "warp"
    seed: int = int(SEED_RANGE.default)
    expression: Expression = field(default_factory=Expression)
    text: TextEdit = field(default_factory=TextEdit)
    settings: EngineOptions | dict = field(default_factory=EngineOptions)
    crf: int = int(CRF_RANGE.default)

    @property
    def options(self) -> EngineOptions:
        s = self.settings
        return s if isinstance(s, EngineOptions) else EngineOptions.from_dict(s)


@dataclass
class OneShotResult:
    out: Path
    n_frames: int
    duration: float
    timings: dict[str, float]
    warnings: list[str]


def validate_size(size: int) -> int:
    try:
        return check_size(size)
    except ValueError:
        raise InputError(None, f"--size {size} is not supported: use an even size from "
                         f"{MIN_SIZE} to {MAX_SIZE}") from None


def validate_fps(fps: float) -> float:
    if not FPS_RANGE.min <= fps <= FPS_RANGE.max:
        raise InputError(None, f"--fps {fps} is not supported: use {FPS_RANGE.min:g} to "
                         f"{FPS_RANGE.max:g}")
    return fps


def validate_crf(crf: int) -> int:
    if not CRF_RANGE.min <= crf <= CRF_RANGE.max:
        raise InputError(None, f"--crf {crf} is out of range: use {CRF_RANGE.min:g}-"
                         f"{CRF_RANGE.max:g}")
    return crf


def render_oneshot(
    job: OneShotJob, progress: ProgressFn | None = None, cancel: CancelFn | None = None
) -> OneShotResult:
    """Analyse, plan, render and encode; returns the written path and stage timings."""
    from core import audio as core_audio
    from core import face, image, motion, video
    from core.audio.text import check_transcript
    from core.fsutil import check_input_file
    from studio.runner import encode_frames

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    validate_size(job.size)
    validate_fps(job.fps)
    validate_crf(job.crf)
    video.check_writable(job.out)
    engine = engines.create(job.engine, job.options)
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
        settings=job.options.as_dict(),
        audio=wave,
    )
    n = track.n_frames

    def frame_progress(fraction: float, message: str) -> None:
        if progress:
            progress(0.05 + 0.95 * fraction, message)

    t = time.perf_counter()
    encode_frames(engine, request, range(n), Path(job.out), audio=wave, crf=job.crf,
                  preset=None, progress=frame_progress, cancel=cancel)
    timings["render_encode"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return OneShotResult(Path(job.out), n, n / job.fps, timings, list(rig.warnings))
