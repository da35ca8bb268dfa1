"""A project: one folder holding a SQLite database and content-addressed media.

    <folder>/project.db   SQLite (WAL, foreign keys, busy timeout), migrated by Alembic on open
    <folder>/media/       imported files named by SHA-256, never modified, deduplicated
    <folder>/renders/     one small MP4 (no audio) per rendered segment spec: <spec_hash>.mp4
    <folder>/exports/     finished videos
    <folder>/cache/       analysis caches (FaceRig, AudioFeatures, motion plans), disposable

`Project` is the whole API the UI and CLI use. Only plain dataclasses from
`studio.records` cross it. Each Project instance owns one SQLAlchemy engine; open a second
instance (e.g. `studio.queue.JobRunner`) for another thread or process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InputError
from core.types import AudioFeatures, Expression, FaceRig, MotionTrack, TextEdit
from core.types import CancelFn as CancelFn
from core.types import ProgressFn as ProgressFn
from studio import assets, pipeline
from studio import spec as specmod
from studio.cache import DiskCache, key_of
from studio.db import migrate
from studio.db.models import (
    AudioTrack,
    EditPreset,
    Job,
    Meta,
    Portrait,
    Render,
    Segment,
    Timeline,
)
from studio.db.session import Database
from studio.paths import DB_NAME
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
from studio.segments import split_at_pauses

__all__ = [
    "UNCHANGED",
    "AudioInfo",
    "JobInfo",
    "PortraitInfo",
    "PresetInfo",
    "Project",
    "RenderInfo",
    "SegmentInfo",
    "SegmentOverrides",
    "SegmentState",
    "TimelineInfo",
]

SUBDIRS = ("media", "renders", "exports", "cache")
RENDER_RE = re.compile(r"^[0-9a-f]{64}\.mp4$")
MIN_SEGMENT_FRAMES = 1
ACTIVE_JOB_STATES = ("queued", "running")
EXPRESSION_FIELDS = ("smile", "brows", "head_motion", "blink_rate")


@dataclass(frozen=True)
class RenderPlan:
    """Everything needed to render one segment (internal; built by Project.render_plan)."""

    timeline: TimelineInfo
    segment: SegmentInfo
    spec: dict
    spec_hash: str
    out_path: Path
    portrait_id: int
    audio_id: int
    base_expression: Expression
    base_text: TextEdit
    expression: Expression  # effective for this segment
    text: TextEdit  # effective for this segment
    seed: int  # effective for this segment
    # planner overrides (start, end, expression|None, seed|None): this segment's own
    controls: tuple[tuple[int, int, Expression | None, int | None], ...] = ()


def _now() -> float:
    return time.time()


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _expr_from_json(text: str | None) -> Expression | None:
    if not text:
        return None
    d = json.loads(text)
    return Expression(**{k: float(d[k]) for k in EXPRESSION_FIELDS if k in d})


def _expr_to_json(e: Expression | None) -> str | None:
    return None if e is None else json.dumps(specmod.expression_dict(e), sort_keys=True)


def _preset_info(r) -> PresetInfo:
    return PresetInfo(
        id=r.id, name=r.name, prompt=r.prompt, negative_prompt=r.negative_prompt,
        strength=float(r.strength),
        expression=Expression(smile=r.smile, brows=r.brows, head_motion=r.head_motion,
                              blink_rate=r.blink_rate),
    )


def _job_info(r) -> JobInfo:
    return JobInfo(
        id=r.id, timeline_id=r.timeline_id, segment_id=r.segment_id, state=r.state,
        progress=float(r.progress or 0.0), message=r.message or "", error=r.error,
        spec_hash=r.spec_hash, render_id=r.render_id, attempts=int(r.attempts or 0),
        created=float(r.created or 0.0), started=r.started, finished=r.finished,
        reused=bool(r.reused),
    )


class Project:
    """An open project folder. Use `Project.create` / `Project.open`, then `close()`
    (or `with Project.open(p) as project:`)."""

    def __init__(self, folder: Path):
        """Internal: use `create` or `open`."""
        self._folder = Path(folder).resolve()
        self.db = Database(self._folder / DB_NAME)
        self.cache = DiskCache(self._folder / "cache")
        self._engines: dict[str, object] = {}
        self._preview: tuple[str, object] | None = None
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
        migrate.upgrade(project.db.engine, p / DB_NAME)

        def init(s: Session) -> None:
            s.merge(Meta(key="name", value=name or p.name))
            s.merge(Meta(key="created", value=str(_now())))

        project.db.run_write(init)
        return project

    @classmethod
    def open(cls, folder: str | Path) -> Project:
        """Open an existing project: migrate the db to head (backing it up first), mark jobs
        of dead processes `interrupted`, and mark renders whose file is gone `missing`.
        Raises InputError when the folder holds no project.db."""
        p = Path(folder).expanduser().resolve()
        if not (p / DB_NAME).is_file():
            raise InputError(p, "is not a project (no project.db); create one with "
                             "'project new'")
        project = cls(p)
        try:
            migrate.upgrade(project.db.engine, p / DB_NAME)
            for sub in SUBDIRS:
                (p / sub).mkdir(exist_ok=True)
            project._recover()
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
        return self._folder / rel

    def _recover(self) -> None:
        """After a crash: jobs whose process is gone become `interrupted`; renders whose
        file vanished become `missing`; leftover temp files of dead renders are removed."""
        host = socket.gethostname()

        def fix_jobs(s: Session) -> int:
            live = 0
            rows = s.execute(select(Job).where(Job.state == "running")).scalars().all()
            for j in rows:
                if j.host in (None, host) and _pid_alive(j.pid):
                    live += 1
                    continue
                if j.host not in (None, host) and j.heartbeat and _now() - j.heartbeat < 600:
                    live += 1  # another machine on a shared folder, still beating
                    continue
                j.state = "interrupted"
                j.message = "interrupted: the rendering process stopped; retry or render"
                j.finished = _now()
            return live

        running = self.db.run_read(
            lambda s: s.scalar(select(func.count()).select_from(Job).where(
                Job.state == "running")))
        live = self.db.run_write(fix_jobs) if running else 0

        renders_dir = self._folder / "renders"
        try:
            present = set(os.listdir(renders_dir))
        except OSError:
            present = set()
        rows = self.db.run_read(lambda s: s.execute(
            select(Render.id, Render.file).where(Render.status == "done")).all())
        gone = [rid for rid, f in rows if Path(f).name not in present]
        if gone:
            self.db.run_write(lambda s: s.execute(
                update(Render).where(Render.id.in_(gone)).values(status="missing")))
        if not live:
            for name in present:
                if name.startswith(".") and ".tmp-" in name:
                    with contextlib.suppress(OSError):
                        (renders_dir / name).unlink()
        # exports and imports of another live process may be in flight: only old leftovers
        for sub, marker in (("exports", ".tmp-"), ("media", ".part"), ("cache", ".tmp")):
            with contextlib.suppress(OSError):
                for e in os.scandir(self._folder / sub):
                    if e.name.startswith(".") and marker in e.name and (
                            _now() - e.stat().st_mtime > 3600):
                        with contextlib.suppress(OSError):
                            os.unlink(e.path)

    # ------------------------------------------------------------ assets
    def _portrait_info(self, r: Portrait) -> PortraitInfo:
        return PortraitInfo(
            id=r.id, name=r.name, sha256=r.sha256,
            path=self._folder / "media" / assets.media_name(r.sha256, r.ext),
            width=int(r.width), height=int(r.height), has_landmarks=bool(r.landmarks_json),
            created=float(r.created),
        )

    def _audio_info(self, r: AudioTrack) -> AudioInfo:
        return AudioInfo(
            id=r.id, name=r.name, sha256=r.sha256,
            path=self._folder / "media" / assets.media_name(r.sha256, r.ext),
            duration=float(r.duration), sample_rate=int(r.sample_rate),
            transcript=r.transcript, created=float(r.created),
        )

    def add_portrait(
        self, path: str | Path, name: str | None = None, landmarks: str | Path | None = None
    ) -> PortraitInfo:
        """Import an image (validated by core: decodable, a face found). Identical files are
        stored once; importing the same file again returns the existing portrait.
        `landmarks` is an optional JSON file of user landmarks (68 or 5 points).
        A failed import leaves nothing behind (no media file, no row)."""
        src = assets.check_source(path)
        points = pipeline.load_landmarks(landmarks) if landmarks is not None else None
        sha = assets.sha256_of(src)
        existing = self.db.run_read(
            lambda s: s.execute(select(Portrait).where(Portrait.sha256 == sha)).scalar())
        if existing is not None:
            if points is not None:
                self.set_portrait_landmarks(existing.id, points)
                return self.portrait(existing.id)
            return self._portrait_info(existing)
        image = pipeline.load_image(src)  # InputError for unreadable images
        try:
            rig = pipeline.analyze_face(image, landmarks=points)  # InputError "no face found"
        except InputError as exc:
            if exc.path is None:  # core does not know the file name: name it for the user
                raise InputError(src, exc.problem) from None
            raise
        ext = assets.clean_ext(src)
        stored, created = assets.store(src, self._folder / "media", sha, ext)
        lm_json = None if points is None else json.dumps(np.asarray(points).tolist())
        row = Portrait(
            name=(name or src.stem)[:200], sha256=sha, ext=ext, width=int(image.shape[1]),
            height=int(image.shape[0]), landmarks_json=lm_json,
            analysis_json=json.dumps(self._rig_summary(rig)), created=_now(),
        )
        row, inserted = self._insert_asset(Portrait, row, stored, created)
        if not inserted:
            return self._portrait_info(row)
        self.cache.put(self._rig_key(sha, lm_json), rig)
        return self._portrait_info(row)

    def _insert_asset(self, model, row, stored: Path, created: bool):
        """Insert a freshly imported asset row; returns (row, inserted).

        If another process imported the same content a moment ago (sha256 is unique), its
        row is returned instead: the stored file holds the same bytes, so it is theirs too.
        Any other failure removes a media file this import created, so a failed import
        leaves nothing behind."""

        def insert(s: Session):
            s.add(row)
            s.flush()
            return row

        sha = row.sha256
        try:
            return self.db.run_write(insert), True
        except IntegrityError:
            other = self.db.run_read(
                lambda s: s.execute(select(model).where(model.sha256 == sha)).scalar())
            if other is None:
                raise
            return other, False
        except BaseException:
            if created:
                assets.discard(stored)
            raise

    @staticmethod
    def _rig_summary(rig: FaceRig) -> dict:
        return {
            "box": [float(v) for v in rig.box],
            "landmarks": np.asarray(rig.landmarks, dtype=float).round(2).tolist(),
            "source": rig.source,
            "warnings": list(rig.warnings),
            "size": list(rig.size),
        }

    @staticmethod
    def _rig_key(sha: str, lm_json: str | None) -> str:
        # landmarker: rigs cached before the Face Mesh replaced dlib's 68-point model are
        # recomputed (they lack mesh3d and carry the old model's points)
        return key_of("rig", sha=sha, landmarks=lm_json, landmarker="facemesh-1")

    def add_audio(
        self, path: str | Path, name: str | None = None, transcript: str | None = None
    ) -> AudioInfo:
        """Import a speech recording (validated by core.audio.load). Deduplicated like
        portraits; a failed import leaves nothing behind."""
        src = assets.check_source(path)
        sha = assets.sha256_of(src)
        transcript = transcript.strip() if transcript and transcript.strip() else None
        existing = self.db.run_read(
            lambda s: s.execute(select(AudioTrack).where(AudioTrack.sha256 == sha)).scalar())
        if existing is not None:
            if transcript is not None and transcript != existing.transcript:
                self.set_transcript(existing.id, transcript)
                return self.audio(existing.id)
            return self._audio_info(existing)
        wave = pipeline.load_audio(src)  # InputError for unreadable audio
        rate = _source_rate(src)
        ext = assets.clean_ext(src)
        stored, created = assets.store(src, self._folder / "media", sha, ext)
        row = AudioTrack(
            name=(name or src.stem)[:200], sha256=sha, ext=ext, duration=float(wave.duration),
            sample_rate=rate, transcript=transcript, created=_now(),
        )
        row, inserted = self._insert_asset(AudioTrack, row, stored, created)
        if not inserted:
            return self._audio_info(row)
        self.cache.put(key_of("wave", sha=sha), wave)
        return self._audio_info(row)

    def portraits(self) -> list[PortraitInfo]:
        rows = self.db.run_read(
            lambda s: s.execute(select(Portrait).order_by(Portrait.id)).scalars().all())
        return [self._portrait_info(r) for r in rows]

    def portrait(self, portrait_id: int) -> PortraitInfo:
        return self._portrait_info(self._get(Portrait, portrait_id, "portrait"))

    def audio_tracks(self) -> list[AudioInfo]:
        rows = self.db.run_read(
            lambda s: s.execute(select(AudioTrack).order_by(AudioTrack.id)).scalars().all())
        return [self._audio_info(r) for r in rows]

    def audio(self, audio_id: int) -> AudioInfo:
        return self._audio_info(self._get(AudioTrack, audio_id, "audio track"))

    def _get(self, model, ident, what: str):
        try:
            ident = int(ident)
        except (TypeError, ValueError):
            raise InputError(None, f"{what} id must be a number, got '{ident}'") from None
        row = self.db.run_read(lambda s: s.get(model, ident))
        if row is None:
            raise InputError(None, f"no {what} with id {ident} in project {self._folder.name}")
        return row

    def _remove_asset(self, model, ident: int, what: str, column) -> None:
        row = self._get(model, ident, what)
        n = self.db.run_read(lambda s: s.scalar(
            select(func.count()).select_from(Timeline).where(column == row.id)))
        if n:
            raise InputError(None, f"{what} {row.id} ({row.name}) is used by {n} timeline(s); "
                             "remove them first")
        self.db.run_write(lambda s: s.execute(delete(model).where(model.id == row.id)))
        assets.discard(self._folder / "media" / assets.media_name(row.sha256, row.ext))

    def remove_portrait(self, portrait_id: int) -> None:
        """Remove a portrait and its media file. Refused (InputError) while a timeline
        uses it."""
        self._remove_asset(Portrait, portrait_id, "portrait", Timeline.portrait_id)

    def remove_audio(self, audio_id: int) -> None:
        """Like remove_portrait, for audio."""
        self._remove_asset(AudioTrack, audio_id, "audio track", Timeline.audio_id)

    def set_portrait_landmarks(self, portrait_id: int, points: np.ndarray | list | None) -> None:
        """Set (or clear with None) user landmarks: [68, 2] or [5, 2] image pixels. The face
        is re-analysed with them first (bad points raise InputError and change nothing).
        Segments of timelines on this portrait become stale (the spec covers landmarks)."""
        row = self._get(Portrait, portrait_id, "portrait")
        lm_json = None
        arr = None
        if points is not None:
            arr = np.asarray(points, dtype=np.float32)
            if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] not in (5, 68):
                raise InputError(None, f"landmarks must be 68 or 5 (x, y) points, got shape "
                                 f"{tuple(arr.shape)}")
            lm_json = json.dumps(arr.round(3).tolist())
        key = self._rig_key(row.sha256, lm_json)
        rig = self.cache.get(key)
        if rig is None:
            image = pipeline.load_image(self._folder / "media" /
                                        assets.media_name(row.sha256, row.ext))
            rig = pipeline.analyze_face(image, landmarks=arr)
            self.cache.put(key, rig)

        def upd(s: Session) -> None:
            r = s.get(Portrait, row.id)
            r.landmarks_json = lm_json
            r.analysis_json = json.dumps(self._rig_summary(rig))

        self.db.run_write(upd)

    def set_transcript(self, audio_id: int, text: str | None) -> None:
        """Set (or clear) the transcript used for forced alignment."""
        row = self._get(AudioTrack, audio_id, "audio track")
        text = text.strip() if text and text.strip() else None

        def upd(s: Session) -> None:
            s.get(AudioTrack, row.id).transcript = text

        self.db.run_write(upd)

    def portrait_rig(self, portrait_id: int) -> FaceRig:
        """The FaceRig of a portrait (cached per content hash + landmarks)."""
        row = self._get(Portrait, portrait_id, "portrait")
        key = self._rig_key(row.sha256, row.landmarks_json)

        def compute() -> FaceRig:
            image = pipeline.load_image(self._folder / "media" /
                                        assets.media_name(row.sha256, row.ext))
            pts = None if not row.landmarks_json else np.asarray(
                json.loads(row.landmarks_json), dtype=np.float32)
            return pipeline.analyze_face(image, landmarks=pts)

        return self.cache.get_or_compute(key, compute)

    def portrait_image(self, portrait_id: int) -> np.ndarray:
        """The portrait as [H, W, 3] uint8 RGB (for thumbnails)."""
        return pipeline.load_image(self.portrait(portrait_id).path)

    def waveform(self, audio_id: int):
        """The audio as a 16 kHz mono Waveform (cached)."""
        info = self.audio(audio_id)
        return self.cache.get_or_compute(key_of("wave", sha=info.sha256),
                                         lambda: pipeline.load_audio(info.path))

    def audio_features(self, audio_id: int, fps: float = 25) -> AudioFeatures:
        """AudioFeatures at `fps` (cached per content hash + fps + transcript)."""
        info = self.audio(audio_id)
        key = key_of("features", sha=info.sha256, fps=float(fps), transcript=info.transcript)

        def compute() -> AudioFeatures:
            feats = pipeline.analyze_audio(self.waveform(audio_id), float(fps), info.transcript)
            self._store_audio_summary(info.id, feats)
            return feats

        return self.cache.get_or_compute(key, compute)

    def _store_audio_summary(self, audio_id: int, feats: AudioFeatures) -> None:
        """A small, queryable summary of the analysis in the db (the arrays live in cache/)."""
        summary = {
            "fps": float(feats.fps), "n_frames": int(feats.n_frames),
            "speech_seconds": round(float(np.sum(np.asarray(feats.vad) >= 0.5)) / feats.fps, 2),
            "words": len(feats.words), "phones": len(feats.phones), "aligned": feats.aligned,
        }

        def upd(s: Session) -> None:
            r = s.get(AudioTrack, audio_id)
            if r is not None:
                r.analysis_json = json.dumps(summary)

        self.db.run_write(upd)

    # ------------------------------------------------------------ presets
    def add_preset(
        self,
        name: str,
        prompt: str = "",
        negative_prompt: str = "",
        strength: float = 1.0,
        expression: Expression = Expression(),
    ) -> PresetInfo:
        """Create a named edit preset (names are unique)."""
        name = (name or "").strip()
        if not name:
            raise InputError(None, "a preset needs a name")
        fields = self._check_preset_fields(
            {"prompt": prompt, "negative_prompt": negative_prompt, "strength": strength,
             "expression": expression})
        row = EditPreset(name=name[:200], created=_now(), **fields)

        def insert(s: Session) -> EditPreset:
            s.add(row)
            s.flush()
            return row

        try:
            row = self.db.run_write(insert)
        except IntegrityError:
            raise InputError(None, f"a preset named '{name}' already exists") from None
        return _preset_info(row)

    @staticmethod
    def _check_preset_fields(fields: dict) -> dict:
        out: dict = {}
        expr = fields.pop("expression", None)
        if expr is not None:
            if not isinstance(expr, Expression):
                raise InputError(None, "expression must be an Expression")
            for k in EXPRESSION_FIELDS:
                out[k] = float(getattr(expr, k))
        for k in EXPRESSION_FIELDS:
            if k in fields:
                out[k] = float(fields.pop(k))
        for k in ("prompt", "negative_prompt"):
            if k in fields:
                out[k] = str(fields.pop(k) or "")
        if "strength" in fields:
            out["strength"] = float(fields.pop("strength"))
        if "name" in fields:
            name = str(fields.pop("name") or "").strip()
            if not name:
                raise InputError(None, "a preset needs a name")
            out["name"] = name[:200]
        if fields:
            raise InputError(None, f"unknown preset field(s): {', '.join(sorted(fields))}")
        lim = {"smile": (-1, 1), "brows": (-1, 1), "head_motion": (0, 2), "blink_rate": (0, 3),
               "strength": (0, 1)}
        for k, (lo, hi) in lim.items():
            if k in out and not (lo <= out[k] <= hi and np.isfinite(out[k])):
                raise InputError(None, f"preset {k} must be between {lo} and {hi}, "
                                 f"got {out[k]}")
        return out

    def update_preset(self, preset_id: int, **fields) -> PresetInfo:
        """Change any of name, prompt, negative_prompt, strength, expression (an Expression)
        or the expression fields smile/brows/head_motion/blink_rate directly. Returns the
        new state (for undo, read `preset(id)` before and pass it back as fields)."""
        row = self._get(EditPreset, preset_id, "preset")
        values = self._check_preset_fields(dict(fields))

        def upd(s: Session) -> EditPreset:
            r = s.get(EditPreset, row.id)
            for k, v in values.items():
                setattr(r, k, v)
            s.flush()
            return r

        try:
            return _preset_info(self.db.run_write(upd))
        except IntegrityError:
            raise InputError(None, f"a preset named '{values.get('name')}' already "
                             "exists") from None

    def presets(self) -> list[PresetInfo]:
        rows = self.db.run_read(
            lambda s: s.execute(select(EditPreset).order_by(EditPreset.id)).scalars().all())
        return [_preset_info(r) for r in rows]

    def preset(self, preset_id: int) -> PresetInfo:
        return _preset_info(self._get(EditPreset, preset_id, "preset"))

    def find_preset(self, name_or_id: str | int) -> PresetInfo:
        text = str(name_or_id)
        for p in self.presets():
            if p.name == text or str(p.id) == text:
                return p
        raise InputError(None, f"no preset named or numbered '{text}'")

    def remove_preset(self, preset_id: int) -> None:
        """Delete a preset; timelines/segments that used it fall back to no preset."""
        row = self._get(EditPreset, preset_id, "preset")
        self.db.run_write(lambda s: s.execute(delete(EditPreset).where(EditPreset.id == row.id)))

    def restore_preset(self, info: PresetInfo) -> PresetInfo:
        """Re-create a removed preset with its old id (undo of remove_preset). References
        that were cleared by the removal are not restored (use restore_segments for that)."""
        row = EditPreset(id=info.id, name=info.name, created=_now(), **self._check_preset_fields(
            {"prompt": info.prompt, "negative_prompt": info.negative_prompt,
             "strength": info.strength, "expression": info.expression}))

        def insert(s: Session) -> EditPreset:
            s.add(row)
            s.flush()
            return row

        try:
            return _preset_info(self.db.run_write(insert))
        except IntegrityError:
            raise InputError(None, f"preset {info.id} or name '{info.name}' exists") from None

    # ------------------------------------------------------------ timelines
    @staticmethod
    def _timeline_info(r: Timeline) -> TimelineInfo:
        return TimelineInfo(
            id=r.id, name=r.name, portrait_id=r.portrait_id, audio_id=r.audio_id,
            engine=r.engine, fps=int(r.fps), size=int(r.size), preset_id=r.preset_id,
            seed=int(r.seed), n_frames=int(r.n_frames),
            settings=json.loads(r.settings_json or "{}"), created=float(r.created),
        )

    @staticmethod
    def _check_engine(engine: str) -> str:
        names = pipeline.engine_names()
        if engine not in names:
            raise InputError(None, f"unknown engine '{engine}' (known: {', '.join(names)})")
        return engine

    @staticmethod
    def _check_size_fps(size: int, fps: int) -> None:
        if not (isinstance(size, int | np.integer) and 64 <= size <= 2048 and size % 2 == 0):
            raise InputError(None, f"size must be an even number of pixels from 64 to 2048, "
                             f"got {size}")
        if not (isinstance(fps, int | np.integer) and 1 <= fps <= 120):
            raise InputError(None, f"fps must be a whole number from 1 to 120, got {fps}")

    def new_timeline(
        self,
        portrait_id: int,
        audio_id: int,
        engine: str = "warp",
        fps: int = 25,
        size: int = 512,
        preset_id: int | None = None,
        seed: int = 0,
        name: str | None = None,
        settings: dict | None = None,
    ) -> TimelineInfo:
        """Create a timeline split at pauses in speech into segments of about 2-8 s."""
        portrait = self.portrait(portrait_id)
        audio = self.audio(audio_id)
        self._check_engine(engine)
        self._check_size_fps(size, fps)
        if preset_id is not None:
            self.preset(preset_id)
        self.portrait_rig(portrait.id)  # analyse now (and cache), so errors surface here
        feats = self.audio_features(audio.id, fps)
        ranges = split_at_pauses(np.asarray(feats.vad), float(fps), np.asarray(feats.rms))
        if not ranges:
            raise InputError(audio.path, "the audio is too short for a single video frame")
        n_frames = ranges[-1][1]

        def insert(s: Session) -> Timeline:
            count = s.scalar(select(func.count()).select_from(Timeline)) or 0
            t = Timeline(
                name=(name or f"{portrait.name} + {audio.name}" if name or count == 0
                      else f"{portrait.name} + {audio.name} ({count + 1})")[:200],
                portrait_id=portrait.id, audio_id=audio.id, engine=engine, fps=int(fps),
                size=int(size), preset_id=preset_id, seed=int(seed), n_frames=n_frames,
                settings_json=json.dumps(settings or {}, sort_keys=True), created=_now(),
            )
            s.add(t)
            s.flush()
            s.add_all([Segment(timeline_id=t.id, start_frame=a, end_frame=b)
                       for a, b in ranges])
            return t

        return self._timeline_info(self.db.run_write(insert))

    def timelines(self) -> list[TimelineInfo]:
        rows = self.db.run_read(
            lambda s: s.execute(select(Timeline).order_by(Timeline.id)).scalars().all())
        return [self._timeline_info(r) for r in rows]

    def timeline(self, timeline_id: int | None = None) -> TimelineInfo:
        """A timeline by id; None = the latest one (InputError when there is none)."""
        if timeline_id is None:
            row = self.db.run_read(lambda s: s.execute(
                select(Timeline).order_by(Timeline.id.desc()).limit(1)).scalar())
            if row is None:
                raise InputError(None, "the project has no timeline yet; create one with "
                                 "'timeline new'")
            return self._timeline_info(row)
        return self._timeline_info(self._get(Timeline, timeline_id, "timeline"))

    def update_timeline(self, timeline_id: int, **fields) -> TimelineInfo:
        """Change name, engine, preset_id, seed, size, fps-free settings (segments become
        stale when it changes their spec). fps is fixed per timeline (frames index audio)."""
        tl = self.timeline(timeline_id)
        allowed = {"name", "engine", "preset_id", "seed", "size", "settings"}
        bad = set(fields) - allowed
        if bad:
            raise InputError(None, f"cannot change timeline field(s): {', '.join(sorted(bad))}")
        if "engine" in fields:
            self._check_engine(fields["engine"])
        if "size" in fields:
            self._check_size_fps(fields["size"], tl.fps)
        if fields.get("preset_id") is not None:
            self.preset(fields["preset_id"])

        def upd(s: Session) -> Timeline:
            r = s.get(Timeline, tl.id)
            for k, v in fields.items():
                if k == "settings":
                    r.settings_json = json.dumps(v or {}, sort_keys=True)
                else:
                    setattr(r, k, v)
            s.flush()
            return r

        return self._timeline_info(self.db.run_write(upd))

    def remove_timeline(self, timeline_id: int) -> None:
        tl = self.timeline(timeline_id)
        files = self.db.run_read(lambda s: s.execute(
            select(Render.file).where(Render.timeline_id == tl.id)).scalars().all())
        self.db.run_write(lambda s: s.execute(delete(Timeline).where(Timeline.id == tl.id)))
        still = set(self.db.run_read(lambda s: s.execute(select(Render.file)).scalars().all()))
        for f in set(files) - still:
            with contextlib.suppress(OSError):
                (self._folder / f).unlink()

    # ------------------------------------------------------------ segments
    def _base(self, s: Session, tl: Timeline) -> dict:
        """Everything about a timeline that every segment's spec shares."""
        portrait = s.get(Portrait, tl.portrait_id)
        audio = s.get(AudioTrack, tl.audio_id)
        presets = {r.id: _preset_info(r) for r in s.execute(select(EditPreset)).scalars()}
        ctx, uses_text = specmod.engine_traits(tl.engine, tl.settings_json or "{}")
        base_preset = presets.get(tl.preset_id)
        base_expr = base_preset.expression if base_preset else Expression()
        base_text = TextEdit(base_preset.prompt, base_preset.negative_prompt,
                             base_preset.strength) if base_preset else TextEdit()
        settings = json.loads(tl.settings_json or "{}")
        spec = {
            "v": specmod.SPEC_VERSION,
            "portrait": portrait.sha256,
            "landmarks": portrait.landmarks_json,
            "audio": audio.sha256,
            "transcript": audio.transcript,
            "engine": tl.engine,
            "settings": settings,
            "size": tl.size,
            "fps": tl.fps,
            "n_frames": tl.n_frames,
            "expression": specmod.expression_dict(base_expr),
            "text": [base_text.prompt, base_text.negative_prompt,
                     round(base_text.strength, 6)] if uses_text else None,
            "seed": tl.seed,
        }
        return {"spec": spec, "presets": presets, "ctx": ctx, "uses_text": uses_text,
                "expr": base_expr, "text": base_text, "tl": tl}

    @staticmethod
    def _effective(base: dict, preset_id, seed, expr_json) -> tuple:
        """(expression or None, text or None, seed or None): the segment's overrides that
        actually differ from the timeline base (None = same as base)."""
        p = base["presets"].get(preset_id) if preset_id is not None else None
        expr = _expr_from_json(expr_json)
        if expr is None and p is not None:
            expr = p.expression
        if expr is not None and specmod.expression_dict(expr) == specmod.expression_dict(
                base["expr"]):
            expr = None
        text = None
        if p is not None and base["uses_text"]:
            t = TextEdit(p.prompt, p.negative_prompt, p.strength)
            text = None if t == base["text"] else t
        sd = None if seed is None or int(seed) == int(base["tl"].seed) else int(seed)
        return expr, text, sd

    def _segment_part(self, base: dict, start: int, end: int, preset_id, seed,
                      expr_json) -> dict:
        expr, text, sd = self._effective(base, preset_id, seed, expr_json)
        return {
            "range": [int(start), int(end)],
            "expression": specmod.expression_dict(expr),
            "text": None if text is None else [text.prompt, text.negative_prompt,
                                               round(text.strength, 6)],
            "seed": sd,
        }

    def _specs(self, base: dict, rows: list) -> list[tuple[dict, str]]:
        """(spec, hash) per segment row (id, start, end, preset_id, seed, expr_json), rows
        in timeline order."""
        parts = [self._segment_part(base, r[1], r[2], r[3], r[4], r[5]) for r in rows]
        ctx = base["ctx"]
        n = base["tl"].n_frames
        out = []
        for part in parts:
            spec = {"base": base["spec"], "segment": part}
            if ctx > 0:
                # the frames the engine denoises together with the segment (diffusion's
                # window overlap); they are not yielded, and the neighbours' overrides stay
                # out: a neighbour's edit re-renders only the neighbour, which then meets
                # this render seamlessly (noise depends on seed and frame only)
                s0, e0 = part["range"]
                spec["context"] = {"before": [max(0, s0 - ctx), s0],
                                   "after": [e0, min(n, e0 + ctx)]}
            out.append((spec, specmod.spec_hash(spec)))
        return out

    def segments(self, timeline_id: int) -> list[SegmentInfo]:
        """Segments in order, each with its spec hash and render state."""
        return self.db.run_read(lambda s: self._segments_in(s, int(timeline_id)))

    def _segments_in(self, s: Session, timeline_id: int) -> list[SegmentInfo]:
        tl = s.get(Timeline, timeline_id)
        if tl is None:
            raise InputError(None, f"no timeline with id {timeline_id}")
        base = self._base(s, tl)
        rows = s.execute(
            select(Segment.id, Segment.start_frame, Segment.end_frame, Segment.preset_id,
                   Segment.seed, Segment.expression_json)
            .where(Segment.timeline_id == timeline_id).order_by(Segment.start_frame)).all()
        done = dict(s.execute(
            select(Render.spec_hash, Render.file)
            .where(Render.timeline_id == timeline_id, Render.status == "done")).all())
        rendered_before = set(s.execute(
            select(Render.segment_id).where(Render.timeline_id == timeline_id)
            .distinct()).scalars())
        last_job: dict[int, tuple] = {}
        for jid, sid, state, prog, jhash in s.execute(
                select(Job.id, Job.segment_id, Job.state, Job.progress, Job.spec_hash)
                .where(Job.timeline_id == timeline_id, Job.segment_id.is_not(None))
                .order_by(Job.id)):
            prev = last_job.get(sid)
            # an active job wins over a later finished one
            if prev is None or prev[2] not in ACTIVE_JOB_STATES or state in ACTIVE_JOB_STATES:
                last_job[sid] = (jid, sid, state, prog, jhash)
        specs = self._specs(base, rows)
        out = []
        for i, (r, (_spec, h)) in enumerate(zip(rows, specs, strict=True)):
            job = last_job.get(r[0])
            path = None
            progress = 0.0
            if h in done:
                state, path, progress = "rendered", self._folder / done[h], 1.0
            elif job is not None and job[2] == "queued":
                state = "queued"
            elif job is not None and job[2] == "running":
                state, progress = "rendering", float(job[3] or 0.0)
            elif job is not None and job[2] == "failed" and job[4] == h:
                state = "failed"
            elif r[0] in rendered_before:
                state = "stale"
            else:
                state = "missing"
            out.append(SegmentInfo(
                id=r[0], timeline_id=timeline_id, index=i, start=r[1], end=r[2],
                overrides=SegmentOverrides(r[3], r[4], _expr_from_json(r[5])),
                state=state, spec_hash=h, render_path=path, progress=progress,
                job_id=job[0] if job else None,
            ))
        return out

    def segment(self, segment_id: int) -> SegmentInfo:
        row = self._get(Segment, segment_id, "segment")
        for info in self.segments(row.timeline_id):
            if info.id == row.id:
                return info
        raise AssertionError("segment vanished")

    def segment_at(self, timeline_id: int, frame: int) -> SegmentInfo:
        """The segment that contains `frame`."""
        segs = self.segments(timeline_id)
        for info in segs:
            if info.start <= frame < info.end:
                return info
        raise InputError(None, f"frame {frame} is outside the timeline (0..{segs[-1].end - 1})"
                         if segs else "the timeline has no segments")

    def _neighbours(self, s: Session, seg: Segment) -> tuple[Segment | None, Segment | None]:
        prev = s.execute(select(Segment).where(
            Segment.timeline_id == seg.timeline_id, Segment.start_frame < seg.start_frame)
            .order_by(Segment.start_frame.desc()).limit(1)).scalar()
        nxt = s.execute(select(Segment).where(
            Segment.timeline_id == seg.timeline_id, Segment.start_frame > seg.start_frame)
            .order_by(Segment.start_frame).limit(1)).scalar()
        return prev, nxt

    def split_segment(self, segment_id: int, frame: int) -> tuple[SegmentInfo, SegmentInfo]:
        """Split at `frame` (start < frame < end): the segment keeps [start, frame), a new
        one gets [frame, end) with the same overrides."""
        row = self._get(Segment, segment_id, "segment")
        frame = int(frame)
        if not (row.start_frame + MIN_SEGMENT_FRAMES <= frame
                <= row.end_frame - MIN_SEGMENT_FRAMES):
            raise InputError(None, f"cannot split segment {row.id} ({row.start_frame}-"
                             f"{row.end_frame}) at frame {frame}: choose a frame strictly "
                             "inside it")

        def do(s: Session) -> int:
            r = s.get(Segment, row.id)
            new = Segment(timeline_id=r.timeline_id, start_frame=frame, end_frame=r.end_frame,
                          preset_id=r.preset_id, seed=r.seed, expression_json=r.expression_json)
            r.end_frame = frame
            s.add(new)
            s.flush()
            return new.id

        new_id = self.db.run_write(do)
        return self.segment(row.id), self.segment(new_id)

    def merge_segments(self, first_id: int, second_id: int) -> SegmentInfo:
        """Merge two neighbours; the merged segment keeps the first one's id and overrides."""
        a = self._get(Segment, first_id, "segment")
        b = self._get(Segment, second_id, "segment")
        if a.start_frame > b.start_frame:
            a, b = b, a
        if a.timeline_id != b.timeline_id or a.end_frame != b.start_frame:
            raise InputError(None, f"segments {first_id} and {second_id} are not neighbours")

        def do(s: Session) -> None:
            ra = s.get(Segment, a.id)
            s.execute(delete(Segment).where(Segment.id == b.id))
            ra.end_frame = b.end_frame

        self.db.run_write(do)
        return self.segment(a.id)

    def move_boundary(self, segment_id: int, new_end: int) -> tuple[SegmentInfo, SegmentInfo]:
        """Move the boundary between this segment and the next one to `new_end`."""
        row = self._get(Segment, segment_id, "segment")
        new_end = int(new_end)
        nxt = self.db.run_read(lambda s: self._neighbours(s, row)[1])
        if nxt is None:
            raise InputError(None, f"segment {row.id} is the last one; its end is the end of "
                             "the audio")
        if not (row.start_frame + MIN_SEGMENT_FRAMES <= new_end
                <= nxt.end_frame - MIN_SEGMENT_FRAMES):
            raise InputError(None, f"the boundary must stay inside {row.start_frame + 1}.."
                             f"{nxt.end_frame - 1}, got {new_end}")

        def do(s: Session) -> None:
            s.get(Segment, row.id).end_frame = new_end
            s.get(Segment, nxt.id).start_frame = new_end

        self.db.run_write(do)
        return self.segment(row.id), self.segment(nxt.id)

    def set_segment_overrides(
        self,
        segment_id: int,
        preset_id: int | None = UNCHANGED,  # type: ignore[assignment]
        seed: int | None = UNCHANGED,  # type: ignore[assignment]
        expression: Expression | None = UNCHANGED,  # type: ignore[assignment]
    ) -> SegmentInfo:
        """Set per-segment overrides. UNCHANGED (default) keeps a field; None clears it."""
        row = self._get(Segment, segment_id, "segment")
        if preset_id is not UNCHANGED and preset_id is not None:
            self.preset(preset_id)
        if expression is not UNCHANGED and expression is not None and not isinstance(
                expression, Expression):
            raise InputError(None, "expression must be an Expression")

        def do(s: Session) -> None:
            r = s.get(Segment, row.id)
            if preset_id is not UNCHANGED:
                r.preset_id = preset_id
            if seed is not UNCHANGED:
                r.seed = None if seed is None else int(seed)
            if expression is not UNCHANGED:
                r.expression_json = _expr_to_json(expression)

        self.db.run_write(do)
        return self.segment(row.id)

    def snapshot_segments(self, timeline_id: int) -> list[SegmentState]:
        """A plain copy of the segment list (for undo)."""
        rows = self.db.run_read(lambda s: s.execute(
            select(Segment).where(Segment.timeline_id == int(timeline_id))
            .order_by(Segment.start_frame)).scalars().all())
        return [SegmentState(r.id, r.start_frame, r.end_frame, r.preset_id, r.seed,
                             _expr_from_json(r.expression_json)) for r in rows]

    def restore_segments(self, timeline_id: int, snapshot: list[SegmentState]) -> None:
        """Make the segment list exactly `snapshot` again (ids included), e.g. to undo a
        split/merge/move/override. Renders are keyed by spec hash, so restored segments
        find their old renders again."""
        tl = self.timeline(timeline_id)
        snap = sorted(snapshot, key=lambda x: x.start)
        if not snap or snap[0].start != 0 or snap[-1].end != tl.n_frames or any(
                a.end != b.start for a, b in zip(snap, snap[1:], strict=False)) or any(
                x.end <= x.start for x in snap):
            raise InputError(None, "the segment snapshot does not cover the timeline")
        presets = {p.id for p in self.presets()}

        def do(s: Session) -> None:
            keep = {x.id for x in snap}
            current = {r.id: r for r in s.execute(
                select(Segment).where(Segment.timeline_id == tl.id)).scalars()}
            for sid, r in current.items():
                if sid not in keep:
                    s.delete(r)
            s.flush()
            # move existing rows out of the way first (no overlap constraint, but tidy)
            for x in snap:
                r = current.get(x.id)
                if r is None:
                    other = s.get(Segment, x.id)
                    if other is not None:  # id now used by another timeline: new id
                        r = Segment(timeline_id=tl.id)
                    else:
                        r = Segment(id=x.id, timeline_id=tl.id)
                    s.add(r)
                r.start_frame, r.end_frame = x.start, x.end
                r.preset_id = x.preset_id if x.preset_id in presets else None
                r.seed = x.seed
                r.expression_json = _expr_to_json(x.expression)

        self.db.run_write(do)

    def segment_spec(self, segment_id: int) -> dict:
        """The render spec of a segment (what its hash covers), for inspection."""
        return self.render_plan(segment_id).spec

    def render_plan(self, segment_id: int) -> RenderPlan:
        """Everything a runner needs to render this segment as it is now."""
        row = self._get(Segment, segment_id, "segment")

        def build(s: Session) -> RenderPlan:
            tl = s.get(Timeline, row.timeline_id)
            base = self._base(s, tl)
            rows = s.execute(
                select(Segment.id, Segment.start_frame, Segment.end_frame, Segment.preset_id,
                       Segment.seed, Segment.expression_json)
                .where(Segment.timeline_id == tl.id).order_by(Segment.start_frame)).all()
            specs = self._specs(base, rows)
            i = next(k for k, r in enumerate(rows) if r[0] == row.id)
            r = rows[i]
            spec, h = specs[i]
            expr, text, sd = self._effective(base, r[3], r[4], r[5])
            # the planner keeps frames outside a segment independent of its overrides, so
            # the segment's own override is all its frames depend on
            controls = [] if expr is None and sd is None else [(r[1], r[2], expr, sd)]
            seg = SegmentInfo(id=r[0], timeline_id=tl.id, index=i, start=r[1], end=r[2],
                              overrides=SegmentOverrides(r[3], r[4], _expr_from_json(r[5])),
                              state="missing", spec_hash=h, render_path=None)
            return RenderPlan(
                timeline=self._timeline_info(tl), segment=seg, spec=spec, spec_hash=h,
                out_path=self._folder / "renders" / f"{h}.mp4", portrait_id=tl.portrait_id,
                audio_id=tl.audio_id, base_expression=base["expr"], base_text=base["text"],
                expression=expr or base["expr"], text=text or base["text"],
                seed=int(base["tl"].seed if sd is None else sd), controls=tuple(controls),
            )

        return self.db.run_read(build)

    def base_motion(self, timeline_id: int) -> MotionTrack:
        """The whole-track motion plan of a timeline without segment overrides (cached on
        disk per portrait/audio/fps/base expression/seed)."""
        return self._motion(self.timeline(timeline_id), None)

    def _motion(self, tl: TimelineInfo, plan: RenderPlan | None) -> MotionTrack:
        base_expr = plan.base_expression if plan else self._base_expression(tl)
        p = self.portrait(tl.portrait_id)
        a = self.audio(tl.audio_id)
        lm = self.db.run_read(lambda s: s.get(Portrait, tl.portrait_id).landmarks_json)
        controls = plan.controls if plan else ()
        key = key_of("motion", v=specmod.SPEC_VERSION, portrait=p.sha256, landmarks=lm,
                     audio=a.sha256, transcript=a.transcript, fps=tl.fps,
                     expr=specmod.expression_dict(base_expr), seed=tl.seed,
                     controls=[[c[0], c[1], specmod.expression_dict(c[2]), c[3]]
                               for c in controls])

        def compute() -> MotionTrack:
            rig = self.portrait_rig(tl.portrait_id)
            feats = self.audio_features(tl.audio_id, tl.fps)
            return pipeline.plan_motion(rig, feats, base_expr, tl.seed, list(controls))

        # the base plan is kept on disk; per-segment override plans are cheap (tens of ms
        # for a minute) and many, so they stay in memory only
        return self.cache.get_or_compute(key, compute, disk=not controls)

    def _base_expression(self, tl: TimelineInfo) -> Expression:
        if tl.preset_id is None:
            return Expression()
        return self.preset(tl.preset_id).expression

    def render_request(self, plan: RenderPlan):
        """The core RenderRequest for a segment's plan (whole-track motion, so engines can
        use context around the segment's frames)."""
        from core.types import RenderRequest

        tl = plan.timeline
        return RenderRequest(
            rig=self.portrait_rig(tl.portrait_id),
            features=self.audio_features(tl.audio_id, tl.fps),
            motion=self._motion(tl, plan), size=tl.size, fps=float(tl.fps), seed=plan.seed,
            expression=plan.expression, text=plan.text, settings=dict(tl.settings),
            # the diffusion engine reads wav2vec2 states from raw audio; warp never needs it
            audio=self.waveform(tl.audio_id) if tl.engine == "diffusion" else None,
        )

    def neighbour_anchors(self, plan: RenderPlan) -> dict[int, np.ndarray]:
        """{timeline frame: RGB frame} of the segment's context frames (the spec's
        "context" ranges: the O frames before and after it) taken from the neighbours'
        CURRENT renders; frames whose segment is not rendered as it is now are left out.

        Why: an engine with context (diffusion) re-denoises those frames under another
        window layout than the neighbours had; given the neighbours' real frames it
        inpaints the segment around them, so the segment meets them without a seam. Not in
        the spec hash: current renders are themselves determined by the neighbours' specs.

        Only neighbours rendered under different settings (seed, text edit, expression)
        anchor: with the same settings the shared per-frame noise and conditions already
        reproduce the neighbour's frames (measured boundary jump 0.14 grey levels), and
        pulling toward decoded-and-re-encoded frames would only add error (2.4 measured).
        """
        ctx = plan.spec.get("context")
        if not ctx:
            return {}
        from core.video import read_frames

        wanted = {f for lo, hi in (ctx["before"], ctx["after"]) for f in range(lo, hi)}
        out: dict[int, np.ndarray] = {}
        for seg in self.segments(plan.timeline.id):
            mine = [f for f in sorted(wanted) if seg.start <= f < seg.end]
            if (not mine or seg.id == plan.segment.id or seg.state != "rendered"
                    or seg.render_path is None or self._renders_alike(seg.id, plan)):
                continue
            last = mine[-1] - seg.start
            # an unreadable render gives no anchors; closing() stops decoding early
            with contextlib.suppress(InputError), \
                    contextlib.closing(read_frames(seg.render_path)) as frames:
                for i, frame in enumerate(frames):
                    if seg.start + i in wanted and frame.shape[:2] == (plan.timeline.size,) * 2:
                        out[seg.start + i] = frame
                    if i >= last:
                        break
        return out

    def _renders_alike(self, segment_id: int, plan: RenderPlan) -> bool:
        """Whether segment `segment_id` renders under the same effective settings as `plan`."""
        other = self.render_plan(segment_id)
        return (other.seed, other.text, other.expression) == (plan.seed, plan.text, plan.expression)

    # ------------------------------------------------------------ renders / preview
    def _render_info(self, r: Render) -> RenderInfo:
        return RenderInfo(
            id=r.id, timeline_id=r.timeline_id, segment_id=r.segment_id, spec_hash=r.spec_hash,
            engine=r.engine, path=self._folder / r.file, status=r.status, start=r.start_frame,
            end=r.end_frame, render_seconds=float(r.render_seconds), created=float(r.created),
        )

    def renders(self, timeline_id: int | None = None) -> list[RenderInfo]:
        # Plain column rows, not ORM objects: thousands of renders would otherwise pay for
        # identity-map and change-tracking set-up only to be copied into dataclasses.
        cols = (Render.id, Render.timeline_id, Render.segment_id, Render.spec_hash,
                Render.engine, Render.file, Render.status, Render.start_frame,
                Render.end_frame, Render.render_seconds, Render.created)

        def get(s: Session):
            q = select(*cols).order_by(Render.id)
            if timeline_id is not None:
                q = q.where(Render.timeline_id == int(timeline_id))
            return s.execute(q).all()

        folder = self._folder
        return [
            RenderInfo(id=rid, timeline_id=tid, segment_id=sid, spec_hash=spec, engine=engine,
                       path=folder / file, status=status, start=start, end=end,
                       render_seconds=float(secs), created=float(created))
            for rid, tid, sid, spec, engine, file, status, start, end, secs, created
            in self.db.run_read(get)
        ]

    def verify_renders(self, timeline_id: int | None = None) -> int:
        """Mark `missing` the done renders whose file is gone (e.g. deleted by hand while
        the project was open). Returns how many were marked."""
        def get(s: Session):
            q = select(Render.id, Render.file).where(Render.status == "done")
            if timeline_id is not None:
                q = q.where(Render.timeline_id == int(timeline_id))
            return s.execute(q).all()

        gone = [rid for rid, f in self.db.run_read(get) if not (self._folder / f).is_file()]
        if gone:
            self.db.run_write(lambda s: s.execute(
                update(Render).where(Render.id.in_(gone)).values(status="missing")))
        return len(gone)

    def record_render(self, plan: RenderPlan, seconds: float, job_id: int | None = None,
                      reused: bool = False) -> int:
        """Insert the Render row for a file already in place (and finish the job), in one
        transaction. Returns the render id."""
        rel = f"renders/{plan.out_path.name}"
        if not plan.out_path.is_file():
            raise RuntimeError(f"render file {plan.out_path} is missing")

        def do(s: Session) -> int:
            seg_exists = s.get(Segment, plan.segment.id) is not None
            existing = s.execute(select(Render).where(
                Render.timeline_id == plan.timeline.id, Render.spec_hash == plan.spec_hash)
            ).scalars().first()
            if existing is not None:
                existing.status = "done"
                if seg_exists:
                    existing.segment_id = plan.segment.id
                r = existing
            else:
                r = Render(timeline_id=plan.timeline.id,
                           segment_id=plan.segment.id if seg_exists else None,
                           spec_hash=plan.spec_hash, engine=plan.timeline.engine, file=rel,
                           status="done", start_frame=plan.segment.start,
                           end_frame=plan.segment.end, render_seconds=float(seconds),
                           created=_now())
                s.add(r)
            s.flush()
            if job_id is not None:
                j = s.get(Job, job_id)
                if j is not None:
                    j.state, j.progress, j.finished = "done", 1.0, _now()
                    j.render_id, j.reused, j.spec_hash = r.id, reused, plan.spec_hash
                    j.message = "reused an existing render" if reused else (
                        f"rendered {plan.segment.n_frames} frames in {seconds:.1f} s")
                    j.error = None
            return r.id

        return self.db.run_write(do)

    def preview_frame(self, timeline_id: int, frame: int) -> np.ndarray:
        """[size, size, 3] uint8: from the current render if its segment is rendered, else
        rendered instantly with the warp engine."""
        tl = self.timeline(timeline_id)
        frame = int(frame)
        seg = self.segment_at(tl.id, frame)
        if seg.state == "rendered" and seg.render_path is not None:
            img = _decode_frame(seg.render_path, frame - seg.start)
            if img is not None:
                return img
        # scrubbing asks for many frames of one segment: keep its request (the warp engine
        # caches its per-request preparation, so later frames cost one warp each)
        cached = self._preview
        if cached is not None and cached[0] == seg.spec_hash:
            request = cached[1]
        else:
            request = self.render_request(self.render_plan(seg.id))
            self._preview = (seg.spec_hash, request)
        engine = self._engines.get("warp")
        if engine is None:
            engine = self._engines["warp"] = pipeline.create_engine("warp")
        preview = request if tl.engine == "warp" else replace(request, settings={})
        return next(iter(engine.render(preview, frames=range(frame, frame + 1))))

    # ------------------------------------------------------------ queue
    def enqueue(self, timeline_id: int, segment_ids: list[int] | None = None) -> list[JobInfo]:
        """Queue render jobs for the given segments (None = every segment that is not
        rendered). Segments already current are skipped; a segment's queued/running job is
        returned instead of a duplicate; an interrupted job is re-queued."""
        segs = self.segments(timeline_id)
        if segment_ids is not None:
            wanted = {int(i) for i in segment_ids}
            unknown = wanted - {s.id for s in segs}
            if unknown:
                raise InputError(None, f"no segment {', '.join(map(str, sorted(unknown)))} in "
                                 f"timeline {timeline_id}")
            segs = [s for s in segs if s.id in wanted]
        todo = [s for s in segs if s.state != "rendered"]
        if not todo:
            return []

        def do(sess: Session) -> list[Job]:
            out = []
            for seg in todo:
                latest = sess.execute(select(Job).where(Job.segment_id == seg.id)
                                      .order_by(Job.id.desc()).limit(1)).scalar()
                active = sess.execute(select(Job).where(
                    Job.segment_id == seg.id, Job.state.in_(ACTIVE_JOB_STATES))
                    .order_by(Job.id).limit(1)).scalar()
                if active is not None:
                    out.append(active)
                elif latest is not None and latest.state == "interrupted":
                    latest.state, latest.progress, latest.error = "queued", 0.0, None
                    latest.message, latest.finished = "re-queued after an interruption", None
                    latest.cancel_requested = False
                    out.append(latest)
                else:
                    j = Job(timeline_id=int(timeline_id), segment_id=seg.id, state="queued",
                            spec_hash=seg.spec_hash, created=_now(),
                            message=f"frames {seg.start}-{seg.end}")
                    sess.add(j)
                    out.append(j)
            sess.flush()
            return out

        return [_job_info(j) for j in self.db.run_write(do)]

    def jobs(self, states: tuple[str, ...] | None = None) -> list[JobInfo]:
        """Jobs, newest first (optionally only those in `states`)."""
        def get(s: Session):
            q = select(Job).order_by(Job.id.desc())
            if states:
                q = q.where(Job.state.in_(tuple(states)))
            return s.execute(q).scalars().all()

        return [_job_info(j) for j in self.db.run_read(get)]

    def job(self, job_id: int) -> JobInfo:
        return _job_info(self._get(Job, job_id, "job"))

    def cancel_job(self, job_id: int) -> JobInfo:
        """Cancel a queued job now; a running job is asked to stop (its runner sees the
        request between frames, discards the partial render, and marks it cancelled)."""
        j = self._get(Job, job_id, "job")
        if j.state not in ACTIVE_JOB_STATES:
            raise InputError(None, f"job {j.id} is {j.state}; only queued or running jobs can "
                             "be cancelled")

        def do(s: Session) -> Job:
            r = s.get(Job, j.id)
            if r.state == "queued":
                r.state, r.finished, r.message = "cancelled", _now(), "cancelled"
            elif r.state == "running":
                r.cancel_requested = True
                r.message = "cancelling..."
            s.flush()
            return r

        return _job_info(self.db.run_write(do))

    def retry_job(self, job_id: int) -> JobInfo:
        """Put a failed/cancelled/interrupted job back in the queue."""
        j = self._get(Job, job_id, "job")
        if j.state not in ("failed", "cancelled", "interrupted"):
            raise InputError(None, f"job {j.id} is {j.state}; only failed, cancelled or "
                             "interrupted jobs can be retried")

        def do(s: Session) -> Job:
            r = s.get(Job, j.id)
            r.state, r.progress, r.error, r.finished = "queued", 0.0, None, None
            r.cancel_requested, r.message = False, "retry"
            s.flush()
            return r

        return _job_info(self.db.run_write(do))

    def clear_finished_jobs(self) -> int:
        def do(s: Session) -> int:
            res = s.execute(delete(Job).where(Job.state.in_(("done", "cancelled"))))
            return int(res.rowcount or 0)

        return self.db.run_write(do)

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
    ) -> Path:
        """Render what is missing, concatenate the segment renders, mux the audio (AAC) and
        write an MP4 atomically (default: exports/<timeline name>.mp4). Stream copy when
        size/fps/crf match the renders, else re-encode."""
        from studio.export import export_timeline

        return export_timeline(self, timeline_id, out_path, size=size, fps=fps, crf=crf,
                               progress=progress, cancel=cancel)


def _source_rate(path: Path) -> int:
    try:
        import av

        with av.open(str(path)) as c:
            return int(c.streams.audio[0].codec_context.sample_rate or 0)
    except Exception:
        return 0


def _decode_frame(path: Path, index: int) -> np.ndarray | None:
    """Frame `index` of a render file (decoded from the start: renders are short)."""
    import av

    try:
        with av.open(str(path)) as c:
            for i, fr in enumerate(c.decode(video=0)):
                if i == index:
                    return fr.to_ndarray(format="rgb24")
    except (av.FFmpegError, OSError):
        return None
    return None

