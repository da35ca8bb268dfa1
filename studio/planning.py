"""From a segment's plan to what an engine needs: the motion plan (cached), the core
RenderRequest, the neighbours' anchor frames; plus the render rows and the instant
preview frame.

Why apart from the timeline store: these read media and caches (portrait rigs, audio
features, render files) while the store only reads and writes rows.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import InputError
from core.types import Expression, MotionTrack, RenderRequest
from studio import pipeline, safepaths
from studio.cache import key_of
from studio.db.models import Render
from studio.records import RenderInfo, TimelineInfo
from studio.specs import SPEC_VERSION, RenderPlan, motion_key_parts, render_expression

if TYPE_CHECKING:
    from studio.project import Project


class Planner:
    """Motion plans, render requests, anchors and previews of one project."""

    def __init__(self, col: Project):
        self.col = col
        self._preview: tuple[str, RenderRequest] | None = None

    def base_expression(self, tl: TimelineInfo) -> Expression:
        if tl.preset_id is None:
            return Expression()
        return render_expression(self.col.preset_store.get(tl.preset_id))

    def motion_key(self, tl: TimelineInfo, plan: RenderPlan | None) -> str:
        """The cache key of `motion(tl, plan)` (studio.scripts stores the base plan of an
        edited script track under it: old motion kept around the edit, see there)."""
        assets = self.col.assets
        base_expr = plan.base_expression if plan else self.base_expression(tl)
        p = assets.portrait(tl.portrait_id)
        a = assets.audio(tl.audio_id)
        lm = assets.portrait_landmarks_json(tl.portrait_id)
        # head="3d-rig": tracks posed by the renderer's 3-D head (core.motion.landmarks.pose_head)
        # at the rig's own depth; older cached tracks carry the small-angle model or the
        # template's depth, which the renderer no longer inverts exactly
        return key_of("motion", v=SPEC_VERSION, head="3d-rig", portrait=p.sha256, landmarks=lm,
                      audio=a.sha256, transcript=a.transcript, fps=tl.fps, seed=tl.seed,
                      **motion_key_parts(plan, base_expr))

    def motion(self, tl: TimelineInfo, plan: RenderPlan | None) -> MotionTrack:
        """The whole-track motion plan of `tl` with `plan`'s segment overrides (None: the
        base plan, kept on disk; override plans are cheap and many: memory only)."""
        assets = self.col.assets
        base_expr = plan.base_expression if plan else self.base_expression(tl)
        controls = plan.controls if plan else ()
        key = self.motion_key(tl, plan)

        def compute() -> MotionTrack:
            rig = assets.portrait_rig(tl.portrait_id)
            feats = assets.audio_features(tl.audio_id, tl.fps)
            return pipeline.plan_motion(rig, feats, base_expr, tl.seed, list(controls))

        return self.col.cache.get_or_compute(key, compute, disk=not controls)

    def render_request(self, plan: RenderPlan) -> RenderRequest:
        """The core RenderRequest for a segment's plan (whole-track motion, so engines can
        use context around the segment's frames)."""
        tl = plan.timeline
        assets = self.col.assets
        return RenderRequest(
            rig=assets.portrait_rig(tl.portrait_id),
            features=assets.audio_features(tl.audio_id, tl.fps),
            motion=self.motion(tl, plan), size=tl.size, fps=float(tl.fps), seed=plan.seed,
            expression=plan.expression, text=plan.text, settings=dict(tl.settings),
            # the diffusion engine reads wav2vec2 states from raw audio; warp never needs it
            audio=assets.waveform(tl.audio_id) if tl.engine == "diffusion" else None,
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
        plans: dict[int, RenderPlan] | None = None
        for seg in self.col.timeline_store.segments(plan.timeline.id):
            mine = [f for f in sorted(wanted) if seg.start <= f < seg.end]
            if (not mine or seg.id == plan.segment.id or seg.state != "rendered"
                    or seg.render_path is None):
                continue
            if plans is None:  # one read of the timeline for every neighbour's plan
                plans = self.col.timeline_store.render_plans(plan.timeline.id)
            other = plans.get(seg.id)
            if other is not None and other.settings_alike_key == plan.settings_alike_key:
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

    # ------------------------------------------------------------ renders
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

        folder, dirs = self.col.path, {}
        return [
            RenderInfo(id=rid, timeline_id=tid, segment_id=sid, spec_hash=spec, engine=engine,
                       path=safepaths.render_path(folder, rid, file, dirs), status=status,
                       start=start, end=end,
                       render_seconds=float(secs), created=float(created))
            for rid, tid, sid, spec, engine, file, status, start, end, secs, created
            in self.col.db.run_read(get)
        ]

    def verify_renders(self, timeline_id: int | None = None) -> int:
        """Mark `missing` the done renders whose file is gone (e.g. deleted by hand while
        the project was open). Returns how many were marked."""
        def get(s: Session):
            q = select(Render.id, Render.file).where(Render.status == "done")
            if timeline_id is not None:
                q = q.where(Render.timeline_id == int(timeline_id))
            return s.execute(q).all()

        dirs: dict = {}
        gone = [rid for rid, f in self.col.db.run_read(get)
                if not safepaths.render_path(self.col.path, rid, f, dirs).is_file()]
        if gone:
            self.col.db.run_write(lambda s: s.execute(
                update(Render).where(Render.id.in_(gone)).values(status="missing")))
        return len(gone)

    def preview_frame(self, timeline_id: int, frame: int) -> np.ndarray:
        """[size, size, 3] uint8: from the current render if its segment is rendered, else
        rendered instantly with the warp engine (from the project's engine host)."""
        from core.video import read_frame

        timelines = self.col.timeline_store
        tl = timelines.get(timeline_id)
        frame = int(frame)
        seg = timelines.segment_at(tl.id, frame)
        if seg.state == "rendered" and seg.render_path is not None:
            img = read_frame(seg.render_path, frame - seg.start)
            if img is not None:
                return img
        # scrubbing asks for many frames of one segment: keep its request (the warp engine
        # caches its per-request preparation, so later frames cost one warp each)
        cached = self._preview
        if cached is not None and cached[0] == seg.spec_hash:
            request = cached[1]
        else:
            request = self.render_request(timelines.render_plan(seg.id))
            self._preview = (seg.spec_hash, request)
        engine = self.col.engine_host.get("warp")
        preview = request if tl.engine == "warp" else replace(request, settings={})
        return next(iter(engine.render(preview, frames=range(frame, frame + 1))))
