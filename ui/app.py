"""Application entry: `run_app()` opens the desktop studio (called by `python main.py`).

Start-up is kept light (< 3 s): torch/diffusers are never imported here; the studio and
the engines load lazily on first use. An exception hook logs every uncaught error and shows
it in a dialog instead of aborting, so a bug in a slot never takes the project down (every
edit is already committed to the project database).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from ui.theme import apply_dark_theme

log = logging.getLogger("ui")
APP_NAME = "Avatar Studio"
ORG_NAME = "AvatarStudio"


def log_file() -> Path:
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or
                  Path.home() / ".avatar-studio")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "avatar-studio.log"


def setup_logging() -> None:
    root = logging.getLogger()
    if any(getattr(h, "_avatar", False) for h in root.handlers):
        return
    try:
        handler = logging.FileHandler(log_file(), encoding="utf-8")
    except OSError:
        handler = logging.StreamHandler()
    handler._avatar = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    apply_dark_theme(app)
    return app


class ExceptionHook:
    """sys.excepthook / threading.excepthook: log, then tell the user (non-modal)."""

    def __init__(self, window=None):
        self.window = window
        self.seen: list[str] = []
        self._box = None

    def __call__(self, exc_type, exc, tb) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("uncaught exception:\n%s", text)
        from core.errors import InputError

        message = str(exc) if isinstance(exc, InputError) else (
            f"An unexpected error happened ({exc_type.__name__}: {exc}). Your project is "
            f"saved; the details are in {log_file()}.")
        self.seen.append(message)
        window = self.window
        if window is not None and hasattr(window, "show_error"):
            window.show_error(message)
        if QApplication.instance() is not None and not isinstance(exc, InputError):
            # QMessageBox must be made on the GUI thread: defer to the event loop
            QTimer.singleShot(0, lambda: self._dialog(message, text))

    def thread_hook(self, args) -> None:
        self(args.exc_type, args.exc_value, args.exc_traceback)

    def _dialog(self, message: str, details: str) -> None:
        box = QMessageBox(QMessageBox.Warning, "Unexpected error", message,
                          QMessageBox.Ok, self.window)
        box.setDetailedText(details)
        box.setModal(False)
        box.show()
        self._box = box


def install_excepthook(window=None) -> ExceptionHook:
    hook = ExceptionHook(window)
    sys.excepthook = hook
    threading.excepthook = hook.thread_hook
    return hook


def run_app(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    setup_logging()
    app = create_app(argv)
    from ui.main_window import MainWindow

    window = MainWindow()
    install_excepthook(window)
    window.show()
    log.info("window shown in %.2f s", time.perf_counter() - t0)
    QTimer.singleShot(0, window.restore_session)
    return int(app.exec())
