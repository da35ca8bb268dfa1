"""Joining H.264 files without re-encoding (the export's fast path).

The H.264 packets of several files written with the same encoder settings are copied into
one stream with shifted timestamps (no decode, no encode) and an audio track is encoded
beside them (AAC). Why in core: all container work (PyAV) lives in core, so the studio and
the UI never import `av`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from core.errors import Cancelled
from core.fsutil import atomic_path
from core.types import CancelFn, ProgressFn
from core.video import encode_audio_until


def same_h264_params(files: list[Path]) -> bool:
    """True when all files hold one H.264 stream with identical codec parameters
    (byte-identical extradata), so their packets can go into one stream."""
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


def concat_copy(files: list[Path], counts: list[int], fps: int, pcm: np.ndarray, rate: int,
                out: Path, progress: ProgressFn, cancel: CancelFn,
                audio_bitrate: int = 128_000) -> Path:
    """Write `out` (atomically, faststart MP4): the video packets of `files` (holding
    `counts` frames each at `fps`) one after another, and `pcm` (mono float32 at `rate`)
    as AAC, cut to the video's length segment by segment. Cancelled leaves no file."""
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
                    astream = dst.add_stream("aac", rate=rate, layout="mono")
                    astream.bit_rate = audio_bitrate
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
            sent = encode_audio_until(dst, astream, pcm, rate, sent, Fraction(frames_done, fps))
            progress(frames_done / total * 0.99, f"joined segment {i + 1}/{len(files)}")
        if astream is not None:
            for packet in astream.encode(None):
                dst.mux(packet)
    progress(1.0, f"exported {out.name}")
    return out
