"""The preset editor sets a preset's emotion and intensity (stored since migration 0004):
choosing one in the list reaches the project, undoes, and shows in the library."""

from __future__ import annotations

from tests.ui.conftest import open_window


def test_preset_editor_emotion_reaches_the_project(make_window, qtbot, project_copy):
    win = open_window(make_window, qtbot, project_copy)
    preset = win.library_ctl.add_preset("Moody")
    pp = win.inspector.preset_page
    assert win.inspector.current_page() == "preset"
    combo = pp.expr.emotion
    combo.setCurrentIndex(combo.findData("sad"))
    combo.activated.emit(combo.currentIndex())
    slider = pp.expr.sliders["intensity"]
    slider.set_value(0.9)
    slider.committed.emit(slider.value())
    e = win.project.preset(preset.id).expression
    assert (e.emotion, round(e.intensity, 2)) == ("sad", 0.9)
    # the live preview asks for the preset's emotion
    assert pp.preview_expression().emotion == "sad"
    items = [win.library.preset_list.item(i).text()
             for i in range(win.library.preset_list.count())]
    assert any("sad 0.9" in t for t in items), items
    win.undo_stack.undo()  # successive expression edits of a preset merge into one step
    assert win.project.preset(preset.id).expression.emotion == "neutral"
