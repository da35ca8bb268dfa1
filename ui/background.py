"""The open project's long-lived background work: the render queue and the preview.

Both run as ordinary `Worker`s (ui/tasks.py), each on its own `Lane`, because each keeps
state that belongs to one thread:
- the render lane keeps a `studio.queue.JobRunner` (its own Project instance) and runs
  queued jobs one at a time; with Settings ▸ Render on set to a cluster it keeps a
  `studio.cluster.ClusterRunner` instead (same `run_all`/`close`), started at the first
  render (Ray is imported only then);
- the preview lane keeps a Project instance and a frame cache, so scrubbing and playing stay
  responsive while a long render occupies the render lane. Requests are coalesced: only the
  newest wanted frame is computed.
Both lanes (and the expression preview, and export) take their engines from ONE
`studio.engines.EngineHost` (`Background.engine_host`), so a model loads once per window.
Cancelling a single job goes through the database (`Project.cancel_job` from the GUI; the
runner sees it between frames); the worker's cancel flag stops the whole queue (closing).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.engines import EngineHost
from ui.tasks import Lane, Worker, create_worker

log = logging.getLogger("ui.background")

RENDER_NICE = 10
PREVIEW_NICE = 4


class FrameCache:
    """A small LRU of frames keyed by (timeline id, spec hash or 'warp', frame)."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024):
        self.max_bytes = max_bytes
        self.items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.bytes = 0

    def get(self, key):
        frame = self.items.get(key)
        if frame is not None:
            self.items.move_to_end(key)
        return frame

    def put(self, key, frame: np.ndarray) -> None:
        if key in self.items:
            return
        self.items[key] = frame
        self.bytes += frame.nbytes
        while self.bytes > self.max_bytes and self.items:
            _, old = self.items.popitem(last=False)
            self.bytes -= old.nbytes

    def clear(self) -> None:
        self.items.clear()
        self.bytes = 0


class RenderHost:
    """Render-lane state: the job runner, whose engines come from the app's one
    `EngineHost` (shared with the preview lane, the expression preview and export)."""

    def __init__(self, project_path: Path, host: EngineHost, render_on: str = ""):
        self.project_path = project_path
        self.host = host
        self.render_on = render_on  # "" = this computer, else a studio.cluster address
        self.runner = None

    def _runner(self):
        if self.runner is None:
            if self.render_on:
                # same run_all/close as JobRunner; Ray is imported (and a local cluster
                # started) only here, at the first render, never at project open
                from studio.cluster import ClusterRunner

                self.runner = ClusterRunner(self.project_path, self.render_on,
                                            engine_options=self.host.app_options)
            else:
                from studio.queue import JobRunner

                self.runner = JobRunner(self.project_path, host=self.host)
        return self.runner

    def warm_up(self) -> None:
        """Open the runner and build the default engine at project open, so imports and
        model set-up (long stretches that hold the GIL) never meet the first render.
        A cluster is not started here: the first render starts (or reaches) it."""
        if self.render_on:
            return
        try:
            self._runner().engine("warp")
            import core.video  # noqa: F401  (PyAV + encoder set-up)
        except BaseException:  # noqa: BLE001 - the first real job reports any problem
            log.warning("render warm-up failed:\n%s", traceback.format_exc())

    def run_queue(self, worker: Worker) -> None:
        """Run queued jobs until none is left; events go to the GUI via `worker.send`."""
        current = {"id": -1}

        def progress(job, fraction: float, message: str) -> None:
            if job.id != current["id"]:
                current["id"] = int(job.id)
                worker.send(("started", int(job.id)))
            worker.send_progress(("progress", int(job.id), float(fraction), str(message)),
                                 final=float(fraction) >= 1.0)

        def done(job) -> None:
            if job.id != current["id"]:  # finished without a progress call
                worker.send(("started", int(job.id)))
            current["id"] = -1
            worker.send(("finished", int(job.id), str(job.state), str(job.error or "")))

        self._runner().run_all(progress=progress, cancel=worker.is_cancelled, on_job_done=done)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None


