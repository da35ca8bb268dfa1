"""Playback: the audio clock (sounddevice), its wall-clock fallback, and the preview
following the playhead."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ui.preview import AudioClock, AudioUnavailable, Player, WallClock, resample_linear

ROOT = Path(__file__).resolve().parents[2]


def test_audio_callback_writes_the_track_in_order_and_counts_samples():
    """The callback alone (no device): samples come out in order from the start time,
    silence after the end, and the position follows the samples handed over."""
    clock = AudioClock.__new__(AudioClock)  # the callback needs no open stream
    import sounddevice as sd

    clock._sd = sd
    clock.rate = 1000
    clock.samples = np.arange(3000, dtype=np.float32) / 3000
    clock.start_index = clock.next_index = 500  # started at 0.5 s
    clock.latency = 0.1
    out = np.zeros((256, 1), np.float32)
    clock._callback(out, 256, None, None)
    assert np.allclose(out[:, 0], clock.samples[500:756])
    assert clock.position() == pytest.approx(0.5 + 0.256 - 0.1)
    clock.next_index = 2900
    clock._callback(out, 256, None, None)
    assert np.allclose(out[:100, 0], clock.samples[2900:]) and not out[100:].any()


def test_resample_linear_keeps_duration():
    x = np.sin(np.linspace(0, 20, 16000)).astype(np.float32)
    y = resample_linear(x, 16000, 48000)
    assert len(y) == 48000 and abs(y.max() - x.max()) < 1e-3


def test_player_falls_back_to_wall_clock_without_device(qtbot):
    """No output device: playing still works, timed by the wall clock, and says so."""

    def no_device(*_a):
        raise AudioUnavailable("no audio output device (test)")

    player = Player()
    player.audio_clock_factory = no_device
    player.set_source(25, 50, np.zeros(32000, np.float32), 16000)
    messages, frames = [], []
    player.clockMessage.connect(messages.append)
    player.frameChanged.connect(frames.append)
    player.play()
    assert player.playing and player.clock_kind == "wall"
    assert messages and "wall clock" in messages[0]
    qtbot.waitUntil(lambda: not player.playing, timeout=30000)
    assert frames[-1] == 49
    assert frames == sorted(frames) and len(set(frames)) > 20  # advanced frame by frame
    # how long 50 frames take in real time is measured by `python main.py bench ui`


def test_wall_clock_paces_frames_by_elapsed_time(qtbot, monkeypatch):
    """The frame shown is the clock's position times fps: driven by a fake monotonic clock,
    so the pacing is checked exactly, with no real-time threshold."""
    import ui.preview

    now = [100.0]
    monkeypatch.setattr(ui.preview, "time", type("FakeTime", (), {"monotonic": lambda: now[0]}))

    def no_device(*_a):
        raise AudioUnavailable("no audio output device (test)")

    player = Player()
    player.audio_clock_factory = no_device
    player.set_source(25, 50, np.zeros(32000, np.float32), 16000)
    player.play()
    player.timer.stop()  # ticks are driven by hand below, at chosen clock readings
    frames = []
    player.frameChanged.connect(frames.append)
    # readings half a frame past each boundary (no rounding question): frame = int(t * 25)
    for seconds, frame in [(0.02, 0), (0.06, 1), (1.02, 25), (1.5, 37), (1.98, 49)]:
        now[0] = 100.0 + seconds
        player._tick()
        assert player.frame == frame and player.playing
    now[0] = 100.0 + 2.02  # past frame 49: playback stops on the last frame
    player._tick()
    assert not player.playing and player.frame == 49
    assert frames == [1, 25, 37, 49, 49]


def test_seek_and_step_while_paused(qtbot):
    player = Player()
    player.set_source(25, 100)
    seen = []
    player.frameChanged.connect(seen.append)
    player.seek(40)
    player.step(1)
    player.step(-3)
    player.seek(500)
    assert seen == [40, 41, 38, 99]
    assert isinstance(WallClock(1.0).position(), float)


NULL_DEVICE_SCRIPT = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import numpy as np
    from PySide6.QtCore import QCoreApplication
    from ui.preview import AudioClock, Player
    app = QCoreApplication([])
    clock = AudioClock(np.zeros(16000, np.float32), 16000, 0.0)  # opens the device
    time.sleep(0.2)
    ok = clock.next_index > 0
    clock.close()
    player = Player()
    player.set_source(25, 40, np.zeros(32000, np.float32), 16000)
    msgs = []
    player.clockMessage.connect(msgs.append)
    player.play()
    first = player.clock_kind
    end = time.monotonic() + 5
    while player.playing and time.monotonic() < end:
        app.processEvents(); time.sleep(0.01)
    print("RESULT", ok, first, player.clock_kind, player.frame, "|".join(msgs))
""")


