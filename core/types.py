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
from typing import NamedTuple, Protocol, runtime_checkable

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


@dataclass(frozen=True)
class Prosody:
    """Speech melody and rhythm at video frame rate (core.audio.prosody.analyze).

    f0 [n]          pitch in Hz, 0 where unvoiced.
    voicing [n]     share of voiced 10 ms hops in the frame, 0..1.
    semitones [n]   f0 in semitones around the speaker's median (0 where unvoiced).
    energy [n]      loudness 0 (40 dB under the clip's loud level) .. 1 (loud) .. 1.2.
    f0_median       the speaker's median f0 in Hz (0 when nothing was voiced).
    nuclei [k], nucleus_prominence [k]   syllable peaks (frames) and their prominence 0..1.
    stresses [s], stress_strength [s]    the prominent nuclei (pitch accents) and strength.
    phrase_starts [p], phrase_ends [p]   frames where speech runs between pauses begin/end.
    """

    f0: np.ndarray
    voicing: np.ndarray
    semitones: np.ndarray
    energy: np.ndarray
    f0_median: float
    nuclei: np.ndarray
    nucleus_prominence: np.ndarray
    stresses: np.ndarray
    stress_strength: np.ndarray
    phrase_starts: np.ndarray
    phrase_ends: np.ndarray


@dataclass
class AudioFeatures:
    """Frame-rate analysis of a Waveform (frame i covers [i/fps, (i+1)/fps)).

    rms:      [n] float32, RMS energy normalised so the clip's speech 95th percentile is 1.
    vad:      [n] float32 speech probability in [0, 1] (silero-vad).
    mel:      [n, 80] float32 log-mel spectrogram averaged per frame.
    visemes:  [n] int16 index into core.audio.visemes.VISEMES (0 = silence).
    viseme_weights: [n, len(VISEMES)] float32 soft viseme activation (coarticulation input).
    prosody:  pitch contour, stressed syllables and phrase boundaries (see Prosody).
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
    prosody: Prosody | None = None
    """Pitch, stresses and phrases (None on features built without the waveform, or cached
    before prosody existed: the planner then falls back to energy and phones)."""

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
class ControlRange(NamedTuple):
    """One expression control's valid range, default and a short label for UIs."""

    min: float
    max: float
    default: float
    label: str


EXPRESSION_RANGES: dict[str, ControlRange] = {
    "smile": ControlRange(-1.0, 1.0, 0.0, "Smile (-1 frown .. 1 broad smile)"),
    "brows": ControlRange(-1.0, 1.0, 0.0, "Brows (-1 lowered .. 1 raised)"),
    "head_motion": ControlRange(0.0, 2.0, 1.0, "Head motion (0 still .. 1 natural .. 2 animated)"),
    "blink_rate": ControlRange(0.0, 3.0, 1.0, "Blink rate (0 never .. 1 natural .. 3 often)"),
    "intensity": ControlRange(0.0, 1.0, 0.7, "Emotion intensity (0 none .. 1 full)"),
    "expressiveness": ControlRange(0.0, 2.0, 1.0, "Expressiveness (0 flat .. 1 natural .. 2 lively)"),
    "gaze": ControlRange(0.0, 2.0, 1.0, "Eye movement (0 fixed on camera .. 2 wandering)"),
}
"""The numeric Expression controls: the one table CLI, studio and GUI read their limits from."""

# Render settings: the one place their limits live (CLI flags, project/timeline checks,
# one-shot renders and the GUI's spin boxes all read these). An engine may support less
# (the warp engine renders 256-1024 px) and says so itself.
SIZE_RANGE = ControlRange(64.0, 2048.0, 512.0, "Output size in pixels (even)")
FPS_RANGE = ControlRange(1.0, 120.0, 25.0, "Frames per second")
STRENGTH_RANGE = ControlRange(0.0, 1.0, 1.0, "Text edit strength (0 none .. 1 full)")
SEED_RANGE = ControlRange(0.0, float(2**31 - 1), 0.0, "Seed (blinks, head motion, noise)")
CRF_RANGE = ControlRange(0.0, 51.0, 18.0, "H.264 quality (0 lossless .. 51 worst; lower is better)")

RENDER_RANGES: dict[str, ControlRange] = {
    "size": SIZE_RANGE, "fps": FPS_RANGE, "strength": STRENGTH_RANGE, "seed": SEED_RANGE,
    "crf": CRF_RANGE,
}
"""Render settings by name (the expression controls are in EXPRESSION_RANGES)."""


