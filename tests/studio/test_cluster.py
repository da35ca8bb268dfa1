"""Rendering on a Ray cluster (studio.cluster): the same frames as the local queue, a
worker that dies is retried, cancel stops tasks, and a client killed mid-render keeps its
finished segments and continues.

One local cluster (2 CPU workers, 127.0.0.1 only, no dashboard) serves the whole module
and is shut down at its end; the test checks that its processes are gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import InputError
from core.video import read_frames
from studio.cluster import ClusterAddress, parse_address
from studio.project import Project
from studio.queue import JobRunner

ROOT = Path(__file__).resolve().parents[2]


def test_parse_address():
    assert parse_address("auto") == ClusterAddress("auto")
    assert parse_address("local") == ClusterAddress("local")
    assert parse_address("local:3") == ClusterAddress("local", workers=3)
    assert parse_address("ray://10.0.0.5:10001").address == "ray://10.0.0.5:10001"
    assert parse_address("ray://head.example:10001").kind == "ray"
    for bad in ("", "local:0", "local:x", "ray://h", "ray://h:99999", "http://h:1", "h:1"):
        with pytest.raises(InputError):
            parse_address(bad)


def test_cli_and_cluster_module_start_without_ray():
    """Ray is imported only when a cluster is used."""
    code = ("import sys; from studio.cli import build_parser; build_parser(); "
            "import studio.cluster, studio.queue; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_cli_refuses_a_bad_cluster_address(project_dir, capsys):
    from studio.cli import main

    assert main(["render", "--project", str(project_dir), "--cluster", "ray://nowhere"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--cluster" in err[0] and "ray://HOST:PORT" in err[0]
    with Project.open(project_dir) as p:
        assert p.jobs() == []  # refused before anything was queued


# ------------------------------------------------------------------ on a local cluster
def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except OSError:
                continue
            if ppid == pid:
                out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def session():
    from studio.cluster import ClusterSession  # ray is a dev dependency: no skip

    before = _children(os.getpid())
    s = ClusterSession("local:2")
    started = _children(os.getpid()) - before
    assert started, "the local cluster started no process"
    try:
        yield s
    finally:
        s.close()
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in started if _alive(p)], "Ray left processes running"


def _descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        kids = _children(todo.pop()) - out
        out |= kids
        todo += kids
    return out


def _listening(pids: set[int]) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp* has them) of the TCP sockets `pids` listen on."""
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    out.append(cols[1].partition(":")[0])
    return out


LOOPBACK = {"0100007F", "00000000000000000000000001000000",  # 127.0.0.1, ::1
            "0000000000000000FFFF00000100007F"}  # ::ffff:127.0.0.1


def test_local_cluster_listens_on_loopback_only(session):
    addresses = _listening(_descendants(os.getpid()) | {os.getpid()})
    assert addresses, "found no listening socket of the local cluster"
    assert set(addresses) <= LOOPBACK, addresses


def _runner(path, session, **kw):
    from studio.cluster import ClusterRunner

    return ClusterRunner(path, session=session, **kw)


def _frames(path: Path) -> np.ndarray:
    return np.stack(list(read_frames(path)))


def test_cluster_render_equals_local_render(session, template_project, tmp_path):
    import shutil

    local, remote = tmp_path / "local", tmp_path / "remote"
    shutil.copytree(template_project, local)
    shutil.copytree(template_project, remote)
    with Project.open(local) as p:
        tid = p.timeline().id
        p.enqueue(tid)
    with JobRunner(local) as r:
        assert {j.state for j in r.run_all()} == {"done"}
    with Project.open(remote) as p:
        p.enqueue(tid)
    seen: list[tuple[int, float]] = []
    with _runner(remote, session) as r:
        done = r.run_all(progress=lambda j, f, m: seen.append((j.id, f)))
    assert [j.state for j in done] == ["done"] * len(done) and done
    assert {j.id for j in done} == {i for i, f in seen if f == 1.0}
    with Project.open(local) as a, Project.open(remote) as b:
        sa, sb = a.segments(tid), b.segments(tid)
        assert [s.spec_hash for s in sa] == [s.spec_hash for s in sb]
        assert all(s.state == "rendered" for s in sb)
        for x, y in zip(sa, sb, strict=True):
            fa, fb = _frames(x.render_path), _frames(y.render_path)
            assert fa.shape == fb.shape == (x.n_frames, 256, 256, 3)
            assert np.array_equal(fa, fb), f"segment {x.id} differs"
        jobs = b.jobs()
        assert all(j.state == "done" and j.render_id and j.attempts == 1 for j in jobs)
        # nothing left to do: the same spec is reused, not rendered again
        assert b.enqueue(tid) == []


