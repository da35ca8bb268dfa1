"""core.video: MP4 round trip, A/V durations, AAC priming, faststart, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.audio import load
from core.errors import Cancelled, InputError
from core.image import load_image
from core.video import (
    check_writable,
    iter_frames_of,
    probe,
    read_frames,
    top_level_boxes,
    write_mp4,
)

W, H = 192, 160  # non-square on purpose


@pytest.fixture(scope="module")
def portrait(samples) -> np.ndarray:
    return cv2.resize(load_image(samples / "portraits" / "hallo_2.jpg"), (W, H),
                      interpolation=cv2.INTER_AREA)


def moving(img: np.ndarray, n: int):
    """Real picture content that changes every frame (a slow pan)."""
    for i in range(n):
        m = np.float32([[1, 0, 4 * np.sin(i / 6)], [0, 1, 3 * np.cos(i / 9)]])
        yield cv2.warpAffine(img, m, (img.shape[1], img.shape[0]),
                             borderMode=cv2.BORDER_REFLECT)


def _only(folder, name):
    return sorted(os.listdir(folder)) == [name]


@pytest.mark.parametrize("n_frames,fps", [(50, 25.0), (61, 30000 / 1001)])
def test_round_trip_streams_and_durations(tmp_path, portrait, samples, n_frames, fps):
    speech = load(samples / "audio" / "asterisk_hello-world.wav")  # 1.40 s: padded / trimmed
    out = write_mp4(moving(portrait, n_frames), fps, tmp_path / "a.mp4", audio=speech,
                    n_frames=n_frames)
    info = probe(out)
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["audio_codec"] == "aac" and info["has_audio"]
    assert (info["width"], info["height"]) == (W, H)
    assert info["n_frames"] == n_frames
    assert info["fps"] == pytest.approx(fps, rel=1e-4)
    want = n_frames / fps
    assert info["video_duration"] == pytest.approx(want, abs=1e-3)
    # audio padded/trimmed to the video: equal within one frame (AAC frames are 21 ms)
    assert abs(info["audio_duration"] - info["video_duration"]) < 1.0 / fps
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # faststart
    assert _only(tmp_path, "a.mp4")  # no temp left behind
    # the pictures survive the codec
    got = list(read_frames(out))
    assert len(got) == n_frames
    ref = list(moving(portrait, n_frames))
    err = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(got, ref, strict=True)])
    assert err < 4.0, err


def test_audio_is_not_shifted_by_aac_priming(tmp_path, samples):
    """The decoded track lines up with the input sample-exactly-ish (the encoder's 1024
    priming samples are cut by the edit list), and its length is the video's."""
    speech = load(samples / "audio" / "asterisk_tt-weasels.wav")
    fps, n = 25.0, 90  # 3.6 s of video for 2.95 s of speech: padded with silence
    frames = (np.full((64, 64, 3), 8 * (i % 30), np.uint8) for i in range(n))
    out = write_mp4(frames, fps, tmp_path / "p.mp4", audio=speech)
    back = load(out)  # core.audio decodes the MP4's AAC to 16 kHz
    assert abs(back.duration - n / fps) < 1.0 / fps
    a = speech.samples.astype(np.float64)
    b = back.samples[: len(a)].astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    xc = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lag = int(np.argmax(np.r_[xc[-200:], xc[:201]])) - 200  # samples, within +-12.5 ms
    assert abs(lag) <= 16, f"audio shifted by {lag} samples ({lag / 16:.1f} ms)"
    assert np.corrcoef(a[: len(b)], b[: len(a)])[0, 1] > 0.9
    tail = back.samples[len(a) + 800:]  # the padding is silence
    assert len(tail) > 0 and np.abs(tail).max() < 0.01


def test_generator_error_leaves_nothing(tmp_path, portrait):
    def broken():
        yield from moving(portrait, 5)
        raise RuntimeError("engine crashed")

    with pytest.raises(RuntimeError, match="engine crashed"):
        write_mp4(broken(), 25, tmp_path / "x.mp4")
    assert os.listdir(tmp_path) == []


def test_cancel_leaves_nothing_and_keeps_old_output(tmp_path, portrait):
    out = tmp_path / "x.mp4"
    out.write_bytes(b"previous export")
    seen = []

    def cancel():
        return len(seen) >= 3

    def frames():
        for f in moving(portrait, 20):
            seen.append(1)
            yield f

    with pytest.raises(Cancelled):
        write_mp4(frames(), 25, out, cancel=cancel)
    assert out.read_bytes() == b"previous export"
    assert _only(tmp_path, "x.mp4")


