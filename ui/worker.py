"""Background work: the render-queue worker thread, the preview thread and pool tasks.

Threading model (why it looks like this):
- A `Project` instance belongs to one thread (it owns one SQLAlchemy engine and session
  state), so each thread opens its own instance of the same folder; SQLite in WAL mode lets
  them read and write side by side. Only plain dataclasses, ids and numpy arrays cross
  threads, always through Qt signals (queued connections), never widget calls.
- `RenderWorker` lives on one long-lived QThread and owns the engines through its own
  `studio.queue.JobRunner`; it runs queued jobs one at a time. Cancelling goes through the
  database (`Project.cancel_job` from the GUI) plus a thread-safe flag, because the worker's
  event loop is busy while a job runs and could not receive a "cancel" signal.
- `PreviewWorker` lives on a second QThread so scrubbing and playing stay responsive while
  a long render occupies the first. Requests are coalesced: only the newest wanted frame is
  computed, older ones are dropped.
- Short one-off jobs (imports, thumbnails, exports) run as `ProjectTask`s on the global
  QThreadPool, each with its own Project instance.
Progress signals are throttled (<= ~20 per second) so a fast engine cannot flood the GUI
event loop.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from core.errors import Cancelled, InputError

log = logging.getLogger("ui.worker")


RENDER_NICE = 10
PREVIEW_NICE = 4


def lower_thread_priority(nice: int) -> None:
    """Make the *calling* thread (and the threads it starts later: OpenCV's pool, x264's
    encoder threads) yield the CPU to the GUI thread. Linux keeps a nice value per thread;
    elsewhere this is a no-op. Rendering keeps all the CPU when the GUI is idle, but a
    busy machine can no longer starve the event loop (the < 100 ms target)."""
    import os

    if not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:
        log.debug("cannot lower the thread priority", exc_info=True)


def user_message(exc: BaseException) -> str:
    """One line for the user: InputError's own message, else the type and text."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, Cancelled):
        return "cancelled"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unexpected error ({type(exc).__name__}){': ' + text if text else ''}"


def open_project(path: str | Path):
    from studio.project import Project

    return Project.open(path)


