"""Defects a new user hit in a real window, each pinned by a test: the window fits a
laptop screen, opening a non-project folder keeps the current project, the timeline's
settings are reachable again after selecting a segment, an unavailable engine says where
to fix it, the preview follows a finished render, the queue names its jobs and timelines,
one idea of where projects live, the time axis, phoneme labels, help and wording."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtGui import QAction

from tests.ui.conftest import open_window, wait_for


def _visible_in_toolbar(win, key: str) -> bool:
    """The action's button is shown in the toolbar itself (not in the » overflow)."""
    act = win.actions_by_id[key]
    button = win.toolbar.widgetForAction(act)
    if button is None or not button.isVisible():
        return False
    right = button.mapTo(win.toolbar, button.rect().topRight()).x()
    return right <= win.toolbar.width()


def test_window_fits_a_1280x720_screen(make_window, qtbot):
    win = make_window()
    # the minimum size, frame included (~16 px wide, ~40 px tall), fits 1280×720
    min_w = max(win.minimumSize().width(), win.minimumSizeHint().width())
    min_h = max(win.minimumSize().height(), win.minimumSizeHint().height())
    assert min_w + 16 <= 1280 and min_h + 40 <= 720, (min_w, min_h)

    # at 1280×720 every important action is on the toolbar, not behind »
    win.resize(1280 - 16, 720 - 40)
    qtbot.wait(50)
    for key in ("import", "render_all", "rerender", "export", "split", "merge", "undo"):
        assert _visible_in_toolbar(win, key), key
    # the bottom row keeps usable room: lanes and status bar inside the window
    tl = win.timeline
    assert tl.height() >= tl.minimumHeight()
    for plot, minimum in zip(tl.plots, (30, 30, 50), strict=True):
        assert plot.vb.height() >= minimum * 0.9, (plot, plot.vb.height())
    bar = win.statusBar()
    assert bar.isVisible() and bar.geometry().bottom() <= win.height()
    # lane names do not run together: each name's text sits inside its own lane row
    texts = [lab.item.mapRectToScene(lab.item.boundingRect()) for lab in tl.lane_labels]
    for a, b in zip(texts, texts[1:], strict=False):
        assert a.bottom() <= b.top() + 0.5, (a, b)


def test_window_opens_at_a_size_that_fits_the_screen(make_window, monkeypatch):
    win = make_window()

    class Laptop:  # a 1366×768 screen less a 40 px panel
        def availableGeometry(self):  # noqa: N802
            return QRect(0, 0, 1366, 728)

    monkeypatch.setattr(win, "screen", lambda: Laptop())
    win._fit_to_screen()
    frame_extra_w, frame_extra_h = 16, 40
    assert win.width() + frame_extra_w <= 1366 and win.height() + frame_extra_h <= 728 + 1
    assert win.width() >= 1200  # and uses the room it has


def test_opening_a_folder_that_is_not_a_project_keeps_the_current_one(
        make_window, qtbot, tmp_path, monkeypatch):
    win = make_window()
    assert win.project_ctl.new_project(tmp_path / "current", "current")
    plain = tmp_path / "holiday photos"
    plain.mkdir()
    (plain / "a.txt").write_text("x")
    asked = []
    monkeypatch.setattr(win, "ask_create_here", lambda f: asked.append(f) or False)
    assert win.project_ctl.open_project(plain) is False
    assert asked == [plain]
    assert win.project is not None and win.project.name == "current"  # still open
    message = win.errors[-1]
    assert "holiday photos" in message and "project new" not in message
    assert "File ▸ New project" in message

    # accepting the offer creates a project there and opens it
    monkeypatch.setattr(win, "ask_create_here", lambda f: True)
    assert win.project_ctl.open_project(plain)
    assert (plain / "project.db").is_file() and win.project.path.resolve() == plain.resolve()


