"""Script tracks in the GUI: the "New from script…" dialog and the script editor.

A script track is speech synthesised from text (studio.scripts). The user writes the text,
picks a voice and a rate; later edits of the text re-synthesise only the changed sentences
and make only the segments over them stale. Synthesis takes seconds, so both dialogs only
collect the text: the library controller runs `add_script` / `edit_script` in a Worker.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.theme import DIM


def voice_choices() -> list[tuple[str, str]]:
    """(voice id, label) of every installed voice, the default voice first (list_voices
    already orders them that way: bundled Piper voice, user voices, then espeak)."""
    from core.tts import list_voices

    return [(v.id, f"{v.label} — {v.origin}") for v in list_voices()]


class NewScriptDialog(QDialog):
    """Text, voice, rate and an optional name for a new script track."""

    def __init__(self, parent: QWidget | None = None,
                 voices: list[tuple[str, str]] | None = None):
        super().__init__(parent)
        self.setWindowTitle("New audio from script")
        self.setObjectName("NewScriptDialog")
        self.resize(560, 380)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setPlaceholderText("Type what the portrait should say. Each sentence "
                                          "can be edited later without re-rendering the rest.")
        self.voice_combo = QComboBox()
        for vid, label in (voices if voices is not None else voice_choices()):
            self.voice_combo.addItem(label, vid)
        self.rate_spin = QDoubleSpinBox()
        from core.tts.synth import RATE_RANGE

        self.rate_spin.setRange(*RATE_RANGE)  # what the synthesiser accepts
        self.rate_spin.setSingleStep(0.05)
        self.rate_spin.setValue(1.0)
        self.rate_spin.setSuffix("×")
        self.rate_spin.setToolTip("Speaking rate: 1.0 is the voice's normal pace")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("optional (default: the first words)")
        form = QFormLayout()
        form.addRow("Voice", self.voice_combo)
        form.addRow("Rate", self.rate_spin)
        form.addRow("Name", self.name_edit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Synthesise")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.text_edit.textChanged.connect(self._update_ok)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text_edit, 1)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update_ok()

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(bool(self.text().strip()))

    def text(self) -> str:
        return self.text_edit.toPlainText()

    def values(self) -> dict:
        """Keyword arguments for `Project.add_script`."""
        return {"text": self.text(), "voice": self.voice_combo.currentData(),
                "rate": round(float(self.rate_spin.value()), 3),
                "name": self.name_edit.text().strip() or None}


class ScriptEditor(QDialog):
    """The script of one track, editable; Apply re-synthesises the changed sentences.

    Not modal: the user can apply, look at the stale segments on the timeline, and go on
    editing. The controller disables Apply while the synthesis runs."""

    applyRequested = Signal(int, str)  # audio id, new text

    def __init__(self, audio_id: int, name: str, script, parent: QWidget | None = None):
        super().__init__(parent)
        self.audio_id = audio_id
        self.setWindowTitle(f"Script of {name}")
        self.setObjectName("ScriptEditor")
        self.resize(560, 380)
        self.info = QLabel()
        self.info.setStyleSheet(f"color: {DIM};")
        self.info.setWordWrap(True)
        self.text_edit = QPlainTextEdit()
        self.apply_btn = QPushButton("Apply")
        self.apply_btn.setToolTip("Re-synthesise the changed sentences; only the segments "
                                  "over them become stale")
        self.apply_btn.clicked.connect(
            lambda: self.applyRequested.emit(self.audio_id, self.text()))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.addButton(self.apply_btn, QDialogButtonBox.ApplyRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addWidget(self.text_edit, 1)
        layout.addWidget(buttons)
        self.set_script(script)

    def text(self) -> str:
        return self.text_edit.toPlainText()

    def set_script(self, script) -> None:
        self.text_edit.setPlainText(script.text)
        self.info.setText(f"Voice {script.voice}, rate {script.rate:g}× — "
                          f"{len(script.sentences)} sentences, {len(script.words)} words")

    def set_busy(self, busy: bool) -> None:
        self.apply_btn.setEnabled(not busy)
        self.apply_btn.setText("Synthesising…" if busy else "Apply")
