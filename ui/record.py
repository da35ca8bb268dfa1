"""Record a new audio track from the microphone (sounddevice) with a level meter.

The PortAudio callback only copies blocks into a list and stores the block's peak (cheap,
never touches Qt); a 30 Hz QTimer on the GUI thread moves the meter. On Stop the take is
written as a 16-bit WAV into a temp file and handed to the library's normal audio import,
so a recorded track is validated and stored exactly like an imported one.

The device's clock is not trusted: a broken or virtual device (ALSA's null device) hands
over blocks far faster than real time — 1,014 s "recorded" in 2.5 s, 135 MB of memory. So
the recorder bounds the take (MAX_SECONDS of audio, MAX_BYTES of buffer) and compares the
samples the device delivered with the wall-clock time elapsed; when they diverge it stops
and says why, keeping nothing beyond the bounds.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

RATE = 16_000
MAX_SECONDS = 30 * 60  # the longest take
MAX_BYTES = MAX_SECONDS * RATE * 4  # float32 mono at RATE
CLOCK_SLACK_S = 2.0  # device buffering allowed ahead of the wall clock
CLOCK_RATIO = 1.5  # more than this × real time is a device that does not keep time


class Recorder:
    """Collects mono float32 blocks from the default input device, within bounds.

    `problem` is set (and further blocks dropped) when the take hits MAX_SECONDS or
    MAX_BYTES, or when the device delivers audio faster than the wall clock allows."""

    def __init__(self, rate: int = RATE, max_seconds: float = MAX_SECONDS,
                 max_bytes: int = MAX_BYTES, clock=time.monotonic):
        self.rate = rate
        self.max_seconds = float(max_seconds)
        self.max_bytes = int(max_bytes)
        self.clock = clock
        self.blocks: list[np.ndarray] = []
        self.level = 0.0
        self.stream = None
        self._lock = threading.Lock()
        self._samples = 0
        self.started = 0.0
        self.problem = ""

    def start(self) -> None:
        import sounddevice as sd  # raises OSError when PortAudio is missing

        self.reset()
        self.stream = sd.InputStream(samplerate=self.rate, channels=1, dtype="float32",
                                     callback=self._callback)
        self.started = self.clock()
        self.stream.start()

    def reset(self) -> None:
        with self._lock:
            self.blocks = []
            self._samples = 0
        self.problem = ""
        self.started = self.clock()

    def _callback(self, indata, frames, time_info, status) -> None:
        """PortAudio's thread: check the bounds, then keep the block."""
        if self.problem:
            return
        block = indata[:, 0].copy()
        with self._lock:
            total = self._samples + len(block)
            elapsed = self.clock() - self.started
            if total / self.rate > elapsed * CLOCK_RATIO + CLOCK_SLACK_S:
                self.problem = (
                    f"the input device delivered {total / self.rate:.0f} s of audio in "
                    f"{elapsed:.1f} s: it does not keep time (a virtual or broken device). "
                    "Recording stopped; choose a real microphone as the input device.")
                return
            if total / self.rate > self.max_seconds or total * 4 > self.max_bytes:
                self.problem = (f"the take reached the {self.max_seconds / 60:.0f}-minute "
                                "limit; recording stopped.")
                return
            self.blocks.append(block)
            self._samples = total
        self.level = float(np.abs(block).max(initial=0.0))

    def stop(self) -> np.ndarray:
        if self.stream is not None:
            try:
                self.stream.stop()
                self.stream.close()
            finally:
                self.stream = None
        with self._lock:
            return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)

    @property
    def seconds(self) -> float:
        with self._lock:
            return self._samples / self.rate


def write_wav(samples: np.ndarray, rate: int, folder: str | Path | None = None) -> Path:
    import soundfile as sf

    fd, name = tempfile.mkstemp(prefix="recording-", suffix=".wav", dir=folder)
    import os

    os.close(fd)
    sf.write(name, np.clip(samples, -1, 1), rate, subtype="PCM_16")
    return Path(name)


class RecordDialog(QDialog):
    """After accept(): `path` is the recorded WAV and `name` the track name."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Record audio")
        self.setObjectName("RecordDialog")
        self.recorder = Recorder()
        self.path: Path | None = None
        self.name_edit = QLineEdit(time.strftime("recording %Y-%m-%d %H-%M"))
        self.meter = QProgressBar()
        self.meter.setRange(0, 60)
        self.meter.setTextVisible(False)
        self.time_label = QLabel("0.0 s")
        self.status = QLabel("Press Record and speak.")
        self.status.setWordWrap(True)
        self.record_btn = QPushButton("● Record")
        self.record_btn.setCheckable(True)
        self.record_btn.toggled.connect(self._toggle)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Level", self.meter)
        form.addRow("Length", self.time_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.Save).setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.record_btn)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self._tick)
        self.samples = np.zeros(0, np.float32)

    @property
    def name(self) -> str:
        return self.name_edit.text().strip() or "recording"

    def _toggle(self, on: bool) -> None:
        if on:
            try:
                self.recorder.start()
            except Exception as exc:
                self.record_btn.setChecked(False)
                self.status.setText(f"Cannot record: no input device ({_first_line(exc)}).")
                self.status.setStyleSheet("color: #e05555;")
                return
            self.record_btn.setText("■ Stop")
            self.status.setText("Recording…")
            self.timer.start()
        else:
            if self.recorder.stream is None:
                return
            self.timer.stop()
            self.samples = self.recorder.stop()
            self.meter.setValue(0)
            self.record_btn.setText("● Record again")
            ok = len(self.samples) > RATE * 0.3 and not self.recorder.problem.startswith(
                "the input device")
            if self.recorder.problem:
                self.status.setText(f"Recording stopped: {self.recorder.problem}")
                self.status.setStyleSheet("color: #e05555;")
            else:
                self.status.setText(f"Recorded {len(self.samples) / RATE:.1f} s." if ok
                                    else "The take is too short (under 0.3 s).")
            self.buttons.button(QDialogButtonBox.Save).setEnabled(ok)

    def _tick(self) -> None:
        if self.recorder.problem and self.recorder.stream is not None:
            problem = self.recorder.problem
            self.record_btn.setChecked(False)  # stops and keeps what is within bounds
            self.status.setText(f"Recording stopped: {problem}")
            self.status.setStyleSheet("color: #e05555;")
            return
        level = self.recorder.level
        db = 20 * np.log10(max(level, 1e-6))
        self.meter.setValue(int(np.clip(db + 60, 0, 60)))
        self.time_label.setText(f"{self.recorder.seconds:.1f} s")

    def accept(self) -> None:
        if self.recorder.stream is not None:
            self.record_btn.setChecked(False)
        if len(self.samples) == 0:
            return
        self.path = write_wav(self.samples, RATE)
        super().accept()

    def reject(self) -> None:
        if self.recorder.stream is not None:
            self.recorder.stop()
        super().reject()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
