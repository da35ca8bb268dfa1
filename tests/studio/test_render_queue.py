"""Render queue with the real warp engine (256 px): spec-hash reuse, single-segment
re-render, cancel without partial output, retry, and seamless boundaries."""

from __future__ import annotations

import threading

import numpy as np

from core.types import Expression
from core.video import probe, read_frames
from studio.queue import JobRunner


def _render_all(project, factory, **kw):
    tid = project.timeline().id
    project.enqueue(tid)
    with JobRunner(project.path, engine_factory=factory) as runner:
        return runner.run_all(**kw)


def test_reuse_and_single_segment_rerender(project, counting_factory):
    tid = project.timeline().id
    segs = project.segments(tid)
    done = _render_all(project, counting_factory)
    assert [j.state for j in done] == ["done"] * len(segs)
    calls = counting_factory.engines[0].calls
    assert sorted(calls) == [(s.start, s.end) for s in segs]
    after = project.segments(tid)
    assert all(s.state == "rendered" for s in after)
    for s in after:
        info = probe(s.render_path)
        assert info["n_frames"] == s.n_frames and info["width"] == 256
        assert not info["has_audio"]
    files = {s.id: s.render_path.stat().st_mtime_ns for s in after}

    # nothing changed: nothing to queue, the engine is not called
    assert project.enqueue(tid) == []
    assert _render_all(project, counting_factory) == []

    # change one segment: only it is stale and only it is rendered
    target = after[-1]
    project.set_segment_overrides(target.id, expression=Expression(smile=0.9), seed=3)
    states = {s.id: s.state for s in project.segments(tid)}
    assert states[target.id] == "stale"
    assert all(v == "rendered" for k, v in states.items() if k != target.id)
    _render_all(project, counting_factory)
    calls2 = counting_factory.engines[-1].calls
    assert calls2 == [(target.start, target.end)]
    final = project.segments(tid)
    assert all(s.state == "rendered" for s in final)
    for s in final:
        if s.id != target.id:
            assert s.render_path.stat().st_mtime_ns == files[s.id]  # untouched

    # undo: the old spec's render is found again without rendering
    project.set_segment_overrides(target.id, expression=None, seed=None)
    assert project.segment(target.id).state == "rendered"

    # seamless: the override fades in, so the first frame of the changed segment is
    # close to the unchanged render of that frame
    project.set_segment_overrides(target.id, expression=Expression(smile=0.9), seed=3)
    changed = next(read_frames(project.segment(target.id).render_path)).astype(int)
    project.set_segment_overrides(target.id, expression=None, seed=None)
    base = next(read_frames(project.segment(target.id).render_path)).astype(int)
    mid_changed = list(read_frames(final[-1].render_path))[target.n_frames // 2].astype(int)
    mid_base = list(read_frames(project.segment(target.id).render_path))[
        target.n_frames // 2].astype(int)
    edge = np.abs(changed - base).mean()
    middle = np.abs(mid_changed - mid_base).mean()
    assert edge < middle and edge < 3.0, (edge, middle)


def test_cancel_leaves_no_partial_and_keeps_previous(project, counting_factory):
    tid = project.timeline().id
    _render_all(project, counting_factory)
    seg = project.segments(tid)[0]
    old_path = seg.render_path
    snap = project.snapshot_segments(tid)
    project.set_segment_overrides(seg.id, seed=99)
    [job] = project.enqueue(tid)
    frames_seen = []

    def progress(fraction, message):
        frames_seen.append(fraction)

    def cancel():
        return len(frames_seen) >= 10

    with JobRunner(project.path, engine_factory=counting_factory) as runner:
        result = runner.run_next(progress=progress, cancel=cancel)
    assert result.id == job.id and result.state == "cancelled"
    renders = sorted(p.name for p in (project.path / "renders").iterdir())
    assert len(renders) == len(project.segments(tid))  # no new file, no temp file left
    assert old_path.is_file()
    assert project.segment(seg.id).state == "stale"
    # the previous render is still recorded and becomes current again on undo
    project.restore_segments(tid, snap)
    assert project.segment(seg.id).state == "rendered"
    assert project.segment(seg.id).render_path == old_path

    # retry the cancelled job (for the edited spec)
    project.set_segment_overrides(seg.id, seed=99)
    again = project.retry_job(job.id)
    assert again.state == "queued"
    assert project.segment(seg.id).state == "queued"
    with JobRunner(project.path, engine_factory=counting_factory) as runner:
        assert runner.run_next().state == "done"
    assert project.segment(seg.id).state == "rendered"
    assert project.job(job.id).attempts == 2


def test_cancel_running_job_from_another_thread(project, counting_factory, monkeypatch):
    """The UI path: cancel_job on a running job stops it between frames.

    Deterministic: the first job's progress callback (runner thread) holds the render until
    the cancel has been written, and the runner polls the database at every frame, so the
    job cannot finish before the request is seen."""
    import studio.queue

    monkeypatch.setattr(studio.queue, "DB_UPDATE_EVERY", 0.0)
    tid = project.timeline().id
    jobs = project.enqueue(tid)
    assert len(jobs) >= 2
    started, cancel_sent = threading.Event(), threading.Event()
    fractions: dict[int, list[float]] = {}

    def progress(job, f, m):
        fractions.setdefault(job.id, []).append(f)
        if job.id == jobs[0].id and not started.is_set():
            started.set()
            assert cancel_sent.wait(60), "the test never sent the cancel"

    with JobRunner(project.path, engine_factory=counting_factory) as runner:
        t = threading.Thread(target=runner.run_all, kwargs={"progress": progress})
        t.start()
        assert started.wait(60)
        assert project.job(jobs[0].id).state == "running"
        project.cancel_job(jobs[0].id)
        project.cancel_job(jobs[-1].id)  # still queued: cancelled at once
        assert project.job(jobs[-1].id).state == "cancelled"
        cancel_sent.set()
        t.join(120)
        assert not t.is_alive()
    states = {j.id: j.state for j in project.jobs()}
    assert states[jobs[0].id] == "cancelled"
    assert states[jobs[-1].id] == "cancelled"
    assert max(fractions[jobs[0].id]) < 0.999  # stopped mid-render, never completed
    assert jobs[-1].id not in fractions  # never started
    seg0 = project.segment(jobs[0].segment_id)
    assert seg0.state != "rendered" and seg0.render_path is None
    assert not [p for p in (project.path / "renders").iterdir() if p.name.startswith(".")]


def test_failed_job_and_preview(project):
    tid = project.timeline().id
    project.update_timeline(tid, size=128)  # below the warp engine's minimum
    jobs = project.enqueue(tid)
    with JobRunner(project.path) as runner:
        res = runner.run_all()
    assert all(r.state == "failed" and "256" in r.error for r in res)
    assert {s.state for s in project.segments(tid)} == {"failed"}
    assert project.retry_job(jobs[0].id).state == "queued"
    project.update_timeline(tid, size=256)
    img = project.preview_frame(tid, 10)  # not rendered: instant warp frame
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8
    with JobRunner(project.path) as runner:
        runner.run_all()
    seg = project.segments(tid)[0]
    assert seg.state == "rendered"
    from_file = project.preview_frame(tid, 10)
    assert np.abs(from_file.astype(int) - img.astype(int)).mean() < 4  # same frame, encoded
