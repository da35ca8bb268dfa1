"""Shared inputs for the motion and warp tests (no tests here): real rigs and real audio.

Rigs come from `core.face.analyze` on the sample portraits; audio features from
`core.audio.analyze` with forced alignment, either on a sample clip or on speech that
espeak-ng synthesises from a sentence dense in bilabials.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.types import AudioFeatures, FaceRig, Phone

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
BILABIAL_SENTENCE = "My mom bought a pale blue map, maybe by the big pub."


@lru_cache(maxsize=4)
def rig_of(name: str) -> FaceRig:
    import core.face
    from core.image import load_image

    return core.face.analyze(load_image(SAMPLES / "portraits" / name))


@lru_cache(maxsize=8)
def features_of(wav: str, transcript: str | None, fps: float = 25.0) -> AudioFeatures:
    import core.audio

    return core.audio.analyze(core.audio.load(SAMPLES / "audio" / wav), fps, transcript)


@lru_cache(maxsize=2)
def espeak_features(text: str, tmp: str, fps: float = 25.0) -> AudioFeatures:
    """Features of `text` spoken by espeak-ng (installed by set-up: missing is a failure)."""
    import core.audio

    exe = shutil.which("espeak-ng")
    assert exe, "espeak-ng not found: `make setup` installs it (Makefile APT_PACKAGES)"
    wav = Path(tmp) / "espeak.wav"
    subprocess.run([exe, "-s", "150", "-w", str(wav), text], check=True, timeout=60)
    return core.audio.analyze(core.audio.load(wav), fps, text)


def synthetic_features(
    n: int,
    fps: float = 25.0,
    phones: list[Phone] | None = None,
    rms: np.ndarray | None = None,
    vad: np.ndarray | None = None,
) -> AudioFeatures:
    """AudioFeatures built by hand (viseme tracks via core.audio.visemes.frame_tracks)."""
    from core.audio.visemes import frame_tracks

    phones = phones or []
    vis, w = frame_tracks(phones, n, fps)
    rms = np.zeros(n, np.float32) if rms is None else rms.astype(np.float32)
    vad = (rms > 0.1).astype(np.float32) if vad is None else vad.astype(np.float32)
    return AudioFeatures(
        fps=fps,
        n_frames=n,
        duration=n / fps,
        rms=rms,
        vad=vad,
        mel=np.zeros((n, 80), np.float32),
        visemes=vis,
        viseme_weights=w,
        phones=phones,
    )


@lru_cache(maxsize=1)
def joined_features(fps: float = 25.0) -> AudioFeatures:
    """Two real prompts with 0.4 s of silence before, 1.2 s between and 0.6 s after them
    (the sample prompts are trimmed; speech with real pauses is what the planner meets)."""
    import core.audio
    from core.types import Waveform

    a = core.audio.load(SAMPLES / "audio" / "asterisk_tt-weasels.wav").samples
    b = core.audio.load(SAMPLES / "audio" / "asterisk_all-circuits-busy-now.wav").samples
    z = np.zeros
    x = np.concatenate([z(6400), a, z(19200), b, z(9600)]).astype(np.float32)
    text = "Weasels have eaten our phone system. All circuits are busy now."
    return core.audio.analyze(Waveform(x, "joined"), fps, text)


def render_drawn(req) -> tuple[list[np.ndarray], np.ndarray]:
    """(frames, [n,68,2] the lips' landmarks as the warp renderer draws them, frame px) of
    WarpEngine().render(req): the ground truth the evaluator's image readings are graded on."""
    import core.engines.warp as W

    drawn: list[np.ndarray] = []
    paint = W.paint_mouth

    def spy(frame, out_lm, *a, **k):
        drawn.append(np.array(out_lm, np.float64))
        return paint(frame, out_lm, *a, **k)

    W.paint_mouth = spy
    try:
        frames = list(W.WarpEngine().render(req))
    finally:
        W.paint_mouth = paint
    return frames, np.stack(drawn)
