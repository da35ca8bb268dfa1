"""What the controllers share: the open project and the current timeline, the background
lanes, the change hub, the undo stack, and the ways to tell the user something.

The GUI thread owns this `Project` instance (quick reads and edits); long work runs in
workers with their own instances (ui/tasks.py, ui/background.py). Controllers never call
each other to refresh: they edit through the session and broadcast `Changes`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from core.errors import InputError
from ui import undo
from ui.changes import ChangeHub, Changes
from ui.settings import AppSettings
from ui.tasks import Worker, create_worker, run, user_message, with_project

log = logging.getLogger("ui.session")


class Session(QObject):
    projectOpened = Signal(str)
    projectClosed = Signal()
    timelineSelected = Signal(object)  # TimelineInfo or None
    timelineLoaded = Signal(int)
    errorShown = Signal(str)
    statusShown = Signal(str, int)
    engineStatusChanged = Signal(object)  # {engine name: (ok, reason)}

    def __init__(self, settings: AppSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.project = None
        self.background = None
        self.hub = ChangeHub(self)
        self.undo_stack = QUndoStack(self)
        self.timeline_id: int | None = None
        self.timeline_info = None
        self.segments: list = []
        self.errors: list[str] = []
        self.tasks: set[Worker] = set()
        self.engine_status: dict[str, tuple[bool, str]] = {"warp": (True, "")}

    # ------------------------------------------------------------ engines
    def refresh_engine_status(self) -> None:
        """Ask every engine (off the GUI thread) whether it can run with the user's
        settings; the inspector and the new-timeline dialog show the answer."""
        from ui.settings import start_engine_checks

        def got(name: str, ok: bool, reason: str) -> None:
            self.engine_status[name] = (ok, reason)
            self.engineStatusChanged.emit(dict(self.engine_status))

        self._engine_checks = start_engine_checks(self.settings.engine_settings(), got)

    def set_engine_status(self, status: dict) -> None:
        self.engine_status.update(status)
        self.engineStatusChanged.emit(dict(self.engine_status))

    # ------------------------------------------------------------ telling the user
    def show_error(self, message: str) -> None:
        """A user-facing error: never modal, never fatal (the window shows a banner)."""
        from ui.wording import friendly

        message = friendly(message)
        log.warning("shown to the user: %s", message)
        self.errors.append(message)
        self.errorShown.emit(message)

    def status(self, message: str, ms: int = 6000) -> None:
        self.statusShown.emit(message, ms)

    def guard(self, fn: Callable, *args, **kwargs):
        """Run a quick project call on the GUI thread; an error becomes a banner."""
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            self.show_error(str(exc))
        except Exception as exc:  # a bug: log with traceback, tell the user, keep going
            log.exception("unexpected error")
            self.show_error(user_message(exc))
        return None

    def notify(self, changes: Changes) -> None:
        self.hub.emit(changes)

    def push(self, cmd: undo.Command):
        """Apply an undoable edit (errors become a banner; nothing is pushed then)."""
        return self.guard(undo.push, self.undo_stack, cmd)

    # ------------------------------------------------------------ background tasks
    @property
    def busy(self) -> bool:
        """True while one-off tasks started by the window are still running."""
        return bool(self.tasks)

    def start(self, fn, on_done=None, on_failed=None, name: str = "task", status: str = "",
              with_project_instance: bool = True) -> Worker | None:
        """Run `fn(project, progress, cancelled)` on the pool with a private Project
        (or `fn(None, progress, cancelled)` when `with_project_instance` is False)."""
        if with_project_instance and self.project is None:
            return None
        if with_project_instance:
            call = with_project(self.project.path, fn)
        else:
            def call(worker):
                return fn(None, worker.progress, worker.is_cancelled)
        worker = create_worker(call, pass_worker=True, name=name)
        self.tasks.add(worker)
        if status:
            self.status(status, 0)

        def done(result):
            if on_done:
                on_done(result)

        def failed(message):
            (on_failed or self.show_error)(message)

        def finished():
            self.tasks.discard(worker)
            if status and not self.tasks:
                self.status("", 1)

        worker.connect(returned=done, errored=failed, finished=finished)
        return run(worker)
