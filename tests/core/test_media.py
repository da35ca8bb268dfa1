"""core's media helpers for front ends (core.media, core.audio.loader.load_resampled and
source_sample_rate, core.video.read_frame): the studio and the GUI never decode themselves."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core import media
from core.audio.loader import load_resampled, source_sample_rate
from core.errors import InputError
from core.video import read_frame, write_mp4


def test_thumbnail_is_upright_rgb_and_shrunk(samples):
    path = samples / "portraits" / "hallo_2.jpg"
    full = media.thumbnail_rgb(path)
    small = media.thumbnail_rgb(path, max_side=96)
    assert full.dtype == np.uint8 and full.ndim == 3 and full.shape[2] == 3
    assert max(small.shape[:2]) == 96
    ratio_full = full.shape[1] / full.shape[0]
    assert abs(small.shape[1] / small.shape[0] - ratio_full) < 0.05


def test_thumbnail_of_a_bad_file_is_one_input_error(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError):
        media.thumbnail_rgb(bad)


def test_waveform_peaks_bound_the_signal():
    x = np.sin(np.linspace(0, 40 * np.pi, 16000)).astype(np.float32)
    lo, hi = media.waveform_peaks(x, 50)
    assert lo.shape == hi.shape == (50,)
    assert np.all(lo <= hi) and hi.max() == pytest.approx(x.max()) and lo.min() == pytest.approx(x.min())
    lo0, hi0 = media.waveform_peaks(np.zeros(0, np.float32), 8)
    assert not lo0.any() and not hi0.any()


def test_resampled_audio_and_declared_rate(tmp_path):
    rate = 22050
    t = np.arange(rate) / rate
    sf.write(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * t), rate)
    assert source_sample_rate(tmp_path / "a.wav") == rate
    pcm = load_resampled(tmp_path / "a.wav", 48_000)
    assert pcm.dtype == np.float32 and abs(len(pcm) - 48_000) < 200
    assert 0.45 < np.abs(pcm).max() <= 0.51
    (tmp_path / "b.wav").write_bytes(b"RIFF....")
    assert source_sample_rate(tmp_path / "b.wav") == 0
    with pytest.raises(InputError):
        load_resampled(tmp_path / "b.wav", 48_000)


def test_read_frame_and_video_frames(tmp_path):
    frames = [np.full((64, 64, 3), v, np.uint8) for v in (30, 120, 220)]
    out = write_mp4(iter(frames), 25, tmp_path / "v.mp4", n_frames=3)
    got = read_frame(out, 1)
    assert got is not None and abs(float(got.mean()) - 120) < 4
    assert read_frame(out, 7) is None
    assert read_frame(tmp_path / "missing.mp4", 0) is None
    firsts = list(media.video_frames(out, limit=2))
    assert len(firsts) == 2 and abs(float(firsts[0].mean()) - 30) < 4
