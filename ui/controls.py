"""Value controls shared by the inspector's pages and the dialogs, with their limits from
core.types (EXPRESSION_RANGES, EMOTIONS, SEED_RANGE, SIZE_RANGE...): one table of ranges for
the CLI, the studio and the GUI, so no widget accepts a value the studio would refuse."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QWidget,
)

from core.motion.emotion_words import parse_prompt
from core.types import EMOTIONS, EXPRESSION_RANGES, SIZE_RANGE, ControlRange, Expression
from studio.presets import EXPRESSION_FIELDS as PRESET_STORED_FIELDS

SEGMENT_EXPRESSION_FIELDS = tuple(
    f for k in EXPRESSION_RANGES for f in (("emotion", k) if k == "intensity" else (k,)))
"""A segment's own expression stores every control (JSON in the segment row); the emotion
list sits just above its intensity."""
PRESET_EXPRESSION_FIELDS = tuple(f for f in SEGMENT_EXPRESSION_FIELDS
                                 if f in PRESET_STORED_FIELDS)
"""The controls a preset row stores (studio.presets.EXPRESSION_FIELDS): since migration 0004
every control, emotion and intensity included; the prompt's emotion words
(core.motion.emotion_words) fill in only what the preset leaves at its defaults."""


def short_label(label: str) -> str:
    """'Smile (-1 frown .. 1 broad smile)' -> 'Smile' (the full text is the tooltip)."""
    return label.split(" (")[0]


def set_spin_range(spin: QSpinBox, r: ControlRange) -> None:
    """A whole-number spin box limited to a core.types range (tooltip: its label)."""
    spin.setRange(int(r.min), int(r.max))
    spin.setToolTip(r.label)


class ValueSlider(QWidget):
    """A float slider with a value label; `moved` while dragging, `committed` when done."""

    moved = Signal(float)
    committed = Signal(float)

    def __init__(self, lo: float, hi: float, value: float = 0.0, fmt: str = "{:+.2f}"):
        super().__init__()
        self.fmt = fmt
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(int(round(lo * 100)), int(round(hi * 100)))
        self.label = QLabel()
        self.label.setMinimumWidth(44)
        self.label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.set_value(value)
        self.slider.valueChanged.connect(self._on_change)
        self.slider.sliderReleased.connect(lambda: self.committed.emit(self.value()))

    def value(self) -> float:
        return self.slider.value() / 100.0

    def set_value(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(int(round(value * 100)))
        self.slider.blockSignals(False)
        self.label.setText(self.fmt.format(value))

    def _on_change(self, _v: int) -> None:
        self.label.setText(self.fmt.format(self.value()))
        self.moved.emit(self.value())
        if not self.slider.isSliderDown():  # keyboard / click / programmatic change
            self.committed.emit(self.value())


class ExpressionEditor(QWidget):
    """Sliders for the numeric controls in `fields` (ranges: core.types.EXPRESSION_RANGES)
    and, when "emotion" is among them, an emotion list (core.types.EMOTIONS)."""

    changed = Signal(object)  # Expression, while dragging
    committed = Signal(object)  # Expression, final

    def __init__(self, fields: tuple[str, ...] = SEGMENT_EXPRESSION_FIELDS):
        super().__init__()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.sliders: dict[str, ValueSlider] = {}
        self.emotion: QComboBox | None = None
        default = Expression()
        for name in fields:
            if name == "emotion":
                self.emotion = QComboBox()
                for key, label in EMOTIONS.items():
                    self.emotion.addItem(label, key)
                self.emotion.setToolTip("Emotion: brows, lids, mouth corners, head carriage "
                                        "and liveliness; scaled by Intensity")
                self.emotion.activated.connect(self._emotion_chosen)
                form.addRow("Emotion", self.emotion)
                continue
            r = EXPRESSION_RANGES[name]
            s = ValueSlider(r.min, r.max, getattr(default, name),
                            "{:+.2f}" if r.min < 0 else "{:.2f}")
            s.setToolTip(r.label)
            s.moved.connect(lambda _v: self.changed.emit(self.expression()))
            s.committed.connect(lambda _v: self.committed.emit(self.expression()))
            form.addRow(short_label(r.label), s)
            self.sliders[name] = s

    def _emotion_chosen(self, _index: int) -> None:
        e = self.expression()
        self.changed.emit(e)
        self.committed.emit(e)

    def expression(self) -> Expression:
        kw: dict = {k: s.value() for k, s in self.sliders.items()}
        if self.emotion is not None:
            kw["emotion"] = self.emotion.currentData()
        return Expression(**kw)

    def set_expression(self, e: Expression) -> None:
        for k, s in self.sliders.items():
            s.set_value(getattr(e, k))
        if self.emotion is not None:
            self.emotion.blockSignals(True)
            self.emotion.setCurrentIndex(max(self.emotion.findData(e.emotion), 0))
            self.emotion.blockSignals(False)


def size_choices() -> list[int]:
    """The output sizes offered in lists: common even sizes inside core's SIZE_RANGE."""
    return [s for s in (256, 384, 512, 768, 1024) if SIZE_RANGE.min <= s <= SIZE_RANGE.max]


def prompt_words_text(prompt: str) -> str:
    """'warp engine uses: slightly smiling · diffusion only: wearing glasses' (empty for an
    empty prompt): which words of the prompt the CPU engine acts on
    (core.motion.emotion_words.parse_prompt) and which only the diffusion engine can use."""
    _overrides, understood, other = parse_prompt(prompt)
    parts = []
    if understood:
        parts.append("warp engine uses: " + ", ".join(understood))
    if other:
        parts.append("diffusion only: " + " ".join(other))
    return " · ".join(parts)
