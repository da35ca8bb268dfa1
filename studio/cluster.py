"""Rendering a project's timeline on a Ray cluster: one Ray task per segment.

Why Ray and not a scheduler of our own: placement on free CPUs/GPUs across machines, the
object store, retrying a task whose worker died (`max_retries`) and cancelling tasks
(`ray.cancel`) are what Ray is; this module only maps the render queue onto it.

What stays as with the local queue (studio.runner), and why:
- the project's database is written only here, on the user's machine, through JobStore:
  jobs are claimed (`running`, this process's pid) as they are submitted, and every result
  is written to renders/<spec_hash>.mp4 atomically and recorded (`record_render`) the
  moment it arrives. A client killed mid-render leaves its finished segments recorded and
  its other jobs `running` by a dead pid, which `Project.open` (studio.recovery) marks
  `interrupted` and the next `render` re-queues: it continues where it stopped.
- the same request is built (`runner.build_request`) and the same encode step runs on the
  worker (`runner.encode_frames`, same CRF and preset), so a segment's frames are those of a
  local render; the worker returns the encoded MP4's bytes.
- progress: workers report (fraction, message) to a small actor, the client forwards it to
  the caller and to the job rows through the one throttle (`ProgressWriter`), which also
  sees cancel requests; `cancel()` or `JobStore.cancel` stops tasks with `ray.cancel`; the
  job is `cancelled` and nothing partial is written.

What travels: the portrait's FaceRig (with pixels), the audio features, the motion plan and
(diffusion) the waveform go into Ray's object store once, keyed by content hash, and every
segment task refers to them. The diffusion weights are read from a path every machine
shares (the default) or shipped through the object store (`ship_weights`) and unpacked on
each machine under a folder named by their content hash.

A local cluster (`local`, or `auto` finding none) lives as long as the command: a normal
end, an error or Ctrl-C stops it; a client killed with SIGKILL takes Ray's GCS and raylet
with it but may leave two idle Ray agent processes behind (Ray's behaviour, seen with 2.60).

Ray moves these objects with its own serialisation between the processes of a cluster the
user runs; nothing of it is written to the project (which stays free of pickle). Ray is
imported lazily: the CLI and the GUI start without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import Cancelled, InputError
from core.types import CancelFn, ProgressFn, RenderRequest
from studio import runner as _runner
from studio.engines import EngineHost, EngineOptions
from studio.jobs import ProgressWriter
from studio.records import JobInfo
from studio.specs import RenderPlan, motion_key_parts, spec_hash

log = logging.getLogger(__name__)

MAX_RETRIES = 3
"""Times a segment's task is re-run elsewhere when its worker process dies."""
POLL_S = 0.25
"""Seconds between the client's looks at finished tasks, progress and cancel requests."""
REPORT_EVERY_S = 0.5
"""Seconds between a worker's progress reports."""
CANCEL_GRACE_S = 10.0
"""Seconds a task asked to stop (a KeyboardInterrupt in the task) may take before its
worker process is killed (`ray.cancel(force=True)`): a task blocked where the interrupt
does not reach it must not keep a cancelled render waiting forever."""

_ADDRESS_RE = re.compile(r"^ray://(?P<host>[A-Za-z0-9_.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class ClusterAddress:
    """Where to render: `auto` (a running cluster if one is found, else a local one),
    `local` (a cluster of `workers` CPU workers started on this machine and stopped
    afterwards) or `ray://HOST:PORT` (a cluster's Ray client server, port 10001 by default)."""

    kind: str
    workers: int | None = None
    address: str | None = None

    def __str__(self) -> str:
        if self.kind == "local":
            return "local" if self.workers is None else f"local:{self.workers}"
        return self.address or self.kind


def parse_address(text: str) -> ClusterAddress:
    """`auto`, `local`, `local:N` or `ray://HOST:PORT`; InputError (one line) otherwise."""
    t = (text or "").strip()
    if t == "auto":
        return ClusterAddress("auto")
    if t == "local":
        return ClusterAddress("local")
    if t.startswith("local:"):
        n = t.partition(":")[2]
        if not n.isdigit() or not 1 <= int(n) <= 1024:
            raise InputError(None, f"--cluster {text}: local:N needs N workers, 1-1024")
        return ClusterAddress("local", workers=int(n))
    m = _ADDRESS_RE.match(t)
    if m and 1 <= int(m["port"]) <= 65535:
        return ClusterAddress("ray", address=t)
    raise InputError(None, f"--cluster {text!r}: expected auto, local, local:N or "
                     "ray://HOST:PORT (e.g. ray://10.0.0.5:10001)")


def _ray():
    try:
        import ray
    except ImportError:
        raise InputError(None, "--cluster needs Ray: pip install 'avatar-studio[cluster]' "
                         "(or pip install ray)") from None
    return ray


def _code_root() -> str:
    """The folder holding the `studio` and `core` packages this process runs, for the
    workers of a local cluster (a git worktree may not be the installed copy)."""
    return str(Path(__file__).resolve().parents[1])


def local_runtime_env() -> dict:
    """Workers on this machine import this checkout's `studio` and `core`."""
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(
        p for p in (_code_root(), os.environ.get("PYTHONPATH")) if p)}}


