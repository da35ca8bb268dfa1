"""Running render jobs on an open project: the one render path of the studio.

`run_job` renders one claimed job with an engine from an `EngineHost` and records it;
`run_jobs` loops over the queue. `studio.queue.JobRunner` wraps these for a thread of its
own (its own Project instance); export and the CLI call them inline. No module here
imports `studio.project`, so project -> export -> runner has no cycle.

Progress is one mechanism: the engine's frames drive `progress(fraction, message)`, which
goes to the caller's listener unthrottled and to the database through the one throttle,
`studio.jobs.ProgressWriter`.

Crash safety: the segment file is written by core.video.write_mp4 (temp file + rename) and
only then is the Render row inserted, in the same transaction that marks the job done. A
process killed mid-render leaves a `running` job whose pid is dead (Project.open marks it
`interrupted`), a hidden temp file (never mistaken for a render, removed on open), and
every finished segment intact. A file renamed into place just before a kill is adopted
(probed, then recorded) instead of being rendered again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import Cancelled, InputError
from core.types import CancelFn, ProgressFn, RenderRequest
from studio.engines import EngineHost
from studio.jobs import ProgressWriter
from studio.pipeline import RENDER_CRF, RENDER_PRESET, encode_frames  # also known by these names
from studio.records import JobInfo
from studio.specs import RenderPlan

if TYPE_CHECKING:
    from studio.project import Project

JobProgress = Callable[[JobInfo, float, str], None]

# encode_frames, the render step, lives in studio.pipeline: no database imports there, so
# a one-shot render starts without SQLAlchemy


def render_to_file(project: Project, host: EngineHost, plan: RenderPlan, progress: ProgressFn,
                   cancel: CancelFn) -> Path:
    """Render a segment's frames with its engine and encode them to plan.out_path
    (atomically; nothing is left behind on cancel or error)."""
    tl = plan.timeline
    request = build_request(project, plan)
    # no available() pre-check: an engine may take its resources from request.settings
    # (the timeline's weights folder); render raises EngineUnavailable with the reason
    engine = host.get(tl.engine, tl.settings)
    seg = plan.segment
    progress(0.0, f"rendering frames {seg.start}-{seg.end}")
    return encode_frames(engine, request, range(seg.start, seg.end), plan.out_path,
                         crf=RENDER_CRF, preset=RENDER_PRESET, progress=progress,
                         cancel=cancel, frame_label=lambda i: f"frame {seg.start + i}/{seg.end}",
                         fps=tl.fps)


def build_request(project: Project, plan: RenderPlan) -> RenderRequest:
    """The engine's request for a segment's plan (shared by the local queue and
    studio.cluster, so both render the same frames)."""
    request = project.planner.render_request(plan)
    # engines with context (diffusion) inpaint the segment around its neighbours' current
    # renders, so a re-rendered segment meets them without a seam (see neighbour_anchors)
    anchors = project.planner.neighbour_anchors(plan)
    if anchors:
        request.settings["anchors"] = anchors
    return request


def frames_in(path: Path) -> int:
    try:
        from core.video import probe

        return int(probe(path)["n_frames"])
    except Exception:
        return -1


def prepare_job(project: Project, job: JobInfo, progress: ProgressFn | None
                ) -> RenderPlan | None:
    """The plan of a claimed job, or None when the job is settled without rendering
    (its segment is gone: cancelled; it cannot be planned: failed; its file is already
    there, same spec elsewhere or renamed in place before a crash: reused and recorded).
    Shared by `run_job` and studio.cluster."""
    jobs = project.job_store
    jid = job.id
    if not jobs.segment_exists(job.segment_id):
        jobs.finish(jid, "cancelled", "the segment no longer exists (split or merged)")
        return None
    try:
        plan = project.timeline_store.render_plan(job.segment_id)
    except InputError as exc:
        jobs.finish(jid, "failed", "cannot plan the render", str(exc))
        return None
    jobs.set_spec_hash(jid, plan.spec_hash)
    if plan.out_path.is_file() and frames_in(plan.out_path) == plan.segment.n_frames:
        jobs.record_render(plan, 0.0, job_id=jid, reused=True)
        if progress:
            progress(1.0, "reused")
        return None
    return plan


def run_job(project: Project, host: EngineHost, job: JobInfo, progress: ProgressFn | None,
            cancel: CancelFn | None, db_every: float | None = None) -> JobInfo:
    """Render a job already claimed (`JobStore.claim`) and leave it done, failed or
    cancelled. Returns its final JobInfo."""
    jobs = project.job_store
    jid = job.id
    plan = prepare_job(project, job, progress)
    if plan is None:
        return jobs.get(jid)

    writer = ProgressWriter(jobs, jid, db_every)

    def should_cancel() -> bool:
        return bool(writer.cancel_requested or (cancel is not None and cancel()))

    def report(fraction: float, message: str) -> None:
        writer(fraction, message)
        if progress is not None:
            progress(fraction, message)

    t0 = time.perf_counter()
    try:
        render_to_file(project, host, plan, report, should_cancel)
    except Cancelled:
        jobs.finish(jid, "cancelled", "cancelled; the previous render stays current")
        return jobs.get(jid)
    except InputError as exc:
        jobs.finish(jid, "failed", "failed", str(exc))
        return jobs.get(jid)
    except Exception as exc:  # an engine bug must not kill the queue
        jobs.finish(jid, "failed", "failed", f"{type(exc).__name__}: {exc}")
        return jobs.get(jid)
    jobs.record_render(plan, time.perf_counter() - t0, job_id=jid)
    if progress is not None:
        progress(1.0, "done")
    return jobs.get(jid)


def run_jobs(project: Project, host: EngineHost, progress: JobProgress | None = None,
             cancel: CancelFn | None = None,
             on_job_done: Callable[[JobInfo], None] | None = None,
             job_ids: set[int] | None = None, db_every: float | None = None) -> list[JobInfo]:
    """Claim and run jobs until none is left (or cancel() is True). `progress(job,
    fraction, message)`; `on_job_done(job_info)` after each."""
    done: list[JobInfo] = []
    while not (cancel is not None and cancel()):
        job = project.job_store.claim(job_ids)
        if job is None:
            break
        cb = None if progress is None else (lambda f, m, _i=job: progress(_i, f, m))
        result = run_job(project, host, job, cb, cancel, db_every)
        done.append(result)
        if on_job_done is not None:
            on_job_done(result)
    return done
