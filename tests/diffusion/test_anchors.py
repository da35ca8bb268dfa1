"""Anchored context (temporal inpainting of a segment's boundary) on the tiny model.

A segment B = [m, n) rendered after its neighbour A = [0, m) gets A's last O frames as
anchors; its first frame must then meet A's last frame. Inputs are steady (one audio frame
and one pose repeated) with shared initial noise, as in test_fusion_tiny, so consecutive
frames are nearly equal and any seam stands out."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from core.diffusion.tiny import TINY_SIZE, synthetic_inputs, tiny_pipeline
from core.errors import InputError
from tests.diffusion._linear_vae import LinearVAE
from tests.diffusion._tiny import one_thread

N, W, OV, M = 24, 8, 4, 12


@pytest.fixture(scope="module", autouse=True)
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def setup():
    pipe = tiny_pipeline()
    pipe.register_modules(vae=LinearVAE())
    rig, feats, motion = synthetic_inputs(N, seed=1)
    steady = copy.copy(feats)
    for name in ("mel", "viseme_weights", "rms", "vad"):
        setattr(steady, name, np.repeat(getattr(feats, name)[5:6], N, axis=0))
    still = copy.copy(motion)
    still.landmarks = np.repeat(motion.landmarks[5:6], N, axis=0)
    run = dict(reference=pipe.encode_reference(rig, TINY_SIZE), num_inference_steps=4,
               size=TINY_SIZE, window=W, overlap=OV, shared_noise=1.0)
    a = pipe(rig, steady, still, frames=range(0, M), seed=3, **run).frames
    return pipe, (rig, steady, still), run, a


def _diffs(frames: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))


def _jump(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(x.astype(np.float32) - y.astype(np.float32)).mean())


def test_no_anchors_is_unchanged(setup):
    pipe, inputs, run, a = setup
    again = pipe(*inputs, frames=range(0, M), seed=3, anchors=None, **run).frames
    np.testing.assert_array_equal(again, a)
    far = {N - 1: np.zeros((TINY_SIZE, TINY_SIZE, 3), np.uint8)}  # outside the span: ignored
    np.testing.assert_array_equal(
        pipe(*inputs, frames=range(0, M), seed=3, anchors=far, **run).frames, a)


def test_reseeded_segment_meets_its_neighbour(setup):
    """The studio case: B re-rendered with another seed after A. Without anchors B's
    context frames follow B's own noise and B[m] jumps away from A[m−1]; with A's last O
    frames as anchors the boundary joins A."""
    pipe, inputs, run, a = setup
    anchors = {k: a[k] for k in range(M - OV, M)}
    plain = pipe(*inputs, frames=range(M, N), seed=11, **run).frames
    anchored = pipe(*inputs, frames=range(M, N), seed=11, anchors=anchors, **run).frames
    inner = float(np.median(np.concatenate([_diffs(a), _diffs(plain)])))
    j_plain, j_anch = _jump(plain[0], a[-1]), _jump(anchored[0], a[-1])
    print(f"reseeded: jump without anchors {j_plain:.3f}, anchored {j_anch:.3f}, "
          f"median inner {inner:.3f}, anchored edge diffs {_diffs(anchored[:OV + 1]).round(2)}")
    assert j_plain > 20 * inner  # the seam is real
    assert j_anch < 0.2 * j_plain  # anchoring joins the boundary
    # away from the boundary the segment is its own (anchoring only touches its edge)
    assert _jump(anchored[-1], plain[-1]) < 2 * inner


def test_same_seed_segment_stays_close(setup):
    """Same seed as A: the re-render already nearly meets A (tiny model, steady inputs);
    anchoring must keep the boundary within a few grey levels."""
    pipe, inputs, run, a = setup
    anchors = {k: a[k] for k in range(M - OV, M)}
    plain = pipe(*inputs, frames=range(M, N), seed=3, **run).frames
    anchored = pipe(*inputs, frames=range(M, N), seed=3, anchors=anchors, **run).frames
    inner = float(np.median(_diffs(plain)))
    j_plain, j_anch = _jump(plain[0], a[-1]), _jump(anchored[0], a[-1])
    print(f"same seed: jump without anchors {j_plain:.3f}, anchored {j_anch:.3f}, "
          f"median inner {inner:.3f}")
    assert j_anch < 5.0


def test_bad_anchors_are_refused(setup):
    pipe, inputs, run, a = setup
    with pytest.raises(InputError, match="inside the rendered frames"):
        pipe(*inputs, frames=range(M, N), seed=3, anchors={M: a[0]}, **run)
    with pytest.raises(InputError, match="expected"):
        pipe(*inputs, frames=range(M, N), seed=3, anchors={M - 1: a[0][:8]}, **run)
