"""The inspector: edit the selected segment, the timeline, or an edit preset.

Widgets here only emit *what the user asked for* (plain dicts / Expressions with ids); the
main window turns each into an undoable command. Slider drags emit `changed` continuously
(for the live preview, debounced by the window) and `committed` once on release, so one
drag is one undo step.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.motion.emotion_words import apply_prompt
from core.types import SEED_RANGE, SIZE_RANGE, STRENGTH_RANGE, Expression
from ui.controls import (
    PRESET_EXPRESSION_FIELDS,
    SEGMENT_EXPRESSION_FIELDS,
    ExpressionEditor,
    ValueSlider,
    prompt_words_text,
    set_spin_range,
    size_choices,
)
from ui.preview import FrameView
from ui.theme import DIM, STATE_COLORS, STATE_LABELS
from ui.wording import friendly


def _title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("PanelTitle")
    return label


class SegmentPage(QWidget):
    overridesChanged = Signal(int, dict)  # segment id, {preset_id|seed|expression: value}
    rerenderRequested = Signal(int)
    splitRequested = Signal()
    mergeRequested = Signal(int)
    deselectRequested = Signal()

    def __init__(self):
        super().__init__()
        self.segment = None
        self.back_btn = QPushButton("◂ Timeline settings  (Esc)")
        self.back_btn.setObjectName("BackToTimeline")
        self.back_btn.setFlat(True)
        self.back_btn.setToolTip("Deselect the segment and show the timeline's engine, "
                                 "size and default preset")
        self.back_btn.clicked.connect(self.deselectRequested.emit)
        self.heading = QLabel("Segment")
        self.heading.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.info = QLabel()
        self.info.setStyleSheet(f"color: {DIM};")
        self.info.setWordWrap(True)
        self.state = QLabel()

        self.preset_combo = QComboBox()
        self.seed_check = QCheckBox("Own seed")
        self.seed_spin = QSpinBox()
        set_spin_range(self.seed_spin, SEED_RANGE)
        self.expr_check = QCheckBox("Own expression")
        self.expr = ExpressionEditor(SEGMENT_EXPRESSION_FIELDS)

        box = QGroupBox("Overrides")
        form = QFormLayout(box)
        form.addRow("Preset", self.preset_combo)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_check)
        seed_row.addWidget(self.seed_spin, 1)
        form.addRow("Seed", seed_row)
        form.addRow(self.expr_check)
        form.addRow(self.expr)

        self.rerender_btn = QPushButton("Re-render segment  (R)")
        self.split_btn = QPushButton("Split at playhead  (S)")
        self.merge_btn = QPushButton("Merge with next  (M)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.split_btn)
        buttons.addWidget(self.merge_btn)

        layout = QVBoxLayout(self)
        layout.addWidget(self.back_btn, 0, Qt.AlignLeft)
        layout.addWidget(self.heading)
        layout.addWidget(self.info)
        layout.addWidget(self.state)
        layout.addWidget(box)
        layout.addWidget(self.rerender_btn)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self.preset_combo.activated.connect(self._on_preset)
        self.seed_check.toggled.connect(self._on_seed)
        self.seed_spin.editingFinished.connect(self._on_seed)
        self.expr_check.toggled.connect(self._on_expr_toggle)
        self.expr.committed.connect(self._on_expr)
        self.rerender_btn.clicked.connect(
            lambda: self.segment and self.rerenderRequested.emit(self.segment.id))
        self.split_btn.clicked.connect(self.splitRequested.emit)
        self.merge_btn.clicked.connect(
            lambda: self.segment and self.mergeRequested.emit(self.segment.id))

    def set_presets(self, presets) -> None:
        self.preset_combo.blockSignals(True)
        current = self.preset_combo.currentData()
        self.preset_combo.clear()
        self.preset_combo.addItem("(timeline default)", None)
        for p in presets:
            self.preset_combo.addItem(p.name, p.id)
        idx = self.preset_combo.findData(current)
        self.preset_combo.setCurrentIndex(max(idx, 0))
        self.preset_combo.blockSignals(False)

    def set_segment(self, seg, fps: float) -> None:
        self.segment = seg
        self.heading.setText(f"Segment {seg.index + 1}")
        self.info.setText(
            f"frames {seg.start}–{seg.end - 1}  ·  {seg.start / fps:.2f}–{seg.end / fps:.2f} s"
            f"  ·  {(seg.end - seg.start) / fps:.2f} s"
        )
        state = STATE_LABELS.get(seg.state, seg.state)
        if seg.state == "rendering":
            state += f" {seg.progress * 100:.0f}%"
        self.state.setText(f"<span style='color:{STATE_COLORS.get(seg.state, '#888')}'>■</span>"
                           f" {state}")
        o = seg.overrides
        for w in (self.preset_combo, self.seed_check, self.seed_spin, self.expr_check):
            w.blockSignals(True)
        self.preset_combo.setCurrentIndex(max(self.preset_combo.findData(o.preset_id), 0))
        self.seed_check.setChecked(o.seed is not None)
        self.seed_spin.setEnabled(o.seed is not None)
        self.seed_spin.setValue(o.seed or 0)
        self.expr_check.setChecked(o.expression is not None)
        self.expr.setEnabled(o.expression is not None)
        self.expr.set_expression(o.expression or Expression())
        for w in (self.preset_combo, self.seed_check, self.seed_spin, self.expr_check):
            w.blockSignals(False)

    def _emit(self, **fields) -> None:
        if self.segment is not None:
            self.overridesChanged.emit(self.segment.id, fields)

    def _on_preset(self, _index: int) -> None:
        if self.segment is not None and self.preset_combo.currentData() != \
                self.segment.overrides.preset_id:
            self._emit(preset_id=self.preset_combo.currentData())

    def _on_seed(self, *_args) -> None:
        self.seed_spin.setEnabled(self.seed_check.isChecked())
        value = self.seed_spin.value() if self.seed_check.isChecked() else None
        if self.segment is not None and value != self.segment.overrides.seed:
            self._emit(seed=value)

    def _on_expr_toggle(self, on: bool) -> None:
        self.expr.setEnabled(on)
        self._emit(expression=self.expr.expression() if on else None)

    def _on_expr(self, expression: Expression) -> None:
        if self.expr_check.isChecked():
            self._emit(expression=expression)


class TimelinePage(QWidget):
    """The timeline's own settings (shown when no segment is selected)."""

    timelineChanged = Signal(int, dict)

    def __init__(self):
        super().__init__()
        self.timeline = None
        self.heading = QLabel("Timeline")
        self.heading.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.info = QLabel()
        self.info.setStyleSheet(f"color: {DIM};")
        self.info.setWordWrap(True)
        self.engine = QComboBox()
        for name in ("warp", "diffusion"):
            self.engine.addItem(name, name)
        self.engine_hint = QLabel("")
        self.engine_hint.setObjectName("EngineHint")
        self.engine_hint.setWordWrap(True)
        self.engine_hint.setStyleSheet("color: #e0a040;")
        self.engine_hint.hide()
        self.engine_status: dict[str, tuple[bool, str]] = {}
        self.preset = QComboBox()
        self.seed = QSpinBox()
        set_spin_range(self.seed, SEED_RANGE)
        self.size = QComboBox()
        self.size.setToolTip(SIZE_RANGE.label)
        for s in size_choices():
            self.size.addItem(f"{s} px", s)
        form = QFormLayout()
        form.addRow("Engine", self.engine)
        form.addRow(self.engine_hint)
        form.addRow("Default preset", self.preset)
        form.addRow("Seed", self.seed)
        form.addRow("Size", self.size)
        self.hint = QLabel("Click a segment on the timeline to edit its overrides.")
        self.hint.setStyleSheet(f"color: {DIM};")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.info)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        self.engine.activated.connect(lambda _i: self._emit(engine=self.engine.currentData()))
        self.preset.activated.connect(lambda _i: self._emit(preset_id=self.preset.currentData()))
        self.seed.editingFinished.connect(lambda: self._emit(seed=self.seed.value()))
        self.size.activated.connect(lambda _i: self._emit(size=self.size.currentData()))

    def _emit(self, **fields) -> None:
        t = self.timeline
        if t is None:
            return
        changed = {k: v for k, v in fields.items() if getattr(t, k) != v}
        if changed:
            self.timelineChanged.emit(t.id, changed)

    def set_engine_status(self, status: dict[str, tuple[bool, str]]) -> None:
        """Engines that cannot run are disabled in the list, with the reason."""
        self.engine_status = dict(status)
        set_engine_items(self.engine, self.engine_status)
        self._show_engine_hint()

    def _show_engine_hint(self) -> None:
        name = self.timeline.engine if self.timeline is not None else \
            self.engine.currentData()
        ok, reason = self.engine_status.get(name, (True, ""))
        unusable = [n for n, (good, _r) in self.engine_status.items() if not good]
        if not ok:
            text = f"This timeline's {name} engine cannot render: {friendly(reason)}"
        elif unusable:
            why = friendly(self.engine_status[unusable[0]][1])
            text = f"{unusable[0].capitalize()} engine unavailable: {why}"
        else:
            text = ""
        self.engine_hint.setText(text)
        self.engine_hint.setVisible(bool(text))

    def set_presets(self, presets) -> None:
        self.preset.clear()
        self.preset.addItem("(none)", None)
        for p in presets:
            self.preset.addItem(p.name, p.id)
        if self.timeline is not None:
            self.preset.setCurrentIndex(max(self.preset.findData(self.timeline.preset_id), 0))

    def set_timeline(self, t, portrait_name: str = "", audio_name: str = "") -> None:
        self.timeline = t
        self.heading.setText(t.name)
        self.info.setText(f"{portrait_name} + {audio_name}<br>{t.n_frames} frames at {t.fps} fps"
                          f" · {t.duration:.2f} s")
        for w in (self.engine, self.preset, self.seed, self.size):
            w.blockSignals(True)
        self.engine.setCurrentIndex(max(self.engine.findData(t.engine), 0))
        self.preset.setCurrentIndex(max(self.preset.findData(t.preset_id), 0))
        self.seed.setValue(t.seed)
        idx = self.size.findData(t.size)
        if idx < 0 and SIZE_RANGE.min <= t.size <= SIZE_RANGE.max:
            self.size.addItem(f"{t.size} px", t.size)
            idx = self.size.findData(t.size)
        self.size.setCurrentIndex(idx)
        for w in (self.engine, self.preset, self.seed, self.size):
            w.blockSignals(False)
        self._show_engine_hint()


