"""Small media helpers for front ends: thumbnails, waveform peaks, decoded segment frames.

Why in core: all decoding (Pillow, PyAV) lives in core, so `studio` and `ui` never import
`av` or `PIL` (import-linter contracts in pyproject.toml). Each function returns plain
numpy arrays; the GUI turns them into QImages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np


def thumbnail_rgb(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """An image file as upright [H, W, 3] uint8 RGB (EXIF applied, validated like every
    portrait: core.image.load_image), shrunk so its longer side is at most `max_side`."""
    from PIL import Image

    from core.image import load_image

    rgb = load_image(path)
    if max_side and max(rgb.shape[:2]) > max_side:
        im = Image.fromarray(rgb)
        im.thumbnail((max_side, max_side))
        rgb = np.asarray(im).copy()
    return rgb


def load_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Audio as mono float32 and its rate (16 kHz, core.audio's loader): for waveforms."""
    from core.audio.loader import load

    wave = load(path)
    return np.asarray(wave.samples, np.float32), int(wave.sample_rate)


def waveform_peaks(samples: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of `samples` in `buckets` equal slices (the classic waveform strip)."""
    samples = np.asarray(samples, np.float32)
    n = len(samples)
    if n == 0:
        return np.zeros(buckets, np.float32), np.zeros(buckets, np.float32)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)
    edges = np.minimum(edges, n)
    starts = np.minimum(edges[:-1], n - 1)
    lo = np.minimum.reduceat(samples, starts)
    hi = np.maximum.reduceat(samples, starts)
    return lo.astype(np.float32), hi.astype(np.float32)


def video_frames(path: str | Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """The first `limit` (all when None) frames of a video as [H, W, 3] uint8 RGB (e.g. a
    segment render for the preview cache); InputError when it cannot be decoded."""
    import contextlib

    from core.video import read_frames

    with contextlib.closing(read_frames(path)) as frames:
        for i, frame in enumerate(frames):
            if limit is not None and i >= limit:
                return
            yield frame


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB array as PNG, atomically (core.image.save_png_atomic)."""
    from core.image import save_png_atomic

    return save_png_atomic(image, path)
