"""UNet blocks shared by ReferenceNet (2D) and AnimateNet (video, kept as `(b f)` maps).

Everything a block needs besides its input travels in one `Conditioning` object, so the
reference bank, motion frames, audio tokens, region masks and the text adapter are explicit
data rather than hooks patched into modules.

Block sequence (Hallo's "checkpoint" branch, which its released inference runs):
resnet → spatial transformer (bank write/read) → audio module → motion module (motion frames
from the bank prepended); down/up samplers at block end. Plain Down/Up blocks (no
attention) skip their motion modules when `skip_outer_motion_modules` is set, as Hallo does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .attention import SpatialTransformerBlock, TextProjection
from .audio_module import AudioModule
from .motion_module import MotionModule
from .resnet import Downsample, ResnetBlock, Upsample


@dataclass
class Conditioning:
    """Per-call inputs of the UNet blocks; tensors are per `(b f)` map (N = B*F rows).

    temb: [N, T] time embedding; context: [N, n, E] cross-attention tokens.
    bank_write: ReferenceNet fills it with `{block name: norm1(x)}`.
    bank_read: `{block name: [R, L, C]}` bank rows; `ref_index` are the rows of the N maps
      that read reference tokens and `ref_rows` the bank row each of them reads.
    motion_rows: per batch element, the bank rows used as motion frames (oldest first).
    audio: [N, tokens, D]; masks: per level, [full, face, lip] masks of shape [N, h*w].
    """

    temb: torch.Tensor
    context: torch.Tensor
    frames: int = 1
    batch: int = 1
    bank_write: dict[str, torch.Tensor] | None = None
    bank_read: Mapping[str, torch.Tensor] | None = None
    ref_index: torch.Tensor | None = None
    ref_rows: torch.Tensor | None = None
    motion_rows: Sequence[Sequence[int]] | None = None
    audio: torch.Tensor | None = None
    masks: Sequence[Sequence[torch.Tensor | None]] | None = None
    motion_scale: Sequence[float] | torch.Tensor | None = None
    text_projections: Mapping[str, TextProjection] | None = None
    text_tokens: torch.Tensor | None = None
    text_scale: float = 0.0
    skip_outer_motion_modules: bool = True
    extras: dict = field(default_factory=dict)

    def level_masks(self, level: int) -> Sequence[torch.Tensor | None]:
        if self.masks is None:
            return (None, None, None)
        return self.masks[level]


class SpatialTransformer(nn.Module):
    """Transformer2DModel/Transformer3DModel (conv projections): keys norm, proj_in,
    transformer_blocks.0, proj_out. Returns the new features and this block's motion frames
    ([B, M, C, h, w], read from the bank) or None."""

    def __init__(self, channels: int, heads: int, cross_attention_dim: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6, affine=True)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList(
            [SpatialTransformerBlock(channels, heads, channels // heads, cross_attention_dim)]
        )
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(
        self, x: torch.Tensor, cond: Conditioning
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, c, h, w = x.shape
        residual = x
        t = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(n, h * w, c)
        motion_frames = None
        for block in self.transformer_blocks:
            name = block.bank_name
            bank_out = None
            if cond.bank_write is not None:
                bank_out = []
            ref_tokens = None
            if cond.bank_read is not None and name in cond.bank_read:
                feats = cond.bank_read[name]
                if cond.ref_index is not None and cond.ref_index.numel() > 0:
                    ref_tokens = feats.index_select(0, cond.ref_rows)
                if cond.motion_rows and len(cond.motion_rows[0]) > 0:
                    rows = torch.as_tensor(cond.motion_rows, device=feats.device).flatten()
                    mf = feats.index_select(0, rows)
                    m = len(cond.motion_rows[0])
                    motion_frames = mf.view(cond.batch, m, h, w, c).permute(0, 1, 4, 2, 3)
            text = None
            if cond.text_projections is not None:
                text = cond.text_projections.get(name)
            t = block(
                t,
                cond.context,
                bank_out=bank_out,
                ref_tokens=ref_tokens,
                ref_index=cond.ref_index,
                text=text,
                text_tokens=cond.text_tokens,
                text_scale=cond.text_scale,
            )
            if bank_out:
                cond.bank_write[name] = bank_out[0]
        t = t.reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()
        return self.proj_out(t) + residual, motion_frames


@dataclass
class BlockSpec:
    """What one UNet block holds; built by `unet_core.build_unet`."""

    kind: str  # "down" | "up"
    in_channels: int
    out_channels: int
    prev_channels: int
    temb_channels: int
    num_layers: int
    has_attention: bool
    add_sample: bool
    heads: int
    cross_attention_dim: int
    groups: int
    eps: float
    level: int
    downsample_padding: int = 1
    output_scale_factor: float = 1.0
    audio_dim: int | None = None
    audio_stacked: bool = True
    motion_kwargs: dict | None = None


def _motion(channels: int, spec_kwargs: dict | None, groups: int) -> MotionModule | None:
    if spec_kwargs is None:
        return None
    return MotionModule(channels, norm_num_groups=groups, **spec_kwargs)


class UNetBlock(nn.Module):
    """A down or up block (CrossAttn or plain), with optional audio and motion modules."""

    def __init__(self, spec: BlockSpec):
        super().__init__()
        self.kind = spec.kind
        self.level = spec.level
        self.has_attention = spec.has_attention
        resnets, attentions, audio, motion = [], [], [], []
        for i in range(spec.num_layers):
            if spec.kind == "down":
                res_in = spec.in_channels if i == 0 else spec.out_channels
                audio_in = res_in
            else:
                skip = spec.in_channels if i == spec.num_layers - 1 else spec.out_channels
                res_in = (spec.prev_channels if i == 0 else spec.out_channels) + skip
                audio_in = spec.in_channels
            resnets.append(
                ResnetBlock(res_in, spec.out_channels, spec.temb_channels, spec.groups, spec.eps)
            )
            if spec.has_attention:
                attentions.append(
                    SpatialTransformer(
                        spec.out_channels, spec.heads, spec.cross_attention_dim, spec.groups
                    )
                )
                if spec.audio_dim is not None:
                    audio.append(
                        AudioModule(
                            spec.out_channels,
                            audio_in,
                            spec.heads,
                            spec.audio_dim,
                            spec.groups,
                            spec.audio_stacked,
                        )
                    )
            m = _motion(spec.out_channels, spec.motion_kwargs, spec.groups)
            if m is not None:
                motion.append(m)
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList(attentions)
        self.audio_modules = nn.ModuleList(audio)
        self.motion_modules = nn.ModuleList(motion)
        if spec.add_sample and spec.kind == "down":
            self.downsamplers = nn.ModuleList(
                [Downsample(spec.out_channels, spec.downsample_padding)]
            )
        if spec.add_sample and spec.kind == "up":
            self.upsamplers = nn.ModuleList([Upsample(spec.out_channels)])

    def _layer(self, i: int, x: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        x = self.resnets[i](x, cond.temb)
        motion_frames = None
        if self.has_attention:
            x, motion_frames = self.attentions[i](x, cond)
        if len(self.audio_modules):
            x = self.audio_modules[i](
                x, cond.audio, cond.level_masks(self.level), cond.motion_scale
            )
        if len(self.motion_modules) and not (
            cond.skip_outer_motion_modules and not self.has_attention
        ):
            x = self.motion_modules[i](x, cond.frames, motion_frames)
        return x

    def forward_down(
        self, x: torch.Tensor, cond: Conditioning
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        outputs = []
        for i in range(len(self.resnets)):
            x = self._layer(i, x, cond)
            outputs.append(x)
        if hasattr(self, "downsamplers"):
            x = self.downsamplers[0](x)
            outputs.append(x)
        return x, outputs

    def forward_up(
        self,
        x: torch.Tensor,
        skips: list[torch.Tensor],
        cond: Conditioning,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        for i in range(len(self.resnets)):
            x = torch.cat([x, skips.pop()], dim=1)
            x = self._layer(i, x, cond)
        if hasattr(self, "upsamplers"):
            x = self.upsamplers[0](x, size)
        return x


class MidBlock(nn.Module):
    """UNetMidBlock(2D|3D)CrossAttn: resnet, then (attention, audio, motion, resnet) × layers."""

    def __init__(self, spec: BlockSpec):
        super().__init__()
        c = spec.in_channels
        self.level = spec.level
        osf = spec.output_scale_factor
        resnets = [ResnetBlock(c, c, spec.temb_channels, spec.groups, spec.eps, osf)]
        attentions, audio, motion = [], [], []
        for _ in range(spec.num_layers):
            attentions.append(
                SpatialTransformer(c, spec.heads, spec.cross_attention_dim, spec.groups)
            )
            if spec.audio_dim is not None:
                audio.append(
                    AudioModule(c, c, spec.heads, spec.audio_dim, spec.groups, spec.audio_stacked)
                )
            m = _motion(c, spec.motion_kwargs, spec.groups)
            if m is not None:
                motion.append(m)
            resnets.append(ResnetBlock(c, c, spec.temb_channels, spec.groups, spec.eps, osf))
        self.attentions = nn.ModuleList(attentions)
        self.resnets = nn.ModuleList(resnets)
        self.audio_modules = nn.ModuleList(audio)
        self.motion_modules = nn.ModuleList(motion)

    def forward(self, x: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        x = self.resnets[0](x, cond.temb)
        for i, attn in enumerate(self.attentions):
            x, motion_frames = attn(x, cond)
            if len(self.audio_modules):
                x = self.audio_modules[i](
                    x, cond.audio, cond.level_masks(self.level), cond.motion_scale
                )
            if len(self.motion_modules):
                x = self.motion_modules[i](x, cond.frames, motion_frames)
            x = self.resnets[i + 1](x, cond.temb)
        return x
