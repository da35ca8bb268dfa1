"""The library controller: portraits, audio tracks and presets — imports (off the GUI
thread), thumbnails and waveform strips, key points, recordings, transcripts, and preset
edits with their live expression preview."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog

from ui import undo
from ui.changes import Changes
from ui.inspector import InspectorPanel
from ui.library import AUDIO_EXTS, IMAGE_EXTS, LibraryPanel, classify
from ui.session import Session

log = logging.getLogger("ui.library_ctl")

NO_FACE_MARK = "no face found"
ASSETS = Changes(assets=True)


class LibraryController(QObject):
    def __init__(self, session: Session, library: LibraryPanel, inspector: InspectorPanel,
                 window, parent=None):
        super().__init__(parent)
        self.s = session
        self.library = library
        self.inspector = inspector
        self.window = window  # for the ask_* hooks (tests answer them) and dialog parents
        self._expr_request = 0

        library.filesDropped.connect(self.import_files)
        library.presetSelected.connect(self.show_preset)
        library.newPresetRequested.connect(self.add_preset)
        library.landmarksRequested.connect(self.place_landmarks)
        library.transcriptRequested.connect(self.edit_transcript_dialog)
        library.removeRequested.connect(self.remove_asset)
        library.newScriptRequested.connect(self.new_script_dialog)
        self.script_editor = None
        pp = inspector.preset_page
        pp.presetEdited.connect(self.edit_preset)
        pp.previewRequested.connect(self.request_expression_preview)
        pp.removeRequested.connect(self.remove_preset)
        session.hub.subscribe(self.on_changes)

    def on_changes(self, c: Changes) -> None:
        if self.s.project is None:
            return
        if c.assets:
            if c.audio_id is not None:  # its sound may have changed: redraw its waveform
                self.library.waves.pop(c.audio_id, None)
            self.refresh_assets()
            self._refresh_script_editor(c)
        if c.presets:
            self.refresh_presets()

    # ------------------------------------------------------------ refresh
    def refresh(self) -> None:
        self.refresh_assets()
        self.refresh_presets()

    def refresh_assets(self) -> None:
        s = self.s
        if s.project is None:
            return
        portraits = s.guard(s.project.portraits) or []
        tracks = s.guard(s.project.audio_tracks) or []
        self.library.set_portraits(portraits)
        self.library.set_audio(tracks)
        for p in portraits:
            if p.id not in self.library.thumbs:
                self._thumbnail(p)
        for a in tracks:
            if a.id not in self.library.waves:
                self._waveform(a)

    def refresh_presets(self) -> None:
        s = self.s
        if s.project is None:
            return
        presets = s.guard(s.project.presets) or []
        self.library.set_presets(presets)
        page = self.inspector.preset_page
        if page.preset is not None:
            match = next((p for p in presets if p.id == page.preset.id), None)
            if match is None:
                page.preset = None
                if self.inspector.current_page() == "preset":
                    self.inspector.show_page("timeline" if s.timeline_info else "empty")
            else:
                page.set_preset(match)

    def _thumbnail(self, info) -> None:
        from ui.thumbs import portrait_thumbnail

        path, pid = info.path, info.id
        self.library.thumbs[pid] = None  # requested
        self.s.start(lambda _p, _pr, _c: portrait_thumbnail(path),
                     lambda img: self.library.set_thumbnail(pid, img),
                     lambda m: log.warning("thumbnail: %s", m), name="thumb",
                     with_project_instance=False)

    def _waveform(self, info) -> None:
        from ui.thumbs import load_mono, waveform_image

        path, aid = info.path, info.id
        self.library.waves[aid] = None
        self.s.start(lambda _p, _pr, _c: waveform_image(load_mono(path)[0], 120, 30),
                     lambda img: self.library.set_waveform(aid, img),
                     lambda m: log.warning("waveform: %s", m), name="waveform",
                     with_project_instance=False)

    # ------------------------------------------------------------ imports
    def import_dialog(self) -> None:
        files = self.window.ask_import_files()
        if files:
            self.import_files(files)

    def import_files(self, paths) -> None:
        """Import images as portraits and audio files as tracks (off the GUI thread)."""
        s = self.s
        if s.project is None:
            s.show_error("Create or open a project first (File ▸ New project).")
            return
        for raw in paths:
            path = str(raw)
            kind = classify(path)
            if kind == "unknown":
                s.show_error(f"{path}: not an image or audio file — import a portrait "
                             f"({', '.join(sorted(IMAGE_EXTS))}) or a recording "
                             f"({', '.join(sorted(AUDIO_EXTS))})")
                continue
            if kind == "portrait":
                s.start(lambda p, _pr, _c, f=path: p.add_portrait(f), self._on_portrait_imported,
                        lambda m, f=path: self._on_portrait_failed(f, m),
                        name="import", status=f"Importing {Path(path).name}…")
            else:
                s.start(lambda p, _pr, _c, f=path: p.add_audio(f), self._on_audio_imported,
                        name="import", status=f"Importing {Path(path).name}…")

    def _on_portrait_imported(self, info) -> None:
        self.refresh_assets()
        self.library.tabs.setCurrentIndex(0)
        self.library.portrait_list.select_id(info.id)
        self.s.status(f"Imported portrait {info.name}")

    def _on_audio_imported(self, info) -> None:
        self.refresh_assets()
        self.library.tabs.setCurrentIndex(1)
        self.library.audio_list.select_id(info.id)
        self.s.status(f"Imported audio {info.name} ({info.duration:.1f} s)")

    def _on_portrait_failed(self, path: str, message: str) -> None:
        if NO_FACE_MARK not in message:
            self.s.show_error(message)
            return
        try:
            from ui.thumbs import load_rgb

            image = load_rgb(path)
        except Exception:
            self.s.show_error(message)
            return
        points = self.window.ask_landmarks(image, Path(path).stem,
                                           "No face was found automatically. Click the 5 "
                                           "key points to animate this portrait anyway.")
        if points is None:
            self.s.show_error(message)
            return
        fd, json_path = tempfile.mkstemp(prefix="landmarks-", suffix=".json")
        with open(fd, "w", encoding="utf-8") as fh:
            json.dump({"points": np.asarray(points).tolist()}, fh)

        def work(p, _pr, _c):
            try:
                return p.add_portrait(path, landmarks=json_path)
            finally:
                Path(json_path).unlink(missing_ok=True)

        self.s.start(work, self._on_portrait_imported, name="import",
                     status=f"Importing {Path(path).name} with your key points…")

    def place_landmarks(self, portrait_id: int) -> None:
        """Let the user (re)place the 5 key points of an imported portrait."""
        s = self.s
        info = s.guard(s.project.portrait, portrait_id)
        if info is None:
            return
        from ui.thumbs import load_rgb

        points = self.window.ask_landmarks(load_rgb(info.path), info.name, "")
        if points is None:
            return

        def done(_r):
            s.notify(Changes(assets=True, segments=True))
            s.status("Key points saved; affected segments are stale")

        s.start(lambda p, _pr, _c: p.set_portrait_landmarks(portrait_id, points), done,
                name="landmarks", status="Analysing the face with your key points…")

    def record_dialog(self) -> None:
        if self.s.project is None:
            return
        from ui.record import RecordDialog

        dlg = RecordDialog(self.window)
        if dlg.exec() == QDialog.Accepted and dlg.path is not None:
            path, name = dlg.path, dlg.name

            def work(p, _pr, _c):
                try:
                    return p.add_audio(path, name=name)
                finally:
                    Path(path).unlink(missing_ok=True)

            self.s.start(work, self._on_audio_imported, name="import",
                         status="Saving recording…")

    def edit_transcript_dialog(self, audio_id: int) -> None:
        """The transcript of a recorded track; the script editor for a script track
        (its transcript *is* the script, edited by re-synthesising)."""
        from ui.dialogs import TranscriptDialog

        info = self.s.guard(self.s.project.audio, audio_id)
        if info is None:
            return
        if self.s.guard(self.s.project.has_script, audio_id):
            self.open_script_editor(audio_id)
            return
        dlg = TranscriptDialog(info.name, info.transcript, self.window)
        if dlg.exec() == QDialog.Accepted:
            self.set_transcript(audio_id, dlg.text())

    # ------------------------------------------------------------ script tracks
    def new_script_dialog(self) -> None:
        if self.s.project is None:
            self.s.show_error("Create or open a project first (File ▸ New project).")
            return
        from ui.script_ui import NewScriptDialog

        try:
            dlg = NewScriptDialog(self.window)
        except Exception as exc:  # no voice at all: say so, keep going
            from ui.tasks import user_message

            self.s.show_error(f"cannot list the voices: {user_message(exc)}")
            return
        if dlg.exec() == QDialog.Accepted:
            self.add_script(**dlg.values())

    def add_script(self, text: str, voice: str | None = None, rate: float = 1.0,
                   name: str | None = None):
        """Synthesise a new track in a Worker (seconds); the audio list shows it after."""
        return self.s.start(
            lambda p, _pr, _c: p.add_script(text, voice=voice, rate=rate, name=name),
            self._on_script_added, name="script", status="Synthesising speech…")

    def _on_script_added(self, info) -> None:
        self.s.notify(ASSETS.but(audio_id=info.id))
        self._on_audio_imported(info)

    def open_script_editor(self, audio_id: int):
        from ui.script_ui import ScriptEditor

        s = self.s
        info = s.guard(s.project.audio, audio_id)
        script = s.guard(s.project.script, audio_id) if info is not None else None
        if script is None:
            return None
        if self.script_editor is not None:
            self.script_editor.close()
        ed = ScriptEditor(audio_id, info.name, script, self.window)
        ed.applyRequested.connect(self.apply_script)
        self.script_editor = ed
        ed.show()
        return ed

    def apply_script(self, audio_id: int, text: str):
        """Re-synthesise the changed sentences in a Worker, then push an undo step (the
        edit is done: undo calls undo_script) and broadcast, so the timeline shows the
        segments that became stale."""
        s = self.s
        info = s.guard(s.project.audio, audio_id)
        if info is None:
            return None
        ed = self.script_editor if (self.script_editor is not None
                                    and self.script_editor.audio_id == audio_id) else None

        def done(edit) -> None:
            if ed is not None:
                ed.set_busy(False)
            if not edit.changed:
                s.status("The script is unchanged")
                return
            undo.push_applied(s.undo_stack, undo.ScriptEditCmd(
                s.project, audio_id, text, s.notify, info.name, s.show_error))
            s.notify(undo.SCRIPT_CHANGES.but(audio_id=audio_id))
            stale = sum(len(v) for v in edit.stale.values())
            s.status(f"Script applied: {stale} segment(s) to re-render")

        def failed(message: str) -> None:
            if ed is not None:
                ed.set_busy(False)
            s.show_error(message)

        if ed is not None:
            ed.set_busy(True)
        return s.start(lambda p, _pr, _c: p.edit_script(audio_id, text), done, failed,
                       name="script", status="Synthesising the changed sentences…")

    def _refresh_script_editor(self, c: Changes) -> None:
        ed = self.script_editor
        if ed is None or not ed.isVisible() or c.audio_id not in (None, ed.audio_id):
            return
        script = self.s.guard(self.s.project.script, ed.audio_id)
        if script is not None and script.text != ed.text():
            ed.set_script(script)

    def set_transcript(self, audio_id: int, text: str | None) -> None:
        s = self.s
        info = s.guard(s.project.audio, audio_id)
        if info is None or (info.transcript or None) == (text or None):
            return
        s.push(undo.TranscriptEdit(s.project, audio_id, info.transcript, text, s.notify,
                                   info.name))

    def remove_asset(self, kind: str, asset_id: int) -> None:
        s = self.s
        if kind == "portrait":
            s.guard(s.project.remove_portrait, asset_id)
            self.library.thumbs.pop(asset_id, None)
        elif kind == "audio":
            s.guard(s.project.remove_audio, asset_id)
            self.library.waves.pop(asset_id, None)
        elif kind == "preset":
            self.remove_preset(asset_id)
            return
        s.notify(ASSETS)

    # ------------------------------------------------------------ presets
    def add_preset(self, name: str | None = None, **fields):
        s = self.s
        if s.project is None:
            return None
        existing = {p.name for p in s.project.presets()}
        if name is None:
            n = 1
            while f"Preset {n}" in existing:
                n += 1
            name = f"Preset {n}"
        cmd = undo.AddPreset(s.project, {"name": name, **fields}, s.notify)
        if s.push(cmd) is None:
            return None
        self.library.tabs.setCurrentIndex(2)
        self.show_preset(cmd.info.id)
        return cmd.info

    def show_preset(self, preset_id: int) -> None:
        info = self.s.guard(self.s.project.preset, preset_id)
        if info is None:
            return
        self.inspector.preset_page.set_preset(info)
        self.inspector.show_page("preset")

    def edit_preset(self, preset_id: int, fields: dict) -> None:
        s = self.s
        info = s.guard(s.project.preset, preset_id)
        if info is None:
            return
        old = {k: getattr(info, k) for k in fields}
        what = ", ".join(k.replace("_", " ") for k in fields)
        if "expression" in fields and len(fields) == 1:
            what = "expression sliders"
        cmd = undo.PresetEdit(s.project, preset_id, old, dict(fields), s.notify,
                              f"Edit preset {info.name}: {what}")
        if s.push(cmd) is None:
            self.refresh_presets()  # show the real values again after a refused edit

    def remove_preset(self, preset_id: int) -> None:
        s = self.s
        info = s.guard(s.project.preset, preset_id)
        if info is not None:
            s.push(undo.RemovePreset(s.project, info, s.notify))

    def request_expression_preview(self, expression) -> None:
        s = self.s
        if s.background is None or s.timeline_id is None:
            return
        self._expr_request += 1
        s.background.request_expression(self._expr_request, s.timeline_id,
                                        self.window.preview.player.frame, expression)

    def on_expression_ready(self, request_id: int, image) -> None:
        if request_id == self._expr_request:
            self.inspector.preset_page.show_preview(image)

    def clear(self) -> None:
        self.library.set_portraits([])
        self.library.set_audio([])
        self.library.set_presets([])
