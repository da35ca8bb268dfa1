"""Progressive latent fusion: denoise a clip of any length with a fixed-size window.

The denoiser sees W frames at a time (its temporal attention was trained on short clips).
A long clip is covered by windows of W frames overlapping by O; at EVERY denoising step each
window predicts noise for its frames and the predictions of overlapping windows are blended
with triangular position weights, normalised per frame:

    pred[f] = Σ_w  tri_w(f) · pred_w[f]  /  Σ_w tri_w(f)

Why at every step (not stitching finished windows): the windows agree on a common latent
trajectory from the first step on, so there is no seam to hide at the end; the triangular
weights give each window the most say in its centre, where its temporal context is widest.
Every window also reads the reference anchor (the ReferenceNet bank), which keeps identity
identical across windows.

Why constant memory: the latents (and the blend accumulator) of the whole clip live in CPU
tensors allocated once; only one window's slice is moved to the device, denoised and added
back. Device memory is therefore that of one window whatever the clip length, and time grows
linearly with the number of windows.

Segments: a part of the timeline is rendered as `frames=range(a, b)` by denoising the span
[a − O, b + O) (clamped to the clip) and returning only [a, b); `context_span` computes it.
The neighbour frames give the segment the same temporal context a full render would have,
so a re-rendered segment meets its neighbours without a seam.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def plan_windows(n_frames: int, window: int, overlap: int) -> list[range]:
    """Frame ranges of the windows that cover [0, n_frames), each `window` long (or the whole
    clip when shorter), consecutive windows overlapping by at least `overlap`.

    The stride is window − overlap; the last window is shifted left to end at the clip's end
    (so every window has full length and the overlap there is larger, never smaller).
    """
    if n_frames <= 0:
        return []
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window), got {overlap} for window {window}")
    if n_frames <= window:
        return [range(0, n_frames)]
    stride = window - overlap
    starts = list(range(0, n_frames - window, stride)) + [n_frames - window]
    out: list[range] = []
    for s in starts:
        if out and out[-1].start == s:
            continue
        out.append(range(s, s + window))
    return out


def triangular_weights(length: int) -> np.ndarray:
    """Position weights of one window: rising linearly from the edges to the centre,
    w[i] = min(i + 1, length − i), positive everywhere (so a frame covered by one window only
    keeps its own prediction after normalisation)."""
    i = np.arange(length, dtype=np.float64)
    return np.minimum(i + 1.0, length - i)


def context_span(frames: range, n_frames: int, context: int) -> range:
    """The span to denoise for output `frames`: `context` frames more on each side, clamped."""
    return range(max(0, frames.start - context), min(n_frames, frames.stop + context))


DenoiseWindow = Callable[[torch.Tensor, range], torch.Tensor]
"""denoise(latents of the window [B, C, W, h, w], window frame range) -> prediction, same shape."""


class LatentFusion:
    """Blends per-window noise predictions into one whole-clip prediction, in place.

    `latents` and the accumulators are CPU float32 tensors of the whole clip, layout
    [B, C, F, h, w] (frames on axis 2, as in the denoiser); they are allocated once here and
    reused every step, so a step allocates only window-sized tensors.
    """

    def __init__(self, shape: tuple[int, ...], window: int, overlap: int):
        if len(shape) != 5:
            raise ValueError(f"latents must be [B, C, F, h, w], got shape {tuple(shape)}")
        self.shape = tuple(int(s) for s in shape)
        self.n_frames = self.shape[2]
        self.windows = plan_windows(self.n_frames, window, overlap)
        self._acc = torch.zeros(self.shape, dtype=torch.float32)
        self._wsum = torch.zeros(self.n_frames, dtype=torch.float64)
        self._weights = [torch.from_numpy(triangular_weights(len(w))) for w in self.windows]
        for w, tw in zip(self.windows, self._weights, strict=True):
            self._wsum[w.start : w.stop] += tw
        self._norm = (1.0 / self._wsum).to(torch.float32)

    def predict(
        self,
        latents: torch.Tensor,
        denoise: DenoiseWindow,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        between_windows: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        """Whole-clip blended prediction (a CPU float32 tensor owned by this object; it is
        overwritten by the next call). `between_windows` runs before each window (cancel
        checks)."""
        acc = self._acc
        acc.zero_()
        for win, tw in zip(self.windows, self._weights, strict=True):
            if between_windows is not None:
                between_windows()
            x = latents[:, :, win.start : win.stop].to(device=device, dtype=dtype)
            pred = denoise(x, win)
            if pred.shape != x.shape:
                raise RuntimeError(
                    f"denoiser returned {tuple(pred.shape)} for a window of {tuple(x.shape)}"
                )
            w = tw.to(torch.float32).view(1, 1, -1, 1, 1)
            acc[:, :, win.start : win.stop] += pred.to("cpu", torch.float32) * w
        acc.mul_(self._norm.view(1, 1, -1, 1, 1))
        return acc
