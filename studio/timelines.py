"""Timelines and their segments: create/update/remove, split/merge/move, overrides,
snapshots for undo, and the segment list with spec hashes and render states.

Specs are built by the pure functions of studio.specs from rows read here once per call.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.errors import InputError
from core.types import Expression, check_fps, check_size
from studio import engines, safepaths
from studio import specs as specmod
from studio.db.models import AudioTrack, EditPreset, Job, Portrait, Render, Segment, Timeline
from studio.presets import preset_info
from studio.records import (
    UNCHANGED,
    SegmentInfo,
    SegmentOverrides,
    SegmentState,
    TimelineInfo,
)
from studio.rows import get_row
from studio.segments import split_at_pauses
from studio.specs import RenderPlan, SegmentRow, SpecBase

if TYPE_CHECKING:
    from studio.project import Project

MIN_SEGMENT_FRAMES = 1
ACTIVE_JOB_STATES = ("queued", "running")


def timeline_info(r: Timeline) -> TimelineInfo:
    return TimelineInfo(
        id=r.id, name=r.name, portrait_id=r.portrait_id, audio_id=r.audio_id,
        engine=r.engine, fps=int(r.fps), size=int(r.size), preset_id=r.preset_id,
        seed=int(r.seed), n_frames=int(r.n_frames),
        settings=json.loads(r.settings_json or "{}"), created=float(r.created),
    )


def check_size_fps(size: object, fps: object) -> None:
    """InputError (one line) unless size and fps are in core.types' ranges."""
    try:
        check_size(size)
        check_fps(fps)
    except ValueError as exc:
        raise InputError(None, str(exc)) from None


def _rows(s: Session, timeline_id: int) -> list[SegmentRow]:
    return [SegmentRow(*r) for r in s.execute(
        select(Segment.id, Segment.start_frame, Segment.end_frame, Segment.preset_id,
               Segment.seed, Segment.expression_json)
        .where(Segment.timeline_id == timeline_id).order_by(Segment.start_frame)).all()]


def _base(s: Session, tl: Timeline) -> SpecBase:
    portrait = s.get(Portrait, tl.portrait_id)
    audio = s.get(AudioTrack, tl.audio_id)
    presets = {r.id: preset_info(r) for r in s.execute(select(EditPreset)).scalars()}
    traits = engines.engine_traits(tl.engine, tl.settings_json or "{}")
    return specmod.spec_base(timeline_info(tl), portrait.sha256, portrait.landmarks_json,
                             audio.sha256, audio.transcript, presets, traits)


