"""core.audio.load: formats, rates, channels, bad input, and bounded memory on an hour."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from core.audio import load
from core.errors import InputError
from core.types import SAMPLE_RATE

ROOT = Path(__file__).resolve().parents[2]


def _tone(freq: float, secs: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(secs * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[spec.argmax()])


def _transcode(src: Path, dst: Path, codec: str, *, rate: int = 44100, layout: str = "stereo",
               bit_rate: int | None = None, options: dict | None = None) -> None:
    """Encode a WAV into another container/codec with PyAV (a hard dependency), so the
    format tests run everywhere without an `ffmpeg` binary."""
    data, sr = sf.read(src, dtype="float32", always_2d=True)
    src_layout = {1: "mono", 2: "stereo"}[data.shape[1]]
    planar = np.ascontiguousarray(data.T)
    with av.open(str(dst), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        if options:
            stream.codec_context.options = options
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)

        def mux(frame):
            for resampled in resampler.resample(frame):
                out.mux(stream.encode(resampled))

        for i in range(0, planar.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(planar[:, i : i + 4096], format="fltp",
                                               layout=src_layout)
            frame.sample_rate = sr
            mux(frame)
        mux(None)
        out.mux(stream.encode(None))


# ----------------------------------------------------------------- real samples, formats
def test_real_stereo_44k_sample(samples):
    wave = load(samples / "audio" / "hallo_1.wav")
    assert wave.sample_rate == SAMPLE_RATE
    assert wave.samples.dtype == np.float32 and wave.samples.ndim == 1
    assert abs(wave.duration - 7.5) < 0.01
    assert 0.01 < np.abs(wave.samples).max() <= 1.0
    assert wave.source.endswith("hallo_1.wav")


def test_8k_mono_sample(samples):
    path = samples / "audio" / "asterisk_hello-world.wav"
    ref, sr = sf.read(path)
    assert sr == 8000
    wave = load(path)
    assert abs(wave.duration - len(ref) / sr) < 0.005
    assert np.abs(wave.samples).max() > 0.05


@pytest.fixture(scope="module")
def reference(samples):
    return load(samples / "audio" / "echomimic_en.wav")


@pytest.mark.parametrize(
    "ext,codec,options",
    [
        ("flac", "flac", {}),
        # PyAV's wheels carry FFmpeg's own Vorbis encoder (marked experimental), not libvorbis
        ("ogg", "vorbis", {"strict": "-2"}),
        ("mp3", "libmp3lame", {}),
        ("m4a", "aac", {}),
    ],
)
def test_transcoded_formats_decode_to_same_audio(samples, reference, tmp_path, ext, codec,
                                                 options):
    out = tmp_path / f"speech.{ext}"
    _transcode(samples / "audio" / "echomimic_en.wav", out, codec, options=options,
               bit_rate=None if codec in ("flac", "vorbis") else 96000)
    with av.open(str(out)) as probe:  # really that codec, not a WAV under another name
        decoder = probe.streams.audio[0].codec_context.name
    assert decoder == {"libmp3lame": "mp3float"}.get(codec, codec)
    wave = load(out)
    assert abs(wave.duration - reference.duration) < 0.1  # codec padding only
    # lossy codecs shift by their priming delay: compare 10 ms energy envelopes at best lag
    env = [np.sqrt(np.mean(w.samples[: len(w.samples) // 160 * 160].reshape(-1, 160) ** 2, 1))
           for w in (wave, reference)]  # fmt: skip
    n = min(len(env[0]), len(env[1])) - 10
    best = max(np.corrcoef(env[0][lag : lag + n], env[1][:n])[0, 1] for lag in range(6))
    assert best > 0.97


def test_tone_frequency_survives_resampling(tmp_path):
    for sr in (8000, 22050, 44100, 96000):
        path = tmp_path / f"tone_{sr}.wav"
        sf.write(path, _tone(440.0, 1.0, sr), sr)
        wave = load(path)
        assert abs(wave.duration - 1.0) < 0.002
        assert abs(_peak_hz(wave.samples) - 440.0) < 2.0
        rms = float(np.sqrt(np.mean(wave.samples[800:-800] ** 2)))
        assert abs(rms - 0.5 / np.sqrt(2)) < 0.01  # level preserved


def test_stereo_is_averaged(tmp_path):
    a = _tone(440.0, 0.5, 48000, 0.4)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([a, np.zeros_like(a)], axis=1), 48000)
    left_only = load(path).samples
    sf.write(path, np.stack([a, -a], axis=1), 48000)
    cancelled = load(path).samples
    assert abs(np.abs(left_only[1000:-1000]).max() - 0.2) < 0.01  # (0.4 + 0) / 2
    assert np.abs(cancelled).max() < 1e-3  # (a - a) / 2


def test_six_channel_96k(tmp_path):
    x = np.zeros((96000, 6), dtype=np.float32)
    x[:, 2] = _tone(300.0, 1.0, 96000, 0.6)  # centre channel only
    path = tmp_path / "surround.wav"
    sf.write(path, x, 96000)
    wave = load(path)
    assert abs(wave.duration - 1.0) < 0.002
    assert abs(_peak_hz(wave.samples) - 300.0) < 2.0
    assert abs(np.abs(wave.samples[1000:-1000]).max() - 0.1) < 0.005  # 0.6 / 6


def test_short_clip(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _tone(200.0, 0.1, 44100), 44100)
    assert abs(load(path).duration - 0.1) < 0.002


# ----------------------------------------------------------------- bad input
def _raises(path, *words):
    with pytest.raises(InputError) as err:
        load(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    for w in words:
        assert w in msg.lower(), msg
    return msg


def test_missing_file(tmp_path):
    _raises(tmp_path / "nope.wav", "not found")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.touch()
    _raises(p, "empty")


def test_folder(tmp_path):
    _raises(tmp_path, "folder")


def test_not_audio(tmp_path, samples):
    p = tmp_path / "notes.wav"
    p.write_text("these are not the samples you are looking for\n" * 20)
    _raises(p, "not a readable audio file")
    _raises(samples / "audio" / "transcripts.json")


def test_image_has_no_audio_stream(samples):
    _raises(samples / "portraits" / "hallo_2.jpg", "no audio")


def test_truncated_wav(tmp_path, samples):
    data = (samples / "audio" / "hallo_1.wav").read_bytes()
    p = tmp_path / "cut.wav"
    p.write_bytes(data[: len(data) // 2])
    _raises(p, "truncated")
    p.write_bytes(data[:40])  # header only
    _raises(p)


@pytest.mark.parametrize("ext", ["mp3", "m4a"])
def test_truncated_compressed(tmp_path, samples, ext):
    full = tmp_path / f"full.{ext}"
    _transcode(samples / "audio" / "hallo_1.wav", full,
               {"mp3": "libmp3lame", "m4a": "aac"}[ext], bit_rate=128000)
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    _raises(cut)  # mp3: "truncated" (header promises 7.5 s); m4a: index missing -> unreadable


def test_corrupted_middle(tmp_path, samples):
    data = bytearray((samples / "audio" / "hallo_1.wav").read_bytes())
    p = tmp_path / "garbled.flac"
    sf.write(p, *sf.read(samples / "audio" / "hallo_1.wav"))
    data = bytearray(p.read_bytes())
    rng = np.random.default_rng(0)
    mid = len(data) // 3
    data[mid : mid + 20000] = rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()
    data = data[: len(data) * 2 // 3]
    p.write_bytes(bytes(data))
    _raises(p)


def test_max_seconds(tmp_path):
    p = tmp_path / "long.wav"
    sf.write(p, _tone(200.0, 3.0, 16000), 16000)
    assert load(p, max_seconds=5).duration == pytest.approx(3.0)
    with pytest.raises(InputError, match="limit of 2 s|the limit is 2 s"):
        load(p, max_seconds=2)


# ----------------------------------------------------------------- one hour, bounded memory
_HOUR_SCRIPT = """
import json, sys, time
import numpy as np
import core.audio as ca
def hwm_mb():
    # VmHWM belongs to this address space (reset by exec); ru_maxrss would carry over the
    # parent's high-water mark across fork+exec and measure pytest, not us.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