def test_worker_that_dies_is_retried(session, project_dir, tmp_path):
    marker = tmp_path / "crashed-once"
    with Project.open(project_dir) as p:
        tid = p.timeline().id
        seg = p.segments(tid)[-1]
        [job] = p.enqueue(tid, [seg.id])
    with _runner(project_dir, session, faults={seg.id: ("crash_once", str(marker))}) as r:
        [result] = r.run_all()
    assert marker.exists()  # the first attempt ran and its worker process died
    assert result.id == job.id and result.state == "done", result
    with Project.open(project_dir) as p:
        s = p.segment(seg.id)
        assert s.state == "rendered"
        assert _frames(s.render_path).shape[0] == seg.n_frames


def test_cancel_stops_tasks_and_keeps_nothing_partial(session, project_dir, tmp_path):
    """A cancel request on one job (JobStore, as the GUI makes it) stops its task while
    the other finishes; then cancel() of the whole run stops every task."""
    hold_a, hold_b = tmp_path / "release-a", tmp_path / "release-b"
    with Project.open(project_dir) as p:
        tid = p.timeline().id
        a, b = p.segments(tid)[:2]
        ja, jb = p.enqueue(tid, [a.id, b.id])
    faults = {a.id: ("hold", str(hold_a)), b.id: ("hold", str(hold_b))}
    errors: list[BaseException] = []

    def user():
        try:
            with Project.open(project_dir) as p:
                deadline = time.monotonic() + 60
                while p.job(ja.id).state != "running" and time.monotonic() < deadline:
                    time.sleep(0.1)
                p.cancel_job(ja.id)
                while p.job(ja.id).state != "cancelled" and time.monotonic() < deadline:
                    time.sleep(0.1)
                hold_b.touch()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    t = threading.Thread(target=user)
    t.start()
    with _runner(project_dir, session, faults=faults) as r:
        done = {j.id: j for j in r.run_all()}
    t.join(70)
    assert not errors, errors
    assert done[ja.id].state == "cancelled" and done[jb.id].state == "done"
    renders = sorted(f.name for f in (project_dir / "renders").iterdir())
    with Project.open(project_dir) as p:
        assert p.segment(a.id).state != "rendered"
        assert renders == [p.segment(b.id).render_path.name]  # no partial, no temp file

        # cancel the whole run: tasks held forever are stopped, jobs end cancelled
        retried = p.retry_job(ja.id)
        assert retried.state == "queued"
    calls = [0]

    def cancel() -> bool:
        calls[0] += 1
        return calls[0] > 3  # after the task was submitted and started waiting

    with _runner(project_dir, session, faults={a.id: ("hold", str(tmp_path / "never"))}) as r:
        [res] = r.run_all(cancel=cancel)
    assert res.state == "cancelled"
    assert sorted(f.name for f in (project_dir / "renders").iterdir()) == renders


