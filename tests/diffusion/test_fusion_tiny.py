"""Progressive latent fusion on the tiny model: seams and memory."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from core.diffusion.tiny import TINY_SIZE, synthetic_inputs, tiny_pipeline
from tests.diffusion._tiny import one_thread

N, W = 32, 8


def _boundary_ratio(frames: np.ndarray, window: int) -> tuple[float, float]:
    """(mean temporal difference across window boundaries, mean elsewhere):
    d[k] = mean |frame[k+1] − frame[k]|; boundaries are k = window−1, 2·window−1, ..."""
    d = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))
    bounds = [k - 1 for k in range(window, len(frames), window)]
    rest = [k for k in range(len(d)) if k not in bounds]
    return float(d[bounds].mean()), float(d[rest].mean())


def test_fusion_removes_the_seams_of_plain_concatenation():
    """Steady conditioning (one audio frame and one pose repeated) and shared initial noise:
    every frame-to-frame change then comes from the temporal layers, so windowing artefacts
    stand out. Plain concatenation (overlap 0) jumps at every window boundary; fusion
    (overlap 4, triangular blend each step) must not."""
    with one_thread():
        pipe = tiny_pipeline()
        rig, feats, motion = synthetic_inputs(N, seed=1)
        steady = copy.copy(feats)
        for name in ("mel", "viseme_weights", "rms", "vad"):
            setattr(steady, name, np.repeat(getattr(feats, name)[5:6], N, axis=0))
        still = copy.copy(motion)
        still.landmarks = np.repeat(motion.landmarks[5:6], N, axis=0)
        ref = pipe.encode_reference(rig, TINY_SIZE)
        run = dict(reference=ref, num_inference_steps=4, size=TINY_SIZE, window=W, seed=3,
                   shared_noise=1.0)
        concat = pipe(rig, steady, still, overlap=0, **run).frames
        fused = pipe(rig, steady, still, overlap=4, **run).frames
    cb, ce = _boundary_ratio(concat, W)
    fb, fe = _boundary_ratio(fused, W)
    print(f"concat boundary {cb:.3f} elsewhere {ce:.3f}; fusion boundary {fb:.3f} elsewhere {fe:.3f}")
    assert cb > 2.0 * ce  # the seam is real and measurable
    assert fb < 1.2 * fe  # fusion: boundaries look like any other frame pair
    assert fb < 0.5 * cb


@pytest.mark.timeout(300)
def test_peak_memory_does_not_grow_with_clip_length():
    """Rendering 256 frames needs no more memory than 64 (each in a fresh process; peak
    resident set of the render, tiny model at 128 px, one step)."""
    from studio.bench.diffusion import _probe

    short = _probe(64, size=128, steps=1)
    long = _probe(256, size=128, steps=1)
    print(short, long)
    assert short["frames"] == 64 and long["frames"] == 256
    assert long["render_peak_mb"] <= 1.10 * short["render_peak_mb"]
