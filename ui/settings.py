"""Application settings (QSettings) and the settings dialog.

`AppSettings` is a thin typed wrapper so the rest of the UI never spells QSettings keys;
tests hand it an INI file in a temp folder so they never touch the user's real settings.
The dialog shows *why* an engine is unavailable (`Engine.available()`), computed off the
GUI thread because building the diffusion engine may import torch.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QRunnable, QSettings, QThreadPool, Signal
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
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

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


def default_projects_folder() -> Path:
    return Path.home() / "AvatarStudio"


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
        return Path(str(self._get("paths/projects", str(default_projects_folder()))))

    @projects_folder.setter
    def projects_folder(self, value: str | Path) -> None:
        self.q.setValue("paths/projects", str(value))

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


def _key(folder: str | Path) -> str:
    return str(Path(folder)).strip("/").replace("/", "|").replace("\\", "|")


def _int(value) -> int | None:
    try:
        v = int(value)
    except (TypeError, ValueError):
        return None
    return None if v < 0 else v


# ---------------------------------------------------------------- engine availability
class _AvailabilitySignals(QObject):
    done = Signal(str, bool, str)


class EngineCheck(QRunnable):
    """Ask `core.engines.create(name).available()` off the GUI thread."""

    def __init__(self, name: str, options: dict):
        super().__init__()
        self.name = name
        self.options = options
        self.signals = _AvailabilitySignals()

    def run(self) -> None:
        try:
            from core import engines

            try:
                engine = engines.create(self.name, **self.options)
            except TypeError:  # an engine that takes no such option
                engine = engines.create(self.name)
            ok, reason = engine.available()
        except Exception as exc:  # an engine that cannot even be built: show why
            ok, reason = False, str(exc) or type(exc).__name__
        self.signals.done.emit(self.name, bool(ok), str(reason))


# ---------------------------------------------------------------- dialog
class SettingsDialog(QDialog):
    """Projects folder, default engine, device, model folder, keyboard shortcuts."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("SettingsDialog")
        self.settings = settings
        self.resize(620, 560)

        form = QFormLayout()
        self.projects_edit = QLineEdit(str(settings.projects_folder))
        form.addRow("Projects folder", self._with_browse(self.projects_edit))
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
        form.addRow("Model folder", self._with_browse(self.models_edit))
        self.availability = QLabel("checking engines…")
        self.availability.setWordWrap(True)
        self.availability.setObjectName("EngineAvailability")
        form.addRow("Engines", self.availability)
        self._avail: dict[str, tuple[bool, str]] = {}

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
        from core import engines

        self._avail.clear()
        options = {}
        if self.device_combo.currentText() != "auto":
            options["device"] = self.device_combo.currentText()
        if self.models_edit.text().strip():
            options["weights"] = self.models_edit.text().strip()
        self._pending = engines.names()
        self.availability.setText("checking engines…")
        for name in self._pending:
            job = EngineCheck(name, options)
            job.signals.done.connect(self._on_availability)
            QThreadPool.globalInstance().start(job)

    def _on_availability(self, name: str, ok: bool, reason: str) -> None:
        self._avail[name] = (ok, reason)
        lines = []
        for engine in sorted(self._avail):
            ok_e, why = self._avail[engine]
            lines.append(f"<b>{engine}</b>: " + ("available" if ok_e else f"unavailable — {why}"))
        self.availability.setText("<br>".join(lines))

    def availability_of(self, name: str) -> tuple[bool, str] | None:
        return self._avail.get(name)

    def accept(self) -> None:
        s = self.settings
        s.projects_folder = self.projects_edit.text().strip() or str(default_projects_folder())
        s.default_engine = self.engine_combo.currentText()
        s.device = self.device_combo.currentText()
        s.model_folder = self.models_edit.text().strip()
        for action_id, edit in self._key_edits.items():
            s.set_shortcut(action_id, edit.keySequence().toString())
        s.sync()
        super().accept()
