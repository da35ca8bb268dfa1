"""The one background-work mechanism of the studio: a `Worker` runs a function or a
generator on a thread pool and reports through signals.

Modelled on napari's `create_worker` / superqt's `thread_worker` (written here, not
copied): a worker emits `started`, then `yielded(value)` for every value a generator
yields (or that a plain function hands to `worker.send`), then `returned(result)` or
`errored(message)`, and always `finished`. Cancelling sets a flag: a generator is closed at
its next yield, a plain function asks `worker.is_cancelled()` (the studio's `cancel`
callbacks take exactly that), so no thread is ever killed mid-write.

Why one mechanism: imports, thumbnails, the engine check, the export, the render queue and
the preview used four different classes with four ways to report and cancel. Now they differ
only in *where* they run:
- `run()` on the global pool: short one-off tasks (imports, thumbnails, an export);
- a `Lane` (a pool with exactly one thread that never expires): work that must stay on one
  thread because it keeps a `Project` instance (SQLAlchemy sessions belong to one thread)
  or loaded engines, and must run one job at a time: the render queue and the preview.
Only plain data crosses threads, always through these (queued) signals.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.errors import Cancelled, InputError

log = logging.getLogger("ui.tasks")


def user_message(exc: BaseException) -> str:
    """One line for the user: InputError's own message, else the type and text."""
    from ui.wording import friendly

    if isinstance(exc, InputError):
        return friendly(str(exc))
    if isinstance(exc, Cancelled):
        return "cancelled"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return friendly(f"unexpected error ({type(exc).__name__}){': ' + text if text else ''}")


def lower_thread_priority(nice: int) -> None:
    """Make the *calling* thread (and threads it starts later: OpenCV's pool, x264's
    encoder threads) yield the CPU to the GUI thread. Linux keeps a nice value per thread;
    elsewhere this is a no-op. A busy machine then cannot starve the event loop."""
    if not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:
        log.debug("cannot lower the thread priority", exc_info=True)


class Throttle:
    """Let a call through at most every `interval` seconds (and always a final one), so a
    fast engine cannot flood the GUI event loop with progress signals."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.last = 0.0

    def ready(self, final: bool = False) -> bool:
        now = time.monotonic()
        if final or now - self.last >= self.interval:
            self.last = now
            return True
        return False


class WorkerSignals(QObject):
    started = Signal()
    yielded = Signal(object)
    progress = Signal(float, str)  # fraction, message (throttled)
    returned = Signal(object)
    errored = Signal(str)  # one line for the user
    finished = Signal()


class Worker(QRunnable):
    """Runs `fn(*args, **kwargs)`; with `pass_worker=True` the worker is the first argument
    (for functions that report progress or poll for cancel)."""

    def __init__(self, fn: Callable, *args: Any, pass_worker: bool = False, name: str = "",
                 **kwargs: Any):
        super().__init__()
        self.fn = fn
        self.args = ((self,) if pass_worker else ()) + args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "task")
        self.signals = WorkerSignals()
        self._cancel = threading.Event()
        self._throttle = Throttle()
        self.running = False
        self.setAutoDelete(False)  # the Python object owns it: signals stay valid

    # --- API for the function running on the worker thread
    def send(self, value: Any) -> None:
        """Hand a value to the GUI thread (the `yielded` signal) from a plain function."""
        self.signals.yielded.emit(value)

    def progress(self, fraction: float, message: str = "") -> None:
        if self._throttle.ready(final=float(fraction) >= 1.0):
            self.signals.progress.emit(float(fraction), str(message))

    def send_progress(self, value: Any, final: bool = False) -> None:
        """`send` through the same throttle as `progress`: for progress events that carry
        more than (fraction, message), e.g. the render lane's (job id, fraction, message).
        The studio hands listeners every frame unthrottled (only its db writes are
        throttled), so this is the GUI's one rate limit on progress signals."""
        if self._throttle.ready(final=final):
            self.signals.yielded.emit(value)

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    # --- API for the GUI thread
    def cancel(self) -> None:
        """Thread-safe: ask the work to stop at its next yield / cancel check."""
        self._cancel.set()

    def connect(self, **slots: Callable) -> Worker:
        """worker.connect(returned=..., errored=...): chainable signal hookup."""
        for name, slot in slots.items():
            if slot is not None:
                getattr(self.signals, name).connect(slot)
        return self

    def run(self) -> None:  # the pool thread
        self.running = True
        self.signals.started.emit()
        try:
            result = self.fn(*self.args, **self.kwargs)
            if inspect.isgenerator(result):
                result = self._drain(result)
        except BaseException as exc:  # noqa: BLE001 - reported to the user, never fatal
            if not isinstance(exc, InputError | Cancelled):
                log.error("%s failed:\n%s", self.name, traceback.format_exc())
            self.signals.errored.emit(user_message(exc))
        else:
            self.signals.returned.emit(result)
        finally:
            self.running = False
            self.signals.finished.emit()

    def _drain(self, gen) -> Any:
        while True:
            if self._cancel.is_set():
                gen.close()
                raise Cancelled()
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            self.signals.yielded.emit(value)


def create_worker(fn: Callable, *args: Any, pass_worker: bool = False, name: str = "",
                  **kwargs: Any) -> Worker:
    return Worker(fn, *args, pass_worker=pass_worker, name=name, **kwargs)


_LIVE: set[Worker] = set()  # keeps workers (and their signal objects) alive while they run


def run(worker: Worker, pool: QThreadPool | None = None) -> Worker:
    """Start `worker` on `pool` (default: the global pool)."""
    _LIVE.add(worker)
    worker.signals.finished.connect(lambda: _LIVE.discard(worker))
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker


class Lane:
    """A pool with one thread that never expires: work that keeps per-thread state (a
    Project, loaded engines) runs here one item at a time, always on the same thread."""

    def __init__(self, name: str, nice: int = 0):
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(1)
        self.pool.setExpiryTimeout(-1)
        self.pool.setObjectName(name)
        self.nice = nice

    def start(self, worker: Worker) -> Worker:
        nice = self.nice
        fn = worker.fn

        def lowered(*args, **kwargs):
            if nice:
                lower_thread_priority(nice)
            return fn(*args, **kwargs)

        worker.fn = lowered
        return run(worker, self.pool)

    def join(self, timeout_ms: int = 10000) -> bool:
        return self.pool.waitForDone(timeout_ms)


def with_project(project_path, fn: Callable) -> Callable:
    """Wrap `fn(project, progress, cancelled)` as a worker function that opens a private
    Project instance on the worker thread and closes it afterwards."""

    def call(worker: Worker):
        from studio.project import Project

        project = Project.open(project_path)
        try:
            return fn(project, worker.progress, worker.is_cancelled)
        finally:
            project.close()

    return call