def test_projects_live_where_the_studio_says(make_window, monkeypatch, tmp_path):
    from studio.paths import projects_dir

    monkeypatch.setenv("AVATAR_STUDIO_PROJECTS", str(tmp_path / "my projects"))
    win = make_window()
    assert win.settings.projects_folder == projects_dir() == tmp_path / "my projects"
    seen = []
    from ui import main_window

    monkeypatch.setattr(main_window.QFileDialog, "getExistingDirectory",
                        lambda _p, _t, start: seen.append(start) or "")
    monkeypatch.setattr(main_window.QFileDialog, "getSaveFileName",
                        lambda _p, _t, start, _f: seen.append(start) or ("", ""))
    win.ask_open_folder()
    win.ask_new_project_folder()
    assert seen[0] == str(tmp_path / "my projects")
    assert seen[1].startswith(str(tmp_path / "my projects"))
    from ui.settings import SettingsDialog

    dlg = SettingsDialog(win.settings, win)
    assert str(tmp_path / "my projects") in dlg.projects_label.text()
    dlg.reject()


def test_segment_selection_gives_way_to_timeline_settings(make_window, qtbot, project_copy):
    win = open_window(make_window, qtbot, project_copy)
    tc, insp = win.timeline_ctl, win.inspector
    seg = win.segments[0]

    # Esc
    tc.select_segment(seg.id)
    assert insp.current_page() == "segment"
    win.activateWindow()
    qtbot.keyClick(win, Qt.Key_Escape)
    assert win.timeline.selected_id is None and insp.current_page() == "timeline"

    # the inspector's own way back
    tc.select_segment(seg.id)
    qtbot.mouseClick(insp.segment_page.back_btn, Qt.LeftButton)
    assert insp.current_page() == "timeline"

    # clicking the selected segment again deselects; clicking the words lane too
    tl = win.timeline
    x = (seg.start + seg.end) / 2 / tl.fps

    def click(plot):
        scene = plot.vb.mapViewToScene(QPointF(x, 0.5))
        qtbot.mouseClick(tl.view.viewport(), Qt.LeftButton, pos=tl.view.mapFromScene(scene))

    click(tl.seg_plot)
    assert tl.selected_id == seg.id and insp.current_page() == "segment"
    click(tl.seg_plot)
    assert tl.selected_id is None and insp.current_page() == "timeline"
    click(tl.seg_plot)
    click(tl.text_plot)
    assert tl.selected_id is None and insp.current_page() == "timeline"
    assert win.errors == []


def test_unavailable_diffusion_engine_points_to_settings(make_window, qtbot, project_copy):
    win = open_window(make_window, qtbot, project_copy)
    page = win.inspector.timeline_page
    wait_for(qtbot, lambda: "diffusion" in win.session.engine_status, timeout=60,
             what="engine check")
    ok, _reason = win.session.engine_status["diffusion"]
    if ok:
        pytest.skip("a diffusion weights folder is configured here")
    idx = page.engine.findData("diffusion")
    assert not page.engine.model().item(idx).isEnabled()
    assert "unavailable" in page.engine.itemText(idx)
    assert page.engine_hint.isVisible() or not page.engine_hint.isHidden()
    assert "Settings ▸ Model folder" in page.engine_hint.text()
    assert "--weights" not in page.engine_hint.text()

    # a timeline already set to diffusion: the render failure is said in GUI words
    win.project.update_timeline(win.timeline_id, engine="diffusion")
    win.session.notify(__import__("ui.changes", fromlist=["TIMELINE"]).TIMELINE)
    assert "cannot render" in page.engine_hint.text()
    win.timeline_ctl.select_segment(win.segments[0].id)
    win.queue_ctl.rerender_selection()
    wait_for(qtbot, lambda: win.errors, timeout=120, what="the failure")
    assert "Settings ▸ Model folder" in win.errors[-1], win.errors[-1]
    assert "--weights" not in win.errors[-1] and "AVATAR_" not in win.errors[-1]
    win.queue_ctl.refresh_jobs()
    row_text = win.queue.messages[win.queue_ctl.jobs[0].id].text()
    assert "--weights" not in row_text


