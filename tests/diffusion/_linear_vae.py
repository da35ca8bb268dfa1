"""A VAE stand-in whose encoder inverts its decoder exactly (tests only).

Why: anchoring (temporal inpainting around a neighbour's existing frames) VAE-encodes those
frames; with the tiny model's RANDOM AutoencoderKL, encode(decode(z)) has nothing to do with
z, so no pixel-level seam measure could show anything. Real VAEs reconstruct their own
decodings closely; this linear one does so exactly (up to uint8 rounding), so the tiny
UNet, fusion, scheduler and anchoring all run for real and only the round trip is ideal.
Latent 4×(S/8)×(S/8): channels 0-2 are the 8×8 block means of RGB, channel 3 the amplitude
of a zero-mean checker pattern inside each block.
"""

from __future__ import annotations

import types

import torch


class LinearVAE(torch.nn.Module):
    def __init__(self, factor: int = 8, gain: float = 0.3):
        super().__init__()
        # block_out_channels: only its length is read (vae_scale_factor = 2 ** (len − 1))
        self.config = types.SimpleNamespace(scaling_factor=1.0, block_out_channels=(1,) * 4,
                                            latent_channels=4)
        self.factor, self.gain = factor, gain
        p = torch.ones(factor, factor)
        p[::2, 1::2] = -1
        p[1::2, ::2] = -1
        self.register_buffer("pattern", p)

    @property
    def dtype(self) -> torch.dtype:
        return self.pattern.dtype

    @property
    def device(self) -> torch.device:
        return self.pattern.device

    def decode(self, z: torch.Tensor):
        f = self.factor

        def up(x):
            return x.repeat_interleave(f, 2).repeat_interleave(f, 3)

        pat = self.pattern.repeat(z.shape[2], z.shape[3])
        return types.SimpleNamespace(sample=(up(z[:, :3]) + up(z[:, 3:4]) * pat) * self.gain)

    def encode(self, x: torch.Tensor):
        f = self.factor
        b, c, h, w = x.shape
        blocks = (x / self.gain).reshape(b, c, h // f, f, w // f, f)
        mean = blocks.mean(dim=(3, 5))
        amp = (blocks * self.pattern[None, None, None, :, None, :]).mean(dim=(3, 5))
        z = torch.cat([mean, amp.mean(1, keepdim=True)], 1)
        return types.SimpleNamespace(latent_dist=types.SimpleNamespace(mean=z))