class ClusterSession:
    """A connection to a Ray cluster (started here for `local`), closed by `close()`.

    A local cluster listens on 127.0.0.1 only and has no dashboard."""

    def __init__(self, address: ClusterAddress | str = "local", log_to_driver: bool = False,
                 runtime_env: dict | None = None):
        """`runtime_env`: Ray's, for this connection's tasks; a local cluster's default puts
        this checkout first on the workers' path (a remote cluster's machines must have
        avatar-studio installed, at the same version)."""
        self.address = parse_address(address) if isinstance(address, str) else address
        ray = _ray()
        self.ray = ray
        self._owned = False
        self._restore: Callable[[], None] | None = None
        if ray.is_initialized():  # a test or the app connected already: share it
            return
        env = runtime_env if runtime_env is not None else local_runtime_env()
        kw: dict[str, Any] = {"log_to_driver": log_to_driver, "logging_level": "WARNING",
                              "configure_logging": False}
        a = self.address
        try:
            if a.kind == "ray":
                ray.init(address=a.address, runtime_env=runtime_env, **kw)
            elif a.kind == "auto" and _running_cluster(ray, {**kw, "runtime_env": env}):
                pass
            else:
                self._restore = _loopback_only()
                ray.init(num_cpus=a.workers or os.cpu_count() or 1, include_dashboard=False,
                         _node_ip_address="127.0.0.1", runtime_env=env, **kw)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
            self._undo_loopback()
            raise InputError(None, f"--cluster {a}: cannot connect "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                             ) from None
        self._owned = True

    def workers(self, gpu: bool = False) -> int:
        """CPUs (or GPUs) the cluster has now: how many segments run at once."""
        res = self.ray.cluster_resources()
        return int(res.get("GPU" if gpu else "CPU", 0))

    def close(self) -> None:
        """Disconnect (and stop a cluster started here)."""
        if self._owned:
            self._owned = False
            self.ray.shutdown()
        self._undo_loopback()

    def _undo_loopback(self) -> None:
        if self._restore is not None:
            self._restore()
            self._restore = None

    def __enter__(self) -> ClusterSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _loopback_only() -> Callable[[], None]:
    """Make a local cluster listen on 127.0.0.1 only; returns the undo.

    Why: Ray turns a node address of 127.0.0.1 into the machine's reachable address (for
    a cluster others may join), so its servers would listen on the network; with its
    "no multi-machine cluster" switch (meant for laptops) the node address stays loopback
    and every server (GCS, raylet, workers) binds to it. The switch is read by this
    process (a module constant) and by the processes it starts (the environment)."""
    old_env = os.environ.get(_LOOPBACK_ENV)
    os.environ[_LOOPBACK_ENV] = "0"
    try:
        from ray._private import ray_constants

        old_const = ray_constants.ENABLE_RAY_CLUSTER
        ray_constants.ENABLE_RAY_CLUSTER = False
    except (ImportError, AttributeError):  # another Ray: it binds as it does
        ray_constants, old_const = None, None

    def undo() -> None:
        if old_env is None:
            os.environ.pop(_LOOPBACK_ENV, None)
        else:
            os.environ[_LOOPBACK_ENV] = old_env
        if ray_constants is not None:
            ray_constants.ENABLE_RAY_CLUSTER = old_const

    return undo


def _running_cluster(ray, kw: dict) -> bool:
    """Connect to the cluster RAY_ADDRESS or `ray start` on this machine names; False when
    there is none."""
    try:
        ray.init(address="auto", **kw)
        return True
    except (ConnectionError, RuntimeError):
        return False


# ------------------------------------------------------------------ the worker's side
_WORKER_HOST: EngineHost | None = None
"""Each worker process builds its engines once and keeps them for its next segments."""