def set_engine_items(combo: QComboBox, status: dict[str, tuple[bool, str]]) -> None:
    """Disable the engines that cannot run (tooltip: why); the current choice stays.
    Items carry the engine name as their data (the text may say "unavailable")."""
    model = combo.model()
    for i in range(combo.count()):
        name = combo.itemData(i)
        ok, reason = status.get(name, (True, ""))
        item = model.item(i) if hasattr(model, "item") else None
        if item is not None:
            item.setEnabled(ok or i == combo.currentIndex())
        combo.setItemData(i, friendly(reason) if reason else None, Qt.ToolTipRole)
        combo.setItemText(i, name if ok else f"{name} (unavailable)")


class PresetPage(QWidget):
    """Preset editor with a live warp-engine preview of its expression."""

    presetEdited = Signal(int, dict)  # preset id, changed fields
    previewRequested = Signal(object)  # Expression (debounced by this page)
    removeRequested = Signal(int)

    def __init__(self):
        super().__init__()
        self.preset = None
        self.name = QLineEdit()
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("e.g. wearing round glasses, soft studio light")
        self.prompt.setMaximumHeight(60)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("what to avoid")
        self.negative.setMaximumHeight(44)
        self.strength = ValueSlider(STRENGTH_RANGE.min, STRENGTH_RANGE.max,
                                    STRENGTH_RANGE.default, "{:.2f}")
        self.strength.setToolTip(STRENGTH_RANGE.label)
        # which prompt words each engine can use, live while typing
        self.prompt_words = QLabel("")
        self.prompt_words.setObjectName("PromptWords")
        self.prompt_words.setWordWrap(True)
        self.prompt_words.setTextFormat(Qt.PlainText)
        self.prompt_words.setStyleSheet(f"color: {DIM};")
        self.expr = ExpressionEditor(PRESET_EXPRESSION_FIELDS)
        self.view = FrameView()
        self.view.placeholder = "live preview\n(needs a timeline)"
        self.view.setMinimumSize(140, 130)
        self.remove_btn = QPushButton("Delete preset")

        top = QFormLayout()
        top.addRow("Name", self.name)
        # the prompt fields only matter to the diffusion engine: they fold away, so the
        # expression sliders and their live preview fit a laptop screen
        self.prompt_toggle = QToolButton()
        self.prompt_toggle.setObjectName("PromptToggle")
        self.prompt_toggle.setCheckable(True)
        self.prompt_toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.prompt_toggle.setArrowType(Qt.RightArrow)
        self.prompt_toggle.setText("Prompt")
        self.prompt_toggle.setAutoRaise(True)
        self.prompt_box = QWidget()
        form = QFormLayout(self.prompt_box)
        form.setContentsMargins(0, 0, 0, 0)
        self.prompt_hint = QLabel("The warp engine understands the prompt's emotion words "
                                  "(\u201cslightly smiling\u201d, \u201cvery sad\u201d, "
                                  "\u201ccalm\u201d) where the sliders are left at their "
                                  "defaults; the diffusion engine uses the whole prompt, the "
                                  "negative prompt and the strength.")
        self.prompt_hint.setWordWrap(True)
        self.prompt_hint.setStyleSheet(f"color: {DIM};")
        form.addRow(self.prompt_hint)
        form.addRow("Prompt", self.prompt)
        form.addRow(self.prompt_words)
        form.addRow("Negative", self.negative)
        form.addRow("Strength", self.strength)
        self.prompt_box.setVisible(False)
        self.prompt_toggle.toggled.connect(self._fold_prompt)
        layout = QVBoxLayout(self)
        layout.addWidget(_title("Edit preset"))
        layout.addLayout(top)
        layout.addWidget(QLabel("Expression"))
        layout.addWidget(self.expr)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.prompt_toggle)
        layout.addWidget(self.prompt_box)
        layout.addWidget(self.remove_btn)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(
            lambda: self.previewRequested.emit(self.preview_expression()))

        self.name.editingFinished.connect(lambda: self._emit(name=self.name.text().strip()))
        self._text_timer = QTimer(self)
        self._text_timer.setSingleShot(True)
        self._text_timer.setInterval(600)
        self._text_timer.timeout.connect(self._commit_text)
        self.prompt.textChanged.connect(self._text_timer.start)
        self.prompt.textChanged.connect(self._show_prompt_words)
        self.prompt.textChanged.connect(self._debounce.start)  # words change the preview
        self.negative.textChanged.connect(self._text_timer.start)
        self.strength.committed.connect(lambda v: self._emit(strength=v))
        self.expr.changed.connect(lambda _e: self._debounce.start())
        self.expr.committed.connect(self._on_expr_committed)
        self.remove_btn.clicked.connect(
            lambda: self.preset and self.removeRequested.emit(self.preset.id))

    def _fold_prompt(self, shown: bool) -> None:
        self.prompt_box.setVisible(shown)
        self.prompt_toggle.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)

    def preview_expression(self) -> Expression:
        """What the warp engine renders for this preset: the sliders plus the prompt's
        emotion words (studio.specs.render_expression does the same for renders)."""
        return apply_prompt(self.expr.expression(), self.prompt.toPlainText())

    def _show_prompt_words(self) -> None:
        self.prompt_words.setText(prompt_words_text(self.prompt.toPlainText()))

    def _on_expr_committed(self, e: Expression) -> None:
        self._emit(expression=e)
        self._debounce.start()

    def _commit_text(self) -> None:
        self._emit(prompt=self.prompt.toPlainText(), negative_prompt=self.negative.toPlainText())

    def _emit(self, **fields) -> None:
        p = self.preset
        if p is None:
            return
        changed = {k: v for k, v in fields.items() if getattr(p, k) != v}
        if changed.get("name", "x") == "":
            self.name.setText(p.name)
            return
        if changed:
            self.presetEdited.emit(p.id, changed)

    def set_preset(self, p) -> None:
        self.preset = p
        self.prompt_toggle.setText("Prompt" +
                                   (" · set" if p.prompt or p.negative_prompt else ""))
        for w in (self.name, self.prompt, self.negative):
            w.blockSignals(True)
        self.name.setText(p.name)
        if self.prompt.toPlainText() != p.prompt:
            self.prompt.setPlainText(p.prompt)
        if self.negative.toPlainText() != p.negative_prompt:
            self.negative.setPlainText(p.negative_prompt)
        for w in (self.name, self.prompt, self.negative):
            w.blockSignals(False)
        self._text_timer.stop()
        self.strength.set_value(p.strength)
        self.expr.set_expression(p.expression)
        self._show_prompt_words()
        self._debounce.start()

    def show_preview(self, frame) -> None:
        self.view.set_frame(frame, "warp preview")


class InspectorPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.stack = QStackedWidget()
        self.empty = QLabel("Open or create a project:\nFile ▸ New project (Ctrl+N)")
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setStyleSheet(f"color: {DIM};")
        self.segment_page = SegmentPage()
        self.timeline_page = TimelinePage()
        self.preset_page = PresetPage()
        # each page scrolls: on a short screen (1280×720) the preset editor is taller than
        # the room it gets, and must not push the window's minimum height off the screen
        self.pages: dict[str, QWidget] = {}
        for name, w in (("empty", self.empty), ("segment", self.segment_page),
                        ("timeline", self.timeline_page), ("preset", self.preset_page)):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
            scroll.setWidget(w)
            self.pages[name] = scroll
            self.stack.addWidget(scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(_title("Inspector"))
        layout.addWidget(self.stack, 1)
        self.setMinimumWidth(280)

    def show_page(self, name: str) -> None:
        self.stack.setCurrentWidget(self.pages[name])

    def current_page(self) -> str:
        current = self.stack.currentWidget()
        return next(name for name, w in self.pages.items() if w is current)

    def set_presets(self, presets) -> None:
        self.segment_page.set_presets(presets)
        self.timeline_page.set_presets(presets)
