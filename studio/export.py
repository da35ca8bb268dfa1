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
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import Cancelled, InputError
from core.fsutil import atomic_path
from core.types import CancelFn, ProgressFn, Waveform

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
                    render_missing: bool = True) -> Path:
    from core.video import check_writable
    from studio.queue import RENDER_CRF, JobRunner

    tl = project.timeline(timeline_id)
    size = tl.size if size is None else int(size)
    fps = tl.fps if fps is None else int(fps)
    project._check_size_fps(size, fps)
    if not (0 <= int(crf) <= 51):
        raise InputError(None, f"crf must be 0..51 (lower = better), got {crf}")
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

        with JobRunner(project.path) as runner:
            while True:
                runner.run_all(progress=job_progress, cancel=is_cancelled,
                               on_job_done=job_done, job_ids=ids)
                if is_cancelled():
                    raise Cancelled()
                # a job may be running in another runner (the app's worker, another CLI)
                active = [j for j in project.jobs(("queued", "running")) if j.id in ids]
                if not active:
                    break
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

    same = size == tl.size and fps == tl.fps and int(crf) == RENDER_CRF
    if same and _compatible(files):
        return _concat_copy(files, [s.n_frames for s in segs], tl.fps, pcm, out, sub,
                            is_cancelled)
    return _reencode(files, tl.fps, tl.n_frames, size, fps, int(crf), pcm, out, sub,
                     is_cancelled)


def load_audio_48k(path: Path) -> np.ndarray:
    """The original audio file decoded to 48 kHz mono float32 (better than the 16 kHz
    analysis copy: exports keep the recording's full bandwidth)."""
    import av

    chunks = []
    try:
        with av.open(str(path)) as c:
            res = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            for frame in c.decode(audio=0):
                for f in res.resample(frame):
                    chunks.append(f.to_ndarray().reshape(-1))
            for f in res.resample(None):
                chunks.append(f.to_ndarray().reshape(-1))
    except (av.FFmpegError, OSError) as exc:
        raise InputError(path, f"cannot decode the timeline's audio ({exc})") from None
    if not chunks:
        return np.zeros(0, np.float32)
    return np.clip(np.concatenate(chunks).astype(np.float32), -1.0, 1.0)


def _compatible(files: list[Path]) -> bool:
    """True when all files hold one H.264 stream with identical codec parameters."""
    import av

    ref = None
    try:
        for f in files:
            with av.open(str(f)) as c:
                v = c.streams.video[0]
                cc = v.codec_context
                key = (cc.name, cc.width, cc.height, cc.pix_fmt, bytes(cc.extradata or b""),
                       v.time_base)
            if ref is None:
                ref = key
            elif key != ref:
                return False
    except (av.FFmpegError, OSError, IndexError):
        return False
    return ref is not None and ref[0] == "h264"


def _encode_audio(container, astream, pcm: np.ndarray, sent: int, upto: int) -> int:
    import av

    if upto <= sent:
        return sent
    chunk = pcm[sent:upto]
    if len(chunk) < upto - sent:
        chunk = np.concatenate([chunk, np.zeros(upto - sent - len(chunk), np.float32)])
    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.reshape(1, -1)), format="fltp",
                                    layout="mono")
    af.sample_rate = AUDIO_RATE
    af.pts = sent
    af.time_base = Fraction(1, AUDIO_RATE)
    for packet in astream.encode(af):
        container.mux(packet)
    return upto


def _concat_copy(files: list[Path], counts: list[int], fps: int, pcm: np.ndarray, out: Path,
                 progress: ProgressFn, cancel: CancelFn) -> Path:
    import av

    total = sum(counts)
    with atomic_path(out, suffix=".mp4") as tmp, av.open(str(tmp), "w", format="mp4",
                 options={"movflags": "+faststart"}) as dst:
        vout = None
        astream = None
        sent = 0
        frames_done = 0
        for i, (f, n) in enumerate(zip(files, counts, strict=True)):
            if cancel():
                raise Cancelled()
            with av.open(str(f)) as src:
                vin = src.streams.video[0]
                tb = vin.time_base
                if vout is None:
                    vout = dst.add_stream_from_template(vin)
                    astream = dst.add_stream("aac", rate=AUDIO_RATE, layout="mono")
                    astream.bit_rate = AUDIO_BITRATE
                offset = int(round(Fraction(frames_done, fps) / tb))
                packets = [p for p in src.demux(vin) if p.size > 0]
                base = min((p.pts for p in packets if p.pts is not None), default=0)
                for p in packets:
                    if p.pts is not None:
                        p.pts = p.pts - base + offset
                    if p.dts is not None:
                        p.dts = p.dts - base + offset
                    p.stream = vout
                    dst.mux(p)
            frames_done += n
            sent = _encode_audio(dst, astream, pcm, sent,
                                 int(round(Fraction(frames_done, fps) * AUDIO_RATE)))
            progress(frames_done / total * 0.99, f"joined segment {i + 1}/{len(files)}")
        if astream is not None:
            for packet in astream.encode(None):
                dst.mux(packet)
    progress(1.0, f"exported {out.name}")
    return out


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