class TimelineStore:
    """The project's timelines and segments (through `Project`'s facade methods)."""

    def __init__(self, col: Project):
        self.col = col

    def _get(self, model, ident, what: str):
        return get_row(self.col.db, model, ident, what, self.col.path.name)

    # ------------------------------------------------------------ timelines
    def new(self, portrait_id: int, audio_id: int, engine: str = "warp", fps: int = 25,
            size: int = 512, preset_id: int | None = None, seed: int = 0,
            name: str | None = None, settings: dict | None = None) -> TimelineInfo:
        """Create a timeline split at pauses in speech into segments of about 2-8 s."""
        col = self.col
        portrait = col.assets.portrait(portrait_id)
        audio = col.assets.audio(audio_id)
        engines.check_name(engine)
        check_size_fps(size, fps)
        if preset_id is not None:
            col.preset_store.get(preset_id)
        col.assets.portrait_rig(portrait.id)  # analyse now (and cache): errors surface here
        feats = col.assets.audio_features(audio.id, fps)
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
                settings_json=json.dumps(settings or {}, sort_keys=True), created=time.time(),
            )
            s.add(t)
            s.flush()
            s.add_all([Segment(timeline_id=t.id, start_frame=a, end_frame=b)
                       for a, b in ranges])
            return t

        return timeline_info(col.db.run_write(insert))

    def all(self) -> list[TimelineInfo]:
        rows = self.col.db.run_read(
            lambda s: s.execute(select(Timeline).order_by(Timeline.id)).scalars().all())
        return [timeline_info(r) for r in rows]

    def get(self, timeline_id: int | None = None) -> TimelineInfo:
        """A timeline by id; None = the latest one (InputError when there is none)."""
        if timeline_id is None:
            row = self.col.db.run_read(lambda s: s.execute(
                select(Timeline).order_by(Timeline.id.desc()).limit(1)).scalar())
            if row is None:
                raise InputError(None, "the project has no timeline yet; create one with "
                                 "'timeline new'")
            return timeline_info(row)
        return timeline_info(self._get(Timeline, timeline_id, "timeline"))

    def update(self, timeline_id: int, **fields) -> TimelineInfo:
        """Change name, engine, preset_id, seed, size, fps-free settings (segments become
        stale when it changes their spec). fps is fixed per timeline (frames index audio)."""
        tl = self.get(timeline_id)
        allowed = {"name", "engine", "preset_id", "seed", "size", "settings"}
        bad = set(fields) - allowed
        if bad:
            raise InputError(None, f"cannot change timeline field(s): {', '.join(sorted(bad))}")
        if "engine" in fields:
            engines.check_name(fields["engine"])
        if "size" in fields:
            check_size_fps(fields["size"], tl.fps)
        if fields.get("preset_id") is not None:
            self.col.preset_store.get(fields["preset_id"])

        def upd(s: Session) -> Timeline:
            r = s.get(Timeline, tl.id)
            for k, v in fields.items():
                if k == "settings":
                    r.settings_json = json.dumps(v or {}, sort_keys=True)
                else:
                    setattr(r, k, v)
            s.flush()
            return r

        return timeline_info(self.col.db.run_write(upd))

    def remove(self, timeline_id: int) -> None:
        db, folder = self.col.db, self.col.path
        tl = self.get(timeline_id)
        rows = db.run_read(lambda s: s.execute(
            select(Render.id, Render.file).where(Render.timeline_id == tl.id)).all())
        # every file checked before anything changes: a crafted row refuses the removal
        paths = {f: safepaths.render_path(folder, rid, f) for rid, f in rows}
        db.run_write(lambda s: s.execute(delete(Timeline).where(Timeline.id == tl.id)))
        still = set(db.run_read(lambda s: s.execute(select(Render.file)).scalars().all()))
        for f in set(paths) - still:
            with contextlib.suppress(OSError):
                paths[f].unlink()

    # ------------------------------------------------------------ segments
    def segments(self, timeline_id: int) -> list[SegmentInfo]:
        """Segments in order, each with its spec hash and render state."""
        return self.col.db.run_read(lambda s: self._segments_in(s, int(timeline_id)))

    def _segments_in(self, s: Session, timeline_id: int) -> list[SegmentInfo]:
        tl = s.get(Timeline, timeline_id)
        if tl is None:
            raise InputError(None, f"no timeline with id {timeline_id}")
        base = _base(s, tl)
        rows = _rows(s, timeline_id)
        done = {h: (rid, f) for rid, h, f in s.execute(
            select(Render.id, Render.spec_hash, Render.file)
            .where(Render.timeline_id == timeline_id, Render.status == "done")).all()}
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
        out = []
        dirs: dict = {}
        for i, (r, (_spec, h)) in enumerate(zip(rows, specmod.segment_specs(base, rows),
                                                strict=True)):
            job = last_job.get(r.id)
            path = None
            progress = 0.0
            if h in done:
                path = safepaths.render_path(self.col.path, *done[h], dirs)
                state, progress = "rendered", 1.0
            elif job is not None and job[2] == "queued":
                state = "queued"
            elif job is not None and job[2] == "running":
                state, progress = "rendering", float(job[3] or 0.0)
            elif job is not None and job[2] == "failed" and job[4] == h:
                state = "failed"
            elif r.id in rendered_before:
                state = "stale"
            else:
                state = "missing"
            out.append(SegmentInfo(
                id=r.id, timeline_id=timeline_id, index=i, start=r.start, end=r.end,
                overrides=SegmentOverrides(r.preset_id, r.seed, r.overrides_expression),
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

    def split(self, segment_id: int, frame: int) -> tuple[SegmentInfo, SegmentInfo]:
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

        new_id = self.col.db.run_write(do)
        return self.segment(row.id), self.segment(new_id)

    def merge(self, first_id: int, second_id: int) -> SegmentInfo:
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

        self.col.db.run_write(do)
        return self.segment(a.id)

    def move_boundary(self, segment_id: int, new_end: int) -> tuple[SegmentInfo, SegmentInfo]:
        """Move the boundary between this segment and the next one to `new_end`."""
        row = self._get(Segment, segment_id, "segment")
        new_end = int(new_end)
        nxt = self.col.db.run_read(lambda s: s.execute(select(Segment).where(
            Segment.timeline_id == row.timeline_id, Segment.start_frame > row.start_frame)
            .order_by(Segment.start_frame).limit(1)).scalar())
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

        self.col.db.run_write(do)
        return self.segment(row.id), self.segment(nxt.id)

    def set_overrides(self, segment_id: int, preset_id=UNCHANGED, seed=UNCHANGED,
                      expression=UNCHANGED) -> SegmentInfo:
        """Set per-segment overrides. UNCHANGED (default) keeps a field; None clears it."""
        row = self._get(Segment, segment_id, "segment")
        if preset_id is not UNCHANGED and preset_id is not None:
            self.col.preset_store.get(preset_id)
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
                r.expression_json = specmod.expr_to_json(expression)

        self.col.db.run_write(do)
        return self.segment(row.id)

    def snapshot(self, timeline_id: int) -> list[SegmentState]:
        """A plain copy of the segment list (for undo)."""
        rows = self.col.db.run_read(lambda s: _rows(s, int(timeline_id)))
        return [SegmentState(r.id, r.start, r.end, r.preset_id, r.seed,
                             r.overrides_expression) for r in rows]

    def restore(self, timeline_id: int, snapshot: list[SegmentState]) -> None:
        """Make the segment list exactly `snapshot` again (ids included), e.g. to undo a
        split/merge/move/override. Renders are keyed by spec hash, so restored segments
        find their old renders again."""
        tl = self.get(timeline_id)
        snap = sorted(snapshot, key=lambda x: x.start)
        if not snap or snap[0].start != 0 or snap[-1].end != tl.n_frames or any(
                a.end != b.start for a, b in zip(snap, snap[1:], strict=False)) or any(
                x.end <= x.start for x in snap):
            raise InputError(None, "the segment snapshot does not cover the timeline")
        presets = {p.id for p in self.col.preset_store.all()}

        def do(s: Session) -> None:
            keep = {x.id for x in snap}
            current = {r.id: r for r in s.execute(
                select(Segment).where(Segment.timeline_id == tl.id)).scalars()}
            for sid, r in current.items():
                if sid not in keep:
                    s.delete(r)
            s.flush()
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
                r.expression_json = specmod.expr_to_json(x.expression)

        self.col.db.run_write(do)

    # ------------------------------------------------------------ plans
    def render_plan(self, segment_id: int) -> RenderPlan:
        """Everything a runner needs to render this segment as it is now."""
        row = self._get(Segment, segment_id, "segment")
        folder = self.col.path

        def build(s: Session) -> RenderPlan:
            tl = s.get(Timeline, row.timeline_id)
            return specmod.render_plan(
                _base(s, tl), timeline_info(tl), _rows(s, tl.id), row.id,
                lambda h: safepaths.new_file_path(folder, "renders", f"{h}.mp4"))

        return self.col.db.run_read(build)

    def render_plans(self, timeline_id: int) -> dict[int, RenderPlan]:
        """Every segment's plan, from ONE read of the timeline (neighbour anchors compare
        a segment with all others; reading each plan apart would rebuild the specs)."""
        folder = self.col.path

        def build(s: Session) -> dict[int, RenderPlan]:
            tl = s.get(Timeline, int(timeline_id))
            if tl is None:
                raise InputError(None, f"no timeline with id {timeline_id}")
            base, info, rows = _base(s, tl), timeline_info(tl), _rows(s, tl.id)
            return {r.id: specmod.render_plan(
                base, info, rows, r.id,
                lambda h: safepaths.new_file_path(folder, "renders", f"{h}.mp4"))
                for r in rows}

        return self.col.db.run_read(build)
