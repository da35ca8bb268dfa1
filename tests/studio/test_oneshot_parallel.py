"""The parallel one-shot render (issue 11) makes the very file the serial one makes, and its
threads never outlive it: an error in the encoder thread is still one line (exit 2) with
no file left behind, and a cancel, mid-analysis or mid-render, leaves no thread alive.

Real portrait and speech, 256 px and a 1.4 s clip: a render takes one or two seconds."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from core import video
from core.errors import Cancelled
from core.fsutil import TEMP_PREFIX
from core.video import read_frames
from studio.cli import main as cli
from studio.oneshot import OneShotJob, render_oneshot

PORTRAIT = "hallo_2.jpg"
SPEECH = "asterisk_hello-world.wav"
OUR_THREADS = ("mp4-encoder", "portrait-analysis")


@pytest.fixture(scope="module")
def inputs(samples) -> tuple[Path, Path]:
    return samples / "portraits" / PORTRAIT, samples / "audio" / SPEECH


def job(inputs, out: Path, **kw) -> OneShotJob:
    portrait, speech = inputs
    return OneShotJob(portrait=portrait, audio=speech, out=out, size=256, **kw)


def ours() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in OUR_THREADS and t.is_alive()]


def audio_of(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_parallel_render_is_the_serial_render_byte_for_byte(tmp_path, inputs):
    serial = render_oneshot(job(inputs, tmp_path / "serial.mp4"), parallel=False).out
    parallel = render_oneshot(job(inputs, tmp_path / "parallel.mp4")).out
    a, b = list(read_frames(serial)), list(read_frames(parallel))
    assert len(a) == len(b) >= 35  # 1.4 s at 25 fps
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(a[0], x) for x in a[1:])  # a talking head, not a still
    sa, sb = audio_of(serial), audio_of(parallel)
    assert sa.size > 0.4 * 48_000 and np.array_equal(sa, sb)
    assert serial.read_bytes() == parallel.read_bytes()
    assert not ours()


def test_write_mp4_threaded_equals_inline_with_a_producer_that_reuses_its_buffer(
        tmp_path, inputs):
    """The encoder thread's one swscale context gives the pixels PyAV's per-frame reformat
    gives, and a frame handed over is copied: a producer may overwrite its buffer as soon
    as it is asked for the next frame."""
    frames = list(read_frames(render_oneshot(job(inputs, tmp_path / "src.mp4")).out))

    def reusing():
        buf = np.empty_like(frames[0])
        for f in frames:
            buf[:] = f
            yield buf

    inline = video.write_mp4(iter(frames), 25, tmp_path / "inline.mp4", threaded=False)
    threaded = video.write_mp4(reusing(), 25, tmp_path / "threaded.mp4")
    assert inline.read_bytes() == threaded.read_bytes()
    assert not ours()


def test_an_error_in_the_encoder_thread_is_one_line_and_leaves_no_file(
        tmp_path, inputs, capsys, monkeypatch):
    """A full disk met by the encoder thread (an OSError from its 6th frame) reaches the
    CLI as the one InputError line naming the output; the old output and its folder are as
    they were, and the thread is gone."""
    out = tmp_path / "talk.mp4"
    out.write_bytes(b"the previous video")
    real_add = video._Mp4Encoder.add
    seen: list[str] = []

    def add(self, frame, index):
        seen.append(threading.current_thread().name)
        if index == 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.container.name))
        return real_add(self, frame, index)

    monkeypatch.setattr(video._Mp4Encoder, "add", add)
    portrait, speech = inputs
    code = cli(["render", "--portrait", str(portrait), "--audio", str(speech), "--out",
                str(out), "--size", "256", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert str(out) in lines[0] and "disk is full" in lines[0].lower()
    assert set(seen) == {"mp4-encoder"}  # the error did come from the encoder thread
    assert out.read_bytes() == b"the previous video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.mp4"]
    assert not ours()


@pytest.mark.parametrize("when", ["render", "analysis"])
def test_cancel_stops_every_thread_and_leaves_no_file(tmp_path, inputs, when):
    calls: list[str] = []
    threads_seen: set[str] = set()

    def progress(fraction: float, message: str) -> None:
        calls.append(message)
        threads_seen.update(ours())

    def cancel() -> bool:
        if when == "analysis":  # at the audio analysis' second progress step
            return sum(1 for m in calls if m != "analysing portrait and audio") >= 2
        return sum(1 for m in calls if m.startswith("frame")) >= 10

    out = tmp_path / "talk.mp4"
    with pytest.raises(Cancelled):
        render_oneshot(job(inputs, out), progress=progress, cancel=cancel)
    assert not ours()
    assert list(tmp_path.iterdir()) == []
    if when == "render":
        assert "mp4-encoder" in threads_seen  # the frames were being encoded by the thread
        assert sum(1 for m in calls if m.startswith("frame")) < 30
    else:
        assert "portrait-analysis" in threads_seen
        assert not any(m.startswith("frame") for m in calls)
