"""The preview: a frame view, transport controls and a player driven by the audio clock.

Why the audio clock: the sound card consumes samples at its own exact rate, so the number
of samples the sounddevice callback has handed over (minus the output latency) *is* the
playback position; the picture follows it and lip sync cannot drift, whatever the frame
rendering speed (slow frames are skipped, never delayed). Without an output device (or
with one that does not keep time, like ALSA's null sink, which swallows samples as fast as
they come) the player falls back to a wall clock and says so in the status bar.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.theme import DIM, TEXT, transport_icon
from ui.timeline import format_time

log = logging.getLogger("ui.preview")


def to_qimage(frame: np.ndarray) -> QImage:
    """[H, W, 3] uint8 RGB -> a QImage that owns its pixels."""
    frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    h, w = frame.shape[:2]
    return QImage(frame.data, w, h, 3 * w, QImage.Format_RGB888).copy()


# ---------------------------------------------------------------- clocks
class AudioUnavailable(Exception):
    """No usable audio output; the message says why (shown in the status bar)."""


class WallClock:
    """Seconds since start, from time.monotonic (the fallback clock)."""

    kind = "wall"

    def __init__(self, start_time: float):
        self.start_time = float(start_time)
        self.t0 = time.monotonic()

    def position(self) -> float:
        return self.start_time + (time.monotonic() - self.t0)

    def keeps_time(self) -> bool:
        return True

    def close(self) -> None:
        pass


class AudioClock:
    """Plays `samples` from `start_time` on the default output and tells the position
    from the samples the callback has written."""

    kind = "audio"

    def __init__(self, samples: np.ndarray, sample_rate: int, start_time: float):
        try:
            import sounddevice as sd
        except Exception as exc:  # PortAudio library missing
            raise AudioUnavailable(f"sound library unavailable ({exc})") from exc
        self._sd = sd
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim > 1:
            samples = samples.mean(axis=1)
        try:
            rate = int(sample_rate)
            try:
                sd.check_output_settings(samplerate=rate, channels=1, dtype="float32")
            except Exception:
                rate = int(sd.query_devices(kind="output")["default_samplerate"])
                samples = resample_linear(samples, sample_rate, rate)
            self.rate = rate
            self.samples = samples
            self.start_index = int(round(start_time * rate))
            self.next_index = self.start_index
            self.stream = sd.OutputStream(
                samplerate=rate, channels=1, dtype="float32", callback=self._callback
            )
            self.latency = float(self.stream.latency or 0.0)
            self.t0 = time.monotonic()
            self.stream.start()
        except AudioUnavailable:
            raise
        except Exception as exc:
            raise AudioUnavailable(f"no audio output device ({_short(exc)})") from exc

    def _callback(self, outdata, frames, time_info, status) -> None:
        """Runs on PortAudio's thread: copy the next samples, count them."""
        i = self.next_index
        chunk = self.samples[i : i + frames]
        n = len(chunk)
        outdata[:n, 0] = chunk
        if n < frames:
            outdata[n:, 0] = 0.0
        self.next_index = i + frames
        if self.next_index >= len(self.samples) + int(self.latency * self.rate) + frames:
            raise self._sd.CallbackStop

    def position(self) -> float:
        """Seconds of the track that have reached the speaker."""
        played = (self.next_index - self.start_index) / self.rate - self.latency
        return self.start_index / self.rate + max(0.0, played)

    def keeps_time(self) -> bool:
        """False when the device swallows samples much faster than real time."""
        elapsed = time.monotonic() - self.t0
        ahead = (self.next_index - self.start_index) / self.rate - self.latency - elapsed
        return ahead < 0.5

    def close(self) -> None:
        try:
            self.stream.abort()
            self.stream.close()
        except Exception:  # a device that vanished mid-play
            log.debug("closing the audio stream failed", exc_info=True)