def test_audio_clock_with_a_null_alsa_device(tmp_path):
    """With ALSA's null sink as default device the stream opens and the callback runs;
    the sink swallows samples faster than real time, which the player detects and then
    finishes on the wall clock (and says so). Runs in a subprocess: PortAudio reads the
    ALSA configuration once per process."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type null }\n")
    env = {**os.environ, "HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", NULL_DEVICE_SCRIPT.format(root=str(ROOT))],
                          env=env, capture_output=True, text=True, timeout=60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    # libportaudio2 (and ALSA's built-in null device) come with set-up: failing to open it
    # is a broken install, reported, never skipped
    assert line, f"PortAudio/ALSA null device failed: {proc.stderr[-2000:]}"
    _, ok, first, final, frame, msgs = line.split(" ", 5)
    assert ok == "True"  # the device callback pulled samples
    assert first == "audio"  # playback started on the audio clock
    assert final == "wall" and "does not keep time" in msgs
    assert int(frame) == 39  # and still played to the end


RECORD_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import soundfile as sf
    from ui.record import Recorder, write_wav
    rec = Recorder()
    rec.start()
    time.sleep(0.3)
    samples = rec.stop()
    path = write_wav(samples, rec.rate, {folder!r})
    info = sf.info(str(path))
    print("RESULT", len(samples), info.samplerate, info.frames, rec.stream is None)
""")


def test_recorder_captures_from_a_null_alsa_device(tmp_path):
    """Record from ALSA's null capture device (silence) and write the take as a WAV."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type null }\n")
    env = {**os.environ, "HOME": str(home)}
    script = RECORD_SCRIPT.format(root=str(ROOT), folder=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    # libportaudio2 (and ALSA's built-in null device) come with set-up: failing to open it
    # is a broken install, reported, never skipped
    assert line, f"PortAudio/ALSA null device failed: {proc.stderr[-2000:]}"
    _, n, rate, frames, closed = line.split()
    assert int(n) > 0 and int(rate) == 16000 and int(frames) == int(n) and closed == "True"


def test_recorder_does_not_trust_a_device_clock_that_lies():
    """A device that delivers audio faster than real time is stopped with a message, and
    the take never grows past its bounds (length and bytes)."""
    from ui.record import Recorder

    now = [100.0]
    rec = Recorder(clock=lambda: now[0])
    rec.reset()
    block = np.zeros((1600, 1), np.float32)  # 0.1 s at 16 kHz
    for _ in range(10):  # 1 s of audio in 1 s: fine
        now[0] += 0.1
        rec._callback(block, 1600, None, None)
    assert rec.problem == "" and rec.seconds == pytest.approx(1.0)
    for _ in range(1000):  # then 100 s of audio in no time at all
        rec._callback(block, 1600, None, None)
    assert "does not keep time" in rec.problem
    assert rec.seconds < 1.0 * 1.5 + 2.0 + 0.1  # stopped at the bound
    kept = len(rec.blocks)
    rec._callback(block, 1600, None, None)
    assert len(rec.blocks) == kept  # nothing more is kept after the stop

    small = Recorder(max_seconds=0.5, clock=lambda: now[0])
    small.reset()
    for _ in range(20):
        now[0] += 0.1
        small._callback(block, 1600, None, None)
    assert "limit" in small.problem and small.seconds <= 0.5


RECORD_NULL_LONG = textwrap.dedent("""
    import sys, time, resource
    sys.path.insert(0, {root!r})
    from ui.record import Recorder
    rec = Recorder()
    rec.start()
    t0 = time.monotonic()
    time.sleep(2.5)
    samples = rec.stop()
    print("RESULT", len(samples) / rec.rate, time.monotonic() - t0, repr(rec.problem))
""")


def test_recorder_bounds_the_null_device(tmp_path):
    """ALSA's null capture device answers as fast as it is asked (it once 'recorded'
    1,014 s in 2.5 s): the take stays within what the wall clock allows."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type null }\n")
    env = {**os.environ, "HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", RECORD_NULL_LONG.format(root=str(ROOT))],
                          env=env, capture_output=True, text=True, timeout=60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    if line is None and "PortAudio" in proc.stderr + proc.stdout:
        pytest.skip(f"PortAudio/ALSA unavailable here: {proc.stderr.strip()[-200:]}")
    assert line, proc.stderr[-2000:]
    _, recorded, elapsed, problem = line.split(" ", 3)
    print(f"null device: {float(recorded):.1f} s kept in {float(elapsed):.1f} s; {problem}")
    assert float(recorded) <= float(elapsed) * 1.5 + 2.0 + 0.1
