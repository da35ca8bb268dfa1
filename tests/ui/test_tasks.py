"""The one worker mechanism (ui/tasks.py), the Changes broadcaster and the GUI wording."""

from __future__ import annotations

import threading

import pytest

from core.errors import InputError
from tests.ui.conftest import wait_for
from ui.changes import JOBS, PRESETS, ChangeHub, Changes
from ui.tasks import Lane, create_worker, run


def _collect(worker):
    got = {"started": 0, "yielded": [], "returned": [], "errored": [], "finished": 0,
           "progress": []}
    worker.connect(
        started=lambda: got.__setitem__("started", got["started"] + 1),
        yielded=got["yielded"].append,
        returned=got["returned"].append,
        errored=got["errored"].append,
        finished=lambda: got.__setitem__("finished", got["finished"] + 1),
        progress=lambda f, m: got["progress"].append((f, m)))
    return got


def test_worker_runs_a_generator_and_a_function(qtbot):
    def gen(n):
        for i in range(n):
            yield i * i
        return "done"

    w = create_worker(gen, 4)
    got = _collect(w)
    run(w)
    wait_for(qtbot, lambda: got["finished"], timeout=10, what="generator worker")
    assert got["started"] == 1 and got["yielded"] == [0, 1, 4, 9]
    assert got["returned"] == ["done"] and got["errored"] == []

    def fn(worker, x):
        worker.send("hello")
        worker.progress(1.0, "all")
        return x + 1

    w2 = create_worker(fn, 41, pass_worker=True)
    got2 = _collect(w2)
    run(w2)
    wait_for(qtbot, lambda: got2["finished"], timeout=10, what="function worker")
    assert got2["returned"] == [42] and got2["yielded"] == ["hello"]
    assert got2["progress"] == [(1.0, "all")]


def test_worker_errors_are_one_line_and_cancel_stops_a_generator(qtbot):
    def bad():
        raise InputError("song.wav", "not an audio file")

    w = create_worker(bad)
    got = _collect(w)
    run(w)
    wait_for(qtbot, lambda: got["finished"], timeout=10, what="error")
    assert got["returned"] == [] and len(got["errored"]) == 1
    assert "song.wav" in got["errored"][0] and "Traceback" not in got["errored"][0]

    gate = threading.Event()
    produced = []

    def endless():
        i = 0
        while True:
            gate.wait(5)
            produced.append(i)
            yield i
            i += 1

    w2 = create_worker(endless)
    got2 = _collect(w2)
    run(w2)
    w2.cancel()
    gate.set()
    wait_for(qtbot, lambda: got2["finished"], timeout=10, what="cancelled generator")
    assert got2["errored"] == ["cancelled"] and got2["returned"] == []
    assert len(produced) <= 1  # stopped at the first yield after cancel


def test_a_lane_runs_everything_on_one_thread_in_order(qtbot):
    lane = Lane("test-lane")
    threads, order = [], []

    def job(i):
        threads.append(threading.get_ident())
        order.append(i)
        return i

    done = []
    for i in range(5):
        w = create_worker(job, i)
        w.connect(finished=lambda: done.append(1))
        lane.start(w)
    wait_for(qtbot, lambda: len(done) == 5, timeout=10, what="lane")
    assert order == list(range(5))
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
    assert lane.join(1000)


def test_changes_merge_and_broadcast(qtbot):
    c = PRESETS | JOBS | Changes(audio_id=3)
    assert c.presets and c.jobs and c.segments and not c.assets and c.audio_id == 3
    assert not Changes() and Changes(renders=True)
    hub = ChangeHub()
    heard = []
    hub.subscribe(heard.append)
    hub.emit(Changes())  # nothing changed: nobody is bothered
    hub.emit(JOBS)
    assert heard == [JOBS]


@pytest.mark.parametrize("raw, must, must_not", [
    ("no weights folder configured: pass --weights DIR or set AVATAR_DIFFUSION_WEIGHTS "
     "(create a tiny test folder with `python main.py models init-tiny DIR`)",
     "Settings ▸ Model folder", "--weights"),
    ("/x/cat.jpg: not an image Pillow can read (the content is not JPEG/PNG/WebP/TIFF/...)",
     "cat.jpg", "Pillow"),
    ("/x/folder: is not a project (no project.db inside); create one with 'project new'",
     "File ▸ New project", "project new"),
])
def test_messages_in_gui_words(raw, must, must_not):
    from ui.wording import friendly

    text = friendly(raw)
    assert must in text and must_not not in text
