"""`analyze`: a Waveform -> frame-rate AudioFeatures (RMS, VAD, mel, phones, visemes).

Order matters: voice activity comes first because it both normalises RMS (the speech 95th
percentile is 1) and chooses where the phone loop listens. Phones come from forced alignment
when a transcript is given and it works; otherwise (or if it fails) from the phone loop,
with a logged warning, so a bad transcript never costs the user the render.
"""

from __future__ import annotations

import logging

import numpy as np

from core.audio import features as feat
from core.audio import phonemes
from core.audio import prosody as prosodymod
from core.audio import text as textnorm
from core.audio.visemes import VISEMES, frame_tracks
from core.errors import InputError
from core.types import SAMPLE_RATE, AudioFeatures, Phone, ProgressFn, Waveform, Word

log = logging.getLogger(__name__)

# share of the progress bar per stage (measured: phones dominate, then VAD, then mel)
_STAGES = {"rms": 0.02, "vad": 0.2, "mel": 0.16, "prosody": 0.02, "phones": 0.55,
           "visemes": 0.05}


def analyze(
    wave: Waveform,
    fps: float = 25.0,
    transcript: str | None = None,
    progress: ProgressFn | None = None,
) -> AudioFeatures:
    """Frame-rate features of `wave` for a video at `fps` (frame i covers [i/fps, (i+1)/fps)).

    `transcript` (the spoken words, any punctuation/numbers) switches the phones to forced
    alignment (`aligned=True`). Empty audio and a transcript over
    `core.audio.text.MAX_TRANSCRIPT_CHARS` are refused with InputError; silence is fine.
    Warnings (skipped words, alignment fallback) go to the `core.audio` logger.
    """
    if not fps or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if wave.sample_rate != SAMPLE_RATE:
        raise ValueError(f"analyze expects {SAMPLE_RATE} Hz audio (use core.audio.load)")
    text = textnorm.check_transcript(transcript)  # bounded: alignment grows with the text
    x = np.asarray(wave.samples, dtype=np.float32).reshape(-1)
    if x.size == 0:
        raise InputError(wave.source or None, "contains no audio samples")
    n = feat.n_frames_for(x.size, fps)
    report = _Progress(progress)

    raw_rms = feat.frame_rms(x, fps, n)
    report.done("rms", "energy")

    probs = feat.vad_probs(x, lambda f: report.part("vad", f, "voice activity"))
    vad = feat.frame_vad(probs, fps, n)
    rms = feat.normalise_rms(raw_rms, vad >= 0.5)
    report.done("vad", "voice activity")

    mel = feat.frame_mel(x, fps, n)
    report.done("mel", "mel spectrogram")

    prosody = prosodymod.analyze(x, fps, n, vad)
    report.done("prosody", "pitch and stress")

    phones: list[Phone] = []
    words: list[Word] = []
    aligned = False
    if text and not (vad >= 0.5).any():
        log.warning(
            "%s: no speech detected; the transcript is ignored (the mouth stays at rest)",
            wave.source or "audio",
        )
    elif text:
        try:
            phones, words, warns = phonemes.align(x, text)
            aligned = True
            for w in warns:
                log.warning("%s: %s", wave.source or "audio", w)
        except phonemes.AlignmentFailed as err:
            log.warning(
                "%s: forced alignment failed (%s); using phone recognition instead",
                wave.source or "audio",
                err,
            )
    if not aligned:
        regions = feat.speech_regions(probs)
        phones = phonemes.phone_loop(
            x, regions, lambda f: report.part("phones", f, "phone recognition")
        )
    report.done("phones", "phones")

    visemes, weights = frame_tracks(phones, n, fps)
    report.done("visemes", "visemes")
    assert weights.shape == (n, len(VISEMES))
    return AudioFeatures(
        fps=float(fps),
        n_frames=n,
        duration=x.size / SAMPLE_RATE,
        rms=rms,
        vad=vad,
        mel=mel,
        visemes=visemes,
        viseme_weights=weights,
        phones=phones,
        words=words,
        aligned=aligned,
        transcript=text,
        prosody=prosody,
    )


class _Progress:
    """Maps stage-local fractions onto one monotone 0..1 progress callback."""

    def __init__(self, fn: ProgressFn | None):
        self.fn = fn
        self.base = 0.0

    def part(self, stage: str, frac: float, msg: str) -> None:
        if self.fn is not None:
            self.fn(min(1.0, self.base + _STAGES[stage] * min(1.0, frac)), msg)

    def done(self, stage: str, msg: str) -> None:
        self.base = min(1.0, self.base + _STAGES[stage])
        if self.fn is not None:
            self.fn(self.base, msg)
