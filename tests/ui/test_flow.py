"""The main user flow, driven through the window as a user would (offscreen).

new project -> import a portrait and an audio file -> timeline -> split (S) -> render all
(Ctrl+R) while the event loop keeps turning -> give one segment a preset -> only that segment
re-renders -> undo/redo -> export -> the MP4 exists with audio.
"""

from __future__ import annotations

import av
from PySide6.QtCore import Qt

from core.types import Expression
from tests.ui.conftest import TicksWhile, wait_for


def _press(qtbot, win, key, modifier=Qt.NoModifier):
    """A key press on the window, as the keyboard would send it."""
    win.activateWindow()
    win.setFocus()
    qtbot.keyClick(win, key, modifier)
    qtbot.wait(20)


def test_new_project_to_export(make_window, qtbot, samples, tmp_path):
    win = make_window()
    assert win.project_ctl.new_project(tmp_path / "flow", "UI flow")
    win.library_ctl.import_files([str(samples / "portraits" / "hallo_2.jpg"),
                      str(samples / "audio" / "asterisk_conf-onlyperson.wav")])
    wait_for(qtbot, lambda: not win.busy, what="imports")
    assert win.errors == []
    assert win.library.portrait_list.count() == 1
    assert win.library.audio_list.count() == 1
    assert "face detected" in win.library.portrait_list.item(0).text()
    wait_for(qtbot, lambda: win.library.thumbs.get(win.project.portraits()[0].id) is not None,
             what="thumbnail")
    portrait, audio = win.project.portraits()[0], win.project.audio_tracks()[0]
    assert abs(audio.duration - 3.16) < 0.1

    loaded = []
    win.session.timelineLoaded.connect(loaded.append)
    win.timeline_ctl.create_timeline(portrait.id, audio.id, size=256, name="flow")
    wait_for(qtbot, lambda: loaded and not win.busy, what="timeline")
    assert win.timeline.n_frames == win.timeline_info.n_frames > 70
    assert len(win.timeline.wave_curve.getData()[0]) > 1000  # the waveform is drawn

    # split at the playhead with the S key
    n0 = len(win.segments)
    last = win.segments[-1]
    win.preview.player.seek(last.start + last.n_frames // 2)
    _press(qtbot, win, Qt.Key_S)
    assert len(win.segments) == n0 + 1
    assert win.undo_stack.count() == 1

    # render everything (Ctrl+R); the GUI loop keeps turning while the worker renders
    # (the longest loop gap is a timing: `python main.py bench ui` measures it)
    during = TicksWhile(lambda: win.session.background.rendering)
    during.start()
    _press(qtbot, win, Qt.Key_R, Qt.ControlModifier)
    assert win.queue_ctl.jobs, "Ctrl+R queued no job"
    wait_for(qtbot, lambda: all(s.state == "rendered" for s in win.segments)
             and not win.session.background.rendering, what="render all")
    during.stop()
    assert during.ticks > 0, "the GUI event loop never turned while rendering"
    assert all(j.state == "done" for j in win.queue_ctl.jobs)
    # the preview shows a rendered frame now
    wait_for(qtbot, lambda: win.preview.view.image is not None, what="preview frame")

    before = {s.id: s.render_path for s in win.segments}
    done_before = {j.id for j in win.queue_ctl.jobs}

    # give the second segment its own preset through the inspector
    preset = win.library_ctl.add_preset("Smiley", expression=Expression(smile=0.8, brows=0.4))
    target = win.segments[1]
    win.timeline_ctl.select_segment(target.id)
    assert win.inspector.current_page() == "segment"
    combo = win.inspector.segment_page.preset_combo
    combo.setCurrentIndex(combo.findData(preset.id))
    combo.activated.emit(combo.currentIndex())
    states = {s.id: s.state for s in win.segments}
    assert states[target.id] in ("stale", "missing")
    assert all(st == "rendered" for sid, st in states.items() if sid != target.id)

    win.queue_ctl.render_all()
    wait_for(qtbot, lambda: all(s.state == "rendered" for s in win.segments)
             and not win.session.background.rendering, what="re-render")
    new_jobs = [j for j in win.queue_ctl.jobs if j.id not in done_before]
    assert [j.segment_id for j in new_jobs] == [target.id]
    after = {s.id: s.render_path for s in win.segments}
    assert after[target.id] != before[target.id]
    assert all(after[sid] == before[sid] for sid in before if sid != target.id)

    # undo the preset change: the old render is current again (found by its spec hash)
    _press(qtbot, win, Qt.Key_Z, Qt.ControlModifier)
    seg = next(s for s in win.segments if s.id == target.id)
    assert seg.overrides.preset_id is None
    assert seg.state == "rendered" and seg.render_path == before[target.id]
    _press(qtbot, win, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    seg = next(s for s in win.segments if s.id == target.id)
    assert seg.overrides.preset_id == preset.id and seg.render_path == after[target.id]

    # export (Ctrl+E) with a chosen path; "open folder" at the end
    _press(qtbot, win, Qt.Key_E, Qt.ControlModifier)
    dlg = win.export_window
    opened = []
    dlg.open_url = opened.append
    out = tmp_path / "export" / "flow.mp4"
    out.parent.mkdir()
    dlg.path_edit.setText(str(out))
    qtbot.mouseClick(dlg.export_btn, Qt.LeftButton)
    wait_for(qtbot, lambda: not dlg.running, what="export")
    assert dlg.out_path == out and out.is_file(), dlg.status.text()
    with av.open(str(out)) as c:
        assert c.streams.video and c.streams.audio
        assert c.streams.video[0].codec_context.width == 256
        n = sum(1 for _ in c.decode(video=0))
    assert abs(n - win.timeline_info.n_frames) <= 1
    assert dlg.open_btn.isVisible()
    qtbot.mouseClick(dlg.open_btn, Qt.LeftButton)
    assert opened and opened[0].toLocalFile() == str(out.parent)
    dlg.close()
    assert win.errors == []
