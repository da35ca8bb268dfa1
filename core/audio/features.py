"""Frame-rate signal features: RMS energy, 80-bin log-mel, silero voice activity.

Everything is computed in chunks of `CHUNK_SECONDS` so that an hour of audio needs only its
own waveform plus a few MB of working memory, and per-video-frame outputs ([n] or [n, 80]
arrays: 1 h at 25 fps is 90 000 rows) are the only thing that grows with length.

Video frame i covers [i/fps, (i+1)/fps). Analysis frames (10 ms mel hops, 32 ms VAD windows)
are averaged into the video frame that contains their centre; a video frame that contains no
centre (above 100 fps for mel, 31.25 fps for VAD) takes its nearest neighbour's value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from core.types import SAMPLE_RATE

CHUNK_SECONDS = 30.0
N_MELS = 80
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms hop -> 100 mel frames per second
LOG_FLOOR = 1e-10

VAD_WINDOW = 512  # silero-vad at 16 kHz: 32 ms windows...
VAD_CONTEXT = 64  # ...each preceded by the previous window's last 64 samples
VAD_BLOCK = 512  # windows per ONNX call (~16 s)

_lock = threading.Lock()
_vad_session = None


def n_frames_for(n_samples: int, fps: float, sr: int = SAMPLE_RATE) -> int:
    """Video frames needed to cover the audio (a last partial frame counts)."""
    if n_samples <= 0:
        return 0
    return max(1, int(np.ceil(n_samples * fps / sr - 1e-6)))


def frame_bounds(n_frames: int, fps: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Sample index where each video frame starts, plus the end: [n + 1] int64."""
    return np.round(np.arange(n_frames + 1) * (sr / fps)).astype(np.int64)


# ------------------------------------------------------------------------- RMS
def frame_rms(x: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Raw (unnormalised) RMS of each video frame's samples, [n] float32."""
    bounds = frame_bounds(n_frames, fps)
    out = np.zeros(n_frames, dtype=np.float64)
    per_chunk = max(1, int(CHUNK_SECONDS * fps))
    for f0 in range(0, n_frames, per_chunk):
        f1 = min(n_frames, f0 + per_chunk)
        s0, s1 = int(bounds[f0]), int(min(bounds[f1], len(x)))
        if s1 <= s0:
            continue
        seg = x[s0:s1].astype(np.float64)
        starts = np.clip(bounds[f0:f1] - s0, 0, s1 - s0)
        sums = np.add.reduceat(seg * seg, np.minimum(starts, len(seg) - 1))
        counts = np.diff(np.append(starts, s1 - s0))
        valid = counts > 0
        out[f0:f1][valid] = np.sqrt(sums[valid] / counts[valid])
    return out.astype(np.float32)


def normalise_rms(raw: np.ndarray, speech: np.ndarray, ref_level: float = 0.1) -> np.ndarray:
    """Scale so the 95th percentile over speech frames is 1.

    With (almost) no speech, divide by a typical speech level instead (0.1, about -20 dBFS):
    a silent or noise-only clip must stay near 0, not have its hiss blown up to 1.
    """
    if raw.size == 0:
        return raw.astype(np.float32)
    ref = float(np.percentile(raw[speech], 95)) if int(speech.sum()) >= 3 else ref_level
    if ref < 1e-4:
        ref = ref_level
    return (raw / ref).astype(np.float32)


# ------------------------------------------------------------------------- mel
@lru_cache(maxsize=4)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sr: int = SAMPLE_RATE):
    """Slaney-style mel filters (area-normalised triangles, 0..sr/2): [n_mels, n_fft//2+1]."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fb = np.zeros((n_mels, freqs.size))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / (mid - lo)
        down = (hi - freqs) / (hi - mid)
        fb[i] = np.maximum(0, np.minimum(up, down)) * (2.0 / (hi - lo))
    return fb.astype(np.float32)


def frame_mel(x: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Natural-log mel power (80 bins) at 100 Hz, averaged per video frame: [n, 80]."""
    n_hops = len(x) // HOP + 1  # centred frames, like librosa/whisper with center=True
    fb = mel_filterbank()
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    half = N_FFT // 2
    acc = np.zeros((n_frames, N_MELS), dtype=np.float32)
    cnt = np.zeros(n_frames, dtype=np.int64)
    per_chunk = int(CHUNK_SECONDS * SAMPLE_RATE / HOP)
    for j0 in range(0, n_hops, per_chunk):
        j1 = min(n_hops, j0 + per_chunk)
        s0, s1 = j0 * HOP - half, (j1 - 1) * HOP + half
        seg = _padded_slice(x, s0, s1)
        frames = np.lib.stride_tricks.sliding_window_view(seg, N_FFT)[::HOP]
        spec = np.fft.rfft(frames * window, axis=1)
        power = (spec.real**2 + spec.imag**2).astype(np.float32)
        logmel = np.log(np.maximum(power @ fb.T, LOG_FLOOR))
        centres = np.arange(j0, j1) * (HOP / SAMPLE_RATE)
        idx = np.minimum((centres * fps).astype(np.int64), n_frames - 1)
        _accumulate(acc, cnt, idx, logmel)
    return _fill_empty(acc, cnt)


def _padded_slice(x: np.ndarray, s0: int, s1: int) -> np.ndarray:
    """x[s0:s1] with zeros outside the signal (keeps chunk edges exact)."""
    out = np.zeros(s1 - s0, dtype=np.float32)
    a, b = max(0, s0), min(len(x), s1)
    if b > a:
        out[a - s0 : b - s0] = x[a:b]
    return out