def test_preview_shows_a_render_when_it_finishes_under_the_playhead(
        make_window, qtbot, project_copy):
    win = open_window(make_window, qtbot, project_copy)
    seg = win.segments[0]
    frame = (seg.start + seg.end) // 2
    win.preview.player.seek(frame)
    view = win.preview.view
    wait_for(qtbot, lambda: view.image is not None and f"frame {frame}" in view.badge,
             what="instant preview")
    assert view.badge.startswith("instant preview")
    win.timeline_ctl.select_segment(seg.id)
    win.queue_ctl.rerender_selection()
    wait_for(qtbot, lambda: view.badge.startswith("rendered"), timeout=120,
             what="the preview to show the finished render")
    assert win.preview.player.frame == frame


def test_queue_names_jobs_of_every_timeline_after_reopening(
        make_window, qtbot, project_copy, app_settings):
    from studio.project import Project

    with Project.open(project_copy) as p:
        t1 = p.timelines()[0]
        t2 = p.new_timeline(t1.portrait_id, t1.audio_id, size=256, name="second take")
        segs = p.segments(t2.id)
        p.enqueue(t2.id, [segs[-1].id])
        p.enqueue(t1.id, [p.segments(t1.id)[0].id])
        for j in p.jobs():
            p.cancel_job(j.id)  # keep them in the list without rendering
    win = open_window(make_window, qtbot, project_copy, app_settings)
    win.timeline_ctl.select_timeline(t1.id)
    win.queue_ctl.refresh_jobs()
    table = win.queue.table
    assert table.horizontalHeaderItem(1).text() == "Timeline"
    rows = {table.item(r, 1).text(): table.item(r, 0).text() for r in range(table.rowCount())}
    assert set(rows) == {"base", "second take"}
    assert rows["second take"].endswith(f"segment {len(segs)}")
    assert rows["base"].endswith("segment 1")
    # a long message: elided in the cell, whole in the tooltip and the details line
    long = "the render stopped because " + "a very long reason " * 12
    job_id = win.queue_ctl.jobs[0].id
    win.queue.update_progress(job_id, 0.5, long)
    assert long.split()[-1] in win.queue.messages[job_id].toolTip()
    win.queue.texts[job_id] = long
    table.setCurrentCell(win.queue.rows[job_id], 0)
    assert long in win.queue.details.text() and not win.queue.details.isHidden()


def test_time_axis_one_format_never_negative(qtbot):
    from ui.timeline import TimeAxis, TimelineWidget, format_time

    assert format_time(0) == "0:00.0" and format_time(61.25) == "1:01.2"
    assert format_time(-3) == "0:00.0" and format_time(0.5) == "0:00.5"
    axis = TimeAxis("bottom")
    assert axis.tickStrings([-0.5, 0.0, 0.5, 1.0], 1, 0.5) == ["", "0:00.0", "0:00.5",
                                                               "0:01.0"]
    assert axis.tickStrings([2.0, 3.0], 1, 1.0) == ["0:02.0", "0:03.0"]
    tl = TimelineWidget()
    qtbot.addWidget(tl)
    tl.resize(900, 240)
    tl.show()
    tl.set_timeline(25, 250)
    tl.zoom(0.2)
    tl.zoom(4.0)
    tl.wave_plot.setXRange(-5, 2, padding=0)
    assert tl.visible_range()[0] >= -1e-6


def test_phoneme_labels_never_overlap(qtbot):
    from core.types import Phone
    from ui.timeline import TimelineWidget

    tl = TimelineWidget()
    qtbot.addWidget(tl)
    tl.resize(700, 240)
    tl.show()
    tl.set_timeline(25, 75)
    phones = [Phone(label=lab, start=i * 0.03, end=i * 0.03 + 0.03)
              for i, lab in enumerate(["HH", "AH", "L", "OW", "W", "ER", "L", "D"] * 6)]
    tl.set_words([], phones)
    tl.wave_plot.setXRange(0, 2.0, padding=0)
    qtbot.wait(20)
    shown = [p for p in tl.phone_items if p.isVisible()]
    assert 0 < len(shown) < len(tl.phone_items)
    from PySide6.QtGui import QFontMetricsF

    def ink(item):  # where the text itself is drawn, in scene pixels
        margin = item.textItem.document().documentMargin()
        left = item.sceneBoundingRect().left() + margin
        advance = QFontMetricsF(item.textItem.font()).horizontalAdvance(
            item.textItem.toPlainText())
        return left, left + advance

    spans = sorted(ink(p) for p in shown)
    for (_l0, r0), (l1, _r1) in zip(spans, spans[1:], strict=False):
        assert r0 <= l1 + 0.5


