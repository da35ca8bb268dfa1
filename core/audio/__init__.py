"""Speech audio in, frame-rate features out.

    wave = core.audio.load("speech.m4a")               # 16 kHz mono float32 Waveform
    feats = core.audio.analyze(wave, fps=25, transcript="Hello world.")

Modules: `loader` (streaming decode + resample with PyAV), `features` (RMS, log-mel,
silero-vad), `phonemes` (pocketsphinx alignment / phone loop), `text` (transcript
normalisation, espeak-ng pronunciations), `visemes` (phone -> viseme classes and tracks),
`pipeline` (`analyze`). Heavy libraries load lazily, on first use.
"""

from core.audio.loader import load
from core.audio.pipeline import analyze
from core.audio.visemes import PHONE_TO_VISEME, VISEMES

__all__ = ["PHONE_TO_VISEME", "VISEMES", "analyze", "load"]
