"""One engine host, export through the render lane, one progress mechanism, no av/PIL in ui.

The window's render lane, its preview, the preset editor's expression preview and export
take their engines from one `studio.engines.EngineHost` (built with the app's engine
settings); export queues what is missing and the render lane renders it; job state reaches
the GUI through the render lane's signals, the database is read only for other processes.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.types import Expression
from tests.ui.conftest import open_window, wait_for


def _small(folder):
    """The copy's timeline at 256 px (fast renders), in two segments."""
    from studio.project import Project

    with Project.open(folder) as p:
        tl = p.timelines()[0]
        p.update_timeline(tl.id, size=256)
        seg = p.segments(tl.id)[0]
        p.split_segment(seg.id, seg.start + seg.n_frames // 2)
    return folder


def _no_engine_outside_the_host(monkeypatch):
    """Fail any engine built through the old per-caller path (studio.pipeline)."""
    from studio import pipeline

    def refuse(*_a, **_k):
        raise AssertionError("an engine was built outside the window's EngineHost")

    monkeypatch.setattr(pipeline, "create_engine", refuse)


def test_render_preview_expression_and_export_share_one_host(make_window, qtbot,
                                                              project_copy, app_settings,
                                                              monkeypatch, tmp_path):
    _no_engine_outside_the_host(monkeypatch)
    app_settings.device = "cpu"  # an app engine setting: reaches the host's options
    win = open_window(make_window, qtbot, _small(project_copy), app_settings)
    bg = win.session.background
    host = bg.engine_host
    assert host.app_options.device == "cpu"
    assert bg.render_host.runner is not None and bg.render_host.runner.host is host

    # the preview lane: an unrendered frame is a warp frame from the same host
    frames = []
    bg.frameReady.connect(lambda tid, f, img: frames.append((f, img)))
    win.preview.player.seek(3)
    wait_for(qtbot, lambda: frames, what="preview frame")
    assert bg.preview_host.project.engine_host is host
    assert frames[-1][1].shape == (256, 256, 3)

    # the preset editor's expression preview: same host, same warp instance
    got = []
    bg.expressionReady.connect(lambda rid, img: got.append(img))
    win.library_ctl.add_preset("Happy", expression=Expression(smile=0.8))
    wait_for(qtbot, lambda: got, what="expression preview")
    assert got[-1].ndim == 3 and got[-1].shape[2] == 3

    # export: queues the two segments, the render lane renders them, then it muxes
    started: list[int] = []
    bg.jobStarted.connect(started.append)
    dlg = win.export_dialog()
    assert dlg.background is bg
    out = tmp_path / "out" / "one-host.mp4"
    out.parent.mkdir()
    dlg.path_edit.setText(str(out))
    qtbot.mouseClick(dlg.export_btn, Qt.LeftButton)
    wait_for(qtbot, lambda: not dlg.running, what="export")
    assert dlg.out_path == out and out.is_file(), dlg.status.text()
    assert len(dlg.job_ids) == 2
    assert dlg.job_ids <= set(started), "the export's jobs did not run on the render lane"
    jobs = {j.id: j for j in win.project.jobs()}
    assert all(jobs[i].state == "done" for i in dlg.job_ids)

    warps = [k for k in host._engines if k[0] == "warp"]
    assert len(warps) == 1, host._engines.keys()
    assert bg.render_host.runner.engine("warp") is host.get("warp")
    dlg.close()
    assert win.errors == []


def test_rendered_segment_is_decoded_through_core(make_window, qtbot, project_copy):
    """The preview lane fills its cache from a segment's render (core.media.video_frames,
    not av in ui): after a render, the frames under the playhead come from the file."""
    win = open_window(make_window, qtbot, _small(project_copy))
    bg = win.session.background
    win.queue_ctl.render_all()
    wait_for(qtbot, lambda: all(s.state == "rendered" for s in win.segments)
             and not bg.rendering, what="render")
    seg = win.segments[0]
    image = bg.preview_host.frame(win.session.timeline_id, seg.start + 2)
    cached = bg.preview_host.cache.get((win.session.timeline_id, seg.spec_hash, seg.start + 2))
    assert cached is not None and cached is image
    from core.video import read_frame

    assert np.array_equal(image, read_frame(seg.render_path, 2))
    # every frame of the segment was decoded once, none past its end
    keys = [k for k in bg.preview_host.cache.items if k[1] == seg.spec_hash]
    assert len(keys) == seg.n_frames


def test_job_state_comes_from_signals_other_processes_from_the_db(make_window, qtbot,
                                                                   project_copy):
    from studio.project import Project
    from ui.queue_ctl import OTHER_PROCESS_POLL_MS

    win = open_window(make_window, qtbot, _small(project_copy))
    ctl = win.queue_ctl
    assert ctl.poll_timer.interval() == OTHER_PROCESS_POLL_MS >= 5000

    # another process queues and starts a job: the window learns of it on focus ...
    with Project.open(project_copy) as other:
        tl = other.timelines()[0]
        (job,) = other.enqueue(tl.id, [other.segments(tl.id)[0].id])
        claimed = other.job_store.claim({job.id})
        assert claimed is not None and claimed.id == job.id
        assert ctl.jobs == []
        ctl._on_app_state(Qt.ApplicationActive)
        assert [(j.id, j.state) for j in ctl.jobs] == [(job.id, "running")]
        # ... and through the slow poll while that job is active
        other.job_store.finish(job.id, "cancelled", "stopped by the other process")
    ctl._poll()
    assert [(j.id, j.state) for j in ctl.jobs] == [(job.id, "cancelled")]

    # our own render: progress arrives as signals (job id, fraction), no poll involved
    ctl.poll_timer.stop()
    progress: list[tuple[int, float]] = []
    win.session.background.jobProgress.connect(lambda i, f, m: progress.append((i, f)))
    ctl.render_all()
    wait_for(qtbot, lambda: all(s.state == "rendered" for s in win.segments)
             and not win.session.background.rendering, what="render")
    assert progress and {i for i, _ in progress} <= {j.id for j in ctl.jobs}
    assert max(f for _, f in progress) == pytest.approx(1.0)
    assert all(j.state == "done" for j in ctl.jobs if j.id != job.id)


def test_send_progress_shares_the_workers_throttle(qtbot):
    """One GUI-side rate limit: send_progress drops what arrives inside the interval, except
    a final event, and shares the throttle with progress()."""
    from ui.tasks import create_worker

    worker = create_worker(lambda: None)
    seen = []
    worker.signals.yielded.connect(seen.append)
    worker._throttle.interval = 3600.0  # nothing in between passes in this test
    worker.send_progress("first")
    worker.send_progress("dropped")
    worker.progress(0.5, "dropped too")
    worker.send_progress("last", final=True)
    assert seen == ["first", "last"]


def test_closing_the_project_stops_a_waiting_export(make_window, qtbot, project_copy,
                                                    tmp_path):
    """An export waiting for the render lane is cancelled when its project closes (else it
    would wait for a lane that is gone); it leaves no file."""
    win = open_window(make_window, qtbot, _small(project_copy))
    dlg = win.export_dialog()
    out = tmp_path / "never.mp4"
    dlg.path_edit.setText(str(out))
    failed: list[str] = []
    dlg.failed_export.connect(failed.append)
    qtbot.mouseClick(dlg.export_btn, Qt.LeftButton)
    assert dlg.running
    win.project_ctl.close_project()
    wait_for(qtbot, lambda: not dlg.running, timeout=60, what="export stopped")
    assert failed == ["cancelled"] and not out.exists()
    assert win.export_window is None
