"""Temporal inpainting of a segment's context frames around its neighbours' existing renders
(`Anchors`, used by `MagicTalkPipeline.stream(anchors=...)`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from diffusers import DDIMScheduler

from core.diffusion.noise import frame_noise
from core.diffusion.scheduler import alphas_for
from core.errors import InputError

if TYPE_CHECKING:
    from core.diffusion.pipeline import MagicTalkPipeline


class Anchors:
    """Temporal inpainting of the context span around existing neighbour frames.

    Why: a segment rendered alone denoises its context frames [a − O, a) and [b, b + O)
    afresh, under another window layout than the neighbours had, so they come out different
    from the neighbours' actual renders and the segment's edge frames do not meet them (a
    seam). Pinning the context latents to the real neighbour frames (RePaint-style: after
    every DDIM step an anchored frame's latent is replaced by the anchor latent noised to
    level the step just reached — DDIM's alpha_bar_prev, i.e. `add_noise` at the next
    timestep — with that frame's own initial noise, clean after the last step)
    makes every window's temporal attention see the neighbours' real content, and pulls the
    segment's own frames towards it.

    Pinning alone only pulls as far as the model's temporal attention carries; when the
    segment's content really differs (another seed or prompt than the neighbour's render)
    the edge frames still jump. So the segment's first (last) r frames next to an anchor
    also have their predicted x0 blended towards the nearest anchor at every step, with
    weights r/(r+1), …, 1/(r+1) (r = anchors on that side): the same triangular hand-over
    latent fusion uses between windows, across the segment boundary.
    """

    def __init__(self, rows: list[int], latents: torch.Tensor, noise: torch.Tensor,
                 ramp: list[tuple[int, int, float]]):
        self.rows = rows  # positions inside the span
        self.latents = latents  # [1, C, len(rows), h, w] float32, clean, scaled
        self.noise = noise  # the same shape: the frames' initial noise
        self.ramp = ramp  # (span row, anchor index, weight): segment frames pulled to it

    @classmethod
    def encode(cls, pipe: MagicTalkPipeline, anchors: dict[int, np.ndarray], span: range,
               frames: range, size: int, seed: int, shared: float) -> Anchors | None:
        """VAE-encode (latent mean × scaling factor) the anchors inside `span`; others are
        ignored. InputError for an anchor inside `frames` or of the wrong shape."""
        keys = sorted(int(k) for k in anchors if int(k) in span)
        if not keys:
            return None
        device, dtype = pipe._execution_device, pipe.dtype
        sf = float(pipe.vae.config.scaling_factor)
        side = size // pipe.vae_scale_factor
        lat, noise = [], []
        for k in keys:
            if k in frames:
                raise InputError(None, f"anchor frame {k} lies inside the rendered frames "
                                       f"{frames.start}..{frames.stop}: anchors are context")
            img = np.asarray(anchors[k])
            if img.shape != (size, size, 3):
                raise InputError(None, f"anchor frame {k} is {img.shape}, expected "
                                       f"({size}, {size}, 3)")
            pix = torch.from_numpy(np.ascontiguousarray(img)).to(device, dtype)
            pix = pix.permute(2, 0, 1)[None] / 127.5 - 1.0
            with torch.inference_mode():
                z = pipe.vae.encode(pix).latent_dist.mean * sf
            lat.append(z[0].to("cpu", torch.float32))
            noise.append(frame_noise(seed, k, tuple(z.shape[1:]), shared))
        if lat[0].shape[1:] != (side, side):  # pragma: no cover - VAE geometry guard
            raise RuntimeError(f"anchor latents {tuple(lat[0].shape)} do not fit {side}x{side}")
        ramp = []
        before = [j for j, k in enumerate(keys) if k < frames.start]
        after = [j for j, k in enumerate(keys) if k >= frames.stop]
        if before and keys[before[-1]] == frames.start - 1:
            r = min(len(before), len(frames))
            ramp += [(frames.start + i - span.start, before[-1], (r - i) / (r + 1))
                     for i in range(r)]
        if after and keys[after[0]] == frames.stop:
            r = min(len(after), len(frames))
            ramp += [(frames.stop - 1 - i - span.start, after[0], (r - i) / (r + 1))
                     for i in range(r)]
        return cls([k - span.start for k in keys], torch.stack(lat, 1)[None],
                   torch.stack(noise, 1)[None], ramp)

    def x0_pull(self, scheduler: DDIMScheduler, latents: torch.Tensor, pred: torch.Tensor,
                t: int) -> list[tuple[int, torch.Tensor]]:
        """For the ramp frames: w · (anchor − predicted x0), computed before the step."""
        if not self.ramp:
            return []
        a_t, _ = alphas_for(scheduler, t)
        sa, sb = a_t**0.5, (1.0 - a_t) ** 0.5
        out = []
        for row, j, w in self.ramp:
            x, v = latents[:, :, row].float(), pred[:, :, row].float()
            if scheduler.config.prediction_type == "v_prediction":
                x0 = sa * x - sb * v
            else:
                x0 = (x - sb * v) / sa
            out.append((row, w * (self.latents[:, :, j] - x0)))
        return out

    def apply(self, latents: torch.Tensor, alpha_bar: float,
              pull: list[tuple[int, torch.Tensor]] | None = None) -> None:
        """Overwrite the anchored rows of `latents` with the anchors noised to the noise
        level `alpha_bar` (what `scheduler.add_noise` does; 1.0 = clean); move the ramp
        frames' x0 by `pull` (x_prev = √ᾱ·x0 + √(1−ᾱ)·ε, so x0 + d adds √ᾱ·d)."""
        if alpha_bar >= 1.0:
            z = self.latents
        else:
            z = self.latents * alpha_bar**0.5 + self.noise * (1.0 - alpha_bar) ** 0.5
        for j, row in enumerate(self.rows):
            latents[:, :, row] = z[:, :, j].to(latents.dtype)
        for row, d in pull or ():
            latents[:, :, row] += (d * alpha_bar**0.5).to(latents.dtype)