def _accumulate(acc: np.ndarray, cnt: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """acc[idx] += values, cnt[idx] += 1 for sorted idx (reduceat: far faster than add.at)."""
    if idx.size == 0:
        return
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    targets = idx[starts]
    acc[targets] += np.add.reduceat(values, starts, axis=0).astype(acc.dtype)
    cnt[targets] += np.diff(np.r_[starts, idx.size])


def _fill_empty(acc: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """Sums -> means per video frame, in place (no copies of an hour-long [n, 80] array);
    frames without any source centre take their nearest neighbour's value."""
    good = cnt > 0
    scale = 1.0 / np.maximum(cnt, 1)
    acc *= scale.reshape(-1, *([1] * (acc.ndim - 1))).astype(acc.dtype)
    if not good.all() and good.any():
        have = np.flatnonzero(good)
        missing = np.flatnonzero(~good)
        pos = np.searchsorted(have, missing).clip(0, len(have) - 1)
        left = have[(pos - 1).clip(0)]
        right = have[pos]
        nearest = np.where(np.abs(left - missing) <= np.abs(right - missing), left, right)
        acc[missing] = acc[nearest]
    return acc


# ------------------------------------------------------------------------- VAD
def _vad_model_path() -> Path:
    """The batched ("sequence") silero-vad ONNX model shipped inside the silero_vad wheel.

    Located without importing `silero_vad`: its package import pulls in torch and calls
    torch.set_num_threads(1) for the whole process, which would slow every other torch user.
    """
    spec = find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad is not installed (pip install silero-vad)")
    path = (
        Path(list(spec.submodule_search_locations)[0]) / "data" / ("silero_vad_16k_sequence.onnx")
    )
    if not path.is_file():
        raise RuntimeError(f"silero-vad model not found at {path}")
    return path


def _session():
    global _vad_session
    with _lock:
        if _vad_session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 3
            _vad_session = ort.InferenceSession(
                str(_vad_model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        return _vad_session


def vad_probs(x: np.ndarray, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Silero speech probability per 32 ms window, [ceil(len/512)] float32.

    Same numbers as silero's streaming model (the sequence export is bit-exact) but one ONNX
    call per ~16 s block instead of one per window: about 0.002 s of CPU per second of audio.
    ONNX Runtime sessions are thread-safe, so no lock is held while it runs.
    """
    sess = _session()
    n_win = (len(x) + VAD_WINDOW - 1) // VAD_WINDOW
    out = np.zeros(n_win, dtype=np.float32)
    h = np.zeros((1, 1, 128), dtype=np.float32)
    c = np.zeros((1, 1, 128), dtype=np.float32)
    for w0 in range(0, n_win, VAD_BLOCK):
        w1 = min(n_win, w0 + VAD_BLOCK)
        s0 = w0 * VAD_WINDOW - VAD_CONTEXT
        seg = _padded_slice(x, s0, w1 * VAD_WINDOW)
        ctx = seg[:-VAD_CONTEXT].reshape(w1 - w0, VAD_WINDOW)[:, :VAD_CONTEXT]
        block = np.concatenate([ctx, seg[VAD_CONTEXT:].reshape(w1 - w0, VAD_WINDOW)], axis=1)
        probs, h, c = sess.run(["speech_probs", "hn", "cn"], {"input": block, "h": h, "c": c})
        out[w0:w1] = np.asarray(probs, dtype=np.float32).reshape(-1)
        if progress is not None:
            progress(w1 / max(1, n_win))
    return out


def frame_vad(probs: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Window probabilities -> per video frame (mean of windows centred in the frame)."""
    step = VAD_WINDOW / SAMPLE_RATE
    acc = np.zeros(n_frames, dtype=np.float64)
    cnt = np.zeros(n_frames, dtype=np.int64)
    if probs.size:
        centres = (np.arange(probs.size) + 0.5) * step
        idx = np.minimum((centres * fps).astype(np.int64), n_frames - 1)
        _accumulate(acc, cnt, idx, probs)
    return np.clip(_fill_empty(acc, cnt), 0, 1).astype(np.float32)


def speech_regions(
    probs: np.ndarray,
    threshold: float = 0.5,
    pad: float = 0.15,
    min_gap: float = 0.3,
    max_len: float = 25.0,
) -> list[tuple[float, float]]:
    """Speech spans in seconds from window probabilities: padded, merged, split if too long.

    Used to feed the phone recogniser one utterance at a time (bounded memory, batch
    normalisation per utterance, and no phones hallucinated in silence).
    """
    step = VAD_WINDOW / SAMPLE_RATE
    on = probs >= threshold
    if not on.any():
        return []
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1) * step
    ends = np.flatnonzero(edges == -1) * step
    total = probs.size * step
    spans: list[list[float]] = []
    for a, b in zip(starts, ends, strict=True):
        a, b = max(0.0, a - pad), min(total, b + pad)
        if spans and a - spans[-1][1] < min_gap:
            spans[-1][1] = b
        else:
            spans.append([a, b])
    out: list[tuple[float, float]] = []
    for a, b in spans:
        k = max(1, int(np.ceil((b - a) / max_len)))
        cuts = np.linspace(a, b, k + 1)
        out.extend((float(cuts[i]), float(cuts[i + 1])) for i in range(k))
    return out
