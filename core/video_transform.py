"""Re-encode an MP4 frame by frame through a function, keeping its audio.

The shared path of the post-processing steps (burned captions, 16:9/9:16 framing): decode
one frame at a time (core.video.read_frames), transform it, and stream it into
core.video.write_mp4 with the source's audio, so memory holds one frame plus the audio
track whatever the length, and the output is written atomically like every video here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.types import CancelFn, ProgressFn, Waveform
from core.video import AUDIO_RATE, probe, read_frames, write_mp4

FrameFn = Callable[[np.ndarray, int, float], np.ndarray]
"""fn(frame RGB uint8, frame index, time in seconds) -> new frame (same size every call)."""


def read_audio(path: str | Path, rate: int = AUDIO_RATE) -> Waveform | None:
    """The first audio stream of a media file as mono float32 at `rate` (None when the file
    has none). At 48 kHz an hour costs ~700 MB; exports here are minutes long."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise InputError(path, f"cannot be read ({exc})") from None
    with container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        parts: list[np.ndarray] = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1).copy())
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1).copy())
        except av.FFmpegError as exc:
            raise InputError(path, f"audio data is damaged ({exc})") from None
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return Waveform(samples=samples.astype(np.float32), source=str(path), sample_rate=rate)


def transform_video(src: str | Path, out: str | Path, fn: FrameFn, crf: int = 18,
                    progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> Path:
    """Write `out` = `src` with every frame passed through `fn`, audio kept."""
    info = probe(src)
    fps = info["fps"] or 25.0
    audio = read_audio(src) if info["has_audio"] else None

    def frames() -> Iterator[np.ndarray]:
        for i, f in enumerate(read_frames(src)):
            yield fn(f, i, i / fps)

    return write_mp4(frames(), fps, out, audio=audio, crf=crf, n_frames=info["n_frames"] or None,
                     progress=progress, cancel=cancel)
