"""`python main.py bench cluster`: a timeline rendered on a local Ray cluster vs the local
queue.

- local_s: the local queue (studio.queue.JobRunner, one process) renders every segment;
- cluster_s: the same timeline (a fresh copy of the project: nothing reused) on a local
  Ray cluster of WORKERS CPU workers (studio.cluster.ClusterRunner); cluster_start_s is
  the cluster's start, outside cluster_s;
- overhead_per_segment_s: (cluster_s x workers - the workers' own render+encode seconds)
  / segments: worker time not spent rendering (task start, imports and engine set-up of a
  fresh worker, object transfer, writing and recording each result, the tail where one
  worker waits for the other), per segment.

60 s of speech (sample recordings joined), warp engine, 256 px; quick=True: 20 s. On a
shared machine the numbers are noisy: compare runs made back to back only.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

WORKERS = 2


def run(quick: bool = False) -> dict:
    from studio.bench.studio_bench import SAMPLES, _speech
    from studio.cluster import ClusterRunner, ClusterSession
    from studio.project import Project
    from studio.queue import JobRunner

    seconds, size = (20.0, 256) if quick else (60.0, 256)
    result: dict = {"timeline_seconds": seconds, "size": size, "engine": "warp",
                    "workers": WORKERS}
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        tmp = Path(tmp)
        wav = _speech(tmp, seconds)
        with Project.create(tmp / "local") as project:
            por = project.add_portrait(SAMPLES / "portraits" / "hallo_2.jpg")
            aud = project.add_audio(wav)
            tl = project.new_timeline(por.id, aud.id, size=size)
            project.base_motion(tl.id)
            segs = project.segments(tl.id)
            project.checkpoint()
        shutil.copytree(tmp / "local", tmp / "cluster")
        result["segments"] = len(segs)
        result["frames"] = sum(s.n_frames for s in segs)

        with Project.open(tmp / "local") as p:
            p.enqueue(tl.id)
        t0 = time.perf_counter()
        with JobRunner(tmp / "local") as runner:
            done = runner.run_all()
        local_s = time.perf_counter() - t0
        assert all(j.state == "done" for j in done), done

        t0 = time.perf_counter()
        with ClusterSession(f"local:{WORKERS}") as session:
            result["cluster_start_s"] = round(time.perf_counter() - t0, 2)
            with Project.open(tmp / "cluster") as p:
                p.enqueue(tl.id)
            t0 = time.perf_counter()
            with ClusterRunner(tmp / "cluster", session=session) as runner:
                done = runner.run_all()
                stats = runner.stats
            cluster_s = time.perf_counter() - t0
        assert all(j.state == "done" for j in done), [(j.state, j.error) for j in done]
        worker_s = sum(s.get("worker_s", 0.0) for s in stats)
        result.update({
            "local_s": round(local_s, 2),
            "local_fps": round(result["frames"] / local_s, 1),
            "cluster_s": round(cluster_s, 2),
            "cluster_fps": round(result["frames"] / cluster_s, 1),
            "speedup": round(local_s / cluster_s, 2),
            "workers_render_s": round(worker_s, 2),
            "overhead_per_segment_s": round((cluster_s * WORKERS - worker_s) / len(segs), 3),
            "worker_processes": len({s.get("pid") for s in stats}),
        })
    return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
