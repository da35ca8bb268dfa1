"""The contracts between core's stages: plain dataclasses over numpy arrays.

Data flow of one render (see ARCHITECTURE.md):

    image  --core.face.analyze-->  FaceRig
    audio  --core.audio.load-->    Waveform  --core.audio.analyze-->  AudioFeatures
    (FaceRig, AudioFeatures, Expression) --core.motion.plan--> MotionTrack
    Engine.render(RenderRequest, frames, progress, cancel) --> iterator of RGB uint8 frames
    core.video.write_mp4(frames, audio, path) --> MP4

Arrays are numpy; coordinates are (x, y) pixels in the FaceRig's image; per-frame arrays
have the video frame as their first axis. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Protocol, runtime_checkable

import numpy as np

SAMPLE_RATE = 16_000

ProgressFn = Callable[[float, str], None]
"""progress(fraction in [0, 1], message)."""
CancelFn = Callable[[], bool]
"""cancel() -> True when the caller wants the work to stop (then `core.errors.Cancelled`)."""


# ---------------------------------------------------------------- audio
@dataclass(frozen=True)
class Waveform:
    """16 kHz mono float32 audio in [-1, 1]."""

    samples: np.ndarray
    source: str = ""
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


@dataclass(frozen=True)
class Phone:
    """One timed phone in ARPAbet without stress digits ("AA", "P", "SIL", ...)."""

    label: str
    start: float
    end: float
    word: str | None = None
    stressed: bool = False


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass
class AudioFeatures:
    """Frame-rate analysis of a Waveform (frame i covers [i/fps, (i+1)/fps)).

    rms:      [n] float32, RMS energy normalised so the clip's speech 95th percentile is 1.
    vad:      [n] float32 speech probability in [0, 1] (silero-vad).
    mel:      [n, 80] float32 log-mel spectrogram averaged per frame.
    visemes:  [n] int16 index into core.audio.visemes.VISEMES (0 = silence).
    viseme_weights: [n, len(VISEMES)] float32 soft viseme activation (coarticulation input).
    phones / words: timed units; `aligned` says whether they came from forced alignment
    with a transcript (reliable) or free phone-loop decoding (noisy).
    """

    fps: float
    n_frames: int
    duration: float
    rms: np.ndarray
    vad: np.ndarray
    mel: np.ndarray
    visemes: np.ndarray
    viseme_weights: np.ndarray
    phones: list[Phone] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    aligned: bool = False
    transcript: str | None = None

    def speech_mask(self, threshold: float = 0.5) -> np.ndarray:
        return self.vad >= threshold


# ---------------------------------------------------------------- face
@dataclass
class FaceMesh:
    """MediaPipe Face Mesh of one face (core.face.facemesh), in the image's pixels.

    points: [468, 3] float32 (x, y, z): x, y image pixels (pixel-centre convention, like
            the 68 landmarks); z relative depth in the SAME pixel units, POSITIVE TOWARDS
            THE CAMERA (MediaPipe's sign flipped), zero near the head's centre plane.
    iris:   [10, 3] float32 or None: rows 0-4 the image-left eye (the subject's right),
            rows 5-9 the image-right eye; in each, row 0 the iris centre, then 4 points on
            the iris contour; z as `points` (its own eye-relative origin).
    score:  face presence confidence in [0, 1] of the landmark model.
    roi:    (cx, cy, side, angle_rad) the square crop the model last saw; pass it back as
            the next video frame's ROI to track without detection.
    """

    points: np.ndarray
    iris: np.ndarray | None
    score: float
    roi: tuple[float, float, float, float]


@dataclass
class FaceRig:
    """A portrait prepared for animation.

    image:      [H, W, 3] uint8 RGB, upright (EXIF applied), at the analysis resolution.
    box:        (x0, y0, x1, y1) face box in image pixels.
    landmarks:  [68, 2] float32, iBUG-68 order (jaw 0-16, brows 17-26, nose 27-35,
                eyes 36-47, outer lips 48-59, inner lips 60-67).
    mesh_points:[N, 2] float32; the first 68 rows are `landmarks`, then extra anchors
                (forehead, cheeks, neck, image border) that keep the warp free of tearing.
    triangles:  [T, 3] int32 indices into mesh_points.
    masks:      name -> [H, W] float32 in [0, 1]: "face", "mouth", "eyes" (at least).
    source:     "detected" | "user68" | "user5".
    mesh_groups: name -> int32 indices into mesh_points ("landmarks", "forehead", "cheeks",
                "jaw_outer", "head", "neck", "border"; see core.face.mesh).
    crop:       (x0, y0, x1, y1) the square of the ORIGINAL image that `image` shows
                (image = that square resized to H×W), to map points back and forth.
    mesh3d:     [468, 3] float32 MediaPipe Face Mesh in rig-image pixels (z in the same
                units, + towards the camera; see FaceMesh), or None (user landmarks).
                `landmarks` were derived from it (core.face.facemesh.points68_from_mesh,
                then lips closed where they cross).
    iris:       [10, 3] float32 (FaceMesh.iris layout) in rig-image pixels, or None.
    """

    image: np.ndarray
    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    mesh_points: np.ndarray
    triangles: np.ndarray
    masks: dict[str, np.ndarray]
    source: str = "detected"
    warnings: list[str] = field(default_factory=list)
    mesh_groups: dict[str, np.ndarray] = field(default_factory=dict)
    crop: tuple[float, float, float, float] | None = None
    mesh3d: np.ndarray | None = None
    iris: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.image.shape[1]), int(self.image.shape[0])


# ---------------------------------------------------------------- motion
@dataclass(frozen=True)
class Expression:
    """User expression controls (also the expression part of an edit preset).

    smile:        -1 (frown) .. 0 (neutral) .. 1 (broad smile)
    brows:        -1 (lowered) .. 0 .. 1 (raised)
    head_motion:  0 (still) .. 1 (natural) .. 2 (animated)
    blink_rate:   blinks per minute multiplier: 0 (never) .. 1 (natural, ~17/min) .. 3
    """

    smile: float = 0.0
    brows: float = 0.0
    head_motion: float = 1.0
    blink_rate: float = 1.0

    def clamped(self) -> Expression:
        return Expression(
            smile=float(np.clip(self.smile, -1, 1)),
            brows=float(np.clip(self.brows, -1, 1)),
            head_motion=float(np.clip(self.head_motion, 0, 2)),
            blink_rate=float(np.clip(self.blink_rate, 0, 3)),
        )


@dataclass
class MotionTrack:
    """Per-video-frame motion: the "structured motion prior" for every engine.

    All arrays have n_frames rows.
    mouth_open [n]   inner-lip gap as a fraction of the face height (0 = closed).
    mouth_width [n]  relative change of mouth width (0 = rest, + wider, - narrower/rounded).
    jaw [n]          jaw drop in face-height units.
    blink [n]        eyelid closure 0 (open) .. 1 (closed).
    gaze [n, 2]      eye direction offset in eye-width units (x, y).
    head_pose [n, 3] yaw, pitch, roll in degrees.
    head_shift [n,2] translation in face-height units.
    smile [n], brows [n]  expression channels after planning (controls + dynamics).
    landmarks [n, 68, 2]  the landmark positions the above imply, in FaceRig image pixels.
    """

    fps: float
    mouth_open: np.ndarray
    mouth_width: np.ndarray
    jaw: np.ndarray
    blink: np.ndarray
    gaze: np.ndarray
    head_pose: np.ndarray
    head_shift: np.ndarray
    smile: np.ndarray
    brows: np.ndarray
    landmarks: np.ndarray
    seed: int = 0

    @property
    def n_frames(self) -> int:
        return int(self.mouth_open.shape[0])

    def slice(self, start: int, stop: int) -> MotionTrack:
        """Rows [start, stop) of every per-frame array."""
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v[start:stop] if isinstance(v, np.ndarray) else v
        return replace(self, **kw)


# ---------------------------------------------------------------- engines
@dataclass(frozen=True)
class TextEdit:
    """The text part of an edit preset (used by the diffusion engine; the warp engine
    ignores the prompt but honours the expression)."""

    prompt: str = ""
    negative_prompt: str = ""
    strength: float = 1.0


@dataclass
class RenderRequest:
    """Everything an engine needs to render frames of one clip.

    `motion` covers the whole clip (so segments can be rendered with context from their
    neighbours); `Engine.render(frames=range(a, b))` renders only rows a..b-1.
    `settings` holds engine-specific options (steps, guidance, window, weights dir...).
    """

    rig: FaceRig
    features: AudioFeatures
    motion: MotionTrack
    size: int = 512
    fps: float = 25.0
    seed: int = 0
    expression: Expression = field(default_factory=Expression)
    text: TextEdit = field(default_factory=TextEdit)
    settings: dict = field(default_factory=dict)
    audio: Waveform | None = None
    """The clip's raw audio, for engines that embed audio themselves (the diffusion engine's
    wav2vec2 path); None → they use `features` only."""

    @property
    def n_frames(self) -> int:
        return self.motion.n_frames


@runtime_checkable
class Engine(Protocol):
    """A renderer. Implementations: core.engines.warp.WarpEngine, core.diffusion.engine."""

    name: str

    def available(self) -> tuple[bool, str]:
        """(True, "") when it can render here, else (False, a reason the user can act on)."""
        ...

    def render(
        self,
        request: RenderRequest,
        frames: range | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield [size, size, 3] uint8 RGB frames for `frames` (default: all), in order.
        Checks `cancel` between frames/steps and raises core.errors.Cancelled."""
        ...
