"""One engine host (studio.engines): engines built once per name and options, the app's
options under the timeline's; export queues jobs and, asked to, leaves them to another
runner instead of building engines of its own."""

from __future__ import annotations

import threading

from studio.engines import EngineHost, EngineOptions, engine_traits, names


def test_registry_is_cores():
    from core import engines

    assert names() == engines.names() and {"warp", "diffusion"} <= set(names())


def test_options_are_typed_and_round_trip():
    o = EngineOptions.from_dict({"weights": "/w", "steps": 3, "overlap": 2})
    assert (o.weights, o.steps, o.guidance) == ("/w", 3, None)
    assert o.as_dict() == {"weights": "/w", "steps": 3, "overlap": 2}
    assert o.merged({"steps": 5}).as_dict() == {"weights": "/w", "steps": 5, "overlap": 2}


def test_host_builds_each_engine_once_with_app_options_under_the_timeline():
    host = EngineHost({"device": "cpu", "steps": 9})
    warp = host.get("warp")
    assert host.get("warp", {"steps": 3}) is warp  # warp takes no options: one instance
    d1 = host.get("diffusion", {"steps": 1})
    assert host.get("diffusion", {"steps": 1}) is d1
    assert d1.device == "cpu" and d1.settings["steps"] == 1  # the timeline's wins
    d2 = host.get("diffusion")
    assert d2 is not d1 and d2.settings["steps"] == 9  # the app's default
    assert engine_traits("diffusion", '{"overlap": 3}')[0] == 3
    assert engine_traits("warp") == (0, False)


def test_export_can_leave_rendering_to_the_apps_runner(project, tmp_path):
    """run_jobs=False: export queues the missing segments and waits while another runner
    (the app's worker) renders them; the exporting project builds no engine."""
    from studio.queue import JobRunner

    tid = project.timeline().id
    project.enqueue(tid)
    stop = threading.Event()

    def worker():
        with JobRunner(project.path) as runner:
            while not stop.is_set():
                if not runner.run_all():
                    stop.wait(0.05)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        out = project.export_video(tid, tmp_path / "x.mp4", run_jobs=False)
    finally:
        stop.set()
        t.join(timeout=60)
    assert out.is_file()
    assert {s.state for s in project.segments(tid)} == {"rendered"}
    assert project.engine_host._engines == {}  # nothing built here
