"""Plain dataclasses that cross the studio API (never ORM objects).

The UI, the CLI and the tests only ever see these: they are detached snapshots of the
database, safe to hand to another thread and to keep after the Project is closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.types import Expression

SEGMENT_STATES = ("missing", "queued", "rendering", "rendered", "failed", "stale")
"""SegmentInfo.state values: missing = never rendered; stale = rendered, but for an older
spec (an edit since); queued/rendering = a job is waiting/running; failed = the last job
for the current spec failed."""

JOB_STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
"""JobInfo.state values. `interrupted` = the process died while the job ran (found on open);
retry_job / enqueue put it back to `queued`."""


class _Unchanged:
    """Sentinel type: "leave this field as it is" (None means "clear the override")."""

    _instance: _Unchanged | None = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __bool__(self) -> bool:
        return False


UNCHANGED = _Unchanged()


@dataclass(frozen=True)
class PortraitInfo:
    id: int
    name: str
    sha256: str
    path: Path  # the stored media file (never modified)
    width: int
    height: int
    has_landmarks: bool  # user landmarks override the detector
    created: float  # unix time


@dataclass(frozen=True)
class AudioInfo:
    id: int
    name: str
    sha256: str
    path: Path
    duration: float  # seconds
    sample_rate: int  # of the original file
    transcript: str | None
    created: float


@dataclass(frozen=True)
class PresetInfo:
    id: int
    name: str
    prompt: str = ""
    negative_prompt: str = ""
    strength: float = 1.0
    expression: Expression = field(default_factory=Expression)


@dataclass(frozen=True)
class TimelineInfo:
    id: int
    name: str
    portrait_id: int
    audio_id: int
    engine: str
    fps: int
    size: int
    preset_id: int | None
    seed: int
    n_frames: int
    settings: dict = field(default_factory=dict)  # engine-specific options
    created: float = 0.0

    @property
    def duration(self) -> float:
        return self.n_frames / float(self.fps)


@dataclass(frozen=True)
class SegmentOverrides:
    """Per-segment overrides; None = inherit the timeline's value."""

    preset_id: int | None = None
    seed: int | None = None
    expression: Expression | None = None


@dataclass(frozen=True)
class SegmentInfo:
    id: int
    timeline_id: int
    index: int  # 0-based position in the timeline
    start: int  # first frame (inclusive)
    end: int  # last frame (exclusive)
    overrides: SegmentOverrides
    state: str  # one of SEGMENT_STATES
    spec_hash: str
    render_path: Path | None  # the current render (None unless state == "rendered")
    progress: float = 0.0  # fraction of the running job, else 0/1
    job_id: int | None = None  # the active or last job for this segment

    @property
    def n_frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class SegmentState:
    """One row of a segment snapshot (for undo): enough to rebuild the segment exactly."""

    id: int
    start: int
    end: int
    preset_id: int | None
    seed: int | None
    expression: Expression | None


@dataclass(frozen=True)
class RenderInfo:
    id: int
    timeline_id: int
    segment_id: int | None
    spec_hash: str
    engine: str
    path: Path
    status: str  # "done" | "missing"
    start: int
    end: int
    render_seconds: float
    created: float


@dataclass(frozen=True)
class JobInfo:
    id: int
    timeline_id: int
    segment_id: int | None
    state: str  # one of JOB_STATES
    progress: float
    message: str
    error: str | None
    spec_hash: str | None
    render_id: int | None
    attempts: int
    created: float
    started: float | None
    finished: float | None
    reused: bool = False  # done without rendering (a current render already existed)
