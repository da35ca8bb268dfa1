"""The job table's only writer: queueing, claiming, progress, cancel, retry, finish.

Why one owner: the queue runner, export, the CLI and the GUI all change job states; with
every write here the state machine (queued -> running -> done/failed/cancelled, running
-> interrupted on a crash) lives in one file, and progress writes are throttled in one
place (`JobStore.progress`).
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import InputError
from studio.db.models import Job, Render, Segment
from studio.records import JobInfo
from studio.rows import get_row
from studio.specs import RenderPlan

if TYPE_CHECKING:
    from studio.project import Project

ACTIVE_JOB_STATES = ("queued", "running")
DB_UPDATE_EVERY = 0.5
"""Seconds between a running job's progress writes (also its cancel polls and heartbeat)."""


def job_info(r) -> JobInfo:
    return JobInfo(
        id=r.id, timeline_id=r.timeline_id, segment_id=r.segment_id, state=r.state,
        progress=float(r.progress or 0.0), message=r.message or "", error=r.error,
        spec_hash=r.spec_hash, render_id=r.render_id, attempts=int(r.attempts or 0),
        created=float(r.created or 0.0), started=r.started, finished=r.finished,
        reused=bool(r.reused),
    )


class JobStore:
    """The render queue's rows (through `Project`'s facade and `studio.queue`)."""

    def __init__(self, col: Project):
        self.col = col

    def _get(self, ident):
        return get_row(self.col.db, Job, ident, "job", self.col.path.name)

    # ------------------------------------------------------------ user actions
    def enqueue(self, timeline_id: int, segment_ids: list[int] | None = None) -> list[JobInfo]:
        """Queue render jobs for the given segments (None = every segment that is not
        rendered). Segments already current are skipped; a segment's queued/running job is
        returned instead of a duplicate; an interrupted job is re-queued."""
        segs = self.col.timeline_store.segments(timeline_id)
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
                            spec_hash=seg.spec_hash, created=time.time(),
                            message=f"frames {seg.start}-{seg.end}")
                    sess.add(j)
                    out.append(j)
            sess.flush()
            return out

        return [job_info(j) for j in self.col.db.run_write(do)]

    def all(self, states: tuple[str, ...] | None = None) -> list[JobInfo]:
        """Jobs, newest first (optionally only those in `states`)."""
        def get(s: Session):
            q = select(Job).order_by(Job.id.desc())
            if states:
                q = q.where(Job.state.in_(tuple(states)))
            return s.execute(q).scalars().all()

        return [job_info(j) for j in self.col.db.run_read(get)]

    def get(self, job_id: int) -> JobInfo:
        return job_info(self._get(job_id))

    def cancel(self, job_id: int) -> JobInfo:
        """Cancel a queued job now; a running job is asked to stop (its runner sees the
        request between frames, discards the partial render, and marks it cancelled)."""
        j = self._get(job_id)
        if j.state not in ACTIVE_JOB_STATES:
            raise InputError(None, f"job {j.id} is {j.state}; only queued or running jobs can "
                             "be cancelled")

        def do(s: Session) -> Job:
            r = s.get(Job, j.id)
            if r.state == "queued":
                r.state, r.finished, r.message = "cancelled", time.time(), "cancelled"
            elif r.state == "running":
                r.cancel_requested = True
                r.message = "cancelling..."
            s.flush()
            return r

        return job_info(self.col.db.run_write(do))

    def retry(self, job_id: int) -> JobInfo:
        """Put a failed/cancelled/interrupted job back in the queue."""
        j = self._get(job_id)
        if j.state not in ("failed", "cancelled", "interrupted"):
            raise InputError(None, f"job {j.id} is {j.state}; only failed, cancelled or "
                             "interrupted jobs can be retried")

        def do(s: Session) -> Job:
            r = s.get(Job, j.id)
            r.state, r.progress, r.error, r.finished = "queued", 0.0, None, None
            r.cancel_requested, r.message = False, "retry"
            s.flush()
            return r

        return job_info(self.col.db.run_write(do))

    def clear_finished(self) -> int:
        def do(s: Session) -> int:
            res = s.execute(delete(Job).where(Job.state.in_(("done", "cancelled"))))
            return int(res.rowcount or 0)

        return self.col.db.run_write(do)

    # ------------------------------------------------------------ the runner's side
    def claim(self, job_ids: set[int] | None = None) -> JobInfo | None:
        """Take the oldest queued job (in one BEGIN IMMEDIATE transaction, so each job runs
        once across runners and processes) and mark it running by this process."""
        def do(s: Session) -> Job | None:
            q = select(Job).where(Job.state == "queued").order_by(Job.id)
            if job_ids is not None:
                q = q.where(Job.id.in_(job_ids))
            j = s.execute(q.limit(1)).scalar()
            if j is None:
                return None
            now = time.time()
            j.state, j.pid, j.host = "running", os.getpid(), socket.gethostname()
            j.started, j.heartbeat, j.finished = now, now, None
            j.progress, j.cancel_requested, j.error = 0.0, False, None
            j.attempts = int(j.attempts or 0) + 1
            j.message = "starting"
            s.flush()
            return j

        j = self.col.db.run_write(do)
        return None if j is None else job_info(j)

    def segment_exists(self, segment_id: int | None) -> bool:
        return segment_id is not None and self.col.db.run_read(
            lambda s: s.get(Segment, segment_id)) is not None

    def set_spec_hash(self, job_id: int, spec_hash: str) -> None:
        self.col.db.run_write(lambda s: setattr(s.get(Job, job_id), "spec_hash", spec_hash))

    def finish(self, job_id: int, state: str, message: str, error: str | None = None) -> None:
        def do(s: Session) -> None:
            j = s.get(Job, job_id)
            if j is not None:
                j.state, j.message, j.error, j.finished = state, message, error, time.time()
                if state == "cancelled":
                    j.progress = 0.0

        self.col.db.run_write(do)

    def progress(self, job_id: int, fraction: float, message: str) -> bool:
        """Write a running job's progress and heartbeat; True when a cancel was asked for.
        Callers throttle with `ProgressWriter` (one write per DB_UPDATE_EVERY)."""
        asked = [False]

        def upd(s: Session) -> None:
            j = s.get(Job, job_id)
            if j is None:
                return
            j.progress, j.message, j.heartbeat = float(fraction), message, time.time()
            asked[0] = bool(j.cancel_requested)

        self.col.db.run_write(upd)
        return asked[0]

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
                           created=time.time())
                s.add(r)
            s.flush()
            if job_id is not None:
                j = s.get(Job, job_id)
                if j is not None:
                    j.state, j.progress, j.finished = "done", 1.0, time.time()
                    j.render_id, j.reused, j.spec_hash = r.id, reused, plan.spec_hash
                    j.message = "reused an existing render" if reused else (
                        f"rendered {plan.segment.n_frames} frames in {seconds:.1f} s")
                    j.error = None
            return r.id

        return self.col.db.run_write(do)


class ProgressWriter:
    """The one throttle between a running job and the database: forwards every call to
    `listener` (the CLI bar / GUI signal, unthrottled: they throttle for display only if
    they must) and writes the db at most every DB_UPDATE_EVERY seconds (always when
    forced), remembering a cancel request seen there."""

    def __init__(self, store: JobStore, job_id: int, every: float | None = None):
        self.store, self.job_id = store, job_id
        self.every = DB_UPDATE_EVERY if every is None else every
        self._last = 0.0
        self.cancel_requested = False

    def __call__(self, fraction: float, message: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        if self.store.progress(self.job_id, fraction, message):
            self.cancel_requested = True
