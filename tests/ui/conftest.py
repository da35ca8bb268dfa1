"""GUI test helpers: a MainWindow with throw-away settings, and waiting utilities.

Every window gets its own INI settings file in a temp folder (never the user's), and
modal questions are answered through the window's `ask_*` hooks, so no test blocks on a
dialog.
"""

from __future__ import annotations

import shutil
import time

import pytest
from PySide6.QtCore import QSettings

from ui.settings import AppSettings


@pytest.fixture
def app_settings(tmp_path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))


@pytest.fixture
def make_window(qtbot, app_settings):
    """Factory: make_window(settings=None) -> a shown MainWindow, closed at teardown."""
    from ui.main_window import MainWindow

    windows = []

    def make(settings: AppSettings | None = None):
        win = MainWindow(settings or app_settings)
        qtbot.addWidget(win)
        win.resize(1400, 900)
        win.show()
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()


def wait_for(qtbot, condition, timeout: float = 120.0, what: str = "condition") -> None:
    """Process events until condition() is true (fails the test after `timeout` s)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        qtbot.wait(10)


class TicksWhile:
    """Counts 10 ms QTimer ticks on the GUI event loop during which `condition()` holds.

    A positive count proves the loop kept turning while, e.g., a render was in progress
    (the work runs off the GUI thread). How long the loop was blocked is a timing, measured
    by `python main.py bench ui`, not asserted in tests.
    """

    def __init__(self, condition):
        from PySide6.QtCore import QTimer

        self.condition = condition
        self.ticks = 0
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        if self.condition():
            self.ticks += 1

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


@pytest.fixture(scope="session")
def base_project(tmp_path_factory, samples):
    """A project with a portrait, a 3 s track (with transcript) and a 512 px timeline,
    made once through the studio API; tests work on copies (`project_copy`)."""
    from studio.project import Project

    folder = tmp_path_factory.mktemp("ui-base") / "base"
    with Project.create(folder, "base") as p:
        portrait = p.add_portrait(samples / "portraits" / "hallo_2.jpg")
        audio = p.add_audio(samples / "audio" / "asterisk_conf-onlyperson.wav",
                            transcript="You are currently the only person in this conference.")
        p.new_timeline(portrait.id, audio.id, size=512, name="base")
        p.audio_features(audio.id, 25)  # cache the analysis in the copy
        p.checkpoint()
    return folder


@pytest.fixture
def project_copy(base_project, tmp_path):
    dst = tmp_path / "proj"
    shutil.copytree(base_project, dst)
    return dst


def open_window(make_window, qtbot, folder, settings=None):
    """A window with `folder` open, its timeline loaded and the workers warmed up."""
    win = make_window(settings)
    loaded = []
    win.session.timelineLoaded.connect(loaded.append)
    assert win.project_ctl.open_project(folder)
    wait_for(qtbot, lambda: loaded and not win.busy and win.session.background.ready,
             what="timeline loaded, workers ready")
    return win
