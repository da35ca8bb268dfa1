"""Render screenshots of the studio for the docs (run under Xvfb):

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/screenshots.py

It builds a throw-away project from license-clean inputs (scikit-image's `astronaut`
photograph, public domain NASA, and speech synthesised with espeak-ng), renders the whole
timeline with the warp engine, selects a segment, puts the playhead mid-way, and grabs:
docs/screenshot-main.png, docs/screenshot-preset.png, docs/screenshot-export.png.
Settings go to a temp INI file, so the user's own settings are never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT = ("Hello! I am an astronaut, and this is a talking portrait. "
        "Every segment of this timeline was rendered on the CPU.")


def wait(app, condition, timeout: float = 240.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not condition():
        app.processEvents()
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


def settle(app, seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    from PIL import Image
    from PySide6.QtCore import QSettings
    from skimage import data

    from core.types import Expression
    from ui.app import create_app, install_excepthook
    from ui.main_window import MainWindow
    from ui.settings import AppSettings

    out_dir = ROOT / "docs"
    out_dir.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="avatar-shots-"))
    portrait = tmp / "astronaut.png"
    Image.fromarray(data.astronaut()).save(portrait)
    speech = tmp / "welcome.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(speech), TEXT], check=True)

    app = create_app()
    settings = AppSettings(QSettings(str(tmp / "settings.ini"), QSettings.IniFormat))
    win = MainWindow(settings)
    install_excepthook(win)
    win.resize(1366, 768)  # a common laptop screen: what a newcomer sees
    win.show()
    settle(app, 0.3)

    win.project_ctl.new_project(tmp / "Demo project", "Demo project")
    win.library_ctl.import_files([str(portrait), str(speech)])
    wait(app, lambda: not win.busy and len(win.project.audio_tracks()) == 1
         and len(win.project.portraits()) == 1, what="imports")
    win.library_ctl.set_transcript(win.project.audio_tracks()[0].id, TEXT)
    win.library_ctl.add_preset("Cheerful", prompt="bright smile, warm studio light",
                   expression=Expression(smile=0.7, brows=0.3, head_motion=1.3))
    win.library_ctl.add_preset("Serious",
                               expression=Expression(smile=-0.3, brows=-0.4, head_motion=0.6))
    p = win.project.portraits()[0]
    a = win.project.audio_tracks()[0]
    loaded = []
    win.session.timelineLoaded.connect(loaded.append)
    win.timeline_ctl.create_timeline(p.id, a.id, size=512, name="Welcome message")
    wait(app, lambda: loaded and not win.busy, what="timeline")
    if len(win.segments) < 3:
        win.preview.player.seek(win.segments[-1].start + win.segments[-1].n_frames // 2)
        win.timeline_ctl.split_at_playhead()
    seg = win.segments[1]
    cheerful = next(x for x in win.project.presets() if x.name == "Cheerful")
    win.timeline_ctl.select_segment(seg.id)
    win.timeline_ctl.set_overrides(seg.id, {"preset_id": cheerful.id})
    win.queue_ctl.render_all()
    wait(app, lambda: all(s.state == "rendered" for s in win.segments) and
         not win.session.background.rendering, timeout=600, what="render")
    win.library.tabs.setCurrentIndex(0)
    win.timeline_ctl.select_segment(win.segments[1].id)
    mid = (win.segments[1].start + win.segments[1].end) // 2
    win.preview.player.seek(mid)
    wait(app, lambda: win.preview.view.image is not None, what="frame")
    settle(app, 1.0)
    win.grab().save(str(out_dir / "screenshot-main.png"))

    win.library.tabs.setCurrentIndex(2)
    win.library.preset_list.select_id(cheerful.id)
    win.library_ctl.show_preset(cheerful.id)
    settle(app, 2.5)
    win.grab().save(str(out_dir / "screenshot-preset.png"))

    dlg = win.export_dialog()
    dlg.start()
    wait(app, lambda: not dlg.running, timeout=300, what="export")
    settle(app, 0.3)
    dlg.grab().save(str(out_dir / "screenshot-export.png"))
    print("export:", dlg.out_path, "errors:", win.errors)
    win.close()
    settle(app, 0.2)
    print("screenshots in", out_dir)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    raise SystemExit(main())
