"""The main window: a shell that lays out the panels and wires them to their controllers.

Layout (splitters, saved in QSettings): library | preview | inspector on top; timeline |
render queue at the bottom. The work lives in the controllers, each its own module:
project (open/close/save), library (assets, presets), timeline (segments, selection,
inspector), preview (frames, clock), queue (jobs). They share one `Session` and hear about
edits through its change hub, so the window never refreshes panels by hand.

Every modal question goes through an `ask_*` method so tests (and scripts) can answer it
without a dialog; errors never open modal boxes: they show in a banner at the top of the
window and in the status bar, and are logged.

Size: the window must be usable on a 1366×768 laptop (and at 1280×720): its minimum size
is small, it opens at a size that fits the screen's available area, and a saved geometry
larger than the screen is shrunk to fit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.actions import build_actions, build_menus, build_toolbar
from ui.inspector import InspectorPanel
from ui.library import AUDIO_EXTS, IMAGE_EXTS, LibraryPanel
from ui.library_ctl import LibraryController
from ui.preview import PreviewPanel
from ui.preview_ctl import PreviewController
from ui.project_ctl import ProjectController
from ui.queue_ctl import QueueController
from ui.queue_panel import QueuePanel
from ui.session import Session
from ui.settings import AppSettings, SettingsDialog
from ui.theme import DIM
from ui.timeline import TimelineWidget
from ui.timeline_ctl import TimelineController

log = logging.getLogger("ui.main_window")

MIN_SIZE = (1024, 600)  # fits 1280×720 with the window frame and a panel
DEFAULT_SIZE = (1480, 920)


class ErrorBanner(QWidget):
    """A dismissable red line at the top of the window for user-facing errors."""

    def __init__(self):
        super().__init__()
        self.label = QLabel()
        self.label.setObjectName("ErrorBanner")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 0)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None):
        super().__init__()
        self.session = s = Session(settings or AppSettings(), self)
        self.settings = s.settings
        self.setWindowTitle("Avatar Studio")
        self.setObjectName("MainWindow")

        # panels
        self.library = LibraryPanel()
        self.preview = PreviewPanel()
        self.inspector = InspectorPanel()
        self.timeline = TimelineWidget()
        self.queue = QueuePanel()
        self.banner = ErrorBanner()
        self._build_layout()

        # status bar
        self.clock_label = QLabel("")
        self.clock_label.setStyleSheet(f"color: {DIM}; padding: 0 8px;")
        self.jobs_label = QLabel("")
        self.jobs_label.setStyleSheet(f"color: {DIM}; padding: 0 8px;")
        self.statusBar().addPermanentWidget(self.jobs_label)
        self.statusBar().addPermanentWidget(self.clock_label)

        # controllers
        self.project_ctl = ProjectController(s, self, self)
        self.library_ctl = LibraryController(s, self.library, self.inspector, self, self)
        self.queue_ctl = QueueController(s, self.queue, self.timeline, self.jobs_label, self)
        self.preview_ctl = PreviewController(s, self.preview, self.timeline, self.clock_label,
                                             self)
        self.timeline_combo = QComboBox()
        self.timeline_ctl = TimelineController(s, self.timeline, self.inspector, self.preview,
                                               self.timeline_combo, self.library, self)
        self.actions_by_id = build_actions(self)
        build_menus(self, self.actions_by_id)
        build_toolbar(self, self.actions_by_id, self.timeline_combo)
        self._connect()
        self._restore_geometry()
        self.update_enabled()
        self.statusBar().showMessage("Ready — create or open a project (File menu)")

    # ------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        self.top_split = QSplitter(Qt.Horizontal)
        self.top_split.setObjectName("top_split")
        for w in (self.library, self.preview, self.inspector):
            self.top_split.addWidget(w)
        self.top_split.setSizes([280, 700, 320])
        for i, f in enumerate((0, 1, 0)):
            self.top_split.setStretchFactor(i, f)
        self.bottom_split = QSplitter(Qt.Horizontal)
        self.bottom_split.setObjectName("bottom_split")
        self.bottom_split.addWidget(self.timeline)
        self.bottom_split.addWidget(self.queue)
        self.bottom_split.setSizes([880, 420])
        self.bottom_split.setStretchFactor(0, 3)
        self.bottom_split.setStretchFactor(1, 1)
        self.main_split = QSplitter(Qt.Vertical)
        self.main_split.setObjectName("main_split")
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(self.bottom_split)
        self.main_split.setSizes([420, 260])
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 2)
        for split in (self.top_split, self.bottom_split, self.main_split):
            split.setChildrenCollapsible(False)
        central = QWidget()
        v = QVBoxLayout(central)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        v.addWidget(self.banner)
        v.addWidget(self.main_split, 1)
        self.setCentralWidget(central)
        self.setMinimumSize(*MIN_SIZE)

    def _connect(self) -> None:
        s = self.session
        s.errorShown.connect(self._show_error)
        s.statusShown.connect(self._show_status)
        lib = self.library
        lib.importRequested.connect(self.library_ctl.import_dialog)
        lib.recordRequested.connect(self.library_ctl.record_dialog)
        lib.newTimelineRequested.connect(lambda: self.timeline_ctl.new_timeline_dialog(self))
        self.inspector.segment_page.rerenderRequested.connect(
            lambda _sid: self.queue_ctl.rerender_selection())
        s.timelineSelected.connect(lambda _info: self.update_enabled())
        s.engineStatusChanged.connect(self.inspector.timeline_page.set_engine_status)
        esc = QShortcut(QKeySequence(Qt.Key_Escape), self)
        esc.setContext(Qt.WindowShortcut)
        esc.activated.connect(lambda: self.timeline_ctl.select_segment(None))
        self.escape_shortcut = esc

    def update_enabled(self) -> None:
        s = self.session
        has_project = s.project is not None
        has_tl = s.timeline_id is not None
        ids = self.actions_by_id
        for key in ("save_project", "import", "new_timeline", "record", "new_script"):
            ids[key].setEnabled(has_project)
        for key in ("render_all", "rerender", "split", "merge", "export", "play",
                    "step_back", "step_fwd", "deselect"):
            ids[key].setEnabled(has_tl)
        self.library.setEnabled(has_project)
        self.queue.setEnabled(has_project)

    def _fit_to_screen(self) -> None:
        """Open at the default size, or smaller to fit the screen's available area."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(*DEFAULT_SIZE)
            return
        avail = screen.availableGeometry()
        # leave room for the window frame (title bar, borders)
        w = min(DEFAULT_SIZE[0], avail.width() - 16)
        h = min(DEFAULT_SIZE[1], avail.height() - 40)
        self.resize(max(w, MIN_SIZE[0]), max(h, MIN_SIZE[1]))
        frame = self.frameGeometry()
        frame.moveCenter(avail.center())
        self.move(max(frame.left(), avail.left()), max(frame.top(), avail.top()))

    # ------------------------------------------------------------ session state (read-only)
    @property
    def project(self):
        return self.session.project

    @property
    def timeline_id(self) -> int | None:
        return self.session.timeline_id

    @property
    def timeline_info(self):
        return self.session.timeline_info

    @property
    def segments(self) -> list:
        return self.session.segments

    @property
    def undo_stack(self):
        return self.session.undo_stack

    # ------------------------------------------------------------ errors / status
    @property
    def errors(self) -> list[str]:
        return self.session.errors

    @property
    def busy(self) -> bool:
        return self.session.busy

    def show_error(self, message: str) -> None:
        self.session.show_error(message)

    def _show_error(self, message: str) -> None:
        self.banner.show_message(message)
        self.statusBar().showMessage(message, 15000)

    def clear_error(self) -> None:
        self.banner.hide()

    def _show_status(self, message: str, ms: int) -> None:
        if message:
            self.statusBar().showMessage(message, ms)
        else:
            self.statusBar().clearMessage()

    # ------------------------------------------------------------ dialogs (patchable)
    def ask_new_project_folder(self) -> str | None:
        from studio.paths import projects_dir

        folder = QFileDialog.getSaveFileName(
            self, "New project folder", str(projects_dir() / "untitled"),
            "Project folder (*)")[0]
        return folder or None

    def ask_open_folder(self) -> str | None:
        from studio.paths import projects_dir

        folder = QFileDialog.getExistingDirectory(self, "Open project", str(projects_dir()))
        return folder or None

    def ask_create_here(self, folder: Path) -> bool:
        """The folder is not a project: create one there?"""
        box = QMessageBox(QMessageBox.Question, "Not a project",
                          f"“{folder.name}” is not an Avatar Studio project.\n\n"
                          "Create a new project in this folder? The project you have open "
                          "stays open if you choose Cancel.",
                          QMessageBox.Cancel, self)
        create = box.addButton("Create project here", QMessageBox.AcceptRole)
        box.setDefaultButton(QMessageBox.Cancel)
        box.exec()
        return box.clickedButton() is create

    def ask_import_files(self) -> list[str]:
        images = " ".join(f"*{e}" for e in sorted(IMAGE_EXTS))
        audio = " ".join(f"*{e}" for e in sorted(AUDIO_EXTS))
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import media", str(Path.home()),
            f"Media ({images} {audio});;Images ({images});;Audio ({audio});;All files (*)")
        return files

    def ask_landmarks(self, image: np.ndarray, name: str, reason: str):
        from ui.landmark_picker import LandmarkPicker

        dlg = LandmarkPicker(image, name, reason, self)
        return dlg.points() if dlg.exec() == QDialog.Accepted else None

    # ------------------------------------------------------------ window-level dialogs
    def export_dialog(self):
        s = self.session
        if s.timeline_id is None:
            return None
        from ui.changes import JOBS
        from ui.export_dialog import ExportDialog

        dlg = ExportDialog(s.project.path, s.project.timeline(s.timeline_id), self,
                           background=s.background)
        dlg.queued.connect(lambda _n: s.notify(JOBS))  # the queue panel shows its renders
        dlg.finished_export.connect(lambda p: (s.status(f"Exported {p}"), s.notify(JOBS)))
        dlg.failed_export.connect(s.show_error)
        dlg.setModal(False)
        dlg.show()
        self.export_window = dlg
        return dlg

    def settings_dialog(self) -> None:
        dlg = SettingsDialog(self.settings, self)
        if dlg.exec() == QDialog.Accepted:
            self.apply_shortcuts()
            self.session.refresh_engine_status()
            self.session.status("Settings saved (engine options apply to newly opened "
                                "projects)")

    def apply_shortcuts(self) -> None:
        for action_id, act in self.actions_by_id.items():
            seq = self.settings.shortcut(action_id)
            if seq or action_id in ("undo", "redo"):
                act.setShortcut(QKeySequence(seq))

    def show_shortcuts(self):
        from ui.help import ShortcutsDialog

        dlg = ShortcutsDialog(self.settings, self)
        dlg.show()
        self.help_window = dlg
        return dlg

    def show_about(self):
        from ui.help import about_text

        box = QMessageBox(QMessageBox.Information, "About Avatar Studio", about_text(),
                          QMessageBox.Ok, self)
        box.setTextFormat(Qt.RichText)
        box.setModal(False)
        box.show()
        self.help_window = box
        return box

    open_url = staticmethod(QDesktopServices.openUrl)  # tests replace it

    def open_readme(self) -> None:
        from ui.help import readme_path

        path = readme_path()
        if path is None:
            self.show_error("The README is not installed with this copy of Avatar Studio.")
            return
        self.open_url(QUrl.fromLocalFile(str(path)))

    def fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_projects():
            act = self.recent_menu.addAction(folder)
            act.triggered.connect(lambda _c=False, f=folder: self.project_ctl.open_project(f))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ------------------------------------------------------------ geometry / session
    def save_layout(self) -> None:
        st = self.settings
        st.set_geometry("main", self.saveGeometry())
        st.set_geometry("state", self.saveState())
        for split in (self.top_split, self.bottom_split, self.main_split):
            st.set_geometry(split.objectName(), split.saveState())

    def _restore_geometry(self) -> None:
        st = self.settings
        geo = st.geometry("main")
        if geo is None or not self.restoreGeometry(geo):
            self._fit_to_screen()
        else:  # a geometry saved on a bigger screen must still fit this one
            screen = self.screen() or QGuiApplication.primaryScreen()
            if screen is not None:
                avail = screen.availableGeometry()
                if self.width() > avail.width() or self.height() > avail.height():
                    self._fit_to_screen()
        state = st.geometry("state")
        if state is not None:
            self.restoreState(state)
        for split in (self.top_split, self.bottom_split, self.main_split):
            value = st.geometry(split.objectName())
            if value is not None:
                split.restoreState(value)

    def restore_session(self) -> None:
        self.project_ctl.restore_session()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.project_ctl.close_project()
        self.save_layout()
        self.settings.sync()
        super().closeEvent(event)
