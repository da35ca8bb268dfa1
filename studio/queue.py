"""The render queue runner for a thread or process of its own.

A JobRunner opens its OWN Project (own db engine), so the UI can run it on a worker thread
while the main thread keeps using its Project; the CLI runs it inline. Several runners
(threads or processes) may share a queue: a job is claimed in a BEGIN IMMEDIATE
transaction (studio.jobs), so each job runs once. The rendering itself is studio.runner's
(one render path for the queue, export and the CLI).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from core.types import CancelFn, ProgressFn
from studio import runner as _runner
from studio.engines import EngineHost, EngineOptions
from studio.project import Project
from studio.records import JobInfo
from studio.runner import RENDER_CRF, RENDER_PRESET, frames_in
from studio.specs import RenderPlan

__all__ = ["DB_UPDATE_EVERY", "RENDER_CRF", "RENDER_PRESET", "JobRunner", "render_to_file"]

DB_UPDATE_EVERY = 0.5  # seconds between progress writes / cancel polls
_frames_in = frames_in


class JobRunner:
    """Runs jobs of the project at `project_path` (or of an open Project's folder).

    Engines come from `host` (an EngineHost shared with the app, so one model load serves
    the queue, previews and export), else from a host of its own built with
    `engine_options` (the app's engine settings) or `engine_factory(name)`."""

    def __init__(self, project_path: str | Path | Project,
                 engine_options: EngineOptions | dict | None = None,
                 engine_factory: Callable[[str], object] | None = None,
                 host: EngineHost | None = None):
        folder = project_path.path if isinstance(project_path, Project) else project_path
        self.project = Project.open(folder)
        self.host = host or EngineHost(engine_options, engine_factory)
        self.project.use_engine_host(self.host)
        self._lock = threading.RLock()  # callbacks may call back in

    def close(self) -> None:
        self.project.close()

    def __enter__(self) -> JobRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def engine(self, name: str, settings: dict | None = None):
        """The engine `name` for a timeline with `settings`, built once (EngineHost)."""
        return self.host.get(name, settings)

    def run_next(
        self, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
        job_ids: set[int] | None = None,
    ) -> JobInfo | None:
        """Claim the oldest queued job and run it. Returns its final JobInfo (state done,
        failed or cancelled), or None when the queue is empty. `progress(fraction, message)`
        is called between frames; `cancel()` True stops the job between frames (no partial
        render kept, the previous render stays current). `job_ids` limits which jobs."""
        with self._lock:
            job = self.project.job_store.claim(job_ids)
            if job is None:
                return None
            return _runner.run_job(self.project, self.host, job, progress, cancel,
                                   DB_UPDATE_EVERY)

    def run_all(
        self,
        progress: Callable[[JobInfo, float, str], None] | None = None,
        cancel: CancelFn | None = None,
        on_job_done: Callable[[JobInfo], None] | None = None,
        job_ids: set[int] | None = None,
    ) -> list[JobInfo]:
        """run_next until the queue is empty or cancel() is True. `progress(job, fraction,
        message)` receives the JobInfo being run; `on_job_done(job_info)` after each."""
        with self._lock:
            return _runner.run_jobs(self.project, self.host, progress, cancel, on_job_done,
                                    job_ids, DB_UPDATE_EVERY)


def render_to_file(runner: JobRunner, plan: RenderPlan, progress: ProgressFn,
                   cancel: CancelFn) -> Path:
    """Render one segment's plan to its file with the runner's engines (benchmarks)."""
    return _runner.render_to_file(runner.project, runner.host, plan, progress, cancel)