class PreviewHost:
    """Preview-lane state. A rendered segment's file is decoded once into the cache (so
    playback reads sequential frames for free); an unrendered frame is an instant
    warp-engine frame from the studio."""

    def __init__(self, project_path: Path, host: EngineHost):
        self.project_path = project_path
        self.host = host
        self.project = None
        self.cache = FrameCache()
        self.lock = threading.Lock()
        self.wanted: tuple[int, int] | None = None
        self.wanted_expr: tuple | None = None
        self.segments: dict[int, list] = {}

    def _project(self):
        if self.project is None:
            from studio.project import Project

            self.project = Project.open(self.project_path)
            self.project.use_engine_host(self.host)  # the render lane's engines
        return self.project

    def invalidate(self) -> None:
        """Thread-safe: segments changed; forget which frames belong to which render."""
        with self.lock:
            self.segments.clear()

    def next_frame(self):
        """The newest wanted frame as (timeline id, frame, image), or None."""
        with self.lock:
            wanted, self.wanted = self.wanted, None
        if wanted is None:
            return None
        timeline_id, frame = wanted
        return timeline_id, frame, self.frame(timeline_id, frame)

    def frame(self, timeline_id: int, frame: int) -> np.ndarray:
        project = self._project()
        with self.lock:
            segments = self.segments.get(timeline_id)
        if segments is None:
            segments = project.segments(timeline_id)
            with self.lock:
                self.segments[timeline_id] = segments
        seg = next((s for s in segments if s.start <= frame < s.end), None)
        if seg is not None and seg.state == "rendered" and seg.render_path:
            key = (timeline_id, seg.spec_hash, frame)
            if self.cache.get(key) is None:
                try:
                    self._decode_segment(timeline_id, seg)
                except Exception:  # a vanished/corrupt render: fall back to the studio
                    log.warning("cannot decode %s:\n%s", seg.render_path,
                                traceback.format_exc())
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        key = (timeline_id, "warp", frame, seg.spec_hash if seg else "")
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        image = np.ascontiguousarray(project.preview_frame(timeline_id, frame))
        self.cache.put(key, image)
        return image

    def _decode_segment(self, timeline_id: int, seg) -> None:
        from core.media import video_frames  # decoding lives in core: ui imports no av

        for i, frame in enumerate(video_frames(seg.render_path, limit=seg.end - seg.start)):
            self.cache.put((timeline_id, seg.spec_hash, seg.start + i), frame)

    def next_expression(self):
        with self.lock:
            wanted, self.wanted_expr = self.wanted_expr, None
        if wanted is None:
            return None
        request_id, timeline_id, frame, expression, portrait_id = wanted
        from ui.expression_preview import render_expression_frame

        return request_id, render_expression_frame(self._project(), timeline_id, frame,
                                                   expression, portrait_id)

    def close(self) -> None:
        if self.project is not None:
            self.project.close()
            self.project = None


def check_all_engines(host: EngineHost) -> dict[str, tuple[bool, str]]:
    """Whether each engine can run, asked of the host's own instances (engines load no
    weights in their constructor; the first render then finds the engine built)."""
    from studio import engines

    out: dict[str, tuple[bool, str]] = {}
    for name in engines.names():
        try:
            ok, reason = host.get(name).available()
        except Exception as exc:  # an engine that cannot even be built: show why
            ok, reason = False, str(exc) or type(exc).__name__
        out[name] = (bool(ok), str(reason))
    return out


