"""The project controller: create, open (checked first), close, save, autosave, and the
session restored where the user left it.

Opening is checked before anything is closed: a folder that is not a project leaves the
current project open and offers to create a project there, in GUI words.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from core.errors import InputError
from ui.background import Background
from ui.changes import Changes
from ui.session import Session
from ui.tasks import user_message

log = logging.getLogger("ui.project_ctl")
AUTOSAVE_MS = 30_000
EVERYTHING = Changes(assets=True, presets=True, timeline=True, segments=True, jobs=True)


class ProjectController(QObject):
    def __init__(self, session: Session, window, parent=None):
        super().__init__(parent)
        self.s = session
        self.w = window
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    # ------------------------------------------------------------ dialogs
    def new_project_dialog(self) -> None:
        folder = self.w.ask_new_project_folder()
        if folder:
            self.new_project(folder)

    def open_project_dialog(self) -> None:
        folder = self.w.ask_open_folder()
        if folder:
            self.open_project(folder)

    # ------------------------------------------------------------ lifecycle
    def new_project(self, folder: str | Path, name: str | None = None) -> bool:
        from studio.paths import is_project
        from studio.project import Project

        if is_project(folder):
            return self.open_project(folder)
        try:
            Path(folder).parent.mkdir(parents=True, exist_ok=True)
            project = Project.create(folder, name)
        except InputError as exc:
            self.s.show_error(str(exc))
            return False
        except OSError as exc:
            self.s.show_error(f"{folder}: cannot create the project ({exc.strerror or exc})")
            return False
        self.close_project()
        self._attach(project)
        return True

    def open_project(self, folder: str | Path, restore_state: bool = True) -> bool:
        """Open `folder`. Not a project: the current one stays open, and the user is
        offered to create a project there."""
        from studio.paths import is_project
        from studio.project import Project

        s = self.s
        folder = Path(folder)
        if s.project is not None and folder.resolve() == s.project.path.resolve():
            return True
        if not is_project(folder):
            if not folder.is_dir():
                s.settings.remove_recent(folder)
                s.show_error(f"{folder}: this folder does not exist any more.")
                return False
            if self.w.ask_create_here(folder):
                return self.new_project(folder, folder.name)
            s.show_error(f"{folder.name} is not an Avatar Studio project (it has no "
                         "project.db). Choose a project folder, or create a new project "
                         "with File ▸ New project.")
            return False
        try:
            project = Project.open(folder)
        except InputError as exc:
            s.show_error(str(exc))
            return False
        except Exception as exc:
            log.exception("open failed")
            s.show_error(f"{folder}: cannot open the project ({user_message(exc)})")
            return False
        self.close_project()
        self._attach(project, s.settings.project_state(project.path) if restore_state
                     else None)
        return True

    def _attach(self, project, state: dict | None = None) -> None:
        s, w = self.s, self.w
        s.project = project
        w.clear_error()
        s.undo_stack.clear()
        s.settings.add_recent(project.path)
        s.settings.last_project = str(project.path)
        s.background = Background(project.path, engine_options=s.settings.engine_settings(),
                                  render_on=s.settings.render_on)
        w.queue_ctl.attach(s.background)
        w.preview_ctl.attach(s.background)
        s.background.expressionReady.connect(w.library_ctl.on_expression_ready)
        s.background.enginesChecked.connect(s.set_engine_status)
        w.setWindowTitle(f"{project.name} — Avatar Studio")
        s.notify(EVERYTHING)
        state = state or {}
        timelines = [t.id for t in project.timelines()]
        tid = state.get("timeline") if state.get("timeline") in timelines else (
            timelines[-1] if timelines else None)
        if tid is not None:
            w.timeline_ctl.select_timeline(tid, state)
        else:
            w.inspector.show_page("empty")
            w.inspector.empty.setText("Import a portrait and an audio track\n"
                                      "(drop files on the library), then\n"
                                      "create a timeline.")
        if any(j.state == "queued" for j in w.queue_ctl.jobs):
            s.background.wake_queue()
        w.update_enabled()
        s.projectOpened.emit(str(project.path))
        s.status(f"Opened {project.path}")

    def close_project(self) -> None:
        s, w = self.s, self.w
        if s.project is None:
            return
        self.save_state()
        w.preview.player.pause()
        # an export waits for this project's render lane: stop it (no file is left) first
        export = getattr(w, "export_window", None)
        if export is not None:
            export.close()
            w.export_window = None
        if s.background is not None:
            s.background.stop()
            s.background = None
        s.project.close()
        s.project = None
        s.undo_stack.clear()
        w.timeline_ctl.clear()
        w.library_ctl.clear()
        w.queue_ctl.clear()
        w.preview.view.set_frame(None)
        w.inspector.show_page("empty")
        w.setWindowTitle("Avatar Studio")
        w.update_enabled()
        s.projectClosed.emit()

    def save_project(self) -> None:
        s = self.s
        if s.project is None:
            return
        s.guard(s.project.checkpoint)
        self.save_state()
        s.status(f"Saved {s.project.name}")

    def autosave(self) -> None:
        """Every edit is already committed to the project database; autosave keeps where
        the user is (timeline, playhead, layout) and folds the WAL into project.db."""
        if self.s.project is not None:
            self.save_state()
            try:
                self.s.project.checkpoint()
            except Exception:  # busy db: the next autosave will do it
                log.debug("checkpoint skipped", exc_info=True)

    def save_state(self) -> None:
        s, w = self.s, self.w
        w.save_layout()
        if s.project is not None:
            s.settings.last_project = str(s.project.path)
            s.settings.set_project_state(s.project.path, s.timeline_id,
                                         w.preview.player.frame, w.timeline.selected_id)
        s.settings.sync()

    def restore_session(self) -> None:
        """Reopen the last project where the user left it (called after show())."""
        last = self.s.settings.last_project
        if last and (Path(last) / "project.db").is_file():
            self.open_project(last)
