"""MP4 input/output: H.264 yuv420p + AAC, faststart, written atomically.

Why these choices:
- H.264 High profile in yuv420p with AAC audio is the one combination every player, browser
  and editor opens; `movflags=faststart` moves the `moov` index in front of the media data so
  a browser or a network share can start playing before the whole file is read.
- Frames are consumed one at a time from any iterator (an engine's `render`, or the frames of
  several segment files chained with `iter_frames_of`), so memory stays bounded for an
  hour-long video. Audio is encoded interleaved with the video (after each frame, the audio
  up to that frame's end time), which keeps the file interleaved for streaming too.
- The audio is trimmed or padded with silence to exactly n_frames / fps, so both streams end
  on the same frame. AAC's encoder delay ("priming", 1024 samples) is written by the muxer as
  an edit list, and the last packet carries its true (short) duration, so players and
  ffprobe see equal stream durations (tests check this within one frame).
- The conversion to yuv420p and the H.264/AAC encode run in a thread of their own, fed by
  a 4-frame queue, while the caller's thread produces the next frames (an engine's render
  loop): swscale, libx264 and the AAC encoder release the GIL, so on two cores the encode
  costs almost no wall time. The thread makes the inline path's calls in the same order, so
  the file is the same byte for byte; its errors are raised in the caller's thread, and a
  cancel or an error stops it before the temp file is removed.
- Writing goes to a hidden temp file in the output's folder, then `os.replace`: readers never
  see a half-written MP4, a failure or a cancel leaves no file behind, and a pre-existing
  output survives a failed re-export untouched.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from core.errors import Cancelled, InputError
from core.fsutil import atomic_path, check_input_file, check_output_file, create_temp
from core.types import CancelFn, ProgressFn, Waveform

AUDIO_RATE = 48_000
"""AAC sample rate of written files: 48 kHz, the video-world standard (an exact 3x of the
16 kHz analysis rate)."""
AUDIO_BITRATE = 128_000


# ---------------------------------------------------------------- writing
def check_writable(out_path: str | Path) -> Path:
    """Raise InputError unless `out_path` can be created/replaced; return it as a Path.

    Called by `write_mp4` and, earlier, by callers (the CLI render) so a typo in the output
    folder fails in a second instead of after minutes of analysis and rendering. The test is
    real: a probe file is created and removed in the target folder.
    """
    path = Path(out_path).expanduser()
    # first: a name too long, a folder, a FIFO or a device (/dev/full) is refused by name
    check_output_file(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise InputError(path, f"the output folder {folder} does not exist; create it first")
    if not folder.is_dir():
        raise InputError(path, f"{folder} is not a folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(path, "the output file exists and is read-only")
    os.unlink(create_temp(folder, for_dest=path))
    return path


def _rate(fps: float) -> Fraction:
    """fps as an exact fraction: 25 -> 25/1, 29.97 -> 30000/1001."""
    if not fps or fps <= 0 or not np.isfinite(fps):
        raise InputError(None, f"frame rate must be positive, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _check_frame(frame: np.ndarray, index: int, shape: tuple | None, out_path: Path) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or (
        frame.shape[2] != 3
    ):
        raise ValueError(
            f"frame {index}: expected an [H, W, 3] uint8 RGB array, got "
            f"{getattr(frame, 'shape', type(frame))} {getattr(frame, 'dtype', '')}"
        )
    h, w = frame.shape[:2]
    if shape is None:
        if h % 2 or w % 2:
            raise InputError(
                out_path,
                f"frame size {w}x{h} has an odd side; H.264 yuv420p needs even width and "
                "height (choose an even output size)",
            )
    elif frame.shape != shape:
        raise ValueError(f"frame {index} is {w}x{h}, the video started at {shape[1]}x{shape[0]}")


def write_mp4(
    frames: Iterable[np.ndarray],
    fps: float,
    out_path: str | Path,
    audio: Waveform | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    n_frames: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    threaded: bool = True,
) -> Path:
    """Encode RGB uint8 frames (+ optional audio) to an MP4 at `out_path`, atomically.

    `n_frames` is only used for progress fractions (frames are streamed, their number need not
    be known). `cancel()` is checked before every frame; returning True raises
    `core.errors.Cancelled` and leaves no file. Returns the output path.

    `threaded` (the default) encodes in a thread of its own fed by a short queue, so the
    frames' producer (an engine's render loop, in the caller's thread) and the colour
    conversion + H.264/AAC encode (native code that releases the GIL) run on two cores at
    once; the same calls in the same order make the same file, byte for byte, as the inline
    path (`threaded=False`, kept for tests and for callers that need one thread).
    """
    out = check_writable(out_path)
    rate = _rate(fps)
    pcm = None if audio is None else np.asarray(audio.samples).reshape(-1)
    src_rate = None if audio is None else int(audio.sample_rate)
    with atomic_path(out, suffix=".mp4") as tmp:
        def make() -> _Mp4Encoder:
            return _Mp4Encoder(tmp, rate, pcm, src_rate, crf, preset, reuse_scaler=threaded)

        sink: _Mp4Encoder | _EncoderThread = _EncoderThread(make) if threaded else make()
        try:
            shape = None
            count = -1
            for count, frame in enumerate(frames):  # noqa: B007 (count used after loop)
                if cancel is not None and cancel():
                    raise Cancelled()
                _check_frame(frame, count, shape, out)
                shape = frame.shape
                sink.add(frame, count)
                if progress is not None and (count % 10 == 0):
                    frac = min(1.0, (count + 1) / n_frames) if n_frames else 0.0
                    progress(frac, f"encoding frame {count + 1}")
            if count < 0:
                raise InputError(out, "no frames to write")
            sink.finish(count + 1)
        except BaseException:
            sink.abort()
            raise
    if progress is not None:
        progress(1.0, "encoded")
    return out


class _Mp4Encoder:
    """The container side of `write_mp4`, one frame at a time: the streams are added at the
    first frame (its size is the video's), each frame is converted to BT.709 yuv420p and
    encoded, then the audio up to that frame's end time (interleaved for streaming)."""

    def __init__(self, tmp: Path, rate: Fraction, pcm: np.ndarray | None, src_rate: int | None,
                 crf: int, preset: str, reuse_scaler: bool) -> None:
        import av

        self.rate, self.pcm, self.src_rate = rate, pcm, src_rate
        self.crf, self.preset = crf, preset
        self.container = av.open(str(tmp), mode="w", format="mp4",
                                 options={"movflags": "+faststart"})
        self.closed = False
        self.vstream = None
        self.astream = None
        self.sent_audio = 0  # samples of `pcm` (incl. padding) handed to the encoder
        # one swscale context for the whole video: PyAV's `frame.reformat` builds a new one
        # (and its thread pool) for every frame; one thread, because the producer of the
        # frames has the other core. Same arithmetic, so the same pixels (tests compare).
        self.scaler = None
        if reuse_scaler:
            from av.video.reformatter import VideoReformatter

            self.scaler = VideoReformatter()

    def add(self, frame: np.ndarray, index: int) -> None:
        import av

        if self.vstream is None:
            self._add_streams(frame.shape[1], frame.shape[0])
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        if self.scaler is None:
            yuv = _rgb_to_yuv(vf)
        else:
            yuv = self.scaler.reformat(vf, format="yuv420p", dst_colorspace="ITU709",
                                       dst_color_range="MPEG", threads=1)
            _tag_bt709(yuv)
        yuv.pts = index
        for packet in self.vstream.encode(yuv):
            self.container.mux(packet)
        if self.astream is not None:
            self.sent_audio = encode_audio_until(self.container, self.astream, self.pcm,
                                                 self.src_rate, self.sent_audio,
                                                 (index + 1) / self.rate)

    def _add_streams(self, width: int, height: int) -> None:
        self.vstream = self.container.add_stream("libx264", rate=self.rate)
        self.vstream.width, self.vstream.height = width, height
        self.vstream.pix_fmt = "yuv420p"
        self.vstream.options = {"crf": str(int(self.crf)), "preset": self.preset}
        _tag_bt709(self.vstream.codec_context)
        if self.pcm is not None:
            self.astream = self.container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
            self.astream.bit_rate = AUDIO_BITRATE

    def finish(self, total: int) -> None:
        """Flush both encoders (the audio padded to exactly `total` frames) and close."""
        try:
            for packet in self.vstream.encode(None):
                self.container.mux(packet)
            if self.astream is not None:
                encode_audio_until(self.container, self.astream, self.pcm, self.src_rate,
                                   self.sent_audio, total / self.rate)
                for packet in self.astream.encode(None):
                    self.container.mux(packet)
        except BaseException as exc:
            self.abort(exc)
            raise
        self.closed = True
        self.container.__exit__(None, None, None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Close the container after a failure (the temp file is removed by the caller)."""
        if self.closed:
            return
        self.closed = True
        exc = exc or Cancelled()
        with contextlib.suppress(Exception):
            self.container.__exit__(type(exc), exc, exc.__traceback__)


_END = object()


class _EncoderThread:
    """An `_Mp4Encoder` run by a thread of its own, fed through a bounded queue.

    The caller's thread keeps producing frames while this one converts and encodes; the
    queue holds at most `DEPTH` frames (bounded memory, and a slow encoder slows the
    producer down instead of piling frames up). An error in the encoder is raised again in
    the caller's thread at its next `add` or at `finish` (so a full disk is still the one
    InputError of `atomic_path`), and `abort` (cancel, an error, Ctrl-C) stops the thread
    and waits for it, so no thread outlives `write_mp4` and the temp file is closed before
    it is removed.
    """

    DEPTH = 4

    def __init__(self, make: Callable[[], _Mp4Encoder]) -> None:
        self._make = make
        self._queue: queue.Queue = queue.Queue(maxsize=self.DEPTH)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mp4-encoder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        encoder = None
        try:
            encoder = self._make()
            while True:
                item = self._queue.get()
                if self._stop.is_set():
                    break
                if item[0] is _END:
                    encoder.finish(item[1])
                    return
                encoder.add(item[0], item[1])
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc
            self._stop.set()
        if encoder is not None:
            encoder.abort()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def add(self, frame: np.ndarray, index: int) -> None:
        # the copy: a producer may reuse its frame buffer once the next frame is asked for
        self._put((np.array(frame, copy=True), index))

    def finish(self, total: int) -> None:
        self._put((_END, total))
        self.thread.join()
        self._raise_error()

    def _put(self, item: tuple) -> None:
        """Queue `item`, waiting while the queue is full; the encoder's error (or its end)
        is raised here rather than waited on forever."""
        while True:
            self._raise_error()
            if not self.thread.is_alive():
                self._raise_error()  # it may have failed since the line above
                raise RuntimeError("the video encoder thread stopped")
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def abort(self) -> None:
        """Stop the thread and wait for it (its own error, if any, is dropped: the caller
        is already raising one)."""
        self._stop.set()
        while self.thread.is_alive():
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait((_END, 0))
            self.thread.join(timeout=0.05)
        self._error = None


def _tag_bt709(obj) -> None:
    """Tag BT.709 limited range on a codec context or frame.

    Untagged files are read as BT.601 by players when small and BT.709 when HD, so colours
    of an untagged 1024² export would shift; converting with BT.709 and saying so in the
    stream makes every player (and `read_frames`) agree."""
    obj.colorspace = 1  # AVCOL_SPC_BT709
    obj.color_primaries = 1
    obj.color_trc = 1
    obj.color_range = 1  # AVCOL_RANGE_MPEG (16-235)


def _rgb_to_yuv(vf):
    yuv = vf.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
    _tag_bt709(yuv)
    return yuv


def encode_audio_until(container, astream, pcm: np.ndarray, src_rate: int, sent: int,
                        t_end: Fraction) -> int:
    """Encode source samples [sent, t_end * src_rate) (silence past the end of `pcm`).

    Chunks go to the encoder at the source rate; PyAV's resampler (swresample, stateful, so
    no seams between chunks) converts them to 48 kHz, so no resampled copy of the whole
    track is ever held in memory. Returns the new `sent`.
    """
    import av

    target = int(round(t_end * src_rate))
    if target <= sent:
        return sent
    chunk = np.asarray(pcm[sent:target], dtype=np.float32)
    if len(chunk) < target - sent:
        chunk = np.concatenate([chunk, np.zeros(target - sent - len(chunk), np.float32)])
    chunk = np.clip(chunk, -1.0, 1.0).reshape(1, -1)
    af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
    af.sample_rate = src_rate
    af.pts = sent
    af.time_base = Fraction(1, src_rate)
    for packet in astream.encode(af):
        container.mux(packet)
    return target


# ---------------------------------------------------------------- reading
def _open(path: str | Path):
    import av

    p = check_input_file(path, "a video file")  # a FIFO would block av.open forever
    try:
        return av.open(str(p))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(p, f"cannot be read as a video ({exc})") from None


def probe(path: str | Path) -> dict:
    """Stream facts of a media file, from the container index (no full decode).

    Keys: fps, n_frames, width, height, video_duration, audio_duration, has_audio,
    video_codec, audio_codec, pix_fmt, audio_rate, duration. Durations are seconds (None
    when unknown). InputError when the file is missing, unreadable or has no video.
    """
    with _open(path) as c:
        if not c.streams.video:
            raise InputError(path, "has no video stream")
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None

        def dur(s):
            if s is None or s.duration is None or s.time_base is None:
                return None
            return float(s.duration * s.time_base)

        rate = v.average_rate or v.base_rate or v.guessed_rate
        fps = float(rate) if rate else None
        n = int(v.frames or 0)
        vd = dur(v)
        if not n and vd and fps:
            n = int(round(vd * fps))
        return {
            "fps": fps,
            "n_frames": n,
            "width": int(v.codec_context.width),
            "height": int(v.codec_context.height),
            "pix_fmt": v.codec_context.pix_fmt,
            "video_codec": v.codec_context.name,
            "video_duration": vd,
            "has_audio": a is not None,
            "audio_codec": a.codec_context.name if a is not None else None,
            "audio_rate": int(a.codec_context.sample_rate) if a is not None else None,
            "audio_duration": dur(a),
            "duration": float(c.duration / 1_000_000) if c.duration else None,
        }


def read_frames(path: str | Path, size: int | tuple[int, int] | None = None
                ) -> Iterator[np.ndarray]:
    """Yield the video's frames as [H, W, 3] uint8 RGB, decoded one at a time.

    `size` = side (square) or (width, height) rescales while converting (cheap: swscale
    does both in one pass). InputError when the file cannot be opened or decoding fails.
    """
    import av

    if isinstance(size, int):
        size = (size, size)
    c = _open(path)
    try:
        if not c.streams.video:
            raise InputError(path, "has no video stream")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            w, h = size if size is not None else (None, None)
            for frame in c.decode(stream):
                # convert with the stream's own matrix and range (BT.709 for our files,
                # whatever a foreign file declares; swscale's BT.601 when untagged)
                rng = frame.color_range if frame.color_range in (1, 2) else None
                yield frame.to_ndarray(width=w, height=h, format="rgb24", src_color_range=rng,
                                       dst_color_range="JPEG")
        except av.FFmpegError as exc:
            raise InputError(path, f"video data is damaged ({exc})") from None
    finally:
        c.close()


def iter_frames_of(paths: Sequence[str | Path], size: int | tuple[int, int] | None = None
                   ) -> Iterator[np.ndarray]:
    """The frames of several videos one after another (e.g. segment renders for an export):
    feed the result to `write_mp4` to concatenate without holding any file in memory."""
    for p in paths:
        yield from read_frames(p, size=size)


def top_level_boxes(path: str | Path) -> list[str]:
    """The MP4 top-level box types in file order (["ftyp", "moov", "mdat", ...]).

    Used to verify faststart: `moov` must come before `mdat`.
    """
    boxes: list[str] = []
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        pos = 0
        while pos + 8 <= end:
            f.seek(pos)
            head = f.read(16)
            size = int.from_bytes(head[:4], "big")
            kind = head[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(head[8:16], "big")
            elif size == 0:
                size = end - pos
            if size < 8:
                break
            boxes.append(kind)
            pos += size
    return boxes


def read_frame(path: str | Path, index: int) -> np.ndarray | None:
    """Frame `index` of a video as [H, W, 3] uint8 RGB (decoded from the start: meant for
    short segment renders), or None when the file is unreadable or shorter."""
    import contextlib

    with contextlib.suppress(InputError), contextlib.closing(read_frames(path)) as frames:
        for i, frame in enumerate(frames):
            if i == index:
                return frame
    return None
