"""Editing through the window: undo/redo of segment, timeline and preset edits; cancel and
retry a render from the queue panel; bad files dropped on the library; a portrait without
a detectable face placed by clicking its 5 key points; the session restored on reopen."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from core.types import Expression
from tests.ui.conftest import open_window, wait_for

_open = open_window


def _spans(win):
    return [(s.start, s.end) for s in win.segments]


def test_undo_redo_segment_and_preset_edits(make_window, qtbot, project_copy):
    win = _open(make_window, qtbot, project_copy)
    original = _spans(win)
    n = win.timeline_info.n_frames

    # split twice at the playhead
    win.preview.player.seek(n // 3)
    win.timeline_ctl.split_at_playhead()
    win.preview.player.seek(2 * n // 3)
    win.timeline_ctl.split_at_playhead()
    split = _spans(win)
    assert len(split) == len(original) + 2
    assert any(s == n // 3 for s, _ in split) and any(s == 2 * n // 3 for s, _ in split)

    # drag the first internal boundary on the timeline (as the mouse would end a drag)
    line = win.timeline.boundaries[0]
    first = win.segments[0]
    line.setValue((first.end - 5) / win.timeline.fps)
    line.sigPositionChangeFinished.emit(line)
    moved = _spans(win)
    assert moved[0] == (first.start, first.end - 5) and moved[1][0] == first.end - 5

    # merge the selection with the next one
    win.timeline_ctl.select_segment(win.segments[0].id)
    win.timeline_ctl.merge_selected()
    merged = _spans(win)
    assert len(merged) == len(moved) - 1 and merged[0] == (moved[0][0], moved[1][1])

    # overrides through the inspector: own seed
    page = win.inspector.segment_page
    win.timeline_ctl.select_segment(win.segments[0].id)
    page.seed_check.setChecked(True)
    page.seed_spin.setValue(7)
    page.seed_spin.editingFinished.emit()
    assert win.segments[0].overrides.seed == 7

    # a preset, edited with its sliders (one drag = one undo step)
    preset = win.library_ctl.add_preset("Brows")
    pp = win.inspector.preset_page
    assert win.inspector.current_page() == "preset"
    slider = pp.expr.sliders["brows"]
    slider.slider.setSliderDown(True)
    for v in (10, 30, 60):
        slider.slider.setValue(v)
    slider.slider.setSliderDown(False)
    slider.committed.emit(slider.value())
    assert win.project.preset(preset.id).expression.brows == pytest.approx(0.6)

    stack = win.undo_stack
    steps = stack.count()
    texts = [stack.text(i) for i in range(steps)]
    # split, split, move, merge, own seed on (0), seed 7, add preset, brows drag
    assert steps == 8, texts
    assert "Split" in texts[0] and "Merge" in texts[3] and "Brows" in texts[-1]

    # undo everything: back to the original segments, no preset
    for _ in range(steps):
        stack.undo()
    assert _spans(win) == original
    assert win.segments[0].overrides.seed is None
    assert win.project.presets() == []
    # redo everything: exactly the edited state again
    for _ in range(steps):
        stack.redo()
    assert _spans(win) == merged
    assert win.segments[0].overrides.seed == 7
    assert win.project.preset(preset.id).expression == Expression(brows=0.6)
    assert win.errors == []

    # timeline settings through the inspector's timeline page, undoable
    win.timeline_ctl.select_segment(None)
    assert win.inspector.current_page() == "timeline"
    tpage = win.inspector.timeline_page
    tpage.seed.setValue(5)
    tpage.seed.editingFinished.emit()
    assert win.project.timeline(win.timeline_id).seed == 5
    stack.undo()
    assert win.project.timeline(win.timeline_id).seed == 0
    stack.redo()

    # a transcript edit (undoable) re-aligns the words shown on the timeline
    aid = win.timeline_info.audio_id
    loaded = []
    win.session.timelineLoaded.connect(loaded.append)
    assert "currently" in [w.text.lower() for w in win.timeline.words]
    win.library_ctl.set_transcript(aid, "You are the only person here.")
    wait_for(qtbot, lambda: loaded and not win.busy, what="re-alignment")
    assert "currently" not in [w.text.lower() for w in win.timeline.words]
    assert "person" in [w.text.lower() for w in win.timeline.words]
    stack.undo()
    assert win.project.audio(aid).transcript.startswith("You are currently")
    steps = stack.count()

    # a refused edit is reported and is not an undo step
    win.preview.player.seek(win.segments[0].start)
    win.timeline_ctl.split_at_playhead()
    assert win.errors and "first frame" in win.errors[-1]
    assert stack.count() == steps


def test_cancel_and_retry_render(make_window, qtbot, project_copy):
    win = _open(make_window, qtbot, project_copy)
    seg = win.segments[0]
    started = []
    win.session.background.jobProgress.connect(lambda jid, f, m: started.append(jid))
    win.timeline_ctl.select_segment(seg.id)
    win.queue_ctl.rerender_selection()
    wait_for(qtbot, lambda: started, what="the job to start")
    job_id = started[0]
    assert win.segments[0].state in ("queued", "rendering")
    button = win.queue.button(job_id)
    assert button is not None and button.text() == "Cancel"
    qtbot.mouseClick(button, Qt.LeftButton)
    wait_for(qtbot, lambda: win.project.job(job_id).state == "cancelled"
             and not win.session.background.rendering, what="cancel")
    assert win.segments[0].state != "rendered"
    assert not list((project_copy / "renders").glob("*.mp4"))  # nothing partial kept

    win.queue_ctl.refresh_jobs()
    retry = win.queue.button(job_id)
    assert retry is not None and retry.text() == "Retry"
    qtbot.mouseClick(retry, Qt.LeftButton)
    wait_for(qtbot, lambda: win.project.job(job_id).state == "done"
             and win.segments[0].state == "rendered", timeout=180, what="retry")
    assert win.errors == []


def _drop(widget, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    widget.dropEvent(event)


def test_bad_files_dropped_on_library(make_window, qtbot, tmp_path):
    win = make_window()
    assert win.project_ctl.new_project(tmp_path / "bad", "bad")
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    _drop(win.library, [notes, broken, noise])
    wait_for(qtbot, lambda: not win.busy and len(win.errors) >= 3, what="errors")
    text = "\n".join(win.errors)
    for f in (notes, broken, noise):
        assert f.name in text
    assert win.banner.isVisible()
    assert "Traceback" not in text
    assert win.project.portraits() == [] and win.project.audio_tracks() == []
    # the app is alive and the project usable
    assert win.library_ctl.add_preset("still works") is not None
    assert [p.name for p in win.project.presets()] == ["still works"]


def test_portrait_without_face_gets_clicked_key_points(make_window, qtbot, tmp_path, samples):
    from ui.landmark_picker import LandmarkPicker

    # a face-less picture: a smooth gradient (dlib finds nothing)
    h, w = 300, 260
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 120)], -1).astype(np.uint8)
    path = tmp_path / "blank.png"
    Image.fromarray(img).save(path)
    clicks = [(95, 120), (165, 120), (130, 160), (105, 200), (155, 200)]
    asked = []

    def ask(image, name, reason):
        dlg = LandmarkPicker(image, name, reason)
        qtbot.addWidget(dlg)
        dlg.resize(600, 700)
        dlg.show()
        canvas = dlg.canvas
        for x, y in clicks:  # click where those image pixels are drawn
            pos = canvas.to_widget((x, y))
            qtbot.mouseClick(canvas, Qt.LeftButton, pos=QPoint(round(pos.x()), round(pos.y())))
        asked.append(reason)
        return dlg.points()

    win = make_window()
    win.ask_landmarks = ask
    assert win.project_ctl.new_project(tmp_path / "noface", "noface")
    win.library_ctl.import_files([path])
    wait_for(qtbot, lambda: not win.busy and (win.project.portraits() or win.errors),
             what="import with key points")
    assert asked and "No face" in asked[0]
    assert win.errors == []
    portraits = win.project.portraits()
    assert len(portraits) == 1 and portraits[0].has_landmarks
    assert "by hand" in win.library.portrait_list.item(0).text()


def test_session_restored_where_the_user_left(make_window, qtbot, project_copy, app_settings):
    win = _open(make_window, qtbot, project_copy, app_settings)
    n = win.timeline_info.n_frames
    win.preview.player.seek(n // 2)
    win.timeline_ctl.split_at_playhead()
    sid = win.segments[1].id
    win.timeline_ctl.select_segment(sid)
    win.preview.player.seek(n // 2 + 3)
    win.top_split.setSizes([250, 700, 400])
    sizes = win.top_split.sizes()
    tid = win.timeline_id
    win.close()

    win2 = make_window(app_settings)
    loaded = []
    win2.session.timelineLoaded.connect(loaded.append)
    win2.restore_session()
    wait_for(qtbot, lambda: loaded and not win2.busy, what="restore")
    wait_for(qtbot, lambda: win2.session.background.ready, what="workers")
    assert win2.project.path.resolve() == project_copy.resolve()
    assert win2.timeline_id == tid
    assert win2.preview.player.frame == n // 2 + 3
    assert win2.timeline.selected_id == sid
    assert win2.inspector.current_page() == "segment"
    assert win2.top_split.sizes() == sizes
    assert str(project_copy) in app_settings.recent_projects()[0]