class Throttle:
    """Let a call through at most every `interval` seconds (and always the final one)."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.last = 0.0

    def ready(self, final: bool = False) -> bool:
        now = time.monotonic()
        if final or now - self.last >= self.interval:
            self.last = now
            return True
        return False


# ---------------------------------------------------------------- pool tasks
class TaskSignals(QObject):
    done = Signal(object)  # result
    failed = Signal(str)  # user message
    progress = Signal(float, str)


class ProjectTask(QRunnable):
    """Run `fn(project, progress, cancel)` on the pool with a private Project instance.

    `project_path=None` runs `fn(None, progress, cancel)` (work that needs no project, e.g.
    a thumbnail of a file). Results come back through `signals` on the GUI thread.
    """

    def __init__(self, project_path, fn: Callable, *, name: str = "task"):
        super().__init__()
        self.project_path = project_path
        self.fn = fn
        self.name = name
        self.signals = TaskSignals()
        self.cancel_event = threading.Event()
        self._throttle = Throttle()
        self.setAutoDelete(True)

    def progress(self, fraction: float, message: str = "") -> None:
        if self._throttle.ready(final=fraction >= 1.0):
            self.signals.progress.emit(float(fraction), str(message))

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def run(self) -> None:
        project = None
        try:
            if self.project_path is not None:
                project = open_project(self.project_path)
            result = self.fn(project, self.progress, self.cancelled)
        except BaseException as exc:  # noqa: BLE001 - reported to the user, never fatal
            if not isinstance(exc, InputError | Cancelled):
                log.error("%s failed:\n%s", self.name, traceback.format_exc())
            self.signals.failed.emit(user_message(exc))
        else:
            self.signals.done.emit(result)
        finally:
            if project is not None:
                project.close()


def start_task(task: ProjectTask, on_done=None, on_failed=None, on_progress=None) -> ProjectTask:
    if on_done:
        task.signals.done.connect(on_done)
    if on_failed:
        task.signals.failed.connect(on_failed)
    if on_progress:
        task.signals.progress.connect(on_progress)
    QThreadPool.globalInstance().start(task)
    return task


# ---------------------------------------------------------------- render queue worker
class RenderWorker(QObject):
    """Runs the project's render queue on its own thread, one job at a time."""

    jobStarted = Signal(int)  # job id
    jobProgress = Signal(int, float, str)  # job id, fraction, message
    jobFinished = Signal(int, str, str)  # job id, state, error ("" if none)
    idle = Signal()
    failed = Signal(str)
    warmed = Signal()

    def __init__(self, project_path: str | Path, engine_options: dict | None = None):
        super().__init__()
        self.project_path = Path(project_path)
        self.engine_options = dict(engine_options or {})
        self._stop = threading.Event()
        self._runner = None
        self.busy = False

    def _engine(self, name: str):
        """Engines get the user's options (device, model folder) where they take them."""
        from studio import pipeline

        options = {} if name == "warp" else self.engine_options
        try:
            return pipeline.create_engine(name, **options)
        except TypeError:  # this engine takes no such option
            return pipeline.create_engine(name)

    def request_stop(self) -> None:
        """Thread-safe: cancel the current job soon and stop taking new ones."""
        self._stop.set()

    @Slot()
    def warm_up(self) -> None:
        """Open the runner and build the default engine now, at project open, so the
        imports and model set-up (long stretches that hold the GIL) never coincide with
        the user's first render."""
        lower_thread_priority(RENDER_NICE)
        try:
            if self._runner is None:
                from studio.queue import JobRunner

                self._runner = JobRunner(self.project_path, engine_factory=self._engine)
            self._runner.engine("warp")
            import core.video  # noqa: F401  (PyAV + encoder set-up)
        except BaseException:  # noqa: BLE001 - the first real job reports any problem
            log.warning("render warm-up failed:\n%s", traceback.format_exc())
        self.warmed.emit()

    @Slot()
    def run_queue(self) -> None:
        """Run queued jobs until none is left (a wake while running is harmless)."""
        if self.busy or self._stop.is_set():
            return
        self.busy = True
        try:
            if self._runner is None:
                from studio.queue import JobRunner

                self._runner = JobRunner(self.project_path, engine_factory=self._engine)
            throttle = Throttle()
            current = {"id": -1}

            def progress(job, fraction: float, message: str) -> None:
                if job.id != current["id"]:
                    current["id"] = int(job.id)
                    self.jobStarted.emit(int(job.id))
                if throttle.ready(final=float(fraction) >= 1.0):
                    self.jobProgress.emit(int(job.id), float(fraction), str(message))

            def done(job) -> None:
                if job.id != current["id"]:  # finished without a progress call
                    self.jobStarted.emit(int(job.id))
                current["id"] = -1
                self.jobFinished.emit(int(job.id), str(job.state), str(job.error or ""))

            self._runner.run_all(progress=progress, cancel=self._stop.is_set,
                                 on_job_done=done)
        except BaseException as exc:  # noqa: BLE001
            log.error("render worker error:\n%s", traceback.format_exc())
            self.failed.emit(user_message(exc))
        finally:
            self.busy = False
        self.idle.emit()

    @Slot()
    def shutdown(self) -> None:
        if self._runner is not None and hasattr(self._runner, "close"):
            self._runner.close()
        self._runner = None


# ---------------------------------------------------------------- preview worker
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


