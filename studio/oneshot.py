"""One-shot render: portrait + speech -> MP4, without a project.

This is the pipeline behind `python main.py render --portrait P --audio A` and `demo`.
Every input is validated (and the output path checked) before any expensive work, so bad
input fails in milliseconds with a one-line error and never leaves a partial file.

It shares the studio's render path: engines come from studio.engines (one registry, typed
options), limits from core.types (SIZE_RANGE, FPS_RANGE, CRF_RANGE, SEED_RANGE), and the
frames are rendered and encoded by `studio.pipeline.encode_frames`, the step every project
job runs too.

Speed (issue 11: a 10 s clip at 512 px in under 5 s on two cores): the stages that do not
depend on each other overlap. The portrait is analysed in a thread while this one analyses
the audio, and the H.264/AAC encode runs in a thread of its own while the engine renders the
next frames (core.video.write_mp4). The engine itself renders on this one thread. Every
stage makes the calls it makes in the serial path (`parallel=False`), in the same order
inside its thread, so the file is the same byte for byte (tests/studio/test_oneshot_parallel.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import Cancelled, EngineUnavailable, InputError
from core.types import (
    CRF_RANGE,
    FPS_RANGE,
    SEED_RANGE,
    SIZE_RANGE,
    AudioFeatures,
    CancelFn,
    Expression,
    FaceRig,
    ProgressFn,
    RenderRequest,
    TextEdit,
    Waveform,
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
    job: OneShotJob, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
    parallel: bool = True,
) -> OneShotResult:
    """Analyse, plan, render and encode; returns the written path and stage timings.

    `parallel` (the default) analyses the portrait and the audio at the same time and
    encodes in a thread of its own while the engine renders (see the module docstring);
    `parallel=False` does every stage in turn in this thread. Both make the same file.
    """
    from core import audio as core_audio
    from core import motion, video
    from core.audio.text import check_transcript
    from core.fsutil import check_input_file
    from studio.pipeline import encode_frames

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
            raise Cancelled()

    if parallel:
        rig, wave, features = _analyse_in_parallel(job, stage, timings)
    else:
        stage(0.0, "analysing portrait")
        rig = _analyse_face(job)
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
                  preset=None, progress=frame_progress, cancel=cancel, threaded=parallel)
    timings["render_encode"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return OneShotResult(Path(job.out), n, n / job.fps, timings, list(rig.warnings))


def _analyse_face(job: OneShotJob) -> FaceRig:
    from core import face, image

    points = face.load_landmarks_json(job.landmarks) if job.landmarks else None
    return face.analyze(image.load_image(job.portrait), landmarks=points,
                        source_path=job.portrait)


class _Worker:
    """One call run by a thread of its own; `result()` waits for it, then returns its value
    or raises its error in the caller's thread."""

    def __init__(self, fn: Callable[[], object], name: str) -> None:
        self._value: object = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[], object]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc

    @property
    def failed(self) -> bool:
        return self._error is not None

    def result(self) -> object:
        self.thread.join()
        if self._error is not None:
            raise self._error
        return self._value


class _PortraitFailed(Exception):
    """Stops the audio analysis early: the portrait's analysis has already failed."""


def _preload_face_models() -> None:
    """Build the Face Mesh interpreters before the analysis threads start. LiteRT prints a
    line on the process's stderr as it loads a model, which core.face.facemesh sends to
    /dev/null for that moment; a warning the audio analysis logged meanwhile would go with
    it. ~25 ms; a missing model is left for the portrait analysis to report."""
    from core.face import facemesh

    with contextlib.suppress(InputError):
        for name in ("face_landmark", "iris_landmark"):
            facemesh.interpreter(name)


def _analyse_in_parallel(job: OneShotJob, stage: Callable[[float, str], None],
                         timings: dict[str, float]) -> tuple[FaceRig, Waveform, AudioFeatures]:
    """The portrait's analysis (a thread: dlib's detector and LiteRT's Face Mesh release the
    GIL) while this thread loads and analyses the audio (pocketsphinx's phone loop holds the
    GIL, so it stays here, beside the detector's native work). The same calls as the serial
    path, so the same rig and features.

    Errors read as in the serial path: the portrait's first (it stops the audio analysis at
    its next progress step), then the audio's. A cancel is seen at every audio progress step;
    the portrait's analysis (about a second, bounded by the image size) is waited for, so
    no thread outlives the call.
    """
    from core import audio as core_audio

    t0 = time.perf_counter()
    stage(0.0, "analysing portrait and audio")
    if job.landmarks is None:
        _preload_face_models()

    def face_job() -> FaceRig:
        rig = _analyse_face(job)
        timings["face"] = time.perf_counter() - t0
        return rig

    face = _Worker(face_job, "portrait-analysis")

    def audio_progress(fraction: float, message: str) -> None:
        if face.failed:
            raise _PortraitFailed()
        stage(0.02 + 0.03 * fraction, message)

    try:
        wave = core_audio.load(job.audio)
        features = core_audio.analyze(wave, fps=job.fps, transcript=job.transcript,
                                      progress=audio_progress)
    except BaseException as exc:
        face.thread.join()
        if face.failed and not isinstance(exc, (Cancelled, KeyboardInterrupt)):
            face.result()  # raises the portrait's error
        raise
    timings["audio"] = time.perf_counter() - t0
    rig = face.result()
    return rig, wave, features  # type: ignore[return-value]
