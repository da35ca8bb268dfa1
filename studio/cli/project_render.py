"""`render` without --portrait: render a project's timeline (called by the lead's render
command). Queues every segment that is missing or stale (or just --segment), runs the
queue inline with a progress bar, and reports what was rendered and what was reused.
Interrupted jobs (a previous render was killed) are re-queued, so running `render` again
continues where it stopped. `--cluster` runs the same jobs as Ray tasks (studio.cluster),
recorded here as they finish."""

from __future__ import annotations

import sys
import time

from core.errors import InputError
from studio.cli.common import open_project


def render_timeline(args) -> int:
    from studio.cli.render_flags import apply_render_flags
    from studio.queue import JobRunner

    quiet = bool(getattr(args, "quiet", False))
    cluster = getattr(args, "cluster", None)
    if cluster is not None:  # refuse a bad address before anything changes
        from studio.cluster import parse_address

        cluster = parse_address(cluster)
    with open_project(args) as project:
        tl = project.timeline(getattr(args, "timeline", None))
        segs = project.segments(tl.id)
        seg_arg = getattr(args, "segment", None)
        if seg_arg is not None:
            wanted = [s for s in segs if s.id == int(seg_arg)]
            if not wanted:
                raise InputError(None, f"no segment {seg_arg} in timeline {tl.id} "
                                 f"(segments: {', '.join(str(s.id) for s in segs)})")
        flags = apply_render_flags(project, tl, args)
        tl = flags.timeline
        segs = project.segments(tl.id)
        if seg_arg is not None:
            segs = [s for s in segs if s.id == int(seg_arg)]
        current = [s for s in segs if s.state == "rendered"]
        jobs = project.enqueue(tl.id, [s.id for s in segs])
        print(f"timeline {tl.id} '{tl.name}': {len(segs)} segment(s), {len(current)} already "
              f"rendered (reused), {len(jobs)} to render with {tl.engine}")
        if not jobs:
            return flags.export(project, quiet)
        ids = {j.id for j in jobs}
        frames_total = sum(s.n_frames for s in segs if s.state != "rendered")
        t0 = time.perf_counter()
        results = []
        if cluster is not None:
            from studio.cluster import ClusterRunner, describe

            print(f"rendering on {describe(cluster)}", file=sys.stderr)
            make_runner = lambda: ClusterRunner(  # noqa: E731
                project.path, cluster, engine_options=flags.engine_options)
        else:
            make_runner = lambda: JobRunner(  # noqa: E731
                project.path, engine_options=flags.engine_options)
        with make_runner() as runner:
            bar = None
            if not quiet:
                from tqdm import tqdm

                bar = tqdm(total=frames_total, unit="frame", desc="render", file=sys.stderr)
            seg_frames = {s.id: s.n_frames for s in segs}
            done_frames = [0]

            def progress(job, fraction, message):
                if bar is not None:
                    target = done_frames[0] + int(fraction * seg_frames.get(job.segment_id, 0))
                    if target > bar.n:
                        bar.set_postfix_str(f"segment {job.segment_id}", refresh=False)
                        bar.update(target - bar.n)

            def done(info):
                done_frames[0] += seg_frames.get(info.segment_id, 0)
                results.append(info)
                if bar is not None:
                    if done_frames[0] > bar.n:
                        bar.update(done_frames[0] - bar.n)
                    bar.write(_line(info))
                else:
                    print(_line(info))

            try:
                waited = False
                while True:
                    runner.run_all(progress=progress, on_job_done=done, job_ids=ids)
                    # jobs claimed by another runner (the app, another CLI): wait for them
                    ours = {r.id for r in results}
                    active = [j for j in project.jobs(("queued", "running"))
                              if j.id in ids and j.id not in ours]
                    if not active:
                        break
                    if not waited:
                        print(f"waiting for {len(active)} segment(s) being rendered by "
                              "another process", file=sys.stderr)
                        waited = True
                    time.sleep(0.25)
                seen = {r.id for r in results}
                results += [project.job(i) for i in sorted(ids - seen)]
            finally:
                if bar is not None:
                    bar.close()
        dt = time.perf_counter() - t0
        ok = [r for r in results if r.state == "done"]
        rendered = [r for r in ok if not r.reused]
        failed = [r for r in results if r.state != "done"]
        print(f"rendered {len(rendered)} segment(s), reused {len(current) + len(ok) - len(rendered)}"
              f", failed {len(failed)} in {dt:.1f}s")
        if failed:
            raise InputError(None, f"{len(failed)} segment(s) failed: "
                             f"{failed[0].error or failed[0].message}")
        return flags.export(project, quiet)


def _line(info) -> str:
    if info.state == "done":
        what = "reused" if info.reused else "rendered"
        return f"segment {info.segment_id}: {what} ({info.message})"
    return f"segment {info.segment_id}: {info.state} {info.error or info.message}"