def resample_linear(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst or len(x) == 0:
        return x
    n = int(round(len(x) * dst / src))
    return np.interp(np.arange(n) * (src / dst), np.arange(len(x)), x).astype(np.float32)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------- player
class Player(QObject):
    """Transport state. The clock decides the frame; `frameChanged` tells everyone."""

    frameChanged = Signal(int)
    playingChanged = Signal(bool)
    clockMessage = Signal(str)

    audio_clock_factory = AudioClock  # tests may swap in a failing factory

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.fps = 25.0
        self.n_frames = 0
        self.samples = np.zeros(0, np.float32)
        self.sample_rate = 16000
        self.frame = 0
        self.clock = None
        self.clock_kind = ""
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self.clock is not None

    def set_source(self, fps: float, n_frames: int, samples=None, sample_rate: int = 16000):
        self.pause()
        self.fps = float(fps)
        self.n_frames = int(n_frames)
        if samples is not None:
            self.samples = np.asarray(samples, dtype=np.float32)
            self.sample_rate = int(sample_rate)
        self.frame = min(self.frame, max(self.n_frames - 1, 0))

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        if self.playing or self.n_frames <= 0:
            return
        if self.frame >= self.n_frames - 1:
            self.frame = 0
        start = self.frame / self.fps
        self.clock = self._start_clock(start)
        self.timer.start()
        self.playingChanged.emit(True)

    def _start_clock(self, start: float):
        if len(self.samples):
            try:
                clock = self.audio_clock_factory(self.samples, self.sample_rate, start)
                self.clock_kind = "audio"
                return clock
            except AudioUnavailable as exc:
                self.clockMessage.emit(f"{exc} — playing without sound (wall clock)")
        self.clock_kind = "wall"
        return WallClock(start)

    def pause(self) -> None:
        if not self.playing:
            return
        self.timer.stop()
        self.clock.close()
        self.clock = None
        self.playingChanged.emit(False)

    def seek(self, frame: int) -> None:
        frame = int(np.clip(frame, 0, max(self.n_frames - 1, 0)))
        was_playing = self.playing
        if was_playing:
            self.timer.stop()
            self.clock.close()
            self.clock = None
        self.frame = frame
        self.frameChanged.emit(frame)
        if was_playing:
            self.clock = self._start_clock(frame / self.fps)
            self.timer.start()

    def step(self, delta: int) -> None:
        self.pause()
        self.seek(self.frame + delta)

    def _tick(self) -> None:
        clock = self.clock
        if clock is None:
            return
        if clock.kind == "audio" and not clock.keeps_time():
            position = self.frame / self.fps
            clock.close()
            self.clock = WallClock(position)
            self.clock_kind = "wall"
            self.clockMessage.emit(
                "the audio device does not keep time (null sink?) — "
                "playing on the wall clock"
            )
            return
        frame = int(clock.position() * self.fps)
        if frame >= self.n_frames:
            self.frame = self.n_frames - 1
            self.frameChanged.emit(self.frame)
            self.pause()
            return
        if frame != self.frame:
            self.frame = frame
            self.frameChanged.emit(frame)


# ---------------------------------------------------------------- widgets
class FrameView(QWidget):
    """Paints the current frame centred and scaled to fit, with a small badge."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.badge = ""
        self.placeholder = "No timeline yet"
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def set_frame(self, frame: np.ndarray | QImage | None, badge: str = "") -> None:
        if frame is None:
            self.image = None
        else:
            self.image = frame if isinstance(frame, QImage) else to_qimage(frame)
        self.badge = badge
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#0d0e10"))
        if self.image is None or self.image.isNull():
            p.setPen(QColor(DIM))
            p.drawText(self.rect(), Qt.AlignCenter, self.placeholder)
            return
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        w, h = self.width(), self.height()
        iw, ih = self.image.width(), self.image.height()
        scale = min(w / iw, h / ih)
        tw, th = iw * scale, ih * scale
        target = QRectF((w - tw) / 2, (h - th) / 2, tw, th)
        p.drawImage(target, self.image)
        if self.badge:
            font = QFont()
            font.setPointSizeF(8.5)
            font.setBold(True)
            p.setFont(font)
            metrics = p.fontMetrics()
            bw = metrics.horizontalAdvance(self.badge) + 12
            box = QRectF(target.left() + 8, target.top() + 8, bw, metrics.height() + 6)
            p.fillRect(box, QColor(0, 0, 0, 150))
            p.setPen(QColor(TEXT))
            p.drawText(box.topLeft() + QPointF(6, metrics.ascent() + 3), self.badge)


class PreviewPanel(QWidget):
    """Frame view + transport bar. Owns the Player."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.player = Player(self)
        self.view = FrameView()

        def button(icon, tip, slot):
            b = QToolButton()
            b.setObjectName("Transport")
            b.setIcon(transport_icon(icon))
            b.setIconSize(QSize(18, 18))
            b.setToolTip(tip)
            b.clicked.connect(slot)
            return b

        self.start_btn = button("start", "Go to start", lambda: self.player.seek(0))
        self.back_btn = button("step_back", "Previous frame (←)",
                               lambda: self.player.step(-1))
        self.play_btn = button("play", "Play / pause (space)", self.player.toggle)
        self.fwd_btn = button("step_fwd", "Next frame (→)", lambda: self.player.step(1))
        self.end_btn = button("end", "Go to end",
                              lambda: self.player.seek(self.player.n_frames - 1))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._on_slider)
        self.time_label = QLabel("0:00.0 / 0:00.0")
        self.time_label.setStyleSheet(f"color: {TEXT}; font-family: monospace;")

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 4)
        for w in (self.start_btn, self.back_btn, self.play_btn, self.fwd_btn, self.end_btn):
            bar.addWidget(w)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.time_label)

        title = QLabel("Preview")
        title.setObjectName("PanelTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(title)
        layout.addWidget(self.view, 1)
        layout.addLayout(bar)

        self.player.frameChanged.connect(self._on_frame)
        self.player.playingChanged.connect(self._on_playing)
        self._slider_sync = False

    def set_source(self, fps, n_frames, samples=None, sample_rate=16000) -> None:
        self.player.set_source(fps, n_frames, samples, sample_rate)
        self._slider_sync = True
        self.slider.setRange(0, max(n_frames - 1, 0))
        self._slider_sync = False
        self._on_frame(self.player.frame)

    def _on_slider(self, value: int) -> None:
        if not self._slider_sync:
            self.player.seek(value)

    def _on_frame(self, frame: int) -> None:
        self._slider_sync = True
        self.slider.setValue(frame)
        self._slider_sync = False
        fps = self.player.fps
        total = max(self.player.n_frames - 1, 0) / fps if fps else 0
        self.time_label.setText(f"{format_time(frame / fps)} / {format_time(total)}")

    def _on_playing(self, playing: bool) -> None:
        self.play_btn.setIcon(transport_icon("pause" if playing else "play"))
