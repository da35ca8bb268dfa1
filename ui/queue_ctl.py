"""The render-queue controller: queue renders, cancel and retry jobs, follow the render
lane's progress, and keep the queue panel and the status bar's job count current.

Job names come from the database rows (timeline name + segment number, looked up for every
timeline that has jobs), so they survive reopening and jobs of other timelines are labelled.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication

from ui.changes import JOBS, Changes
from ui.queue_panel import QueuePanel
from ui.session import Session

OTHER_PROCESS_POLL_MS = 5000
"""How often the queue looks at the database for jobs another process runs."""


class QueueController(QObject):
    def __init__(self, session: Session, queue: QueuePanel, timeline, jobs_label, parent=None):
        super().__init__(parent)
        self.s = session
        self.queue = queue
        self.timeline = timeline
        self.jobs_label = jobs_label
        self.jobs: list = []
        self.job_segment: dict[int, int] = {}
        # names of other timelines and their segment numbers, read from the db once (the
        # current timeline's segments are the session's): refresh_jobs runs often
        self._timelines: dict[int, str] | None = None
        self._other_index: dict[int, dict[int, int]] = {}
        queue.cancelRequested.connect(self.cancel_job)
        queue.retryRequested.connect(self.retry_job)
        queue.clearRequested.connect(self.clear_finished_jobs)
        queue.renderAllRequested.connect(self.render_all)
        session.hub.subscribe(self.on_changes)
        # Job state reaches the GUI one way: the render lane's signals (started, progress,
        # finished). Only jobs run by ANOTHER process (a CLI `render` on the same project)
        # need a look at the database: on window focus, and every 5 s while the list shows
        # queued/running jobs that our own render lane is not running.
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(OTHER_PROCESS_POLL_MS)
        self.poll_timer.timeout.connect(self._poll)
        self.poll_timer.start()
        app = QGuiApplication.instance()
        if app is not None:
            app.applicationStateChanged.connect(self._on_app_state)

    def attach(self, background) -> None:
        background.jobStarted.connect(self._on_job_started)
        background.jobProgress.connect(self._on_job_progress)
        background.jobFinished.connect(self._on_job_finished)
        background.queueIdle.connect(self._on_queue_idle)
        background.renderFailed.connect(self.s.show_error)

    def on_changes(self, c: Changes) -> None:
        if c.timeline or c.assets or c.presets:
            self._timelines = None
            self._other_index.clear()
        if c.jobs and self.s.project is not None:
            self.refresh_jobs()

    # ------------------------------------------------------------ user actions
    def render_all(self) -> None:
        s = self.s
        if s.timeline_id is None:
            return
        jobs = s.guard(s.project.enqueue, s.timeline_id)
        self._after_enqueue(jobs, "every segment is already rendered")

    def rerender_selection(self, segment=None) -> None:
        s = self.s
        seg = segment or next((x for x in s.segments if x.id == self.timeline.selected_id), None)
        if seg is None:
            s.show_error("Select a segment on the timeline to re-render it.")
            return
        jobs = s.guard(s.project.enqueue, s.timeline_id, [seg.id])
        self._after_enqueue(jobs, f"segment {seg.index + 1} is up to date")

    def _after_enqueue(self, jobs, nothing: str) -> None:
        if jobs is None:
            return
        self.s.notify(JOBS)
        if not jobs:
            self.s.status(f"Nothing to render: {nothing}")
        self.s.background.wake_queue()

    def cancel_job(self, job_id: int) -> None:
        self.s.guard(self.s.project.cancel_job, job_id)
        self.s.notify(JOBS)

    def retry_job(self, job_id: int) -> None:
        if self.s.guard(self.s.project.retry_job, job_id) is not None:
            self.s.notify(JOBS)
            self.s.background.wake_queue()

    def clear_finished_jobs(self) -> None:
        self.s.guard(self.s.project.clear_finished_jobs)
        self.s.notify(Changes(jobs=True))

    # ------------------------------------------------------------ view
    def job_names(self, jobs) -> dict[int, tuple[str, str]]:
        """job id -> (timeline name, 'segment N'), from the database rows."""
        s = self.s
        if self._timelines is None:
            self._timelines = {t.id: t.name for t in (s.guard(s.project.timelines) or [])}
        index: dict[int, int] = {x.id: x.index for x in s.segments}
        for tid in {j.timeline_id for j in jobs} - {s.timeline_id}:
            known = self._other_index.get(tid)
            wanted = {j.segment_id for j in jobs if j.timeline_id == tid}
            if tid in self._timelines and (known is None or not wanted <= known.keys()):
                known = {x.id: x.index for x in s.guard(s.project.segments, tid) or []}
                self._other_index[tid] = known
            index.update(known or {})
        out = {}
        for j in jobs:
            tname = self._timelines.get(j.timeline_id, f"timeline {j.timeline_id} (removed)")
            idx = index.get(j.segment_id)
            what = f"segment {idx + 1}" if idx is not None else (
                "segment (merged or removed)" if j.segment_id is not None else "whole timeline")
            out[j.id] = (tname, what)
        return out

    def refresh_jobs(self) -> None:
        s = self.s
        if s.project is None:
            return
        jobs = s.guard(s.project.jobs)
        if jobs is None:
            return
        self.jobs = jobs
        self.job_segment = {j.id: j.segment_id for j in jobs}
        self.queue.set_jobs(jobs, self.job_names(jobs), s.timeline_id)
        active = [j for j in jobs if j.state in ("queued", "running")]
        self.jobs_label.setText(f"{len(active)} job(s) in the queue" if active else "")

    # ------------------------------------------------------------ render lane events
    def _on_job_started(self, job_id: int) -> None:
        self.s.notify(JOBS)

    def _on_job_progress(self, job_id: int, fraction: float, message: str) -> None:
        if job_id not in self.job_segment:
            self.refresh_jobs()
        self.queue.update_progress(job_id, fraction, message)
        sid = self.job_segment.get(job_id)
        if sid is not None:
            self.timeline.set_progress(sid, fraction)

    def _on_job_finished(self, job_id: int, state: str, error: str) -> None:
        s = self.s
        s.notify(JOBS | Changes(renders=state == "done"))
        if state == "failed":
            sid = self.job_segment.get(job_id)
            idx = next((x.index for x in s.segments if x.id == sid), None)
            where = f"segment {idx + 1}" if idx is not None else f"job {job_id}"
            s.show_error(f"Rendering {where} failed: {error}")

    def _on_queue_idle(self) -> None:
        s = self.s
        s.notify(JOBS)
        if s.project is not None and any(j.state == "queued" for j in self.jobs):
            s.background.wake_queue()  # queued while the last job was finishing
        else:
            s.status("Render queue finished")

    def _poll(self) -> None:
        """Refresh only for work this window does not run itself (see __init__)."""
        s = self.s
        if s.project is None or (s.background is not None and s.background.rendering):
            return
        if any(j.state in ("queued", "running") for j in self.jobs):
            self.refresh_jobs()

    def _on_app_state(self, state) -> None:
        if state == Qt.ApplicationActive and self.s.project is not None:
            self.refresh_jobs()

    def clear(self) -> None:
        self._timelines = None
        self._other_index.clear()
        self.jobs = []
        self.job_segment = {}
        self.queue.set_jobs([], {}, None)
        self.jobs_label.setText("")
