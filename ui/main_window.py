"""The main window: wires the panels to the project, the workers and the undo stack.

Layout (splitters, saved in QSettings): library | preview | inspector on top; timeline |
render queue at the bottom. The window owns the GUI thread's `Project` (quick reads and
edits: split, merge, overrides, presets), while long work runs elsewhere (worker.py).

Every modal question goes through an `ask_*` method so tests (and scripts) can answer it
without a dialog; errors never open modal boxes: they show in a banner at the top of the
window and in the status bar, and are logged.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import InputError
from ui import undo
from ui.inspector import InspectorPanel
from ui.library import AUDIO_EXTS, IMAGE_EXTS, LibraryPanel, classify
from ui.preview import PreviewPanel
from ui.queue_panel import QueuePanel
from ui.settings import AppSettings, SettingsDialog
from ui.theme import DIM
from ui.timeline import TimelineWidget
from ui.worker import ProjectTask, Workers, start_task, user_message

log = logging.getLogger("ui.main_window")

NO_FACE_MARK = "no face found"
FIELD_WORDS = {"preset_id": "preset", "seed": "seed", "expression": "expression",
               "engine": "engine", "size": "size"}
AUTOSAVE_MS = 30_000


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
    timelineLoaded = Signal(int)
    projectOpened = Signal(str)
    errorShown = Signal(str)

    def __init__(self, settings: AppSettings | None = None):
        super().__init__()
        self.settings = settings or AppSettings()
        self.project = None
        self.workers: Workers | None = None
        self.timeline_id: int | None = None
        self.timeline_info = None
        self.segments: list = []
        self.jobs: list = []
        self.job_segment: dict[int, int] = {}
        self.errors: list[str] = []
        self._tasks: set[ProjectTask] = set()
        self._expr_request = 0
        self._pending_state: dict | None = None
        self.undo_stack = QUndoStack(self)

        self.setWindowTitle("Avatar Studio")
        self.setObjectName("MainWindow")
        self.resize(1480, 920)

        # panels
        self.library = LibraryPanel()
        self.preview = PreviewPanel()
        self.inspector = InspectorPanel()
        self.timeline = TimelineWidget()
        self.queue = QueuePanel()
        self.banner = ErrorBanner()

        self.top_split = QSplitter(Qt.Horizontal)
        self.top_split.setObjectName("top_split")
        self.top_split.addWidget(self.library)
        self.top_split.addWidget(self.preview)
        self.top_split.addWidget(self.inspector)
        self.top_split.setSizes([300, 820, 340])
        self.top_split.setStretchFactor(1, 1)
        self.bottom_split = QSplitter(Qt.Horizontal)
        self.bottom_split.setObjectName("bottom_split")
        self.bottom_split.addWidget(self.timeline)
        self.bottom_split.addWidget(self.queue)
        self.bottom_split.setSizes([960, 520])
        self.bottom_split.setStretchFactor(0, 1)
        self.main_split = QSplitter(Qt.Vertical)
        self.main_split.setObjectName("main_split")
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(self.bottom_split)
        self.main_split.setSizes([560, 330])
        self.main_split.setStretchFactor(0, 1)
        for split in (self.top_split, self.bottom_split, self.main_split):
            split.setChildrenCollapsible(False)

        central = QWidget()
        v = QVBoxLayout(central)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        v.addWidget(self.banner)
        v.addWidget(self.main_split, 1)
        self.setCentralWidget(central)

        self.clock_label = QLabel("")
        self.clock_label.setStyleSheet(f"color: {DIM}; padding: 0 8px;")
        self.jobs_label = QLabel("")
        self.jobs_label.setStyleSheet(f"color: {DIM}; padding: 0 8px;")
        self.statusBar().addPermanentWidget(self.jobs_label)
        self.statusBar().addPermanentWidget(self.clock_label)

        self._build_actions()
        self._connect()
        self._restore_geometry()
        self._update_enabled()

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.poll_timer = QTimer(self)  # catches state changes made by other processes
        self.poll_timer.setInterval(1500)
        self.poll_timer.timeout.connect(self._poll)
        self.poll_timer.start()
        self.statusBar().showMessage("Ready — create or open a project (File menu)")

    # ------------------------------------------------------------ actions
    def _action(self, action_id: str, text: str, slot, icon=None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if icon is not None:
            act.setIcon(self.style().standardIcon(icon))
        seq = self.settings.shortcut(action_id)
        if seq:
            act.setShortcut(QKeySequence(seq))
        act.setShortcutContext(Qt.WindowShortcut)
        act.setToolTip(f"{tip or text} ({seq})" if seq else (tip or text))
        act.triggered.connect(lambda _checked=False: slot())
        act.setObjectName(f"action_{action_id}")
        self.addAction(act)
        self.actions_by_id[action_id] = act
        return act

    def _build_actions(self) -> None:
        self.actions_by_id: dict[str, QAction] = {}
        S = QStyle
        a = self._action
        a("new_project", "New project…", self.new_project_dialog, S.SP_FileDialogNewFolder)
        a("open_project", "Open project…", self.open_project_dialog, S.SP_DirOpenIcon)
        a("save_project", "Save", self.save_project, S.SP_DialogSaveButton)
        a("import", "Import…", self.import_dialog, S.SP_FileIcon, "Import portraits or audio")
        a("render_all", "Render all", self.render_all, S.SP_MediaPlay,
          "Render every segment that is not rendered")
        a("rerender", "Re-render", self.rerender_selection, S.SP_BrowserReload,
          "Re-render the selected segment")
        a("split", "Split", self.split_at_playhead, None, "Split the segment at the playhead")
        a("merge", "Merge", self.merge_selected, None, "Merge the selection with the next segment")
        a("export", "Export…", self.export_dialog, S.SP_DialogSaveButton, "Export the video")
        a("play", "Play / pause", self.preview.player.toggle)
        a("step_back", "Previous frame", lambda: self.preview.player.step(-1))
        a("step_fwd", "Next frame", lambda: self.preview.player.step(1))
        # own Undo/Redo actions (short toolbar text; the command's name in the tooltip)
        stack = self.undo_stack
        undo_act = a("undo", "Undo", stack.undo, S.SP_ArrowBack)
        redo_act = a("redo", "Redo", stack.redo, S.SP_ArrowForward)
        undo_act.setEnabled(False)
        redo_act.setEnabled(False)
        stack.canUndoChanged.connect(undo_act.setEnabled)
        stack.canRedoChanged.connect(redo_act.setEnabled)
        stack.undoTextChanged.connect(
            lambda t: undo_act.setToolTip(f"Undo {t} ({self.settings.shortcut('undo')})"))
        stack.redoTextChanged.connect(
            lambda t: redo_act.setToolTip(f"Redo {t} ({self.settings.shortcut('redo')})"))
        new_tl = QAction("New timeline…", self)
        new_tl.triggered.connect(self.new_timeline_dialog)
        self.actions_by_id["new_timeline"] = new_tl
        settings_act = QAction("Settings…", self)
        settings_act.triggered.connect(self.settings_dialog)
        record_act = QAction("Record audio…", self)
        record_act.triggered.connect(self.record_dialog)
        quit_act = QAction("Quit", self)
        quit_act.setShortcut(QKeySequence.Quit)
        quit_act.triggered.connect(self.close)

        ids = self.actions_by_id
        menu = self.menuBar().addMenu("&File")
        for key in ("new_project", "open_project"):
            menu.addAction(ids[key])
        self.recent_menu = menu.addMenu("Open recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addAction(ids["save_project"])
        menu.addSeparator()
        menu.addAction(ids["import"])
        menu.addAction(record_act)
        menu.addAction(ids["export"])
        menu.addSeparator()
        menu.addAction(settings_act)
        menu.addAction(quit_act)
        menu = self.menuBar().addMenu("&Edit")
        for key in ("undo", "redo"):
            menu.addAction(ids[key])
        menu.addSeparator()
        for key in ("split", "merge"):
            menu.addAction(ids[key])
        menu = self.menuBar().addMenu("&Timeline")
        menu.addAction(new_tl)
        for key in ("render_all", "rerender", "play", "step_back", "step_fwd"):
            menu.addAction(ids[key])

        tb = self.addToolBar("Main")
        tb.setObjectName("main_toolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(18, 18))
        tb.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        for key in ("new_project", "open_project", "import"):
            tb.addAction(ids[key])
        tb.addSeparator()
        for key in ("undo", "redo"):
            tb.addAction(ids[key])
        tb.addSeparator()
        tb.addWidget(QLabel(" Timeline "))
        self.timeline_combo = QComboBox()
        self.timeline_combo.setMinimumWidth(220)
        self.timeline_combo.setObjectName("timeline_combo")
        self.timeline_combo.activated.connect(
            lambda i: self.select_timeline(self.timeline_combo.itemData(i)))
        tb.addWidget(self.timeline_combo)
        tb.addAction(new_tl)
        tb.addSeparator()
        for key in ("split", "merge", "render_all", "rerender", "export"):
            tb.addAction(ids[key])

    def _connect(self) -> None:
        lib = self.library
        lib.filesDropped.connect(self.import_files)
        lib.importRequested.connect(self.import_dialog)
        lib.recordRequested.connect(self.record_dialog)
        lib.newTimelineRequested.connect(self.new_timeline_dialog)
        lib.newPresetRequested.connect(self.add_preset)
        lib.presetSelected.connect(self.show_preset)
        lib.landmarksRequested.connect(self.place_landmarks)
        lib.transcriptRequested.connect(self.edit_transcript_dialog)
        lib.removeRequested.connect(self.remove_asset)

        tl = self.timeline
        tl.seekRequested.connect(self.preview.player.seek)
        tl.segmentSelected.connect(self.select_segment)
        tl.boundaryMoved.connect(self.move_boundary)

        player = self.preview.player
        player.frameChanged.connect(self._on_frame)
        player.clockMessage.connect(self._on_clock_message)
        player.playingChanged.connect(self._on_playing)

        seg = self.inspector.segment_page
        seg.overridesChanged.connect(self.set_overrides)
        seg.rerenderRequested.connect(lambda sid: self.rerender_selection())
        seg.splitRequested.connect(self.split_at_playhead)
        seg.mergeRequested.connect(lambda sid: self.merge_selected())
        self.inspector.timeline_page.timelineChanged.connect(self.edit_timeline)
        pp = self.inspector.preset_page
        pp.presetEdited.connect(self.edit_preset)
        pp.previewRequested.connect(self._request_expression_preview)
        pp.removeRequested.connect(self.remove_preset)

        q = self.queue
        q.cancelRequested.connect(self.cancel_job)
        q.retryRequested.connect(self.retry_job)
        q.clearRequested.connect(self.clear_finished_jobs)
        q.renderAllRequested.connect(self.render_all)

    def _update_enabled(self) -> None:
        has_project = self.project is not None
        has_tl = self.timeline_id is not None
        ids = self.actions_by_id
        for key in ("save_project", "import", "new_timeline"):
            ids[key].setEnabled(has_project)
        for key in ("render_all", "rerender", "split", "merge", "export", "play",
                    "step_back", "step_fwd"):
            ids[key].setEnabled(has_tl)
        self.library.setEnabled(has_project)
        self.queue.setEnabled(has_project)

    # ------------------------------------------------------------ errors / status
    def show_error(self, message: str) -> None:
        """Show a user-facing error in the window (never modal, never fatal)."""
        log.warning("shown to the user: %s", message)
        self.errors.append(message)
        self.banner.show_message(message)
        self.statusBar().showMessage(message, 15000)
        self.errorShown.emit(message)

    def clear_error(self) -> None:
        self.banner.hide()

    def status(self, message: str, ms: int = 6000) -> None:
        self.statusBar().showMessage(message, ms)

    def _guard(self, fn, *args, **kwargs):
        """Run a quick project call on the GUI thread; InputError becomes a banner."""
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            self.show_error(str(exc))
        except Exception as exc:  # a bug: log with traceback, tell the user, keep going
            log.exception("unexpected error")
            self.show_error(user_message(exc))
        return None

    @property
    def busy(self) -> bool:
        """True while imports / analyses started by the window are still running."""
        return bool(self._tasks)

    def _start(self, fn, on_done=None, on_failed=None, name="task", status: str = ""):
        if self.project is None:
            return None
        task = ProjectTask(self.project.path, fn, name=name)
        self._tasks.add(task)
        if status:
            self.status(status, 0)

        def finish():
            self._tasks.discard(task)
            if not self._tasks:
                self.statusBar().clearMessage() if status else None

        def done(result):
            finish()
            if on_done:
                on_done(result)

        def failed(message):
            finish()
            (on_failed or self.show_error)(message)

        start_task(task, done, failed)
        return task

    # ------------------------------------------------------------ dialogs (patchable)
    def ask_new_project_folder(self) -> str | None:
        folder = QFileDialog.getSaveFileName(
            self, "New project folder", str(self.settings.projects_folder / "untitled"),
            "Project folder (*)")[0]
        return folder or None

    def ask_open_folder(self) -> str | None:
        folder = QFileDialog.getExistingDirectory(self, "Open project",
                                                  str(self.settings.projects_folder))
        return folder or None

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

    # ------------------------------------------------------------ project lifecycle
    def new_project_dialog(self) -> None:
        folder = self.ask_new_project_folder()
        if folder:
            self.new_project(folder)

    def open_project_dialog(self) -> None:
        folder = self.ask_open_folder()
        if folder:
            self.open_project(folder)

    def new_project(self, folder: str | Path, name: str | None = None) -> bool:
        from studio.project import Project

        self.close_project()
        try:
            Path(folder).parent.mkdir(parents=True, exist_ok=True)
            project = Project.create(folder, name)
        except InputError as exc:
            self.show_error(str(exc))
            return False
        except OSError as exc:
            self.show_error(f"{folder}: cannot create the project ({exc.strerror or exc})")
            return False
        self._attach(project)
        return True

    def open_project(self, folder: str | Path, restore_state: bool = True) -> bool:
        from studio.project import Project

        if self.project is not None and Path(folder).resolve() == self.project.path.resolve():
            return True
        self.close_project()
        try:
            project = Project.open(folder)
        except InputError as exc:
            self.settings.remove_recent(folder)
            self.show_error(str(exc))
            return False
        except Exception as exc:
            log.exception("open failed")
            self.show_error(f"{folder}: cannot open the project ({user_message(exc)})")
            return False
        self._attach(project, self.settings.project_state(project.path) if restore_state
                     else None)
        return True

    def _attach(self, project, state: dict | None = None) -> None:
        self.project = project
        self.clear_error()
        self.undo_stack.clear()
        self.settings.add_recent(project.path)
        self.settings.last_project = str(project.path)
        self.workers = Workers(project.path, engine_options=self.settings.engine_settings())
        w = self.workers
        w.render.jobStarted.connect(self._on_job_started)
        w.render.jobProgress.connect(self._on_job_progress)
        w.render.jobFinished.connect(self._on_job_finished)
        w.render.idle.connect(self._on_queue_idle)
        w.render.failed.connect(self.show_error)
        w.preview.frameReady.connect(self._on_frame_ready)
        w.preview.expressionReady.connect(self._on_expression_ready)
        w.preview.failed.connect(lambda m: self.status(f"preview: {m}", 8000))
        self.setWindowTitle(f"{project.name} — Avatar Studio")
        self.refresh_library()
        self.refresh_timelines()
        state = state or {}
        timelines = [t.id for t in self.project.timelines()]
        tid = state.get("timeline") if state.get("timeline") in timelines else (
            timelines[-1] if timelines else None)
        self._pending_state = state if tid is not None else None
        if tid is not None:
            self.select_timeline(tid)
        else:
            self.inspector.show_page("timeline" if False else "empty")
            self.inspector.empty.setText("Import a portrait and an audio track\n"
                                         "(drop files on the library), then\n"
                                         "create a timeline.")
        self.refresh_jobs()
        if any(j.state == "queued" for j in self.jobs):
            self.workers.wake_queue()
        self._update_enabled()
        self.projectOpened.emit(str(project.path))
        self.status(f"Opened {project.path}")

    def close_project(self) -> None:
        if self.project is None:
            return
        self.save_state()
        self.preview.player.pause()
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        self.project.close()
        self.project = None
        self.timeline_id = None
        self.timeline_info = None
        self.segments = []
        self.undo_stack.clear()
        self.timeline.clear()
        self.preview.view.set_frame(None)
        self.library.set_portraits([])
        self.library.set_audio([])
        self.library.set_presets([])
        self.queue.set_jobs([])
        self.timeline_combo.clear()
        self.inspector.show_page("empty")
        self.setWindowTitle("Avatar Studio")
        self._update_enabled()

    def save_project(self) -> None:
        if self.project is None:
            return
        self._guard(self.project.checkpoint)
        self.save_state()
        self.status(f"Saved {self.project.name}")

    def autosave(self) -> None:
        """Every edit is already committed to the project database; autosave keeps where
        the user is (timeline, playhead, layout) and folds the WAL into project.db."""
        if self.project is not None:
            self.save_state()
            try:
                self.project.checkpoint()
            except Exception:  # busy db: the next autosave will do it
                log.debug("checkpoint skipped", exc_info=True)

    def save_state(self) -> None:
        s = self.settings
        s.set_geometry("main", self.saveGeometry())
        s.set_geometry("state", self.saveState())
        for split in (self.top_split, self.bottom_split, self.main_split):
            s.set_geometry(split.objectName(), split.saveState())
        if self.project is not None:
            s.last_project = str(self.project.path)
            s.set_project_state(self.project.path, self.timeline_id,
                                self.preview.player.frame, self.timeline.selected_id)
        s.sync()

    def _restore_geometry(self) -> None:
        s = self.settings
        geo = s.geometry("main")
        if geo is not None:
            self.restoreGeometry(geo)
        state = s.geometry("state")
        if state is not None:
            self.restoreState(state)
        for split in (self.top_split, self.bottom_split, self.main_split):
            value = s.geometry(split.objectName())
            if value is not None:
                split.restoreState(value)

    def restore_session(self) -> None:
        """Reopen the last project where the user left it (called after show())."""
        last = self.settings.last_project
        if last and (Path(last) / "project.db").is_file():
            self.open_project(last)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_projects():
            act = self.recent_menu.addAction(folder)
            act.triggered.connect(lambda _c=False, f=folder: self.open_project(f))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.close_project()
        self.save_state()
        super().closeEvent(event)

    # ------------------------------------------------------------ library
    def refresh_library(self) -> None:
        if self.project is None:
            return
        portraits = self._guard(self.project.portraits) or []
        tracks = self._guard(self.project.audio_tracks) or []
        self.library.set_portraits(portraits)
        self.library.set_audio(tracks)
        self.refresh_presets()
        for p in portraits:
            if p.id not in self.library.thumbs:
                self._thumbnail(p)
        for a in tracks:
            if a.id not in self.library.waves:
                self._waveform(a)

    def refresh_presets(self) -> None:
        if self.project is None:
            return
        presets = self._guard(self.project.presets) or []
        self.library.set_presets(presets)
        self.timeline.preset_names = {p.id: p.name for p in presets}
        self.inspector.set_presets(presets)
        page = self.inspector.preset_page
        if page.preset is not None:
            match = next((p for p in presets if p.id == page.preset.id), None)
            if match is None:
                page.preset = None
                if self.inspector.current_page() == "preset":
                    self._show_timeline_or_segment()
            else:
                page.set_preset(match)

    def _thumbnail(self, info) -> None:
        from ui.thumbs import portrait_thumbnail

        path, pid = info.path, info.id
        self.library.thumbs[pid] = None  # requested
        task = ProjectTask(None, lambda _p, _pr, _c: portrait_thumbnail(path), name="thumb")
        self._tasks.add(task)
        start_task(task, lambda img: (self._tasks.discard(task),
                                      self.library.set_thumbnail(pid, img)),
                   lambda m: (self._tasks.discard(task), log.warning("thumbnail: %s", m)))

    def _waveform(self, info) -> None:
        from ui.thumbs import load_mono, waveform_image

        path, aid = info.path, info.id
        self.library.waves[aid] = None
        task = ProjectTask(None, lambda _p, _pr, _c: waveform_image(load_mono(path)[0], 120, 30),
                           name="waveform")
        self._tasks.add(task)
        start_task(task, lambda img: (self._tasks.discard(task),
                                      self.library.set_waveform(aid, img)),
                   lambda m: (self._tasks.discard(task), log.warning("waveform: %s", m)))

    def import_dialog(self) -> None:
        files = self.ask_import_files()
        if files:
            self.import_files(files)

    def import_files(self, paths) -> None:
        """Import images as portraits and audio files as tracks (off the GUI thread)."""
        if self.project is None:
            self.show_error("Create or open a project first (File ▸ New project).")
            return
        for raw in paths:
            path = str(raw)
            kind = classify(path)
            if kind == "unknown":
                self.show_error(f"{path}: not an image or audio file — import a portrait "
                                f"({', '.join(sorted(IMAGE_EXTS))}) or a recording "
                                f"({', '.join(sorted(AUDIO_EXTS))})")
                continue
            if kind == "portrait":
                self._start(lambda p, _pr, _c, f=path: p.add_portrait(f),
                            self._on_portrait_imported,
                            lambda m, f=path: self._on_portrait_failed(f, m),
                            name="import", status=f"Importing {Path(path).name}…")
            else:
                self._start(lambda p, _pr, _c, f=path: p.add_audio(f),
                            self._on_audio_imported, name="import",
                            status=f"Importing {Path(path).name}…")

    def _on_portrait_imported(self, info) -> None:
        self.refresh_library()
        self.library.tabs.setCurrentIndex(0)
        self.library.portrait_list.select_id(info.id)
        self.status(f"Imported portrait {info.name}")

    def _on_audio_imported(self, info) -> None:
        self.refresh_library()
        self.library.tabs.setCurrentIndex(1)
        self.library.audio_list.select_id(info.id)
        self.status(f"Imported audio {info.name} ({info.duration:.1f} s)")

    def _on_portrait_failed(self, path: str, message: str) -> None:
        if NO_FACE_MARK not in message:
            self.show_error(message)
            return
        try:
            from ui.thumbs import load_rgb

            image = load_rgb(path)
        except Exception:
            self.show_error(message)
            return
        points = self.ask_landmarks(image, Path(path).stem,
                                    "No face was found automatically. Click the 5 key "
                                    "points to animate this portrait anyway.")
        if points is None:
            self.show_error(message)
            return
        fd, json_path = tempfile.mkstemp(prefix="landmarks-", suffix=".json")
        with open(fd, "w", encoding="utf-8") as fh:
            json.dump({"points": np.asarray(points).tolist()}, fh)

        def work(p, _pr, _c):
            try:
                return p.add_portrait(path, landmarks=json_path)
            finally:
                Path(json_path).unlink(missing_ok=True)

        self._start(work, self._on_portrait_imported, name="import",
                    status=f"Importing {Path(path).name} with your key points…")

    def place_landmarks(self, portrait_id: int) -> None:
        """Let the user (re)place the 5 key points of an imported portrait."""
        info = self._guard(self.project.portrait, portrait_id)
        if info is None:
            return
        from ui.thumbs import load_rgb

        points = self.ask_landmarks(load_rgb(info.path), info.name, "")
        if points is None:
            return
        self._start(lambda p, _pr, _c: p.set_portrait_landmarks(portrait_id, points),
                    lambda _r: (self.refresh_library(), self.refresh_segments(),
                                self.status("Key points saved; affected segments are stale")),
                    name="landmarks", status="Analysing the face with your key points…")

    def record_dialog(self) -> None:
        if self.project is None:
            return
        from ui.record import RecordDialog

        dlg = RecordDialog(self)
        if dlg.exec() == QDialog.Accepted and dlg.path is not None:
            path, name = dlg.path, dlg.name

            def work(p, _pr, _c):
                try:
                    return p.add_audio(path, name=name)
                finally:
                    Path(path).unlink(missing_ok=True)

            self._start(work, self._on_audio_imported, name="import", status="Saving recording…")

    def edit_transcript_dialog(self, audio_id: int) -> None:
        from ui.dialogs import TranscriptDialog

        info = self._guard(self.project.audio, audio_id)
        if info is None:
            return
        dlg = TranscriptDialog(info.name, info.transcript, self)
        if dlg.exec() == QDialog.Accepted:
            self.set_transcript(audio_id, dlg.text())

    def set_transcript(self, audio_id: int, text: str | None) -> None:
        info = self._guard(self.project.audio, audio_id)
        if info is None or (info.transcript or None) == (text or None):
            return
        cmd = undo.TranscriptEdit(self.project, audio_id, info.transcript, text, self._changed)
        self._guard(undo.push, self.undo_stack, cmd)

    def remove_asset(self, kind: str, asset_id: int) -> None:
        if kind == "portrait":
            self._guard(self.project.remove_portrait, asset_id)
            self.library.thumbs.pop(asset_id, None)
        elif kind == "audio":
            self._guard(self.project.remove_audio, asset_id)
            self.library.waves.pop(asset_id, None)
        elif kind == "preset":
            self.remove_preset(asset_id)
            return
        self.refresh_library()

    # ------------------------------------------------------------ presets
    def add_preset(self, name: str | None = None, **fields):
        if self.project is None:
            return None
        existing = {p.name for p in self.project.presets()}
        if name is None:
            n = 1
            while f"Preset {n}" in existing:
                n += 1
            name = f"Preset {n}"
        cmd = undo.AddPreset(self.project, {"name": name, **fields}, self._changed)
        if self._guard(undo.push, self.undo_stack, cmd) is None:
            return None
        self.library.tabs.setCurrentIndex(2)
        self.show_preset(cmd.info.id)
        return cmd.info

    def show_preset(self, preset_id: int) -> None:
        info = self._guard(self.project.preset, preset_id)
        if info is None:
            return
        self.inspector.preset_page.set_preset(info)
        self.inspector.show_page("preset")

    def edit_preset(self, preset_id: int, fields: dict) -> None:
        info = self._guard(self.project.preset, preset_id)
        if info is None:
            return
        old = {k: getattr(info, k) for k in fields}
        what = ", ".join(k.replace("_", " ") for k in fields)
        cmd = undo.PresetEdit(self.project, preset_id, old, dict(fields), self._changed,
                              f"Edit preset {info.name}: {what}")
        if self._guard(undo.push, self.undo_stack, cmd) is None:
            self.refresh_presets()  # show the real values again after a refused edit

    def remove_preset(self, preset_id: int) -> None:
        info = self._guard(self.project.preset, preset_id)
        if info is not None:
            self._guard(undo.push, self.undo_stack,
                        undo.RemovePreset(self.project, info, self._changed))

    def _request_expression_preview(self, expression) -> None:
        if self.workers is None or self.timeline_id is None:
            return
        self._expr_request += 1
        self.workers.request_expression(self._expr_request, self.timeline_id,
                                        self.preview.player.frame, expression)

    def _on_expression_ready(self, request_id: int, image) -> None:
        if request_id == self._expr_request:
            self.inspector.preset_page.show_preview(image)

    # ------------------------------------------------------------ timelines
    def refresh_timelines(self) -> None:
        self.timeline_combo.clear()
        if self.project is None:
            return
        for t in self._guard(self.project.timelines) or []:
            self.timeline_combo.addItem(t.name, t.id)
        if self.timeline_id is not None:
            self.timeline_combo.setCurrentIndex(self.timeline_combo.findData(self.timeline_id))

    def new_timeline_dialog(self) -> None:
        if self.project is None:
            return
        portraits, tracks = self.project.portraits(), self.project.audio_tracks()
        if not portraits or not tracks:
            self.show_error("A timeline needs a portrait and an audio track: import both "
                            "first (drop them on the library).")
            return
        from ui.dialogs import NewTimelineDialog

        dlg = NewTimelineDialog(portraits, tracks, self.project.presets(),
                                self.settings.default_engine,
                                self.library.portrait_list.current_id(),
                                self.library.audio_list.current_id(), self)
        if dlg.exec() == QDialog.Accepted:
            self.create_timeline(**dlg.values())

    def create_timeline(self, portrait_id: int, audio_id: int, **options) -> None:
        """Create a timeline off the GUI thread (it analyses the audio to place segments)."""
        settings = dict(options.pop("settings", None) or {})

        def work(p, _pr, _c):
            return p.new_timeline(portrait_id, audio_id, settings=settings or None, **options)

        self._start(work, lambda info: (self.refresh_timelines(), self.select_timeline(info.id),
                                        self.status(f"Created timeline {info.name}")),
                    name="timeline", status="Analysing the audio and creating the timeline…")

    def select_timeline(self, timeline_id: int | None) -> None:
        if self.project is None or timeline_id is None:
            return
        info = self._guard(self.project.timeline, timeline_id)
        if info is None:
            return
        self.preview.player.pause()
        self.timeline_id = info.id
        self.timeline_info = info
        self.timeline_combo.setCurrentIndex(self.timeline_combo.findData(info.id))
        self.timeline.set_timeline(info.fps, info.n_frames)
        self.preview.set_source(info.fps, info.n_frames)
        self.refresh_segments()
        state = self._pending_state or {}
        self._pending_state = None
        frame = int(state.get("frame") or 0)
        if state.get("segment") is not None:
            self.select_segment(state["segment"])
        else:
            self._show_timeline_or_segment()
        self.preview.player.seek(min(frame, max(info.n_frames - 1, 0)))
        self._update_enabled()
        self._load_timeline_audio()

    def _load_timeline_audio(self) -> None:
        """Waveform + aligned words of the current timeline, computed off the GUI thread."""
        info = self.timeline_info
        audio_id, fps, tid = info.audio_id, info.fps, info.id

        def work(p, _pr, _c):
            wave = p.waveform(audio_id)
            feats = p.audio_features(audio_id, fps)
            return tid, np.asarray(wave.samples, np.float32), int(wave.sample_rate), \
                list(feats.words), list(feats.phones)

        self._start(work, self._on_timeline_audio, name="timeline-audio",
                    status="Loading the timeline's audio…")

    def _on_timeline_audio(self, result) -> None:
        tid, samples, rate, words, phones = result
        if tid != self.timeline_id:
            return
        self.timeline.set_audio(samples, rate)
        self.timeline.set_words(words, phones)
        info = self.timeline_info
        frame = self.preview.player.frame
        self.preview.set_source(info.fps, info.n_frames, samples, rate)
        self.preview.player.seek(frame)
        self.timelineLoaded.emit(tid)

    def edit_timeline(self, timeline_id: int, fields: dict) -> None:
        info = self._guard(self.project.timeline, timeline_id)
        if info is None:
            return
        old = {k: getattr(info, k) for k in fields}
        cmd = undo.TimelineEdit(self.project, timeline_id, old, dict(fields), self._changed,
                                "Timeline " + ", ".join(FIELD_WORDS.get(k, k) for k in fields))
        self._guard(undo.push, self.undo_stack, cmd)

    # ------------------------------------------------------------ segments
    def refresh_segments(self) -> None:
        if self.project is None or self.timeline_id is None:
            return
        segs = self._guard(self.project.segments, self.timeline_id)
        if segs is None:
            return
        self.segments = segs
        self.timeline.set_segments(segs)
        if self.workers is not None:
            self.workers.preview.invalidate(self.timeline_id)
        sel = self.selected_segment()
        if sel is not None and self.inspector.current_page() == "segment":
            self.inspector.segment_page.set_segment(sel, self.timeline_info.fps)

    def selected_segment(self):
        sid = self.timeline.selected_id
        return next((s for s in self.segments if s.id == sid), None)

    def select_segment(self, segment_id: int | None) -> None:
        if segment_id is not None and segment_id < 0:
            segment_id = None
        if segment_id is not None and not any(s.id == segment_id for s in self.segments):
            segment_id = None
        self.timeline.select(segment_id)
        self._show_timeline_or_segment()

    def _show_timeline_or_segment(self) -> None:
        seg = self.selected_segment()
        if seg is not None:
            self.inspector.segment_page.set_segment(seg, self.timeline_info.fps)
            self.inspector.show_page("segment")
        elif self.timeline_info is not None:
            p = self._guard(self.project.portrait, self.timeline_info.portrait_id)
            a = self._guard(self.project.audio, self.timeline_info.audio_id)
            self.inspector.timeline_page.set_timeline(self.timeline_info, p.name if p else "",
                                                      a.name if a else "")
            self.inspector.show_page("timeline")

    def _segments_edit(self, text: str, action) -> object:
        if self.project is None or self.timeline_id is None:
            return None
        cmd = undo.SegmentsEdit(self.project, self.timeline_id, text, action, self._changed)
        if self._guard(undo.push, self.undo_stack, cmd) is None:
            return None
        return cmd.result

    def split_at_playhead(self) -> None:
        frame = self.preview.player.frame
        seg = self.timeline.segment_at(frame)
        if seg is None:
            return
        if frame <= seg.start:
            self.show_error(f"The playhead is on the first frame of segment {seg.index + 1}; "
                            "move it inside the segment to split there.")
            return
        result = self._segments_edit(f"Split segment {seg.index + 1} at frame {frame}",
                                     lambda p: p.split_segment(seg.id, frame))
        if result is not None:
            self.select_segment(result[1].id)

    def merge_selected(self) -> None:
        seg = self.selected_segment() or self.timeline.segment_at(self.preview.player.frame)
        if seg is None:
            return
        nxt = next((s for s in self.segments if s.index == seg.index + 1), None)
        if nxt is None:
            self.show_error(f"Segment {seg.index + 1} is the last one: nothing to merge with.")
            return
        if self._segments_edit(f"Merge segments {seg.index + 1} and {nxt.index + 1}",
                               lambda p: p.merge_segments(seg.id, nxt.id)) is not None:
            self.select_segment(seg.id)

    def move_boundary(self, segment_id: int, new_end: int) -> None:
        seg = next((s for s in self.segments if s.id == segment_id), None)
        if seg is None:
            return
        done = self._segments_edit(f"Move boundary after segment {seg.index + 1}",
                                   lambda p: p.move_boundary(segment_id, new_end))
        if done is None:
            self.refresh_segments()  # snap the dragged line back

    def set_overrides(self, segment_id: int, fields: dict) -> None:
        seg = next((s for s in self.segments if s.id == segment_id), None)
        if seg is None:
            return
        what = ", ".join(FIELD_WORDS.get(k, k) for k in fields)
        self._segments_edit(f"Segment {seg.index + 1} {what}",
                            lambda p: p.set_segment_overrides(segment_id, **fields))

    def _changed(self, kind: str, ident) -> None:
        """Called by every undo command after it changed the project."""
        if kind in ("segments", "timeline"):
            if kind == "timeline":
                self.timeline_info = self._guard(self.project.timeline, ident)
                self.refresh_timelines()
            self.refresh_segments()
            if self.selected_segment() is None:
                self._show_timeline_or_segment()
            self._on_frame(self.preview.player.frame)
        elif kind in ("preset", "presets"):
            self.refresh_presets()
            self.refresh_segments()
        elif kind == "audio":
            self.refresh_library()
            if self.timeline_info is not None and self.timeline_info.audio_id == ident:
                self.refresh_segments()  # the transcript is part of every segment's spec
                self._load_timeline_audio()  # re-aligned words

    # ------------------------------------------------------------ render queue
    def render_all(self) -> None:
        if self.timeline_id is None:
            return
        jobs = self._guard(self.project.enqueue, self.timeline_id)
        self._after_enqueue(jobs, "every segment is already rendered")

    def rerender_selection(self) -> None:
        seg = self.selected_segment()
        if seg is None:
            self.show_error("Select a segment on the timeline to re-render it.")
            return
        jobs = self._guard(self.project.enqueue, self.timeline_id, [seg.id])
        self._after_enqueue(jobs, f"segment {seg.index + 1} is up to date")

    def _after_enqueue(self, jobs, nothing: str) -> None:
        if jobs is None:
            return
        self.refresh_segments()
        self.refresh_jobs()
        if not jobs:
            self.status(f"Nothing to render: {nothing}")
        self.workers.wake_queue()

    def cancel_job(self, job_id: int) -> None:
        self._guard(self.project.cancel_job, job_id)
        self.refresh_jobs()
        self.refresh_segments()

    def retry_job(self, job_id: int) -> None:
        if self._guard(self.project.retry_job, job_id) is not None:
            self.refresh_jobs()
            self.refresh_segments()
            self.workers.wake_queue()

    def clear_finished_jobs(self) -> None:
        self._guard(self.project.clear_finished_jobs)
        self.refresh_jobs()

    def refresh_jobs(self) -> None:
        if self.project is None:
            return
        jobs = self._guard(self.project.jobs)
        if jobs is None:
            return
        self.jobs = jobs
        self.job_segment = {j.id: j.segment_id for j in jobs}
        index = {s.id: s.index for s in self.segments}
        self.queue.set_jobs(jobs, index)
        active = [j for j in jobs if j.state in ("queued", "running")]
        self.jobs_label.setText(f"{len(active)} job(s) in the queue" if active else "")

    def _on_job_started(self, job_id: int) -> None:
        self.refresh_jobs()
        self.refresh_segments()

    def _on_job_progress(self, job_id: int, fraction: float, message: str) -> None:
        if job_id not in self.job_segment:
            self.refresh_jobs()
        self.queue.update_progress(job_id, fraction, message)
        sid = self.job_segment.get(job_id)
        if sid is not None:
            self.timeline.set_progress(sid, fraction)

    def _on_job_finished(self, job_id: int, state: str, error: str) -> None:
        self.refresh_jobs()
        self.refresh_segments()
        if state == "failed":
            sid = self.job_segment.get(job_id)
            idx = next((s.index for s in self.segments if s.id == sid), None)
            where = f"segment {idx + 1}" if idx is not None else f"job {job_id}"
            self.show_error(f"Rendering {where} failed: {error}")
        self._on_frame(self.preview.player.frame)

    def _on_queue_idle(self) -> None:
        self.refresh_jobs()
        self.refresh_segments()
        if self.project is not None and any(j.state == "queued" for j in self.jobs):
            self.workers.wake_queue()  # queued while the last job was finishing
        else:
            self.status("Render queue finished")

    def _poll(self) -> None:
        if self.project is None or self.workers is None:
            return
        if self.workers.render.busy:
            self.refresh_jobs()

    # ------------------------------------------------------------ preview
    def _on_frame(self, frame: int) -> None:
        self.timeline.set_playhead(frame)
        if self.workers is not None and self.timeline_id is not None:
            self.workers.request_frame(self.timeline_id, frame)

    def _on_frame_ready(self, timeline_id: int, frame: int, image) -> None:
        if timeline_id != self.timeline_id:
            return
        seg = self.timeline.segment_at(frame)
        badge = "rendered" if seg is not None and seg.state == "rendered" else \
            "instant preview (warp)"
        self.preview.view.set_frame(image, f"{badge} · frame {frame}")

    def _on_clock_message(self, message: str) -> None:
        self.clock_label.setText("⏱ wall clock")
        self.clock_label.setToolTip(message)
        self.status(message, 10000)

    def _on_playing(self, playing: bool) -> None:
        if playing:
            kind = self.preview.player.clock_kind
            self.clock_label.setText("🔊 audio clock" if kind == "audio" else "⏱ wall clock")

    # ------------------------------------------------------------ export / settings
    def export_dialog(self):
        if self.timeline_id is None:
            return None
        from ui.export_dialog import ExportDialog

        dlg = ExportDialog(self.project.path, self.project.timeline(self.timeline_id), self)
        dlg.finished_export.connect(lambda p: (self.status(f"Exported {p}"),
                                               self.refresh_segments(), self.refresh_jobs()))
        dlg.failed_export.connect(self.show_error)
        dlg.setModal(False)
        dlg.show()
        self.export_window = dlg
        return dlg

    def settings_dialog(self) -> None:
        dlg = SettingsDialog(self.settings, self)
        if dlg.exec() == QDialog.Accepted:
            self.apply_shortcuts()
            self.status("Settings saved (engine options apply to newly opened projects)")

    def apply_shortcuts(self) -> None:
        for action_id, act in self.actions_by_id.items():
            seq = self.settings.shortcut(action_id)
            if seq or action_id in ("undo", "redo"):
                act.setShortcut(QKeySequence(seq))