class Background(QObject):
    """Owns the render and preview lanes of one open project; signals carry ids and data."""

    jobStarted = Signal(int)  # job id
    jobProgress = Signal(int, float, str)  # job id, fraction, message
    jobFinished = Signal(int, str, str)  # job id, state, error ("" if none)
    queueIdle = Signal()
    enginesChecked = Signal(object)  # {engine name: (ok, reason)}
    renderFailed = Signal(str)
    frameReady = Signal(int, int, object)  # timeline id, frame, ndarray [H, W, 3]
    expressionReady = Signal(int, object)  # request id, ndarray
    previewFailed = Signal(str)

    def __init__(self, project_path: str | Path, engine_options: dict | None = None,
                 parent: QObject | None = None, render_on: str = ""):
        super().__init__(parent)
        self.project_path = Path(project_path)
        self.render_lane = Lane("render", RENDER_NICE)
        self.preview_lane = Lane("preview", PREVIEW_NICE)
        # the one engine host of this project's window: the render lane, the preview, the
        # expression preview and export all get their engines here (one model load), built
        # with the app's engine settings under each timeline's own
        self.engine_host = EngineHost(engine_options or {})
        self.render_host = RenderHost(self.project_path, self.engine_host, render_on)
        self.preview_host = PreviewHost(self.project_path, self.engine_host)
        self.ready = False
        self._renders: set[Worker] = set()
        self._render_pending = False
        self._frame_pending = False
        self._expr_pending = False
        self._closed = False
        # a shorter GIL switch interval (default 5 ms) lets the GUI thread take the GIL
        # back sooner from the workers' Python stretches between numpy/OpenCV calls
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.002))
        self.render_lane.start(create_worker(self.render_host.warm_up, name="warm-up"))
        # then ask every engine whether it can run (the inspector shows why not); on the
        # render lane, at its low priority, so the imports never stall the event loop
        check = create_worker(check_all_engines, self.engine_host, name="engine check")
        check.connect(returned=self._on_engines_checked, finished=self._on_warmed)
        self.render_lane.start(check)

    def _on_warmed(self) -> None:
        self.ready = True

    # results may arrive after stop() (queued signals): a closed Background stays quiet
    def _on_engines_checked(self, status: dict) -> None:
        if not self._closed:
            self.enginesChecked.emit(status)

    def _on_render_failed(self, message: str) -> None:
        if not self._closed:
            self.renderFailed.emit(message)

    @property
    def rendering(self) -> bool:
        """True while a render-queue run is queued or running."""
        return bool(self._renders)

    # ------------------------------------------------------------ render queue
    def wake_queue(self) -> None:
        """Run the queue (again); at most one run waits behind the current one."""
        if self._closed or self._render_pending:
            return
        worker = create_worker(self.render_host.run_queue, pass_worker=True, name="queue")
        self._render_pending = True
        self._renders.add(worker)
        worker.connect(started=self._on_render_started, yielded=self._on_render_event,
                       errored=self._on_render_failed,
                       finished=lambda w=worker: self._on_render_finished(w))
        self.render_lane.start(worker)

    def _on_render_started(self) -> None:
        self._render_pending = False

    def _on_render_event(self, event: tuple) -> None:
        if self._closed:
            return
        kind, *data = event
        if kind == "started":
            self.jobStarted.emit(*data)
        elif kind == "progress":
            self.jobProgress.emit(*data)
        elif kind == "finished":
            self.preview_host.invalidate()  # a new render file may be current now
            self.jobFinished.emit(*data)

    def _on_render_finished(self, worker: Worker) -> None:
        self._renders.discard(worker)
        if not self._closed:
            self.queueIdle.emit()

    # ------------------------------------------------------------ preview
    def invalidate_preview(self) -> None:
        self.preview_host.invalidate()

    def request_frame(self, timeline_id: int, frame: int) -> None:
        with self.preview_host.lock:
            self.preview_host.wanted = (int(timeline_id), int(frame))
        if self._frame_pending or self._closed:
            return
        self._frame_pending = True
        worker = create_worker(self._compute_frame, name="preview")
        worker.connect(returned=self._on_frame, errored=self._on_preview_error)
        self.preview_lane.start(worker)

    def _compute_frame(self):
        return self.preview_host.next_frame()

    def _on_frame(self, result) -> None:
        self._frame_pending = False
        if result is not None and not self._closed:
            self.frameReady.emit(*result)
        with self.preview_host.lock:
            again = self.preview_host.wanted
        if again is not None:  # asked for while this one was computed
            self.request_frame(*again)

    def _on_preview_error(self, message: str) -> None:
        self._frame_pending = False
        if not self._closed:
            self.previewFailed.emit(message)

    def request_expression(self, request_id, timeline_id, frame, expression,
                           portrait_id=None) -> None:
        with self.preview_host.lock:
            self.preview_host.wanted_expr = (request_id, timeline_id, frame, expression,
                                             portrait_id)
        if self._expr_pending or self._closed:
            return
        self._expr_pending = True
        worker = create_worker(self.preview_host.next_expression, name="expression")
        worker.connect(returned=self._on_expression, errored=self._on_expr_error)
        self.preview_lane.start(worker)

    def _on_expression(self, result) -> None:
        self._expr_pending = False
        if result is not None and not self._closed:
            self.expressionReady.emit(*result)
        if self.preview_host.wanted_expr is not None:
            self.request_expression(*self.preview_host.wanted_expr)

    def _on_expr_error(self, message: str) -> None:
        self._expr_pending = False
        if not self._closed and not message.startswith("create a timeline"):
            self.previewFailed.emit(message)

    # ------------------------------------------------------------ closing
    def stop(self, timeout_ms: int = 10000) -> None:
        """Stop the running job, close both lanes' projects and wait for the threads."""
        self._closed = True
        for worker in list(self._renders):
            worker.cancel()
        self.render_lane.start(create_worker(self.render_host.close, name="close-render"))
        self.preview_lane.start(create_worker(self.preview_host.close, name="close-preview"))
        for lane in (self.render_lane, self.preview_lane):
            if not lane.join(timeout_ms):
                log.warning("%s lane did not stop in time", lane.pool.objectName())