def test_help_menu_undo_text_and_small_wording(make_window, qtbot, project_copy):
    win = open_window(make_window, qtbot, project_copy)
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    assert "Help" in menus
    help_texts = [a.text() for a in menus["Help"].actions()]
    assert any("shortcut" in t.lower() for t in help_texts)
    assert any("About" in t for t in help_texts) and any("README" in t for t in help_texts)
    from ui.help import about_text

    assert "Python" in about_text() and "PySide6" in about_text()
    opened = []
    win.open_url = opened.append
    win.open_readme()
    assert opened and opened[0].toLocalFile().endswith("README.md")
    dlg = win.show_shortcuts()
    assert dlg.table.rowCount() > 10
    dlg.close()

    # the Edit menu's Undo says what it will undo
    n = win.timeline_info.n_frames
    win.preview.player.seek(n // 2)
    win.timeline_ctl.split_at_playhead()
    undo_act: QAction = win.actions_by_id["undo"]
    assert undo_act in menus["Edit"].actions()
    assert undo_act.text().startswith("Undo Split segment") and ":" in undo_act.text()

    # no missing glyphs, drops only where they go, the prompt fields' hint
    win.preview_ctl._on_clock_message("no audio device")
    assert win.clock_label.text() == "wall clock"
    lib = win.library
    lib.tabs.setCurrentIndex(2)
    assert lib.drop_hint.isHidden() and not lib.acceptDrops()
    lib.tabs.setCurrentIndex(1)
    assert not lib.drop_hint.isHidden() and lib.acceptDrops()
    hint = win.inspector.preset_page.prompt_hint.text()
    assert "warp engine understands" in hint and "diffusion engine uses" in hint
    from ui.theme import transport_icon

    img = transport_icon("play").pixmap(20, 20).toImage()
    bright = max(img.pixelColor(x, y).lightness() for x in range(20) for y in range(20))
    assert bright > 180  # drawn in the text colour, not a dim grey
    assert np.isfinite(bright)


def test_dialogs_are_wide_enough_for_their_text(qtbot, app_settings, tmp_path):
    """Narrow dialogs cut their text: each has a minimum width and wrapping hints."""
    from types import SimpleNamespace

    from ui.dialogs import NewTimelineDialog, TranscriptDialog
    from ui.export_dialog import ExportDialog
    from ui.help import ShortcutsDialog
    from ui.record import RecordDialog
    from ui.settings import SettingsDialog

    portrait = SimpleNamespace(name="me", id=1)
    audio = SimpleNamespace(name="talk", id=1, duration=3.0)
    timeline = SimpleNamespace(name="t", id=1, size=512, fps=25)
    status = {"warp": (True, ""), "diffusion": (False, "no weights folder configured: pass "
                                                      "--weights DIR or set X")}
    dialogs = [NewTimelineDialog([portrait], [audio], [], "diffusion", engine_status=status),
               TranscriptDialog("talk", None), RecordDialog(), SettingsDialog(app_settings),
               ExportDialog(tmp_path, timeline), ShortcutsDialog(app_settings)]
    for dlg in dialogs:
        qtbot.addWidget(dlg)
        dlg.show()
        assert dlg.minimumWidth() >= 400 and dlg.width() >= 400, type(dlg).__name__
    new_tl = dialogs[0]
    assert new_tl.engine.currentData() == "warp"  # never proposes an unusable engine
    assert new_tl.engine_hint.wordWrap() and "Model folder" in new_tl.engine_hint.text()
    assert dialogs[2].status.wordWrap() and dialogs[4].status.wordWrap()
