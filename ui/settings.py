"""Application settings (QSettings) and the settings dialog.

`AppSettings` is a thin typed wrapper so the rest of the UI never spells QSettings keys;
tests hand it an INI file in a temp folder so they never touch the user's real settings.
The dialog shows *why* an engine is unavailable (`Engine.available()`), computed off the
GUI thread because building the diffusion engine may import torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.wording import friendly

DEFAULT_SHORTCUTS: dict[str, tuple[str, str]] = {
    # action id: (label, default key sequence)
    "play": ("Play / pause", "Space"),
    "split": ("Split at playhead", "S"),
    "rerender": ("Re-render selection", "R"),
    "merge": ("Merge with next segment", "M"),
    "export": ("Export…", "Ctrl+E"),
    "undo": ("Undo", "Ctrl+Z"),
    "redo": ("Redo", "Ctrl+Shift+Z"),
    "step_back": ("Previous frame", "Left"),
    "step_fwd": ("Next frame", "Right"),
    "render_all": ("Render all", "Ctrl+R"),
    "new_project": ("New project…", "Ctrl+N"),
    "open_project": ("Open project…", "Ctrl+O"),
    "save_project": ("Save", "Ctrl+S"),
    "import": ("Import media…", "Ctrl+I"),
}

ENGINES = ("warp", "diffusion")
DEVICES = ("auto", "cpu", "cuda")
RECENT_MAX = 8
RENDER_PLACES = ("this computer", "local cluster", "Ray cluster")


class AppSettings:
    """Typed access to the persistent settings."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings("AvatarStudio", "Avatar Studio")

    # -- plain values
    def _get(self, key: str, default):
        value = self.q.value(key, default)
        return default if value is None else value

    @property
    def projects_folder(self) -> Path:
        """Where projects live: the studio's one answer (studio.paths.projects_dir), the
        same folder the command line uses; not a separate GUI setting."""
        from studio.paths import projects_dir

        return projects_dir()

    @property
    def model_folder(self) -> str:
        return str(self._get("paths/models", ""))

    @model_folder.setter
    def model_folder(self, value: str) -> None:
        self.q.setValue("paths/models", str(value))

    @property
    def default_engine(self) -> str:
        v = str(self._get("render/engine", "warp"))
        return v if v in ENGINES else "warp"

    @default_engine.setter
    def default_engine(self, value: str) -> None:
        self.q.setValue("render/engine", value)

    @property
    def device(self) -> str:
        v = str(self._get("render/device", "auto"))
        return v if v in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self.q.setValue("render/device", value)

    @property
    def render_on(self) -> str:
        """Where the render queue runs: "" (this computer), "local:N" (a Ray cluster of N
        workers started on this machine) or "ray://HOST:PORT". A stored value that no
        longer parses (an edited settings file) means this computer."""
        v = str(self._get("render/cluster", "")).strip()
        return v if v and render_on_error(v) is None else ""

    @render_on.setter
    def render_on(self, value: str) -> None:
        self.q.setValue("render/cluster", str(value or "").strip())

    def engine_settings(self) -> dict:
        """Options handed to new timelines / engines (only the ones that are set)."""
        out: dict = {}
        if self.device != "auto":
            out["device"] = self.device
        if self.model_folder:
            out["weights"] = self.model_folder
        return out

    # -- recent projects / last state
    def recent_projects(self) -> list[str]:
        value = self._get("recent/projects", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in value if v]

    def add_recent(self, folder: str | Path) -> None:
        folder = str(Path(folder))
        items = [p for p in self.recent_projects() if p != folder]
        self.q.setValue("recent/projects", [folder, *items][:RECENT_MAX])

    def remove_recent(self, folder: str | Path) -> None:
        folder = str(Path(folder))
        self.q.setValue("recent/projects", [p for p in self.recent_projects() if p != folder])

    @property
    def last_project(self) -> str:
        return str(self._get("state/last_project", ""))

    @last_project.setter
    def last_project(self, value: str) -> None:
        self.q.setValue("state/last_project", str(value))

    def project_state(self, folder: str | Path) -> dict:
        """Where the user was in a project: selected timeline and playhead."""
        key = "state/project/" + _key(folder)
        return {
            "timeline": _int(self.q.value(key + "/timeline")),
            "frame": _int(self.q.value(key + "/frame")) or 0,
            "segment": _int(self.q.value(key + "/segment")),
        }

    def set_project_state(self, folder: str | Path, timeline, frame, segment) -> None:
        key = "state/project/" + _key(folder)
        self.q.setValue(key + "/timeline", -1 if timeline is None else int(timeline))
        self.q.setValue(key + "/frame", int(frame or 0))
        self.q.setValue(key + "/segment", -1 if segment is None else int(segment))

    def geometry(self, name: str) -> QByteArray | None:
        value = self.q.value("window/" + name)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, name: str, value: QByteArray) -> None:
        self.q.setValue("window/" + name, value)

    # -- shortcuts
    def shortcut(self, action_id: str) -> str:
        default = DEFAULT_SHORTCUTS.get(action_id, ("", ""))[1]
        return str(self._get("shortcuts/" + action_id, default))

    def set_shortcut(self, action_id: str, sequence: str) -> None:
        self.q.setValue("shortcuts/" + action_id, sequence)

    def sync(self) -> None:
        self.q.sync()