def check_size(size: object) -> int:
    """`size` as int; ValueError (one line) unless an even whole number in SIZE_RANGE."""
    r = SIZE_RANGE
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or not (
            r.min <= size <= r.max) or size % 2:
        raise ValueError(f"size must be an even number of pixels from {r.min:g} to "
                         f"{r.max:g}, got {size}")
    return int(size)


def check_fps(fps: object, whole: bool = True) -> float:
    """`fps` as a number; ValueError (one line) unless in FPS_RANGE (and whole when asked:
    a timeline's frames index its audio, so its rate is a whole number)."""
    r = FPS_RANGE
    ok = isinstance(fps, int | np.integer) if whole else isinstance(fps, int | float | np.number)
    if isinstance(fps, bool) or not ok or not (r.min <= fps <= r.max):
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"fps must be {kind} from {r.min:g} to {r.max:g}, got {fps}")
    return fps  # type: ignore[return-value]

EMOTIONS: dict[str, str] = {
    "neutral": "Neutral",
    "happy": "Happy",
    "sad": "Sad",
    "surprised": "Surprised",
    "angry": "Angry",
    "disgusted": "Disgusted",
    "fearful": "Fearful",
    "thinking": "Thinking",
}
"""Emotion names (the `emotion` control) -> labels; what each does: core.motion.emotion."""


def check_expression_value(name: str, value: object) -> None:
    """Raise ValueError with one readable line when `value` is not valid for control `name`."""
    if name == "emotion":
        if value not in EMOTIONS:
            raise ValueError(f"unknown emotion {value!r}: use one of {', '.join(EMOTIONS)}")
        return
    r = EXPRESSION_RANGES.get(name)
    if r is None:
        raise ValueError(f"unknown expression control {name!r}")
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not (np.isfinite(v) and r.min <= v <= r.max):
        raise ValueError(f"{name} {value} is out of range: use {r.min:g} to {r.max:g}")


@dataclass(frozen=True)
class Expression:
    """User expression controls (also the expression part of an edit preset).

    smile:        -1 (frown) .. 0 (neutral) .. 1 (broad smile)
    brows:        -1 (lowered) .. 0 .. 1 (raised)
    head_motion:  0 (still) .. 1 (natural) .. 2 (animated)
    blink_rate:   blinks per minute multiplier: 0 (never) .. 1 (natural, ~23/min) .. 3
    emotion:      one of EMOTIONS; sets brows, lids, mouth corners, head carriage and how
                  lively the motion is (core.motion.emotion), scaled by `intensity` 0..1.
    expressiveness: 0 .. 2, how much the face moves with the voice (brow raises on emphasis,
                  emotion dynamics); 1 = natural.
    gaze:         0 (eyes fixed on the camera) .. 1 (natural saccades, look-aways) .. 2.
    Ranges and defaults: EXPRESSION_RANGES (one table for every front end).
    """

    smile: float = 0.0
    brows: float = 0.0
    head_motion: float = 1.0
    blink_rate: float = 1.0
    emotion: str = "neutral"
    intensity: float = 0.7
    expressiveness: float = 1.0
    gaze: float = 1.0

    def clamped(self) -> Expression:
        """Every numeric control clipped into its range (NaN -> default); an unknown emotion
        reads as neutral."""

        def clip(name: str) -> float:
            r = EXPRESSION_RANGES[name]
            try:
                v = float(getattr(self, name))
            except (TypeError, ValueError):
                return r.default
            return r.default if not np.isfinite(v) else float(np.clip(v, r.min, r.max))

        emotion = self.emotion if self.emotion in EMOTIONS else "neutral"
        return Expression(**{k: clip(k) for k in EXPRESSION_RANGES}, emotion=emotion)


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
    brow_inner [n]   inner-brow raise (+ sad/fearful oblique brows, - angry knit), brows units.
    lids [n]         eyelid openness offset (+ wide open, - narrowed), on top of blinks.
    sneer [n]        upper-lip raise with nose wrinkle (disgust), 0..1.
    The last three default to None (= zero) so tracks built elsewhere need not carry them.
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
    brow_inner: np.ndarray | None = None
    lids: np.ndarray | None = None
    sneer: np.ndarray | None = None

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
