"""Hallo's audio cross-attention module (`audio_modules.N`, a Transformer3DModel with audio blocks).

Per video frame, spatial tokens attend to that frame's audio tokens three times (full/pose,
face, lip); each result is masked by the region mask of the current UNet level, passed
through a 1×1 `zero_conv_*` and weighted by `motion_scale[0|1|2]`.

Shape quirk kept on purpose: the inner width is `block_input_channels // heads * heads`, not
the block's own width (see the fixture README).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .attention import Attention, FeedForward

REGIONS = ("full", "face", "lip")


class AudioTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, audio_dim: int, stacked: bool = True):
        super().__init__()
        self.zero_conv_full = nn.Conv2d(dim, dim, 1)
        self.zero_conv_face = nn.Conv2d(dim, dim, 1)
        self.zero_conv_lip = nn.Conv2d(dim, dim, 1)
        self.attn1 = Attention(dim, heads, dim_head)
        self.norm1 = nn.LayerNorm(dim)
        self.stacked = stacked
        if stacked:
            self.attn2_0 = Attention(dim, heads, dim_head, cross_attention_dim=audio_dim)
            self.attn2_1 = Attention(dim, heads, dim_head, cross_attention_dim=audio_dim)
            self.attn2_2 = Attention(dim, heads, dim_head, cross_attention_dim=audio_dim)
        else:
            self.attn2 = Attention(dim, heads, dim_head, cross_attention_dim=audio_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)
        self.norm3 = nn.LayerNorm(dim)

    def _region(self, attn: Attention, conv: nn.Conv2d, norm, audio, mask, side) -> torch.Tensor:
        out = attn(norm, audio)
        if mask is not None:
            out = out * mask[:, :, None]
        n, _, c = out.shape
        out = out.reshape(n, side[0], side[1], c).permute(0, 3, 1, 2)
        return conv(out).permute(0, 2, 3, 1).reshape(n, -1, c)

    def forward(
        self,
        x: torch.Tensor,
        audio: torch.Tensor,
        side: tuple[int, int],
        masks: Sequence[torch.Tensor | None],
        motion_scale: Sequence[float] | torch.Tensor | None,
    ) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        norm = self.norm2(x)
        if not self.stacked:
            x = self.attn2(norm, audio) + x
        else:
            full = self._region(self.attn2_0, self.zero_conv_full, norm, audio, masks[0], side)
            face = self._region(self.attn2_1, self.zero_conv_face, norm, audio, masks[1], side)
            lip = self._region(self.attn2_2, self.zero_conv_lip, norm, audio, masks[2], side)
            if motion_scale is None:
                x = full + face + lip + x
            else:
                x = motion_scale[0] * full + motion_scale[1] * face + motion_scale[2] * lip + x
        return self.ff(self.norm3(x)) + x


class AudioModule(nn.Module):
    """GroupNorm → 1×1 proj_in → audio block → 1×1 proj_out, residual (keys as Hallo's)."""

    def __init__(
        self,
        channels: int,
        input_channels: int,
        heads: int,
        audio_dim: int,
        groups: int = 32,
        stacked: bool = True,
    ):
        super().__init__()
        dim_head = input_channels // heads
        inner = heads * dim_head
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6, affine=True)
        self.proj_in = nn.Conv2d(channels, inner, 1)
        self.transformer_blocks = nn.ModuleList(
            [AudioTransformerBlock(inner, heads, dim_head, audio_dim, stacked)]
        )
        self.proj_out = nn.Conv2d(inner, channels, 1)

    def forward(
        self,
        x: torch.Tensor,
        audio: torch.Tensor,
        masks: Sequence[torch.Tensor | None],
        motion_scale: Sequence[float] | torch.Tensor | None,
    ) -> torch.Tensor:
        """x [N,C,h,w] with N = B*F; audio [N, tokens, D]; masks: 3 × ([N, h*w] or None)."""
        n, _, h, w = x.shape
        residual = x
        t = self.proj_in(self.norm(x))
        inner = t.shape[1]
        t = t.permute(0, 2, 3, 1).reshape(n, h * w, inner)
        for block in self.transformer_blocks:
            t = block(t, audio, (h, w), masks, motion_scale)
        t = t.reshape(n, h, w, inner).permute(0, 3, 1, 2).contiguous()
        return self.proj_out(t) + residual
