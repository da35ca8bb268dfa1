"""Decode any audio file into a 16 kHz mono float32 `Waveform`, streaming.

Why PyAV for every format: one decoder (FFmpeg) covers WAV, FLAC, OGG/Vorbis/Opus, MP3,
M4A/AAC and the odd video-with-sound file, and its resampler (libswresample) keeps filter
state across blocks, so resampling block by block is exactly as good as resampling the whole
signal at once. Decoded blocks are resampled straight into one preallocated float32 array
sized from the container's declared duration: an hour of audio costs its 230 MB and little
more, whatever the source rate or channel count.

Channels are averaged (mono = mean of all channels), which is exact and predictable; the
analysis that follows is level-normalised, so a quiet downmix of a 5.1 file is fine.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.fsutil import check_input_file
from core.types import SAMPLE_RATE, Waveform

_GROW = 1.25  # growth factor when a file holds more audio than its header declared
MAX_SECONDS = 3 * 3600.0
"""Longest audio accepted by default (3 hours, about 690 MB as 16 kHz float32): a longer
file (or a tiny one whose header or content claims days of audio) would exhaust memory and
take hours to analyse; a talking-head video that long is not a realistic request."""


def load(path: str | Path, max_seconds: float | None = MAX_SECONDS) -> Waveform:
    """Read `path` into 16 kHz mono float32 in [-1, 1].

    `max_seconds` (default `MAX_SECONDS`, 3 hours; None = no limit) refuses longer inputs
    (checked on the declared duration before decoding, and again while decoding for files
    whose header does not say or lies). Raises `InputError` for anything that is not
    readable audio: missing, empty, truncated, corrupted, not audio, too long.
    """
    import av  # lazy: keeps `import core.audio` light

    p = Path(path)
    _check_file(p)
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError("max_seconds must be positive")
    _check_wav_header(p)

    try:
        container = av.open(str(p), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise InputError(
            p, f"not a readable audio file (FFmpeg could not open it: {_short(err)})"
        ) from None
    with container:
        if not container.streams.audio:
            raise InputError(p, "contains no audio stream; choose a speech recording")
        stream = container.streams.audio[0]
        declared = _declared_seconds(container, stream)
        if max_seconds is not None and declared is not None and declared > max_seconds:
            raise InputError(
                p, f"is {_hms(declared)} long; the limit is {_hms(max_seconds)} (trim or split it)"
            )
        samples, n = _decode(p, container, stream, declared, max_seconds)

    if n == 0:
        raise InputError(p, "contains no audio samples (empty or truncated file)")
    got = n / SAMPLE_RATE
    if declared is not None and declared > 1.0 and got < 0.9 * declared - 0.25:
        raise InputError(
            p,
            f"is truncated or damaged: its header promises {declared:.1f} s but only "
            f"{got:.1f} s could be decoded; re-export or re-download it",
        )
    out = samples[:n] if len(samples) - n < 0.02 * n + SAMPLE_RATE else samples[:n].copy()
    np.clip(out, -1.0, 1.0, out=out)
    if not np.isfinite(out).all():
        np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    return Waveform(samples=out, source=str(p), sample_rate=SAMPLE_RATE)


def _check_file(p: Path) -> None:
    check_input_file(p, "an audio file")  # a FIFO or /dev/zero would never end
    try:
        size = p.stat().st_size
        with p.open("rb"):
            pass
    except OSError as err:
        raise InputError(p, f"cannot be read ({err.strerror})") from None
    if size == 0:
        raise InputError(p, "file is empty (0 bytes)")


def _check_wav_header(p: Path) -> None:
    """FFmpeg quietly shortens a truncated WAV to what is there; the RIFF header knows better.

    A `data` chunk that claims more bytes than the file holds means a cut-off copy (an
    interrupted download or recording). Streaming writers put 0 or 0xFFFFFFFF there: skip.
    """
    with p.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        size = p.stat().st_size
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, clen = struct.unpack("<4sI", f.read(8))
            if cid == b"data":
                if clen in (0, 0xFFFFFFFF):
                    return
                have = size - pos - 8
                if have < clen * 0.98 - 4096:
                    raise InputError(
                        p,
                        f"WAV file is truncated: its header promises {clen} bytes of audio "
                        f"but only {have} are there; re-export or re-download it",
                    )
                return
            pos += 8 + clen + (clen & 1)


def _declared_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        secs = float(stream.duration * stream.time_base)
        if secs > 0:
            return secs
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000.0
    return None


def _decode(p: Path, container, stream, declared: float | None, max_seconds: float | None):
    """Decode + resample block by block into one preallocated float32 buffer."""
    import av

    resampler = av.AudioResampler(format="flt", layout=stream.layout, rate=SAMPLE_RATE)
    cap = int((declared or 60.0) * SAMPLE_RATE) + SAMPLE_RATE
    limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE) + 1
    buf = np.empty(cap, dtype=np.float32)
    n = 0

    def put(frames) -> None:
        nonlocal buf, n
        for fr in frames:
            a = fr.to_ndarray().reshape(-1)
            m = fr.samples
            if m == 0:
                continue
            ch = a.size // m
            if ch > 1:
                mono = a[: m * ch].reshape(m, ch).mean(axis=1, dtype=np.float32)
            else:
                mono = a[:m]
            if n + m > len(buf):
                bigger = np.empty(int((n + m) * _GROW) + SAMPLE_RATE, dtype=np.float32)
                bigger[:n] = buf[:n]
                buf = bigger
            buf[n : n + m] = mono
            n += m
            if limit is not None and n > limit:
                raise InputError(
                    p, f"is longer than the limit of {_hms(max_seconds)} (trim or split it)"
                )

    try:
        for frame in container.decode(stream):
            put(resampler.resample(frame))
        put(resampler.resample(None))
    except InputError:
        raise
    except (av.error.FFmpegError, ValueError) as err:
        at = n / SAMPLE_RATE
        raise InputError(
            p, f"is damaged: decoding failed at {at:.1f} s ({_short(err)}); re-export it"
        ) from None
    return buf, n


def _hms(seconds: float) -> str:
    """3725.0 -> '1:02:05'; under a minute: '42 s'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _short(err: Exception) -> str:
    msg = getattr(err, "strerror", None) or str(err)
    return str(msg).splitlines()[0][:120] if msg else type(err).__name__


def source_sample_rate(path: str | Path) -> int:
    """The sample rate the file's first audio stream declares (0 when unknown or
    unreadable): shown to the user, never trusted for decoding."""
    try:
        import av

        with av.open(str(path)) as c:
            return int(c.streams.audio[0].codec_context.sample_rate or 0)
    except Exception:
        return 0


def load_resampled(path: str | Path, rate: int) -> np.ndarray:
    """The whole file decoded to mono float32 at `rate` Hz, clipped to [-1, 1].

    Why beside `load`: exports keep the recording's full bandwidth (48 kHz), while the
    16 kHz `Waveform` is the analysis copy. InputError (one line) when it cannot decode."""
    import av

    chunks = []
    try:
        with av.open(str(path)) as c:
            res = av.AudioResampler(format="flt", layout="mono", rate=int(rate))
            for frame in c.decode(audio=0):
                for f in res.resample(frame):
                    chunks.append(f.to_ndarray().reshape(-1))
            for f in res.resample(None):
                chunks.append(f.to_ndarray().reshape(-1))
    except (av.FFmpegError, OSError) as exc:
        raise InputError(Path(path), f"cannot decode the audio ({exc})") from None
    if not chunks:
        return np.zeros(0, np.float32)
    return np.clip(np.concatenate(chunks).astype(np.float32), -1.0, 1.0)
