"""Export a timeline: concatenate its segment renders, mux the audio, write one MP4.

Fast path (same size, fps and CRF as the renders): the H.264 packets of the segment files
are copied into one stream with shifted timestamps (no decode, no encode), and only the
audio is encoded (AAC). That is what makes export of a 60 s timeline take about a second.
Every segment file was written by the same encoder settings, so they share one set of
codec parameters (checked: extradata must be byte-identical, else we re-encode).
Slow path (another size/fps/CRF, or mismatched renders): decode, resample in time/space,
re-encode through core.video.write_mp4.

Both paths write a hidden temp file beside the output and os.replace it at the end; a
cancel or an error leaves no output (and a pre-existing output untouched).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import Cancelled, InputError
from core.types import CRF_RANGE, CancelFn, ProgressFn, Waveform
from studio import runner
from studio.timelines import check_size_fps

if TYPE_CHECKING:
    from studio.project import Project

AUDIO_RATE = 48_000
AUDIO_BITRATE = 128_000


def _safe_name(name: str) -> str:
    s = re.sub(r"[^\w.+\- ]+", "_", name).strip(" .") or "timeline"
    return s[:80]


def export_timeline(project: Project, timeline_id: int, out_path: str | Path | None = None,
                    size: int | None = None, fps: int | None = None, crf: int = 18,
                    progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                    render_missing: bool = True, run_jobs: bool = True) -> Path:
    """Export timeline `timeline_id` (see Project.export_video). Missing segments are
    queued as jobs; `run_jobs` renders them here (CLI, tests) with the project's engine
    host, else export waits for the app's worker to run them (no second runner)."""
    from core.mux import concat_copy, same_h264_params
    from core.video import check_writable

    tl = project.timeline(timeline_id)
    size = tl.size if size is None else int(size)
    fps = tl.fps if fps is None else int(fps)
    check_size_fps(size, fps)
    if not (CRF_RANGE.min <= int(crf) <= CRF_RANGE.max):
        raise InputError(None, f"crf must be {CRF_RANGE.min:g}..{CRF_RANGE.max:g} (lower = "
                         f"better), got {crf}")
    out = Path(out_path) if out_path is not None else (
        project.path / "exports" / f"{_safe_name(tl.name)}.mp4")
    out = check_writable(out.expanduser())
    prog = progress or (lambda f, m: None)
    is_cancelled = cancel or (lambda: False)

    project.verify_renders(tl.id)  # a render file deleted by hand is rendered again
    segs = project.segments(tl.id)
    todo = [s for s in segs if s.state != "rendered"]
    render_share = 0.0
    if todo:
        if not render_missing:
            raise InputError(None, f"{len(todo)} segment(s) are not rendered")
        render_share = 0.9 * sum(s.n_frames for s in todo) / max(1, tl.n_frames)
        jobs = project.enqueue(tl.id, [s.id for s in todo])
        ids = {j.id for j in jobs}
        total = max(1, len(ids))
        done_n = [0]

        def job_progress(job, f, m):
            prog(render_share * (done_n[0] + f) / total, f"rendering segment "
                 f"{done_n[0] + 1}/{total}: {m}")

        def job_done(_info):
            done_n[0] += 1

        while True:
            if run_jobs:  # inline, with the project's engine host (no runner of its own)
                runner.run_jobs(project, project.engine_host, progress=job_progress,
                                cancel=is_cancelled, on_job_done=job_done, job_ids=ids)
            if is_cancelled():
                raise Cancelled()
            # a job may be running in another runner (the app's worker, another CLI)
            active = [j for j in project.jobs(("queued", "running")) if j.id in ids]
            if not active:
                break
            done_n[0] = len(ids) - len(active)
            prog(render_share * done_n[0] / total, "waiting for a render in progress")
            time.sleep(0.2)
        segs = project.segments(tl.id)
        bad = [s for s in segs if s.state != "rendered"]
        if bad:
            jobs_by_id = {j.id: j for j in project.jobs()}
            why = next((jobs_by_id[s.job_id].error for s in bad
                        if s.job_id in jobs_by_id and jobs_by_id[s.job_id].error), None)
            raise InputError(None, f"{len(bad)} segment(s) could not be rendered"
                             + (f": {why}" if why else ""))

    files = [s.render_path for s in segs]
    pcm = load_audio_48k(project.audio(tl.audio_id).path)

    def sub(f, m):
        prog(render_share + (1 - render_share) * f, m)

    same = size == tl.size and fps == tl.fps and int(crf) == runner.RENDER_CRF
    if same and same_h264_params(files):
        return concat_copy(files, [s.n_frames for s in segs], tl.fps, pcm, AUDIO_RATE, out,
                           sub, is_cancelled, audio_bitrate=AUDIO_BITRATE)
    return _reencode(files, tl.fps, tl.n_frames, size, fps, int(crf), pcm, out, sub,
                     is_cancelled)


def load_audio_48k(path: Path) -> np.ndarray:
    """The original audio file decoded to 48 kHz mono float32 (better than the 16 kHz
    analysis copy: exports keep the recording's full bandwidth)."""
    from core.audio.loader import load_resampled

    return load_resampled(path, AUDIO_RATE)


def _resampled(files: list[Path], src_fps: int, n_src: int, size: int,
               dst_fps: int) -> Iterator[np.ndarray]:
    """The concatenated frames at `size` and `dst_fps` (nearest source frame in time)."""
    from core.video import iter_frames_of

    n_dst = max(1, int(round(n_src * dst_fps / src_fps)))
    wanted = iter(np.minimum(n_src - 1, np.floor(np.arange(n_dst) * src_fps / dst_fps + 1e-9)
                             ).astype(int))
    target = next(wanted, None)
    for i, frame in enumerate(iter_frames_of(files, size=size)):
        while target is not None and target == i:
            yield frame
            target = next(wanted, None)
        if target is None:
            return


def _reencode(files: list[Path], src_fps: int, n_src: int, size: int, fps: int, crf: int,
              pcm: np.ndarray, out: Path, progress: ProgressFn, cancel: CancelFn) -> Path:
    from core.video import write_mp4

    n_dst = max(1, int(round(n_src * fps / src_fps)))
    audio = Waveform(samples=pcm, source="", sample_rate=AUDIO_RATE)
    return write_mp4(_resampled(files, src_fps, n_src, size, fps), fps, out, audio=audio,
                     crf=crf, n_frames=n_dst, progress=progress, cancel=cancel)
