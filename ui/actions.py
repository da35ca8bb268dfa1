"""The window's actions, menus and toolbar, built from one table.

Why the toolbar looks like this: at 1280 px wide every important action must be visible
without the overflow (») menu, so file and edit actions are icon-only (their names are in
the tooltips and menus) and the timeline actions a user looks for — Render all, Re-render,
Export — keep their words. Undo/Redo come from `QUndoStack.createUndoAction`, so the
menu and the tooltip say what they will undo.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QStyle, QToolBar

from ui.theme import transport_icon

S = QStyle


def build_actions(w) -> dict[str, QAction]:
    """Create every action of MainWindow `w` (its controllers must exist)."""
    acts: dict[str, QAction] = {}
    settings = w.session.settings

    def a(action_id, text, slot, icon=None, tip=""):
        act = QAction(text, w)
        if icon is not None:
            act.setIcon(w.style().standardIcon(icon))
        seq = settings.shortcut(action_id)
        if seq:
            act.setShortcut(QKeySequence(seq))
        act.setShortcutContext(Qt.WindowShortcut)
        act.setToolTip(f"{tip or text} ({seq})" if seq else (tip or text))
        act.triggered.connect(lambda _checked=False: slot())
        act.setObjectName(f"action_{action_id}")
        w.addAction(act)
        acts[action_id] = act
        return act

    pc, lc, tc, qc = w.project_ctl, w.library_ctl, w.timeline_ctl, w.queue_ctl
    player = w.preview.player
    a("new_project", "New project…", pc.new_project_dialog, S.SP_FileDialogNewFolder)
    a("open_project", "Open project…", pc.open_project_dialog, S.SP_DirOpenIcon)
    a("save_project", "Save", pc.save_project, S.SP_DialogSaveButton)
    a("import", "Import…", lc.import_dialog, S.SP_FileIcon, "Import portraits or audio")
    a("render_all", "Render all", qc.render_all, S.SP_MediaPlay,
      "Render every segment that is not rendered")
    a("rerender", "Re-render", qc.rerender_selection, S.SP_BrowserReload,
      "Re-render the selected segment")
    a("split", "Split", tc.split_at_playhead, None, "Split the segment at the playhead")
    a("merge", "Merge", tc.merge_selected, None, "Merge the selection with the next segment")
    a("export", "Export…", w.export_dialog, S.SP_DialogSaveButton, "Export the video")
    a("play", "Play / pause", player.toggle)
    a("step_back", "Previous frame", lambda: player.step(-1))
    a("step_fwd", "Next frame", lambda: player.step(1))
    a("deselect", "Timeline settings", lambda: tc.select_segment(None), None,
      "Deselect the segment and show the timeline's settings")
    # Undo/Redo from the stack itself: Qt keeps their text as "Undo <command text>", so
    # the Edit menu and the toolbar tooltip say what will be undone
    stack = w.session.undo_stack
    for key, make in (("undo", stack.createUndoAction), ("redo", stack.createRedoAction)):
        act = make(w, key.capitalize())
        act.setIcon(transport_icon(key))
        act.setShortcut(QKeySequence(settings.shortcut(key)))
        act.setShortcutContext(Qt.WindowShortcut)
        act.setObjectName(f"action_{key}")
        w.addAction(act)
        acts[key] = act
    for key, text, slot in (("new_timeline", "New timeline…", lambda: tc.new_timeline_dialog(w)),
                            ("settings", "Settings…", w.settings_dialog),
                            ("record", "Record audio…", lc.record_dialog),
                            ("new_script", "New audio from script…", lc.new_script_dialog),
                            ("shortcuts", "Keyboard shortcuts", w.show_shortcuts),
                            ("about", "About Avatar Studio", w.show_about),
                            ("readme", "Open the README", w.open_readme)):
        act = QAction(text, w)
        act.triggered.connect(lambda _c=False, f=slot: f())
        act.setObjectName(f"action_{key}")
        acts[key] = act
    quit_act = QAction("Quit", w)
    quit_act.setShortcut(QKeySequence.Quit)
    quit_act.triggered.connect(w.close)
    acts["quit"] = quit_act
    return acts


def build_menus(w, acts: dict[str, QAction]) -> None:
    bar = w.menuBar()
    menu = bar.addMenu("&File")
    for key in ("new_project", "open_project"):
        menu.addAction(acts[key])
    w.recent_menu = menu.addMenu("Open recent")
    w.recent_menu.aboutToShow.connect(w.fill_recent)
    menu.addAction(acts["save_project"])
    menu.addSeparator()
    for key in ("import", "record", "new_script", "export"):
        menu.addAction(acts[key])
    menu.addSeparator()
    menu.addAction(acts["settings"])
    menu.addAction(acts["quit"])
    menu = bar.addMenu("&Edit")
    for key in ("undo", "redo"):
        menu.addAction(acts[key])
    menu.addSeparator()
    for key in ("split", "merge", "deselect"):
        menu.addAction(acts[key])
    menu = bar.addMenu("&Timeline")
    for key in ("new_timeline", "render_all", "rerender", "play", "step_back", "step_fwd"):
        menu.addAction(acts[key])
    menu = bar.addMenu("&Help")
    for key in ("shortcuts", "readme", "about"):
        menu.addAction(acts[key])


def build_toolbar(w, acts: dict[str, QAction], combo: QComboBox) -> None:
    tb = QToolBar("Main")
    w.addToolBar(tb)
    tb.setObjectName("main_toolbar")
    tb.setMovable(False)
    tb.setIconSize(QSize(18, 18))
    tb.setToolButtonStyle(Qt.ToolButtonIconOnly)

    def text_button(key: str) -> None:
        tb.addAction(acts[key])
        tb.widgetForAction(acts[key]).setToolButtonStyle(Qt.ToolButtonTextBesideIcon)

    for key in ("new_project", "open_project"):
        tb.addAction(acts[key])
    text_button("import")
    tb.addSeparator()
    for key in ("undo", "redo"):
        tb.addAction(acts[key])
    tb.addSeparator()
    tb.addWidget(QLabel(" Timeline "))
    combo.setMinimumWidth(160)
    combo.setMaximumWidth(260)
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(14)
    combo.setObjectName("timeline_combo")
    combo.setToolTip("The timeline shown (a project can hold several)")
    tb.addWidget(combo)
    text_button("new_timeline")
    tb.addSeparator()
    for key in ("split", "merge"):
        text_button(key)
    tb.addSeparator()
    for key in ("render_all", "rerender", "export"):
        text_button(key)
    w.toolbar = tb
