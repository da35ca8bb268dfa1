"""Small dialogs: new timeline, transcript editor."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.types import FPS_RANGE, SIZE_RANGE
from ui.controls import set_spin_range, size_choices
from ui.inspector import set_engine_items
from ui.wording import friendly


class NewTimelineDialog(QDialog):
    """Pick the portrait, audio track, engine, size, fps and default preset."""

    def __init__(self, portraits, tracks, presets, engine: str = "warp",
                 portrait_id=None, audio_id=None, parent: QWidget | None = None,
                 engine_status: dict | None = None):
        super().__init__(parent)
        self.setWindowTitle("New timeline")
        self.portrait = QComboBox()
        for p in portraits:
            self.portrait.addItem(p.name, p.id)
        self.audio = QComboBox()
        for a in tracks:
            self.audio.addItem(f"{a.name} ({a.duration:.1f} s)", a.id)
        self.engine = QComboBox()
        for name in ("warp", "diffusion"):
            self.engine.addItem(name, name)
        status = engine_status or {}
        if not status.get(engine, (True, ""))[0]:
            engine = "warp"  # never propose an engine that cannot render
        self.engine.setCurrentIndex(max(self.engine.findData(engine), 0))
        set_engine_items(self.engine, status)
        self.engine_hint = QLabel("")
        self.engine_hint.setWordWrap(True)
        self.engine_hint.setStyleSheet("color: #e0a040;")
        bad = [(n, r) for n, (ok, r) in status.items() if not ok]
        if bad:
            self.engine_hint.setText(f"{bad[0][0].capitalize()} engine unavailable: "
                                     f"{friendly(bad[0][1])}")
        self.engine_hint.setVisible(bool(bad))
        self.size = QComboBox()
        self.size.setToolTip(SIZE_RANGE.label)
        for s in size_choices():
            self.size.addItem(f"{s} px", s)
        self.size.setCurrentIndex(max(self.size.findData(int(SIZE_RANGE.default)), 0))
        self.fps = QSpinBox()
        set_spin_range(self.fps, FPS_RANGE)
        self.fps.setValue(int(FPS_RANGE.default))
        self.preset = QComboBox()
        self.preset.addItem("(none)", None)
        for p in presets:
            self.preset.addItem(p.name, p.id)
        self.name = QLineEdit()
        self.name.setPlaceholderText("default: portrait + audio names")
        if portrait_id is not None:
            self.portrait.setCurrentIndex(max(self.portrait.findData(portrait_id), 0))
        if audio_id is not None:
            self.audio.setCurrentIndex(max(self.audio.findData(audio_id), 0))
        form = QFormLayout()
        form.addRow("Portrait", self.portrait)
        form.addRow("Audio", self.audio)
        form.addRow("Engine", self.engine)
        form.addRow(self.engine_hint)
        form.addRow("Size", self.size)
        form.addRow("Frame rate", self.fps)
        form.addRow("Default preset", self.preset)
        form.addRow("Name", self.name)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)

    def values(self) -> dict:
        return {
            "portrait_id": self.portrait.currentData(),
            "audio_id": self.audio.currentData(),
            "engine": self.engine.currentData(),
            "size": int(self.size.currentData()),
            "fps": int(self.fps.value()),
            "preset_id": self.preset.currentData(),
            "name": self.name.text().strip() or None,
        }


class TranscriptDialog(QDialog):
    def __init__(self, name: str, text: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Transcript — {name}")
        self.edit = QPlainTextEdit(text or "")
        self.edit.setPlaceholderText("The words spoken in the recording (used to align "
                                     "phonemes precisely). Leave empty to decode freely.")
        hint = QLabel("The words are forced-aligned to the audio; the timeline shows them.")
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.edit, 1)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)
        self.resize(520, 300)

    def text(self) -> str | None:
        t = self.edit.toPlainText().strip()
        return t or None