def render_on_error(text: str) -> str | None:
    """None when `text` is a cluster address studio.cluster accepts, else its one-line
    complaint (without the CLI's "--cluster" wording)."""
    from core.errors import InputError
    from studio.cluster import parse_address

    try:
        parse_address(text)
    except InputError as exc:
        return friendly(str(exc).replace("--cluster ", "", 1))
    return None


def voice_lines() -> list[str]:
    """One line per installed voice and where it comes from (for the settings dialog)."""
    from core.tts import list_voices

    lines = []
    for v in list_voices():
        where = {"bundled": "bundled with the studio", "user": "your voices folder",
                 "system": "installed on this computer"}.get(v.origin, v.origin)
        lines.append(f"{v.label} — {where}" + (f" ({v.model})" if v.model else ""))
    return lines


def _key(folder: str | Path) -> str:
    return str(Path(folder)).strip("/").replace("/", "|").replace("\\", "|")


def _int(value) -> int | None:
    try:
        v = int(value)
    except (TypeError, ValueError):
        return None
    return None if v < 0 else v


# ---------------------------------------------------------------- engine availability
def check_engine(name: str, options: dict) -> tuple[str, bool, str]:
    """(name, ok, reason) of `core.engines.create(name).available()`: run it in a worker,
    because building the diffusion engine may import torch."""
    try:
        from core import engines

        try:
            engine = engines.create(name, **options)
        except TypeError:  # an engine that takes no such option
            engine = engines.create(name)
        ok, reason = engine.available()
    except Exception as exc:  # an engine that cannot even be built: show why
        ok, reason = False, str(exc) or type(exc).__name__
    return name, bool(ok), str(reason)


def start_engine_checks(options: dict, on_result) -> list:
    """Check every engine off the GUI thread; `on_result(name, ok, reason)` for each."""
    from core import engines
    from ui.tasks import create_worker, run

    workers = []
    for name in engines.names():
        worker = create_worker(check_engine, name, options, name=f"check {name}")
        worker.connect(returned=lambda r: on_result(*r))
        workers.append(run(worker))
    return workers


