"""A project: one folder holding a SQLite database and content-addressed media.

    <folder>/project.db   SQLite (WAL, foreign keys, busy timeout), migrated by Alembic on open
    <folder>/media/       imported files named by SHA-256, never modified, deduplicated
    <folder>/renders/     one small MP4 (no audio) per rendered segment spec: <spec_hash>.mp4
    <folder>/exports/     finished videos
    <folder>/cache/       analysis caches (FaceRig, AudioFeatures, motion plans), disposable

`Project` is the front the UI and CLI use: a small facade over parts that each own one
thing (as Anki's Collection has managers):

    project.assets          studio.assets.AssetStore       portraits, audio, their caches
    project.preset_store    studio.presets.PresetStore     edit presets
    project.timeline_store  studio.timelines.TimelineStore timelines, segments, snapshots
    project.job_store       studio.jobs.JobStore           the only writer of job rows
    project.planner         studio.planning.Planner        motion, requests, anchors, preview
    project.engine_host     studio.engines.EngineHost      engines, built once
    studio.specs            pure functions                 render specs and their hashes
    studio.recovery         run on open                    crash recovery

Only plain dataclasses from `studio.records` cross it. Each Project instance owns one
SQLAlchemy engine; open a second instance (e.g. `studio.queue.JobRunner`) for another
thread or process.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.orm import Session

from core.errors import InputError
from core.types import AudioFeatures, Expression, FaceRig, MotionTrack, Waveform
from core.types import CancelFn as CancelFn
from core.types import ProgressFn as ProgressFn
from studio import safepaths
from studio.assets import AssetStore
from studio.cache import DiskCache
from studio.db import health, migrate
from studio.db.models import Meta
from studio.db.session import Database
from studio.engines import EngineHost
from studio.jobs import JobStore
from studio.paths import DB_NAME
from studio.planning import Planner
from studio.presets import PresetStore
from studio.records import (
    UNCHANGED,
    AudioInfo,
    JobInfo,
    PortraitInfo,
    PresetInfo,
    RenderInfo,
    SegmentInfo,
    SegmentOverrides,
    SegmentState,
    TimelineInfo,
)
from studio.recovery import recover
from studio.scripts import ScriptEdit, ScriptInfo, ScriptStore
from studio.specs import RenderPlan
from studio.timelines import TimelineStore

if TYPE_CHECKING:
    from studio.export_post import ExportExtras

__all__ = [
    "UNCHANGED",
    "AudioInfo",
    "JobInfo",
    "PortraitInfo",
    "PresetInfo",
    "Project",
    "RenderInfo",
    "RenderPlan",
    "SegmentInfo",
    "SegmentOverrides",
    "SegmentState",
    "TimelineInfo",
]

SUBDIRS = ("media", "renders", "exports", "cache")
RENDER_RE = re.compile(r"^[0-9a-f]{64}\.mp4$")


def _now() -> float:
    return time.time()


class Project:
    """An open project folder. Use `Project.create` / `Project.open`, then `close()`
    (or `with Project.open(p) as project:`)."""

    def __init__(self, folder: Path):
        """Internal: use `create` or `open`."""
        self._folder = Path(folder).resolve()
        self.db = Database(self._folder / DB_NAME)
        self.cache = DiskCache(self._folder / "cache")
        self.assets = AssetStore(self)
        self.preset_store = PresetStore(self)
        self.timeline_store = TimelineStore(self)
        self.job_store = JobStore(self)
        self.planner = Planner(self)
        self.scripts = ScriptStore(self)
        self.engine_host = EngineHost()
        self._closed = False

    # ------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, folder: str | Path, name: str | None = None) -> Project:
        """Create a new project folder (must not already hold a project) and open it.
        `name` defaults to the folder name."""
        p = Path(folder).expanduser().resolve()
        if (p / DB_NAME).exists():
            raise InputError(p, "already holds a project; open it instead")
        if p.exists() and not p.is_dir():
            raise InputError(p, "exists and is not a folder")
        try:
            p.mkdir(parents=True, exist_ok=True)
            for sub in SUBDIRS:
                (p / sub).mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(p, f"cannot create the project folder ({exc.strerror})") from None
        project = cls(p)

        def init(s: Session) -> None:
            s.merge(Meta(key="name", value=name or p.name))
            s.merge(Meta(key="created", value=str(_now())))

        try:
            with health.open_errors(p / DB_NAME):  # disk full / read-only: one line
                migrate.upgrade(project.db.engine, p / DB_NAME)
                project.db.run_write(init)
        except BaseException:
            project.close()
            raise
        return project

    @classmethod
    def open(cls, folder: str | Path) -> Project:
        """Open an existing project: migrate the db to head (backing it up first), mark jobs
        of dead processes `interrupted`, and mark renders whose file is gone `missing`.
        Raises InputError when the folder holds no project.db, when project.db is damaged
        (empty, not SQLite, failing quick_check: refused, never re-created; see
        studio.db.health), or when the disk is full or the folder read-only."""
        p = Path(folder).expanduser().resolve()
        if not (p / DB_NAME).is_file():
            raise InputError(p, "is not a project (no project.db); create one with "
                             "'project new'")
        health.check_project_db(p, p / DB_NAME)
        project = cls(p)
        try:
            with health.open_errors(p / DB_NAME):
                migrate.upgrade(project.db.engine, p / DB_NAME)
                for sub in SUBDIRS:
                    try:
                        (p / sub).mkdir(exist_ok=True)
                    except OSError:
                        if sub != "cache":  # optional: DiskCache works (and warns) without it
                            raise
                recover(p, project.db)
        except BaseException:
            project.close()
            raise
        return project

    def close(self) -> None:
        """Release the database engine (idempotent)."""
        if not self._closed:
            self._closed = True
            self.db.dispose()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The project folder."""
        return self._folder

    @property
    def name(self) -> str:
        def get(s: Session) -> str:
            v = s.get(Meta, "name")
            return v.value if v else self._folder.name

        return self.db.run_read(get)

    def rename(self, name: str) -> None:
        if not name.strip():
            raise InputError(None, "the project name is empty")
        self.db.run_write(lambda s: s.merge(Meta(key="name", value=name.strip())))

    def checkpoint(self) -> None:
        """Fold the WAL into project.db (before copying/zipping the folder)."""
        self.db.checkpoint()

    def media_path(self, rel: str) -> Path:
        """A path inside the project folder (refused if `rel` leads out of it)."""
        sub, _, name = str(rel).partition("/")
        if not name or "/" in name or name in (".", "..") or sub not in SUBDIRS:
            raise InputError(self._folder, f"refused path {rel!r}: not <folder>/<file> of "
                             "this project")
        return safepaths.new_file_path(self._folder, sub, name)

    def use_engine_host(self, host: EngineHost) -> None:
        """Share another engine host (the app's, with its engine settings), so previews
        and renders of this project reuse engines already built."""
        self.engine_host = host

    # ------------------------------------------------------------ assets (AssetStore)
    def add_portrait(self, path: str | Path, name: str | None = None,
                     landmarks: str | Path | None = None) -> PortraitInfo:
        return self.assets.add_portrait(path, name, landmarks)

    def add_audio(self, path: str | Path, name: str | None = None,
                  transcript: str | None = None) -> AudioInfo:
        return self.assets.add_audio(path, name, transcript)

    def add_script(self, text: str, voice: str | None = None, rate: float = 1.0,
                   name: str | None = None) -> AudioInfo:
        """A new audio track synthesised from `text` (studio.scripts)."""
        return self.scripts.add(text, voice=voice, rate=rate, name=name)

    def script(self, audio_id: int) -> ScriptInfo:
        """The script of a track made by add_script (InputError for other tracks)."""
        return self.scripts.script(audio_id)

    def has_script(self, audio_id: int) -> bool:
        return self.scripts.has_script(audio_id)

    def edit_script(self, audio_id: int, text: str) -> ScriptEdit:
        """Re-synthesise the changed sentences, splice, update the timelines using the
        track (only segments over the edit become stale); undoable with undo_script."""
        return self.scripts.edit(audio_id, text)

    def undo_script(self, audio_id: int) -> ScriptEdit:
        """Restore the track's previous script and audio."""
        return self.scripts.undo(audio_id)

    def portraits(self) -> list[PortraitInfo]:
        return self.assets.portraits()

    def portrait(self, portrait_id: int) -> PortraitInfo:
        return self.assets.portrait(portrait_id)

    def audio_tracks(self) -> list[AudioInfo]:
        return self.assets.audio_tracks()

    def audio(self, audio_id: int) -> AudioInfo:
        return self.assets.audio(audio_id)

    def remove_portrait(self, portrait_id: int) -> None:
        self.assets.remove_portrait(portrait_id)

    def remove_audio(self, audio_id: int) -> None:
        self.assets.remove_audio(audio_id)

    def set_portrait_landmarks(self, portrait_id: int, points: np.ndarray | list | None) -> None:
        self.assets.set_portrait_landmarks(portrait_id, points)

    def set_transcript(self, audio_id: int, text: str | None) -> None:
        self.assets.set_transcript(audio_id, text)

    def portrait_rig(self, portrait_id: int) -> FaceRig:
        return self.assets.portrait_rig(portrait_id)

    def portrait_image(self, portrait_id: int) -> np.ndarray:
        return self.assets.portrait_image(portrait_id)

    def waveform(self, audio_id: int) -> Waveform:
        return self.assets.waveform(audio_id)

    def audio_features(self, audio_id: int, fps: float = 25) -> AudioFeatures:
        return self.assets.audio_features(audio_id, fps)

    # ------------------------------------------------------------ presets (PresetStore)
    def add_preset(self, name: str, prompt: str = "", negative_prompt: str = "",
                   strength: float = 1.0, expression: Expression = Expression()) -> PresetInfo:
        return self.preset_store.add(name, prompt, negative_prompt, strength, expression)

    def update_preset(self, preset_id: int, **fields) -> PresetInfo:
        return self.preset_store.update(preset_id, **fields)

    def presets(self) -> list[PresetInfo]:
        return self.preset_store.all()

    def preset(self, preset_id: int) -> PresetInfo:
        return self.preset_store.get(preset_id)

    def find_preset(self, name_or_id: str | int) -> PresetInfo:
        return self.preset_store.find(name_or_id)

    def remove_preset(self, preset_id: int) -> None:
        self.preset_store.remove(preset_id)

    def restore_preset(self, info: PresetInfo) -> PresetInfo:
        return self.preset_store.restore(info)

    # ------------------------------------------------------------ timelines (TimelineStore)
    def new_timeline(self, portrait_id: int, audio_id: int, engine: str = "warp",
                     fps: int = 25, size: int = 512, preset_id: int | None = None,
                     seed: int = 0, name: str | None = None,
                     settings: dict | None = None) -> TimelineInfo:
        return self.timeline_store.new(portrait_id, audio_id, engine, fps, size, preset_id,
                                       seed, name, settings)

    def timelines(self) -> list[TimelineInfo]:
        return self.timeline_store.all()

    def timeline(self, timeline_id: int | None = None) -> TimelineInfo:
        return self.timeline_store.get(timeline_id)

    def update_timeline(self, timeline_id: int, **fields) -> TimelineInfo:
        return self.timeline_store.update(timeline_id, **fields)

    def remove_timeline(self, timeline_id: int) -> None:
        self.timeline_store.remove(timeline_id)

    def segments(self, timeline_id: int) -> list[SegmentInfo]:
        return self.timeline_store.segments(timeline_id)

    def segment(self, segment_id: int) -> SegmentInfo:
        return self.timeline_store.segment(segment_id)

    def segment_at(self, timeline_id: int, frame: int) -> SegmentInfo:
        return self.timeline_store.segment_at(timeline_id, frame)

    def split_segment(self, segment_id: int, frame: int) -> tuple[SegmentInfo, SegmentInfo]:
        return self.timeline_store.split(segment_id, frame)

    def merge_segments(self, first_id: int, second_id: int) -> SegmentInfo:
        return self.timeline_store.merge(first_id, second_id)

    def move_boundary(self, segment_id: int, new_end: int) -> tuple[SegmentInfo, SegmentInfo]:
        return self.timeline_store.move_boundary(segment_id, new_end)

    def set_segment_overrides(
        self,
        segment_id: int,
        preset_id: int | None = UNCHANGED,  # type: ignore[assignment]
        seed: int | None = UNCHANGED,  # type: ignore[assignment]
        expression: Expression | None = UNCHANGED,  # type: ignore[assignment]
    ) -> SegmentInfo:
        return self.timeline_store.set_overrides(segment_id, preset_id, seed, expression)

    def snapshot_segments(self, timeline_id: int) -> list[SegmentState]:
        return self.timeline_store.snapshot(timeline_id)

    def restore_segments(self, timeline_id: int, snapshot: list[SegmentState]) -> None:
        self.timeline_store.restore(timeline_id, snapshot)

    def segment_spec(self, segment_id: int) -> dict:
        """The render spec of a segment (what its hash covers), for inspection."""
        return self.timeline_store.render_plan(segment_id).spec

    def render_plan(self, segment_id: int) -> RenderPlan:
        return self.timeline_store.render_plan(segment_id)

    # ------------------------------------------------------------ planning (Planner)
    def base_motion(self, timeline_id: int) -> MotionTrack:
        """The whole-track motion plan of a timeline without segment overrides."""
        return self.planner.motion(self.timeline(timeline_id), None)

    def render_request(self, plan: RenderPlan):
        return self.planner.render_request(plan)

    def neighbour_anchors(self, plan: RenderPlan) -> dict[int, np.ndarray]:
        return self.planner.neighbour_anchors(plan)

    def renders(self, timeline_id: int | None = None) -> list[RenderInfo]:
        return self.planner.renders(timeline_id)

    def verify_renders(self, timeline_id: int | None = None) -> int:
        return self.planner.verify_renders(timeline_id)

    def preview_frame(self, timeline_id: int, frame: int) -> np.ndarray:
        return self.planner.preview_frame(timeline_id, frame)

    # ------------------------------------------------------------ queue (JobStore)
    def record_render(self, plan: RenderPlan, seconds: float, job_id: int | None = None,
                      reused: bool = False) -> int:
        return self.job_store.record_render(plan, seconds, job_id, reused)

    def enqueue(self, timeline_id: int, segment_ids: list[int] | None = None) -> list[JobInfo]:
        return self.job_store.enqueue(timeline_id, segment_ids)

    def jobs(self, states: tuple[str, ...] | None = None) -> list[JobInfo]:
        return self.job_store.all(states)

    def job(self, job_id: int) -> JobInfo:
        return self.job_store.get(job_id)

    def cancel_job(self, job_id: int) -> JobInfo:
        return self.job_store.cancel(job_id)

    def retry_job(self, job_id: int) -> JobInfo:
        return self.job_store.retry(job_id)

    def clear_finished_jobs(self) -> int:
        return self.job_store.clear_finished()

    # ------------------------------------------------------------ export
    def export_video(
        self,
        timeline_id: int,
        out_path: str | Path | None = None,
        size: int | None = None,
        fps: int | None = None,
        crf: int = 18,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        run_jobs: bool = True,
        extras: ExportExtras | None = None,
    ) -> Path:
        """Render what is missing, concatenate the segment renders, mux the audio (AAC) and
        write an MP4 atomically (default: exports/<timeline name>.mp4). Stream copy when
        size/fps/crf match the renders, else re-encode. Missing segments are queued as
        jobs: rendered here with this project's engine host (`run_jobs`), or, with
        run_jobs=False, by whichever runner takes them (the app's worker). `extras`:
        caption sidecar, burned captions, framing (studio.export_post)."""
        from studio.export import export_timeline

        if extras is not None:
            from studio.export_post import export_with_extras

            return export_with_extras(self, timeline_id, out_path, extras, size=size,
                                      fps=fps, crf=crf, progress=progress, cancel=cancel,
                                      run_jobs=run_jobs)
        return export_timeline(self, timeline_id, out_path, size=size, fps=fps, crf=crf,
                               progress=progress, cancel=cancel, run_jobs=run_jobs)
