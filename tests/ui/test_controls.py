"""Value ranges from core.types in every control; emotion in the segment inspector; the
preset editor's live list of which prompt words each engine can use."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.types import (
    CRF_RANGE,
    EMOTIONS,
    EXPRESSION_RANGES,
    FPS_RANGE,
    SEED_RANGE,
    SIZE_RANGE,
    STRENGTH_RANGE,
    Expression,
)
from tests.ui.conftest import open_window, wait_for


def _slider_range(value_slider) -> tuple[float, float]:
    return value_slider.slider.minimum() / 100.0, value_slider.slider.maximum() / 100.0


def test_every_control_takes_its_range_from_core(qtbot, tmp_path):
    from studio.presets import EXPRESSION_FIELDS
    from ui.dialogs import NewTimelineDialog
    from ui.export_dialog import ExportDialog
    from ui.inspector import InspectorPanel

    panel = InspectorPanel()
    qtbot.addWidget(panel)
    pp, sp, tp = panel.preset_page, panel.segment_page, panel.timeline_page

    # the preset's text strength is 0..1 (it went to 2 before)
    assert _slider_range(pp.strength) == (STRENGTH_RANGE.min, STRENGTH_RANGE.max) == (0, 1)
    pp.strength.set_value(1.7)
    assert pp.strength.value() == STRENGTH_RANGE.max
    # the preset editor shows exactly the controls a preset stores; the segment all of them
    # (since migration 0004 a preset stores every control, its emotion included)
    assert set(pp.expr.sliders) | {"emotion"} == set(EXPRESSION_FIELDS)
    assert pp.expr.emotion is not None
    assert set(sp.expr.sliders) == set(EXPRESSION_RANGES)
    for editor in (pp.expr, sp.expr):
        for name, slider in editor.sliders.items():
            r = EXPRESSION_RANGES[name]
            assert _slider_range(slider) == (r.min, r.max), name
            assert slider.value() == pytest.approx(r.default), name
    for spin in (sp.seed_spin, tp.seed):
        assert (spin.minimum(), spin.maximum()) == (int(SEED_RANGE.min), int(SEED_RANGE.max))
    sizes = [tp.size.itemData(i) for i in range(tp.size.count())]
    assert sizes and all(SIZE_RANGE.min <= s <= SIZE_RANGE.max and s % 2 == 0 for s in sizes)

    new_tl = NewTimelineDialog([SimpleNamespace(name="me", id=1)],
                               [SimpleNamespace(name="talk", id=1, duration=3.0)], [], "warp")
    qtbot.addWidget(new_tl)
    assert (new_tl.fps.minimum(), new_tl.fps.maximum()) == (FPS_RANGE.min, FPS_RANGE.max)
    assert new_tl.fps.value() == FPS_RANGE.default
    assert new_tl.size.currentData() == SIZE_RANGE.default

    export = ExportDialog(tmp_path, SimpleNamespace(name="t", id=1, size=512, fps=25))
    qtbot.addWidget(export)
    assert (export.fps.minimum(), export.fps.maximum()) == (FPS_RANGE.min, FPS_RANGE.max)
    crfs = [export.quality.itemData(i) for i in range(export.quality.count())]
    assert crfs and all(CRF_RANGE.min <= c <= CRF_RANGE.max for c in crfs)
    sizes = [export.size.itemData(i) for i in range(export.size.count())]
    assert all(SIZE_RANGE.min <= s <= SIZE_RANGE.max for s in sizes)


@pytest.mark.parametrize("prompt, text", [
    ("slightly smiling, wearing glasses",
     "warp engine uses: slightly smiling · diffusion only: wearing glasses"),
    ("very sad", "warp engine uses: very sad"),
    ("soft studio light", "diffusion only: soft studio light"),
    ("", ""),
])
def test_prompt_words_show_live_under_the_prompt(qtbot, prompt, text):
    from ui.inspector import PresetPage

    page = PresetPage()
    qtbot.addWidget(page)
    page.prompt.setPlainText(prompt)  # typing: no commit needed
    assert page.prompt_words.text() == text
    # the live preview renders what the warp engine will: sliders plus the words
    e = page.preview_expression()
    if "sad" in prompt:
        assert e.emotion == "sad" and e.intensity == pytest.approx(1.0)
    elif "smiling" in prompt:
        assert e.emotion == "happy"
    else:
        assert e == Expression()


def test_segment_emotion_is_stored_and_undone(make_window, qtbot, project_copy):
    win = open_window(make_window, qtbot, project_copy)
    seg = win.segments[0]
    win.timeline_ctl.select_segment(seg.id)
    page = win.inspector.segment_page
    combo = page.expr.emotion
    assert [combo.itemData(i) for i in range(combo.count())] == list(EMOTIONS)

    page.expr_check.setChecked(True)  # own expression: every control, emotion included
    combo.setCurrentIndex(combo.findData("surprised"))
    combo.activated.emit(combo.currentIndex())
    intensity = page.expr.sliders["intensity"]
    intensity.slider.setValue(40)  # a keyboard-like change commits
    gaze = page.expr.sliders["gaze"]
    gaze.slider.setValue(20)

    stored = win.project.segment(seg.id).overrides.expression
    assert stored is not None
    assert (stored.emotion, stored.intensity, stored.gaze) == ("surprised",
                                                              pytest.approx(0.4),
                                                              pytest.approx(0.2))
    assert win.project.segment(seg.id).state in ("stale", "missing")
    # reselecting shows what is stored
    win.timeline_ctl.select_segment(None)
    win.timeline_ctl.select_segment(seg.id)
    assert combo.currentData() == "surprised" and intensity.value() == pytest.approx(0.4)

    while win.undo_stack.canUndo():
        win.undo_stack.undo()
    wait_for(qtbot, lambda: win.project.segment(seg.id).overrides.expression is None,
             timeout=5, what="undo")
    assert win.errors == []