# ---------------------------------------------------------------- dialog
class SettingsDialog(QDialog):
    """Projects folder, default engine, device, model folder, where to render, the
    installed voices, keyboard shortcuts."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("SettingsDialog")
        self.settings = settings
        self.setMinimumWidth(560)
        self.resize(640, 580)

        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.WrapLongRows)
        self.projects_label = QLabel(
            f"{settings.projects_folder}<br><span style='color:#8b9098'>New projects are "
            "proposed here, and the command line finds projects by name here too.</span>")
        self.projects_label.setWordWrap(True)
        self.projects_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        form.addRow("Projects folder", self.projects_label)
        self.engine_combo = QComboBox()
        self.engine_combo.addItems(list(ENGINES))
        self.engine_combo.setCurrentText(settings.default_engine)
        form.addRow("Default engine", self.engine_combo)
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        self.device_combo.setCurrentText(settings.device)
        form.addRow("Device", self.device_combo)
        self.models_edit = QLineEdit(settings.model_folder)
        self.models_edit.setPlaceholderText("folder with model_index.json (diffusion engine)")
        self.models_edit.setObjectName("ModelFolder")
        form.addRow("Model folder", self._with_browse(self.models_edit))
        self.availability = QLabel("checking engines…")
        self.availability.setWordWrap(True)
        self.availability.setObjectName("EngineAvailability")
        form.addRow("Engines", self.availability)
        self._avail: dict[str, tuple[bool, str]] = {}
        form.addRow("Render on", self._render_on_row(settings.render_on))
        self.voices = QListWidget()
        self.voices.setObjectName("VoiceList")
        self.voices.setSelectionMode(QListWidget.NoSelection)
        self.voices.setMaximumHeight(80)
        try:
            self.voices.addItems(voice_lines() or ["no voice installed"])
        except Exception as exc:  # noqa: BLE001 - a broken voice folder must not stop Settings
            self.voices.addItem(friendly(f"cannot list the voices: {exc}"))
        form.addRow("Voices", self.voices)

        self.shortcuts = QTableWidget(len(DEFAULT_SHORTCUTS), 2)
        self.shortcuts.setHorizontalHeaderLabels(["Action", "Shortcut"])
        self.shortcuts.horizontalHeader().setStretchLastSection(True)
        self.shortcuts.verticalHeader().setVisible(False)
        self._key_edits: dict[str, QKeySequenceEdit] = {}
        for row, (action_id, (label, _default)) in enumerate(DEFAULT_SHORTCUTS.items()):
            item = QTableWidgetItem(label)
            item.setFlags(item.flags() & ~item.flags().ItemIsEditable)
            self.shortcuts.setItem(row, 0, item)
            edit = QKeySequenceEdit(QKeySequence(settings.shortcut(action_id)))
            self.shortcuts.setCellWidget(row, 1, edit)
            self._key_edits[action_id] = edit
        self.shortcuts.setColumnWidth(0, 220)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        recheck = QPushButton("Check engines")
        recheck.clicked.connect(self.check_engines)
        buttons.addButton(recheck, QDialogButtonBox.ActionRole)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Keyboard shortcuts"))
        layout.addWidget(self.shortcuts, 1)
        layout.addWidget(buttons)
        self.check_engines()

    def _render_on_row(self, current: str) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.render_combo = QComboBox()
        self.render_combo.setObjectName("RenderOn")
        self.render_combo.addItems(list(RENDER_PLACES))
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, 1024)
        self.workers_spin.setSuffix(" workers")
        self.workers_spin.setValue(max(1, (os.cpu_count() or 2) - 1))
        self.address_edit = QLineEdit()
        self.address_edit.setPlaceholderText("ray://HOST:PORT (e.g. ray://10.0.0.5:10001)")
        row.addWidget(self.render_combo)
        row.addWidget(self.workers_spin)
        row.addWidget(self.address_edit, 1)
        v.addLayout(row)
        self.render_error = QLabel()
        self.render_error.setObjectName("RenderOnError")
        self.render_error.setWordWrap(True)
        self.render_error.setStyleSheet("color: #e06c75;")
        self.render_error.setVisible(False)
        v.addWidget(self.render_error)
        if current.startswith("local"):
            self.render_combo.setCurrentIndex(1)
            n = current.partition(":")[2]
            if n.isdigit():
                self.workers_spin.setValue(int(n))
        elif current:
            self.render_combo.setCurrentIndex(2)
            self.address_edit.setText(current)
        self.render_combo.currentIndexChanged.connect(self._on_render_place)
        self.address_edit.textChanged.connect(lambda _t: self.render_error.setVisible(False))
        self._on_render_place()
        return box

    def _on_render_place(self) -> None:
        i = self.render_combo.currentIndex()
        self.workers_spin.setVisible(i == 1)
        self.address_edit.setVisible(i == 2)
        self.render_error.setVisible(False)

    def render_on_value(self) -> str:
        """The "Render on" choice as a cluster address ("" for this computer)."""
        i = self.render_combo.currentIndex()
        if i == 1:
            return f"local:{self.workers_spin.value()}"
        if i == 2:
            return self.address_edit.text().strip()
        return ""

    def _with_browse(self, edit: QLineEdit) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse(edit))
        row.addWidget(button)
        return box

    def _browse(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)

    def check_engines(self) -> None:
        """Ask every engine whether it can run with the options in the dialog."""
        self._avail.clear()
        options = {}
        if self.device_combo.currentText() != "auto":
            options["device"] = self.device_combo.currentText()
        if self.models_edit.text().strip():
            options["weights"] = self.models_edit.text().strip()
        self.availability.setText("checking engines…")
        self._checks = start_engine_checks(options, self._on_availability)

    def _on_availability(self, name: str, ok: bool, reason: str) -> None:
        self._avail[name] = (ok, reason)
        lines = []
        for engine in sorted(self._avail):
            ok_e, why = self._avail[engine]
            why = friendly(why).replace("in Settings ▸ Model folder", "above")
            if ok_e:
                lines.append(f"<b>{engine}</b>: available" + (f" ({why})" if why else ""))
            else:
                lines.append(f"<b>{engine}</b>: unavailable — {why}")
        self.availability.setText("<br>".join(lines))

    def availability_of(self, name: str) -> tuple[bool, str] | None:
        return self._avail.get(name)

    def accept(self) -> None:
        render_on = self.render_on_value()
        ray = self.render_combo.currentIndex() == 2  # an empty address is an error there
        error = render_on_error(render_on) if (render_on or ray) else None
        if error is not None:  # say why in the dialog and keep it open
            self.render_error.setText(error)
            self.render_error.setVisible(True)
            self.address_edit.setFocus()
            return
        s = self.settings
        s.render_on = render_on
        s.default_engine = self.engine_combo.currentText()
        s.device = self.device_combo.currentText()
        s.model_folder = self.models_edit.text().strip()
        for action_id, edit in self._key_edits.items():
            s.set_shortcut(action_id, edit.keySequence().toString())
        s.sync()
        super().accept()