def _fault(fault: tuple[str, str] | None) -> None:
    """Injected faults, for tests only: ("crash_once", marker) kills the worker process on
    the first attempt (the marker file absent); ("hold", marker) waits until it exists;
    ("stubborn", marker) too, ignoring the stop request (KeyboardInterrupt)."""
    if not fault:
        return
    kind, marker = fault
    if kind == "crash_once" and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    if kind == "hold":
        while not os.path.exists(marker):
            time.sleep(0.05)
    if kind == "stubborn":  # a task the stop request does not reach
        while not os.path.exists(marker):
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(0.05)


def _weights_folder(blob: dict[str, bytes], digest: str) -> str:
    """Unpack shipped weights under the temp folder, once per content hash per machine."""
    dest = Path(tempfile.gettempdir()) / "avatar-studio-weights" / digest
    if not dest.is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=dest.parent))
        for rel, data in blob.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
        try:
            os.replace(tmp, dest)
        except OSError:  # another task on this machine unpacked it first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return str(dest)


def render_segment(rig, features, motion, audio, params: dict, board=None,
                   weights: tuple[str, dict[str, bytes]] | None = None) -> dict:
    """One segment on a worker: the request rebuilt from its parts, rendered and encoded
    exactly as studio.runner does locally; returns the MP4's bytes and the worker's time."""
    global _WORKER_HOST
    _fault(params.get("fault"))
    t0 = time.perf_counter()
    options = dict(params["engine_options"])
    settings = dict(params["settings"])
    if weights is not None:
        folder = _weights_folder(weights[1], weights[0])
        options["weights"] = settings["weights"] = folder
    request = RenderRequest(rig=rig, features=features, motion=motion, size=params["size"],
                            fps=params["fps"], seed=params["seed"],
                            expression=params["expression"], text=params["text"],
                            settings=settings, audio=audio)
    if params.get("anchors"):
        request.settings["anchors"] = params["anchors"]
    if _WORKER_HOST is None:
        _WORKER_HOST = EngineHost()
    engine = _WORKER_HOST.get(params["engine"], options)
    start, end = params["range"]
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if board is not None and now - last[0] >= REPORT_EVERY_S:
            last[0] = now
            board.put.remote(params["job_id"], fraction, message)

    with tempfile.TemporaryDirectory(prefix="avatar-segment-") as tmp:
        out = _runner.encode_frames(
            engine, request, range(start, end), Path(tmp) / "segment.mp4",
            crf=_runner.RENDER_CRF, preset=_runner.RENDER_PRESET, progress=progress,
            frame_label=lambda i: f"frame {start + i}/{end}", fps=params["timeline_fps"])
        data = out.read_bytes()
    return {"mp4": data, "seconds": time.perf_counter() - t0, "pid": os.getpid()}