def test_success_replaces_old_output_and_reports_progress(tmp_path, portrait):
    out = tmp_path / "x.mp4"
    out.write_bytes(b"previous export")
    calls = []
    write_mp4(moving(portrait, 30), 25, out, n_frames=30, progress=lambda f, m: calls.append(f))
    assert probe(out)["n_frames"] == 30
    assert calls[-1] == 1.0 and calls == sorted(calls)


def test_unwritable_paths_fail_before_any_frame(tmp_path, portrait):
    consumed = []

    def frames():
        consumed.append(1)
        yield from moving(portrait, 3)

    for bad in (tmp_path / "missing" / "a.mp4", tmp_path):
        with pytest.raises(InputError) as err:
            write_mp4(frames(), 25, bad)
        assert str(bad) in str(err.value)
    assert consumed == []
    assert check_writable(tmp_path / "ok.mp4") == tmp_path / "ok.mp4"
    assert not (tmp_path / "ok.mp4").exists()


def test_read_only_folder_and_file_are_refused(tmp_path, portrait, monkeypatch):
    """A read-only output folder or file: one clear InputError, before any frame is read.

    Root ignores permission bits, so the refusal the OS would give is injected: creating
    any file in the folder fails with EACCES, and the existing file reports not writable.
    Runs the same as root or not; the real chmod is exercised too where it applies."""
    import errno

    import core.fsutil
    import core.video

    ro = tmp_path / "ro"
    ro.mkdir()
    locked = tmp_path / "locked.mp4"
    locked.write_bytes(b"previous export")
    real_open, real_access = os.open, os.access

    def os_open(path, flags, *args, **kwargs):
        # the kernel's answer for a folder without write permission, for any file created in it
        if flags & os.O_CREAT and Path(path).parent.resolve() == ro.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def access(path, mode, *args, **kwargs):
        if Path(path).resolve() == locked.resolve() and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    consumed = []

    def frames():
        consumed.append(1)
        yield from moving(portrait, 3)

    with monkeypatch.context() as m:
        m.setattr(core.fsutil.os, "open", os_open)
        m.setattr(core.video.os, "access", access)
        with pytest.raises(InputError, match="cannot write") as err:
            write_mp4(frames(), 25, ro / "a.mp4")
        assert str(ro / "a.mp4") in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(InputError, match="read-only"):
            write_mp4(frames(), 25, locked)
    assert consumed == []
    assert list(ro.iterdir()) == [] and locked.read_bytes() == b"previous export"
    if os.geteuid() != 0:  # the real thing, where permission bits apply
        ro.chmod(0o555)
        try:
            with pytest.raises(InputError, match="cannot write"):
                check_writable(ro / "a.mp4")
        finally:
            ro.chmod(0o755)


def test_odd_size_and_empty_input_are_refused(tmp_path, portrait):
    with pytest.raises(InputError, match="even"):
        write_mp4([portrait[:-1]], 25, tmp_path / "odd.mp4")
    with pytest.raises(InputError, match="no frames"):
        write_mp4([], 25, tmp_path / "none.mp4")
    with pytest.raises(ValueError, match="started at"):
        write_mp4([portrait, portrait[:, :-2]], 25, tmp_path / "mixed.mp4")
    assert os.listdir(tmp_path) == []


def test_concatenate_segments_and_resize(tmp_path, portrait):
    a = write_mp4(moving(portrait, 12), 25, tmp_path / "a.mp4")
    b = write_mp4(moving(portrait, 8), 25, tmp_path / "b.mp4")
    out = write_mp4(iter_frames_of([a, b]), 25, tmp_path / "ab.mp4")
    assert probe(out)["n_frames"] == 20
    small = next(read_frames(out, size=(96, 80)))
    assert small.shape == (80, 96, 3) and small.dtype == np.uint8


def test_unreadable_inputs(tmp_path, samples):
    with pytest.raises(InputError, match="not found"):
        probe(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="junk.mp4"):
        probe(junk)
    with pytest.raises(InputError, match="no video stream"):
        list(read_frames(samples / "audio" / "hallo_1.wav"))
    # a truncated MP4: header promises frames the file does not hold
    good = write_mp4((np.full((64, 64, 3), i, np.uint8) for i in range(40)), 25,
                     tmp_path / "g.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(InputError, match="cut.mp4"):
        list(read_frames(cut))


def test_output_gets_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        out = write_mp4((np.zeros((32, 32, 3), np.uint8) for _ in range(3)), 25, tmp_path / "p.mp4")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
