"""Progressive latent fusion: window plan, exact blend weights, constant working set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.diffusion.fusion import (
    LatentFusion,
    context_span,
    plan_windows,
    triangular_weights,
)


@pytest.mark.parametrize(
    ("n", "window", "overlap"),
    [(1, 16, 4), (16, 16, 4), (17, 16, 4), (40, 16, 4), (100, 12, 6), (256, 16, 0)],
)
def test_windows_cover_the_clip_with_the_overlap(n, window, overlap):
    wins = plan_windows(n, window, overlap)
    covered = np.zeros(n, int)
    for w in wins:
        assert len(w) == min(window, n)
        covered[w.start : w.stop] += 1
    assert covered.min() >= 1
    assert wins[0].start == 0 and wins[-1].stop == n
    for a, b in zip(wins, wins[1:], strict=False):
        assert a.stop - b.start >= overlap  # never less overlap than asked
        assert b.start > a.start


def test_bad_window_arguments_are_refused():
    with pytest.raises(ValueError):
        plan_windows(10, 4, 4)
    with pytest.raises(ValueError):
        plan_windows(10, 0, 0)


def test_triangular_weights_peak_in_the_middle_and_stay_positive():
    w = triangular_weights(8)
    assert list(w) == [1, 2, 3, 4, 4, 3, 2, 1]
    assert triangular_weights(5).tolist() == [1, 2, 3, 2, 1]


def test_context_span_clamps_to_the_clip():
    assert context_span(range(10, 20), 100, 4) == range(6, 24)
    assert context_span(range(0, 5), 7, 4) == range(0, 7)


def test_blend_is_the_weighted_mean_of_window_constants():
    """A stand-in denoiser returns a different constant c_k per window; the blended value
    of each frame must be Σ w_k(f) c_k / Σ w_k(f) (computed here independently)."""
    n, window, overlap = 37, 10, 4
    fusion = LatentFusion((1, 2, n, 3, 3), window, overlap)
    consts = {w.start: float(k * 10 + 1) for k, w in enumerate(fusion.windows)}

    def denoise(x, win):
        return torch.full_like(x, consts[win.start])

    latents = torch.zeros(1, 2, n, 3, 3)
    pred = fusion.predict(latents, denoise)
    num = np.zeros(n)
    den = np.zeros(n)
    for w in plan_windows(n, window, overlap):
        tw = triangular_weights(len(w))
        num[w.start : w.stop] += tw * consts[w.start]
        den[w.start : w.stop] += tw
    expected = num / den
    got = pred[0, 0, :, 0, 0].double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # all channels/pixels agree; frames seen by one window keep its constant exactly
    assert torch.allclose(pred, pred[:, :1, :, :1, :1].expand_as(pred))
    assert got[0] == consts[0]


def test_blend_of_an_identity_denoiser_returns_the_latents():
    """Windows that agree (a denoiser that is a function of the frame alone) must blend to
    exactly their common value — fusion adds no error of its own."""
    n = 50
    latents = torch.randn(1, 4, n, 5, 5, generator=torch.Generator().manual_seed(0))
    fusion = LatentFusion(latents.shape, 16, 6)
    pred = fusion.predict(latents, lambda x, win: x * 2.0)
    torch.testing.assert_close(pred, latents * 2.0, rtol=1e-6, atol=1e-6)


def test_only_window_sized_slices_reach_the_denoiser():
    n, window = 120, 16
    seen = []
    fusion = LatentFusion((1, 4, n, 4, 4), window, 4)
    fusion.predict(torch.zeros(1, 4, n, 4, 4), lambda x, w: (seen.append(x.shape), x)[1])
    assert {s[2] for s in seen} == {window}
    assert len(seen) == len(plan_windows(n, window, 4))


def test_between_windows_hook_runs_before_every_window():
    calls = []
    fusion = LatentFusion((1, 1, 30, 2, 2), 10, 2)
    fusion.predict(torch.zeros(1, 1, 30, 2, 2), lambda x, w: x, between_windows=lambda: calls.append(1))
    assert len(calls) == len(fusion.windows)