def test_a_task_that_ignores_the_stop_request_is_killed(session, project_dir, tmp_path,
                                                         monkeypatch):
    """cancel() asks a running task to stop (KeyboardInterrupt); one that does not stop
    within CANCEL_GRACE_S has its worker killed, and the job still ends `cancelled` with
    nothing written (it used to wait for it forever)."""
    import studio.cluster as cluster

    monkeypatch.setattr(cluster, "CANCEL_GRACE_S", 1.0)
    with Project.open(project_dir) as p:
        tid = p.timeline().id
        seg = p.segments(tid)[0]
        p.enqueue(tid, [seg.id])
    calls = [0]

    def cancel() -> bool:
        calls[0] += 1
        return calls[0] > 3

    with _runner(project_dir, session, faults={seg.id: ("stubborn", str(tmp_path / "never"))}) as r:
        [res] = r.run_all(cancel=cancel)
    assert res.state == "cancelled", res
    assert not list((project_dir / "renders").glob("*.mp4"))


CHILD = textwrap.dedent("""
    import sys
    from studio.cluster import ClusterAddress, ClusterRunner, ClusterSession, local_runtime_env
    folder, address, hold = sys.argv[1:4]
    session = ClusterSession(ClusterAddress("ray", address=address),
                             runtime_env=local_runtime_env())
    with ClusterRunner(folder, session=session, faults={int(sys.argv[4]): ("hold", hold)}) as r:
        r.run_all()
""")


def test_client_killed_mid_render_keeps_finished_segments(session, project_dir, tmp_path):
    """A client process renders on the cluster and is killed after its first segment was
    recorded: the segment stays rendered, the other job is re-queued and finishes."""
    import ray

    with Project.open(project_dir) as p:
        tid = p.timeline().id
        first, second = p.segments(tid)[:2]
        p.enqueue(tid, [first.id, second.id])
    address = ray.get_runtime_context().gcs_address
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project_dir), address, str(tmp_path / "never"),
         str(second.id)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        with Project.open(project_dir) as p:
            while p.segment(first.id).state != "rendered":
                assert child.poll() is None, child.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the client rendered nothing"
                time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        child.stderr.close()
    with Project.open(project_dir) as p:  # recovery: the dead client's job is interrupted
        assert p.segment(first.id).state == "rendered"
        states = {j.segment_id: j.state for j in p.jobs()}
        assert states == {first.id: "done", second.id: "interrupted"}
        [again] = p.enqueue(tid)
        assert again.segment_id == second.id and again.state == "queued"
    with _runner(project_dir, session) as r:
        [res] = r.run_all()
    assert res.state == "done" and res.attempts == 2
    with Project.open(project_dir) as p:
        assert all(s.state == "rendered" for s in p.segments(tid))


def test_gpu_is_asked_for_diffusion_on_cuda_only(project):
    """num_gpus=1 for the diffusion engine unless its device is the CPU, and only where the
    cluster has GPUs (a task asking for one on a GPU-less cluster would wait forever)."""
    from dataclasses import replace

    from studio.cluster import ClusterRunner

    class Session:
        def __init__(self, gpus):
            self.gpus = gpus

        def workers(self, gpu=False):
            return self.gpus if gpu else 2

    plan = project.render_plan(project.segments(project.timeline().id)[0].id)
    diffusion = replace(plan, timeline=replace(plan.timeline, engine="diffusion"))
    r = object.__new__(ClusterRunner)
    r.session = Session(gpus=1)
    assert r._needs_gpu(diffusion, {}) and r._needs_gpu(diffusion, {"device": "cuda:0"})
    assert not r._needs_gpu(diffusion, {"device": "cpu"})
    assert not r._needs_gpu(plan, {})  # warp
    r.session = Session(gpus=0)
    assert not r._needs_gpu(diffusion, {})


def test_shipped_weights_unpack_once_per_content_hash(tmp_path, monkeypatch):
    import tempfile

    from studio.cluster import _weights_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    blob = {"model_index.json": b"{}", "unet/diffusion_pytorch_model.safetensors": b"x" * 10}
    folder = Path(_weights_folder(blob, "ab" * 32))
    assert folder.parent.parent == tmp_path
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == b"x" * 10
    (folder / "model_index.json").write_bytes(b"kept")
    assert Path(_weights_folder(blob, "ab" * 32)) == folder  # already there: not rewritten
    assert (folder / "model_index.json").read_bytes() == b"kept"
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no temp left