class PreviewWorker(QObject):
    """Computes preview frames: decoded from a segment's render file when it is rendered
    (the whole short segment file is decoded once into the cache, so playback reads
    sequential frames for free), else an instant warp-engine frame from the studio."""

    frameReady = Signal(int, int, object)  # timeline id, frame, ndarray [H, W, 3]
    expressionReady = Signal(int, object)  # request id, ndarray
    failed = Signal(str)

    def __init__(self, project_path: str | Path):
        super().__init__()
        self.project_path = Path(project_path)
        self.project = None
        self.cache = FrameCache()
        self._lock = threading.Lock()
        self._wanted: tuple[int, int] | None = None
        self._wanted_expr: tuple | None = None
        self._segments: dict[int, list] = {}

    def want(self, timeline_id: int, frame: int) -> None:
        """Thread-safe: the newest frame the GUI wants (older wishes are dropped)."""
        with self._lock:
            self._wanted = (int(timeline_id), int(frame))

    def want_expression(self, request_id: int, timeline_id: int, frame: int, expression,
                        portrait_id: int | None = None) -> None:
        with self._lock:
            self._wanted_expr = (request_id, timeline_id, frame, expression, portrait_id)

    def invalidate(self, timeline_id: int | None = None) -> None:
        """Thread-safe: segments changed; forget which frames belong to which render."""
        with self._lock:
            self._segments.clear()

    def _project(self):
        if self.project is None:
            lower_thread_priority(PREVIEW_NICE)
            self.project = open_project(self.project_path)
        return self.project

    @Slot()
    def process(self) -> None:
        """Compute the newest wanted frame (connected with a queued signal per request)."""
        with self._lock:
            wanted, self._wanted = self._wanted, None
        if wanted is None:
            return
        timeline_id, frame = wanted
        try:
            image = self.frame(timeline_id, frame)
        except BaseException as exc:  # noqa: BLE001
            if not isinstance(exc, InputError):
                log.error("preview failed:\n%s", traceback.format_exc())
            self.failed.emit(user_message(exc))
            return
        self.frameReady.emit(timeline_id, frame, image)

    def frame(self, timeline_id: int, frame: int) -> np.ndarray:
        project = self._project()
        with self._lock:
            segments = self._segments.get(timeline_id)
        if segments is None:
            segments = project.segments(timeline_id)
            with self._lock:
                self._segments[timeline_id] = segments
        seg = next((s for s in segments if s.start <= frame < s.end), None)
        if seg is not None and seg.state == "rendered" and seg.render_path:
            key = (timeline_id, seg.spec_hash, frame)
            cached = self.cache.get(key)
            if cached is not None:
                return cached
            try:
                self._decode_segment(timeline_id, seg)
            except Exception:  # a vanished/corrupt render: fall back to the studio
                log.warning("cannot decode %s:\n%s", seg.render_path, traceback.format_exc())
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
        import av

        with av.open(str(seg.render_path)) as container:
            for i, vf in enumerate(container.decode(video=0)):
                if seg.start + i >= seg.end:
                    break
                self.cache.put((timeline_id, seg.spec_hash, seg.start + i),
                               vf.to_ndarray(format="rgb24"))

    @Slot()
    def process_expression(self) -> None:
        with self._lock:
            wanted, self._wanted_expr = self._wanted_expr, None
        if wanted is None:
            return
        request_id, timeline_id, frame, expression, portrait_id = wanted
        try:
            from ui.expression_preview import render_expression_frame

            image = render_expression_frame(
                self._project(), timeline_id, frame, expression, portrait_id
            )
        except BaseException as exc:  # noqa: BLE001
            if not isinstance(exc, InputError):
                log.error("expression preview failed:\n%s", traceback.format_exc())
            self.failed.emit(user_message(exc))
            return
        self.expressionReady.emit(request_id, image)

    @Slot()
    def shutdown(self) -> None:
        if self.project is not None:
            self.project.close()
            self.project = None


class _Kick(QObject):
    """Signals emitted on the GUI thread that run slots on a worker thread (queued)."""

    run_queue = Signal()
    warm_up = Signal()
    preview = Signal()
    expression = Signal()
    shutdown = Signal()


class Workers(QObject):
    """Owns the render and preview threads of one open project."""

    def __init__(self, project_path: str | Path, engine_options: dict | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.project_path = Path(project_path)
        self.render_thread = QThread()
        self.render_thread.setObjectName("render-worker")
        self.preview_thread = QThread()
        self.preview_thread.setObjectName("preview-worker")
        self.render = RenderWorker(self.project_path, engine_options)
        self.preview = PreviewWorker(self.project_path)
        self.render.moveToThread(self.render_thread)
        self.preview.moveToThread(self.preview_thread)
        self._kick = _Kick()
        self._kick.run_queue.connect(self.render.run_queue)
        self._kick.warm_up.connect(self.render.warm_up)
        self.ready = False
        self.render.warmed.connect(self._on_warmed)
        self._kick.preview.connect(self.preview.process)
        self._kick.expression.connect(self.preview.process_expression)
        self._kick.shutdown.connect(self.render.shutdown)
        self._kick.shutdown.connect(self.preview.shutdown)
        # a shorter GIL switch interval (default 5 ms) lets the GUI thread take the GIL
        # back sooner from the workers' Python stretches between numpy/OpenCV calls
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.002))
        self.render_thread.start()
        self.preview_thread.start(QThread.LowPriority)
        self._kick.warm_up.emit()

    def _on_warmed(self) -> None:
        self.ready = True

    def wake_queue(self) -> None:
        self._kick.run_queue.emit()

    def request_frame(self, timeline_id: int, frame: int) -> None:
        self.preview.want(timeline_id, frame)
        self._kick.preview.emit()

    def request_expression(self, request_id, timeline_id, frame, expression, portrait_id=None):
        self.preview.want_expression(request_id, timeline_id, frame, expression, portrait_id)
        self._kick.expression.emit()

    def stop(self, timeout_ms: int = 10000) -> None:
        """Ask the running job to stop, close the projects and join both threads."""
        self.render.request_stop()
        self._kick.shutdown.emit()
        for thread in (self.render_thread, self.preview_thread):
            thread.quit()
            if not thread.wait(timeout_ms):
                log.warning("%s did not stop in time", thread.objectName())
