"""AnimateDiff-v2 "Vanilla" temporal module as Hallo uses it (keys `temporal_transformer.*`).

Features arrive as `(b f)` maps [B*F, C, h, w]. Hallo prepends the motion frames (features of
the previous clip's last frames, taken from the reference bank) before the temporal
attention and drops them afterwards; `forward(x, frames, motion_frames)` does exactly that.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import Attention, FeedForward


class PositionalEncoding(nn.Module):
    """Sinusoidal table `pe` [1, max_len, d] (a buffer in the checkpoint), added per frame."""

    def __init__(self, d_model: int, max_len: int = 24):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(1, max_len, d_model)
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.pe.shape[1]:
            raise ValueError(
                f"{x.shape[1]} frames exceed the temporal position table ({self.pe.shape[1]})"
            )
        return x + self.pe[:, : x.shape[1]].to(x.dtype)


class TemporalAttention(Attention):
    """Self-attention across frames at each spatial position, with optional position table."""

    def __init__(self, dim: int, heads: int, dim_head: int, position_encoding: bool, max_len: int):
        super().__init__(dim, heads, dim_head)
        self.pos_encoder = PositionalEncoding(dim, max_len) if position_encoding else None

    def forward_frames(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """x [(b f), d, c] → temporal attention over f for each of the d positions."""
        bf, d, c = x.shape
        b = bf // frames
        seq = x.view(b, frames, d, c).permute(0, 2, 1, 3).reshape(b * d, frames, c)
        if self.pos_encoder is not None:
            seq = self.pos_encoder(seq)
        out = super().forward(seq)
        return out.view(b, d, frames, c).permute(0, 2, 1, 3).reshape(bf, d, c)


class TemporalTransformerBlock(nn.Module):
    def __init__(
        self,
        dim: int,
        heads: int,
        dim_head: int,
        block_types: tuple[str, ...],
        position_encoding: bool,
        max_len: int,
    ):
        super().__init__()
        for name in block_types:
            if name != "Temporal_Self":
                raise ValueError(f"unsupported motion attention block type {name!r}")
        self.attention_blocks = nn.ModuleList(
            [
                TemporalAttention(dim, heads, dim_head, position_encoding, max_len)
                for _ in block_types
            ]
        )
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in block_types])
        self.ff = FeedForward(dim)
        self.ff_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        for attn, norm in zip(self.attention_blocks, self.norms, strict=True):
            x = attn.forward_frames(norm(x), frames) + x
        return self.ff(self.ff_norm(x)) + x


class TemporalTransformer(nn.Module):
    def __init__(
        self,
        in_channels: int,
        heads: int,
        dim_head: int,
        num_layers: int,
        block_types: tuple[str, ...],
        position_encoding: bool,
        max_len: int,
        norm_num_groups: int = 32,
    ):
        super().__init__()
        inner = heads * dim_head
        self.norm = nn.GroupNorm(norm_num_groups, in_channels, eps=1e-6, affine=True)
        self.proj_in = nn.Linear(in_channels, inner)
        self.transformer_blocks = nn.ModuleList(
            [
                TemporalTransformerBlock(
                    inner, heads, dim_head, block_types, position_encoding, max_len
                )
                for _ in range(num_layers)
            ]
        )
        self.proj_out = nn.Linear(inner, in_channels)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        n, c, h, w = x.shape
        residual = x
        tokens = self.norm(x).permute(0, 2, 3, 1).reshape(n, h * w, c)
        tokens = self.proj_in(tokens)
        for block in self.transformer_blocks:
            tokens = block(tokens, frames)
        tokens = self.proj_out(tokens)
        return tokens.reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous() + residual


class MotionModule(nn.Module):
    """Hallo's `VanillaTemporalModule` (the zero-initialised `proj_out` is set by the weights)."""

    def __init__(
        self,
        in_channels: int,
        num_attention_heads: int = 8,
        num_transformer_block: int = 1,
        attention_block_types: tuple[str, ...] | list[str] = ("Temporal_Self", "Temporal_Self"),
        temporal_position_encoding: bool = True,
        temporal_position_encoding_max_len: int = 32,
        temporal_attention_dim_div: int = 1,
        norm_num_groups: int = 32,
        zero_initialize: bool = True,
    ):
        super().__init__()
        self.temporal_transformer = TemporalTransformer(
            in_channels,
            num_attention_heads,
            in_channels // num_attention_heads // temporal_attention_dim_div,
            num_transformer_block,
            tuple(attention_block_types),
            temporal_position_encoding,
            temporal_position_encoding_max_len,
            norm_num_groups,
        )
        if zero_initialize:
            nn.init.zeros_(self.temporal_transformer.proj_out.weight)
            nn.init.zeros_(self.temporal_transformer.proj_out.bias)

    def forward(
        self, x: torch.Tensor, frames: int, motion_frames: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x [B*F, C, h, w]; motion_frames [B, M, C, h, w] (oldest first) or None."""
        if motion_frames is None or motion_frames.shape[1] == 0:
            return self.temporal_transformer(x, frames)
        n, c, h, w = x.shape
        b, m = motion_frames.shape[:2]
        video = torch.cat([motion_frames.to(x.dtype), x.view(b, frames, c, h, w)], dim=1)
        out = self.temporal_transformer(video.reshape(b * (m + frames), c, h, w), m + frames)
        return out.view(b, m + frames, c, h, w)[:, m:].reshape(n, c, h, w)
