"""Thumbnails and mini waveforms, computed off the GUI thread.

Decoding a 1400 px JPEG or a 20 s WAV takes tens of milliseconds: too long for the event
loop when a library holds a dozen items. These helpers run in `ProjectTask`s on the
thread pool and return QImages (safe to build and paint outside the GUI thread, unlike
QPixmap); the library converts them to icons when they arrive.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from core.media import load_mono, thumbnail_rgb, waveform_peaks
from ui.theme import ACCENT, BASE

__all__ = ["envelope", "load_mono", "load_rgb", "portrait_thumbnail", "waveform_image"]


def load_rgb(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """An image file as [H, W, 3] uint8 RGB, EXIF-rotated, optionally shrunk (decoded by
    core.media: ui never imports PIL)."""
    return thumbnail_rgb(path, max_side)


def portrait_thumbnail(path: str | Path, side: int = 96) -> QImage:
    """A square thumbnail (centre crop) of an image file."""
    rgb = load_rgb(path, max_side=side * 2)
    h, w = rgb.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    crop = np.ascontiguousarray(rgb[y0 : y0 + s, x0 : x0 + s])
    img = QImage(crop.data, s, s, 3 * s, QImage.Format_RGB888).copy()
    return img.scaled(side, side, Qt.KeepAspectRatio, Qt.SmoothTransformation)


envelope = waveform_peaks  # the classic min/max waveform strip (core.media)


def waveform_image(samples: np.ndarray, width: int = 160, height: int = 40,
                   color: str = ACCENT) -> QImage:
    """A small waveform strip (peak-normalised) for the audio list."""
    img = QImage(width, height, QImage.Format_RGB32)
    img.fill(QColor(BASE))
    lo, hi = envelope(np.asarray(samples, np.float32), width)
    peak = max(float(np.abs(lo).max(initial=0)), float(np.abs(hi).max(initial=0)), 1e-6)
    p = QPainter(img)
    p.setPen(QPen(QColor(color), 1))
    mid = height / 2
    for x in range(width):
        y0 = mid - hi[x] / peak * (mid - 2)
        y1 = mid - lo[x] / peak * (mid - 2)
        p.drawLine(QPointF(x + 0.5, y0), QPointF(x + 0.5, max(y1, y0 + 1)))
    p.end()
    return img