class _Board:
    """The progress board (a Ray actor): workers put, the client takes."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple[float, str]] = {}

    def put(self, job_id: int, fraction: float, message: str) -> None:
        self.latest[job_id] = (fraction, message)

    def take(self) -> dict[int, tuple[float, str]]:
        out, self.latest = self.latest, {}
        return out


# ------------------------------------------------------------------ the client's side
@dataclass
class _InFlight:
    job: JobInfo
    plan: RenderPlan
    writer: ProgressWriter
    progress: ProgressFn | None
    fraction: float = 0.0
    stop_asked: float | None = None  # when the task was asked to stop (monotonic seconds)


class ClusterRunner:
    """The render queue of a project run on a Ray cluster, with `studio.queue.JobRunner`'s
    interface (`run_all`, `close`), so the CLI and the GUI's worker can use either.

    `faults`: {segment_id: fault} injected into tasks (tests only, see `_fault`)."""

    def __init__(self, project_path, address: ClusterAddress | str = "local",
                 engine_options: EngineOptions | dict | None = None,
                 ship_weights: bool = False, max_retries: int = MAX_RETRIES,
                 session: ClusterSession | None = None,
                 faults: dict[int, tuple[str, str]] | None = None):
        from studio.project import Project

        folder = getattr(project_path, "path", project_path)
        self._own_session = session is None
        self.session = session or ClusterSession(address)
        try:
            self.project = Project.open(folder)
        except BaseException:
            if self._own_session:
                self.session.close()
            raise
        self.app_options = (engine_options if isinstance(engine_options, EngineOptions)
                            else EngineOptions.from_dict(engine_options))
        self.ship_weights = ship_weights
        self.max_retries = int(max_retries)
        self.faults = dict(faults or {})
        self._refs: dict[str, Any] = {}
        self._weights: dict[str, tuple[str, Any]] = {}
        self._task = None
        self._board = None
        self.stats: list[dict] = []  # per segment: worker seconds, pid, wall seconds

    def close(self) -> None:
        self.project.close()
        if self._own_session:
            self.session.close()

    def __enter__(self) -> ClusterRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------- objects
    def _put(self, key: str, make: Callable[[], object]):
        """One object-store copy per content key (portrait, audio, motion)."""
        if key not in self._refs:
            self._refs[key] = self.session.ray.put(make())
        return self._refs[key]

    def _engine_options(self, plan: RenderPlan) -> dict:
        tl = plan.timeline
        if tl.engine == "warp":
            return {}
        return self.app_options.merged(tl.settings).as_dict()

    def _needs_gpu(self, plan: RenderPlan, options: dict) -> bool:
        device = str(options.get("device") or "")
        return (plan.timeline.engine == "diffusion" and not device.startswith("cpu")
                and self.session.workers(gpu=True) > 0)

    def _shipped_weights(self, options: dict):
        folder = options.get("weights")
        if not self.ship_weights or not folder:
            return None
        if folder not in self._weights:
            root = Path(folder).expanduser()
            if not root.is_dir():
                raise InputError(root, "the weights folder does not exist")
            files = sorted(p for p in root.rglob("*") if p.is_file())
            blob = {str(p.relative_to(root)): p.read_bytes() for p in files}
            h = hashlib.sha256()
            for rel in sorted(blob):
                h.update(rel.encode() + b"\0" + hashlib.sha256(blob[rel]).digest())
            self._weights[folder] = (h.hexdigest(), self.session.ray.put(blob))
        return self._weights[folder]

    def _submit(self, plan: RenderPlan, job: JobInfo):
        ray = self.session.ray
        if self._task is None:
            self._task = ray.remote(render_segment)
            self._board = ray.remote(num_cpus=0)(_Board).remote()
        project = self.project
        tl, assets = plan.timeline, project.assets
        request = _runner.build_request(project, plan)
        por, aud = assets.portrait(tl.portrait_id), assets.audio(tl.audio_id)
        lm = assets.portrait_landmarks_json(tl.portrait_id)
        rig = self._put(f"rig:{por.sha256}:{lm}", lambda: request.rig)
        feats = self._put(f"features:{aud.sha256}:{tl.fps}:{aud.transcript}",
                          lambda: request.features)
        motion_key = spec_hash({"base": plan.spec["base"],
                                **motion_key_parts(plan, plan.base_expression)})
        motion = self._put(f"motion:{motion_key}", lambda: request.motion)
        audio = None if request.audio is None else self._put(
            f"wave:{aud.sha256}", lambda: request.audio)
        options = self._engine_options(plan)
        settings = {k: v for k, v in request.settings.items() if k != "anchors"}
        params = {
            "job_id": job.id, "engine": tl.engine, "engine_options": options,
            "settings": settings, "anchors": request.settings.get("anchors"),
            "size": request.size, "fps": request.fps, "timeline_fps": tl.fps,
            "seed": request.seed, "expression": request.expression, "text": request.text,
            "range": (plan.segment.start, plan.segment.end),
            "fault": self.faults.get(plan.segment.id),
        }
        weights = self._shipped_weights(options)
        task = self._task.options(
            num_cpus=1, num_gpus=1 if self._needs_gpu(plan, options) else 0,
            max_retries=self.max_retries, retry_exceptions=False,
            name=f"segment-{plan.segment.id}")
        return task.remote(rig, feats, motion, audio, params, self._board, weights)

    # ---------------------------------------------------------- the queue
    def run_all(self, progress: Callable[[JobInfo, float, str], None] | None = None,
                cancel: CancelFn | None = None,
                on_job_done: Callable[[JobInfo], None] | None = None,
                job_ids: set[int] | None = None) -> list[JobInfo]:
        """Claim queued jobs (all, or `job_ids`) and render them on the cluster, as many at
        once as it has workers (plus one waiting each); record each result as it arrives.
        `cancel()` True cancels the tasks running (those jobs end `cancelled`) and leaves
        the others queued, as the local queue does."""
        ray = self.session.ray
        jobs = self.project.job_store
        done: list[JobInfo] = []
        inflight: dict[Any, _InFlight] = {}
        exhausted = False

        def finish(result: JobInfo) -> None:
            done.append(result)
            if on_job_done is not None:
                on_job_done(result)

        def report_for(job: JobInfo):
            return None if progress is None else (lambda f, m, _j=job: progress(_j, f, m))

        stopping = False
        capacity = 2 * max(1, self.session.workers())
        asked: set[int] = set()  # jobs whose task was asked to stop
        while True:
            stopping = stopping or bool(cancel is not None and cancel())
            while not stopping and not exhausted and len(inflight) < capacity:
                job = jobs.claim(job_ids)
                if job is None:
                    exhausted = True
                    break
                cb = report_for(job)
                plan = _runner.prepare_job(self.project, job, cb)
                if plan is None:
                    finish(jobs.get(job.id))
                    continue
                try:
                    ref = self._submit(plan, job)
                except InputError as exc:
                    jobs.finish(job.id, "failed", "failed", str(exc))
                    finish(jobs.get(job.id))
                    continue
                writer = ProgressWriter(jobs, job.id)
                writer(0.0, "sent to the cluster", force=True)
                inflight[ref] = _InFlight(job, plan, writer, cb)
                self.stats.append({"job": job.id, "submitted": time.perf_counter()})
            if not inflight:
                break
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=POLL_S)
            for ref in ready:
                finish(self._collect(ref, inflight.pop(ref)))
            self._progress(inflight)
            for ref, f in inflight.items():
                if (stopping or f.writer.cancel_requested) and f.job.id not in asked:
                    asked.add(f.job.id)
                    f.stop_asked = time.monotonic()
                    ray.cancel(ref)
                elif f.stop_asked is not None and time.monotonic() - f.stop_asked > CANCEL_GRACE_S:
                    log.info("job %d ignored the stop request; killing its worker", f.job.id)
                    f.stop_asked = float("inf")  # once
                    ray.cancel(ref, force=True)
        return done

    def _progress(self, inflight: dict[Any, _InFlight]) -> None:
        latest = self.session.ray.get(self._board.take.remote()) if self._board else {}
        for f in inflight.values():
            fraction, message = latest.get(f.job.id, (f.fraction, "rendering on the cluster"))
            f.fraction = fraction
            f.writer(fraction, message)  # throttled; polls cancel requests
            if f.progress is not None and f.job.id in latest:
                f.progress(fraction, message)

    def _collect(self, ref, f: _InFlight) -> JobInfo:
        """A finished task: write its file atomically and record the render (the local
        queue's step), or settle the job as cancelled/failed."""
        ray, jobs, jid = self.session.ray, self.project.job_store, f.job.id
        t_wall = time.perf_counter()
        try:
            result = ray.get(ref)
        except (ray.exceptions.TaskCancelledError, Cancelled):
            jobs.finish(jid, "cancelled", "cancelled; the previous render stays current")
            return jobs.get(jid)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            if isinstance(cause, KeyboardInterrupt | Cancelled):  # cancelled while running
                jobs.finish(jid, "cancelled", "cancelled; the previous render stays current")
                return jobs.get(jid)
            msg = str(cause) if isinstance(cause, InputError) else (
                f"{type(cause).__name__}: {str(cause).splitlines()[-1] if str(cause) else ''}")
            jobs.finish(jid, "failed", "failed", msg)
            return jobs.get(jid)
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayError) as exc:
            if f.stop_asked is not None:  # its worker was killed because it would not stop
                jobs.finish(jid, "cancelled", "cancelled; the previous render stays current")
                return jobs.get(jid)
            jobs.finish(jid, "failed", "failed", f"the cluster lost the task after "
                        f"{self.max_retries} retries: {type(exc).__name__}")
            return jobs.get(jid)
        from core.fsutil import atomic_path

        plan = f.plan
        try:
            with atomic_path(plan.out_path, suffix=".mp4") as tmp:
                tmp.write_bytes(result["mp4"])
                if _runner.frames_in(tmp) != plan.segment.n_frames:
                    raise InputError(plan.out_path, "the cluster returned a segment with "
                                     "the wrong number of frames")
        except InputError as exc:  # disk full, read-only folder, a bad segment
            jobs.finish(jid, "failed", "failed", str(exc))
            return jobs.get(jid)
        jobs.record_render(plan, float(result["seconds"]), job_id=jid)
        stat = next((s for s in self.stats if s["job"] == jid), None)
        if stat is not None:
            stat.update(worker_s=result["seconds"], pid=result["pid"],
                        wall_s=t_wall - stat["submitted"])
        if f.progress is not None:
            f.progress(1.0, "done")
        return jobs.get(jid)


def describe(address: ClusterAddress | str) -> str:
    """One line on what `address` means (for messages)."""
    a = parse_address(address) if isinstance(address, str) else address
    return {"auto": "a running Ray cluster, else a local one",
            "local": f"a local Ray cluster of {a.workers or os.cpu_count()} CPU workers"
            }.get(a.kind, f"the Ray cluster at {a.address}")


__all__ = ["ClusterAddress", "ClusterRunner", "ClusterSession", "describe", "parse_address",
           "render_segment"]