t = time.perf_counter()
w = ca.load(sys.argv[1])
t_load = time.perf_counter() - t
rss_load = hwm_mb()
t = time.perf_counter()
f = ca.analyze(w, fps=25.0)
t_an = time.perf_counter() - t
print(json.dumps(dict(
    duration=w.duration, load_s=t_load, analyze_s=t_an, rss_load_mb=rss_load,
    rss_peak_mb=hwm_mb(),
    n_frames=f.n_frames, mel_shape=list(f.mel.shape), vad_max=float(f.vad.max()),
    rms_burst=float(np.median(f.rms[::125])), rms_gap=float(np.median(f.rms[50::125])),
)))
"""


def test_one_hour_streams_with_bounded_memory(tmp_path):
    """Load + full analysis of 1 h (22.05 kHz noise with 1 s tone bursts) in a subprocess.

    The waveform itself is 3600 * 16000 * 4 = 230 MB; the libraries ~100 MB. Peak RSS must
    stay under 600 MB: decoding and every feature run in chunks (measured ~410 MB).
    """
    sr, secs = 22050, 3600
    path = tmp_path / "hour.wav"
    rng = np.random.default_rng(0)
    t = np.arange(sr * 60) / sr
    burst = (t % 5) < 1
    with sf.SoundFile(path, "w", sr, 1, "PCM_16") as f:
        for _ in range(secs // 60):
            block = 0.01 * rng.standard_normal(t.size)
            block[burst] += 0.3 * np.sin(2 * np.pi * 440 * t[burst])
            f.write(block.astype(np.float32))
    res = subprocess.run(
        [sys.executable, "-c", _HOUR_SCRIPT, str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print("one hour:", out)
    assert abs(out["duration"] - secs) < 0.01
    assert out["n_frames"] == secs * 25 and out["mel_shape"] == [secs * 25, 80]
    assert out["rss_peak_mb"] < 600, out
    assert out["vad_max"] < 0.5  # tones and hiss are not speech
    assert out["rms_burst"] > 10 * out["rms_gap"]  # frames 0,125,.. in bursts; 50,.. in gaps
