"""The render queue runner: executes queued jobs one at a time.

A JobRunner opens its OWN Project (own db engine), so the UI can run it on a worker thread
while the main thread keeps using its Project; the CLI runs it inline. Several runners
(threads or processes) may share a queue: a job is claimed in a BEGIN IMMEDIATE
transaction, so each job runs once.

Crash safety: the segment file is written by core.video.write_mp4 (temp file + rename) and
only then is the Render row inserted, in the same transaction that marks the job done. A
process killed mid-render leaves a `running` job whose pid is dead (Project.open marks it
`interrupted`), a hidden temp file (never mistaken for a render, removed on open), and
every finished segment intact. A file renamed into place just before a kill is adopted
(probed, then recorded) instead of being rendered again.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Cancelled, InputError
from core.types import CancelFn, ProgressFn
from studio import pipeline
from studio.db.models import Job, Segment
from studio.project import Project, RenderPlan, _job_info
from studio.records import JobInfo

RENDER_CRF = 18
"""Quality of segment renders. Export stream-copies them when asked for the same CRF."""
RENDER_PRESET = "veryfast"
DB_UPDATE_EVERY = 0.5  # seconds between progress writes / cancel polls


class JobRunner:
    """Runs jobs of the project at `project_path` (or of an open Project's folder)."""

    def __init__(self, project_path: str | Path | Project, engine_options: dict | None = None,
                 engine_factory: Callable[[str], object] | None = None):
        folder = project_path.path if isinstance(project_path, Project) else project_path
        self.project = Project.open(folder)
        self._engine_options = dict(engine_options or {})
        self._factory = engine_factory
        self._engines: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.project.close()

    def __enter__(self) -> JobRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def engine(self, name: str, settings: dict | None = None):
        """The engine `name`, built once per runner and settings (engines load models on
        creation or first use). Without an engine_factory it is built with the runner's
        engine_options plus the timeline's settings (e.g. the diffusion weights folder)."""
        if self._factory is not None:
            key = (name, "")
            if key not in self._engines:
                self._engines[key] = self._factory(name)
            return self._engines[key]
        options = {**self._engine_options, **(settings or {})} if name != "warp" else {}
        key = (name, json.dumps(options, sort_keys=True, default=str))
        if key not in self._engines:
            self._engines[key] = pipeline.create_engine(name, **options)
        return self._engines[key]

    # ------------------------------------------------------------ claiming
    def _claim(self, job_ids: set[int] | None) -> Job | None:
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

        return self.project.db.run_write(do)

    def _finish(self, job_id: int, state: str, message: str, error: str | None = None) -> None:
        def do(s: Session) -> None:
            j = s.get(Job, job_id)
            if j is not None:
                j.state, j.message, j.error, j.finished = state, message, error, time.time()
                if state == "cancelled":
                    j.progress = 0.0

        self.project.db.run_write(do)

    # ------------------------------------------------------------ running
    def run_next(
        self, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
        job_ids: set[int] | None = None,
    ) -> JobInfo | None:
        """Claim the oldest queued job and run it. Returns its final JobInfo (state done,
        failed or cancelled), or None when the queue is empty. `progress(fraction, message)`
        is called between frames; `cancel()` True stops the job between frames (no partial
        render kept, the previous render stays current). `job_ids` limits which jobs."""
        with self._lock:
            job = self._claim(job_ids)
            if job is None:
                return None
            self._run(job, progress, cancel)
            return self.project.job(job.id)

    def run_all(
        self,
        progress: Callable[[JobInfo, float, str], None] | None = None,
        cancel: CancelFn | None = None,
        on_job_done: Callable[[JobInfo], None] | None = None,
        job_ids: set[int] | None = None,
    ) -> list[JobInfo]:
        """run_next until the queue is empty or cancel() is True. `progress(job, fraction,
        message)` receives the JobInfo being run; `on_job_done(job_info)` after each."""
        done: list[JobInfo] = []
        while not (cancel is not None and cancel()):
            with self._lock:
                job = self._claim(job_ids)
                if job is None:
                    break
                info = _job_info(job)
                cb = None if progress is None else (
                    lambda f, m, _i=info: progress(_i, f, m))
                self._run(job, cb, cancel)
                result = self.project.job(job.id)
            done.append(result)
            if on_job_done is not None:
                on_job_done(result)
        return done

    def _run(self, job: Job, progress: ProgressFn | None, cancel: CancelFn | None) -> None:
        project = self.project
        jid = job.id
        if job.segment_id is None or project.db.run_read(
                lambda s: s.get(Segment, job.segment_id)) is None:
            self._finish(jid, "cancelled", "the segment no longer exists (split or merged)")
            return
        try:
            plan = project.render_plan(job.segment_id)
        except InputError as exc:
            self._finish(jid, "failed", "cannot plan the render", str(exc))
            return
        project.db.run_write(lambda s: setattr(s.get(Job, jid), "spec_hash", plan.spec_hash))

        # already rendered (same spec elsewhere, or a file renamed in place before a crash)
        if plan.out_path.is_file() and _frames_in(plan.out_path) == plan.segment.n_frames:
            project.record_render(plan, 0.0, job_id=jid, reused=True)
            if progress:
                progress(1.0, "reused")
            return

        last = [0.0]
        cancelled_in_db = [False]

        def poll_db(fraction: float, message: str, force: bool = False) -> None:
            now = time.monotonic()
            if not force and now - last[0] < DB_UPDATE_EVERY:
                return
            last[0] = now

            def upd(s: Session) -> None:
                j = s.get(Job, jid)
                if j is None:
                    return
                j.progress, j.message, j.heartbeat = float(fraction), message, time.time()
                if j.cancel_requested:
                    cancelled_in_db[0] = True

            project.db.run_write(upd)

        def should_cancel() -> bool:
            return bool(cancelled_in_db[0] or (cancel is not None and cancel()))

        def report(fraction: float, message: str) -> None:
            poll_db(fraction, message)
            if progress is not None:
                progress(fraction, message)

        t0 = time.perf_counter()
        try:
            render_to_file(self, plan, report, should_cancel)
        except Cancelled:
            self._finish(jid, "cancelled", "cancelled; the previous render stays current")
            return
        except InputError as exc:
            self._finish(jid, "failed", "failed", str(exc))
            return
        except Exception as exc:  # an engine bug must not kill the queue
            self._finish(jid, "failed", "failed", f"{type(exc).__name__}: {exc}")
            return
        project.record_render(plan, time.perf_counter() - t0, job_id=jid)
        if progress is not None:
            progress(1.0, "done")


def render_to_file(runner: JobRunner, plan: RenderPlan, progress: ProgressFn,
                   cancel: CancelFn) -> Path:
    """Render a segment's frames with its engine and encode them to plan.out_path
    (atomically; nothing is left behind on cancel or error)."""
    from core.video import write_mp4

    tl = plan.timeline
    request = runner.project.render_request(plan)
    # engines with context (diffusion) inpaint the segment around its neighbours' current
    # renders, so a re-rendered segment meets them without a seam (see neighbour_anchors)
    anchors = runner.project.neighbour_anchors(plan)
    if anchors:
        request.settings["anchors"] = anchors
    # no available() pre-check: an engine may take its resources from request.settings
    # (the timeline's weights folder); render raises EngineUnavailable with the reason
    engine = runner.engine(tl.engine, tl.settings)
    seg = plan.segment
    n = seg.n_frames
    progress(0.0, f"rendering frames {seg.start}-{seg.end}")
    frames = engine.render(request, frames=range(seg.start, seg.end), cancel=cancel)

    def counted():
        i = 0
        for i, frame in enumerate(frames, start=1):  # noqa: B007
            if frame.shape[:2] != (tl.size, tl.size):
                raise RuntimeError(f"engine returned a {frame.shape[1]}x{frame.shape[0]} "
                                   f"frame, expected {tl.size}x{tl.size}")
            yield frame
            progress(min(1.0, i / n) * 0.999, f"frame {seg.start + i}/{seg.end}")
            if cancel():
                raise Cancelled()
        if i != n:
            raise RuntimeError(f"engine yielded {i} frames, expected {n}")

    return write_mp4(counted(), tl.fps, plan.out_path, crf=RENDER_CRF, preset=RENDER_PRESET,
                     n_frames=n, cancel=cancel)


def _frames_in(path: Path) -> int:
    try:
        from core.video import probe

        return int(probe(path)["n_frames"])
    except Exception:
        return -1
