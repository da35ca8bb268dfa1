"""Script tracks in the GUI: "New from script…" synthesises a track in a worker and the
library lists it; the script editor's Apply re-synthesises in a worker, the timeline using
the track follows (its length and segments), and Undo/Redo go through undo_script (real
Piper or espeak synthesis of short scripts)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from tests.ui.conftest import open_window, wait_for

SCRIPT = "Hello there. Thanks for coming."
LONGER = "Hello there. Thanks for coming to the studio today, my good friend."


def _tts_or_skip():
    from core.tts import voices

    ok, _ = voices.piper_available()
    if not ok and not voices.espeak_available():
        pytest.skip("no speech synthesiser (piper-tts or espeak-ng) installed")


def _audio_names(win) -> list[str]:
    lst = win.library.audio_list
    return [lst.item(i).text() for i in range(lst.count())]


def test_new_script_dialog_lists_voices_default_first(qtbot):
    from core.tts import list_voices
    from ui.script_ui import NewScriptDialog

    dlg = NewScriptDialog()
    qtbot.addWidget(dlg)
    voices = list_voices()
    if not voices:
        pytest.skip("no voice installed")
    assert dlg.voice_combo.count() == len(voices)
    assert dlg.voice_combo.itemData(0) == voices[0].id  # the default voice first
    ok = dlg.buttons.button(QDialogButtonBox.Ok)
    assert not ok.isEnabled()  # nothing to say yet
    dlg.text_edit.setPlainText(SCRIPT)
    dlg.rate_spin.setValue(1.2)
    assert ok.isEnabled()
    assert dlg.values() == {"text": SCRIPT, "voice": voices[0].id, "rate": 1.2, "name": None}


def test_script_track_created_edited_undone(make_window, qtbot, project_copy):
    _tts_or_skip()
    win = open_window(make_window, qtbot, project_copy)
    s, lc = win.session, win.library_ctl
    assert win.actions_by_id["new_script"].isEnabled()

    # 1. New from script: synthesised in a worker, then listed and selected
    before = len(s.project.audio_tracks())
    assert lc.add_script(SCRIPT, name="greeting") is not None
    wait_for(qtbot, lambda: len(s.project.audio_tracks()) == before + 1 and not win.busy,
             timeout=60, what="script synthesised")
    audio = next(a for a in s.project.audio_tracks() if a.name == "greeting")
    assert s.project.has_script(audio.id)
    assert any(n.startswith("greeting") for n in _audio_names(win))
    assert win.library.audio_list.current_id() == audio.id
    assert win.library.tabs.currentIndex() == 1

    # a timeline on the script track, shown in the window
    portrait = s.project.portraits()[0]
    tl = s.project.new_timeline(portrait.id, audio.id, size=256, name="scripted")
    loaded = []
    s.timelineLoaded.connect(loaded.append)
    win.timeline_ctl.refresh_timelines()
    win.timeline_ctl.select_timeline(tl.id)
    wait_for(qtbot, lambda: tl.id in loaded and not win.busy, what="timeline audio")
    n_before = win.timeline_info.n_frames
    assert win.timeline.n_frames == n_before

    # 2. the Transcript… button opens the script editor for a script track
    win.library.audio_list.select_id(audio.id)
    win.library._request_transcript()
    ed = lc.script_editor
    assert ed is not None and ed.isVisible() and ed.audio_id == audio.id
    assert ed.text() == s.project.script(audio.id).text
    ed.text_edit.setPlainText(LONGER)
    ed.apply_btn.click()
    assert not ed.apply_btn.isEnabled()  # busy while synthesising
    wait_for(qtbot, lambda: s.project.script(audio.id).text == LONGER and not win.busy
             and ed.apply_btn.isEnabled(), timeout=60, what="script edit applied")
    # the timeline on the track follows: longer audio, segments re-read from the studio
    wait_for(qtbot, lambda: win.timeline.n_frames > n_before, what="timeline rescaled")
    assert win.timeline_info.n_frames == win.timeline.n_frames
    assert win.segments[-1].end == win.timeline_info.n_frames
    assert [x.id for x in win.segments] == [x.id for x in s.project.segments(tl.id)]
    undo_act = win.actions_by_id["undo"]
    assert undo_act.text() == "Undo Edit script of 'greeting'"

    # Undo restores the previous script (undo_script); the editor and timeline follow
    undo_act.trigger()
    assert s.project.script(audio.id).text == SCRIPT
    assert ed.text() == SCRIPT
    assert win.timeline.n_frames == n_before == win.timeline_info.n_frames
    # Redo re-applies the edited text
    win.actions_by_id["redo"].trigger()
    assert s.project.script(audio.id).text == LONGER
    assert win.timeline.n_frames > n_before
    assert not s.errors


def test_unchanged_script_pushes_no_undo_step(make_window, qtbot, project_copy):
    _tts_or_skip()
    win = open_window(make_window, qtbot, project_copy)
    s, lc = win.session, win.library_ctl
    lc.add_script("Good morning.", name="short")
    wait_for(qtbot, lambda: any(a.name == "short" for a in s.project.audio_tracks())
             and not win.busy, timeout=60, what="script synthesised")
    audio = next(a for a in s.project.audio_tracks() if a.name == "short")
    depth = s.undo_stack.count()
    lc.apply_script(audio.id, "Good morning.")
    wait_for(qtbot, lambda: not win.busy, what="edit finished")
    assert s.undo_stack.count() == depth
    assert not s.errors


def test_failed_redo_of_a_script_edit_is_shown_not_swallowed(qtbot):
    """Qt drops exceptions raised in redo(); the command reports them instead."""
    from PySide6.QtGui import QUndoStack

    from core.errors import InputError
    from ui import undo

    class Broken:
        def edit_script(self, audio_id, text):
            raise InputError(None, "voice 'x' is not installed")

        def undo_script(self, audio_id):
            return None

    shown, changed = [], []
    stack = QUndoStack()
    undo.push_applied(stack, undo.ScriptEditCmd(Broken(), 3, "Hi.", changed.append, "greeting",
                                                shown.append))
    assert stack.count() == 1 and not changed  # pushing does not re-run the edit
    stack.undo()
    assert len(changed) == 1 and changed[0].audio_id == 3 and changed[0].segments
    stack.redo()
    assert shown == ["Edit script of 'greeting': voice 'x' is not installed"]
