"""ReferenceNet: Hallo's 2D reference UNet (SD1.5 layout, no conv_norm_out / conv_out).

It runs once per clip at t=0 over the portrait latent (and the motion-frame latents) and
writes a *reference bank*: `norm1(x)` of every spatial transformer block, which the
denoiser's self-attention then reads. `compute_bank` is the explicit API for that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from .blocks import Conditioning
from .unet_core import build_unet, init_kwargs, run_unet, time_embedding


@dataclass
class ReferenceBank:
    """The features ReferenceNet writes, keyed by transformer-block name.

    `features[name]` is [R, h*w, C]: one row per ReferenceNet input sample (e.g. Hallo's
    `[ref, m1, m2, ref, m1, m2]`). Stored in float16 by default because Hallo's bank update
    casts to float16 even in float32 runs; the reader promotes it back.
    """

    features: dict[str, torch.Tensor]

    @property
    def rows(self) -> int:
        return next(iter(self.features.values())).shape[0] if self.features else 0

    @property
    def dtype(self) -> torch.dtype | None:
        return next(iter(self.features.values())).dtype if self.features else None

    def names(self) -> list[str]:
        return list(self.features)

    def to(self, device=None, dtype=None) -> ReferenceBank:
        return ReferenceBank(
            {k: v.to(device=device, dtype=dtype) for k, v in self.features.items()}
        )

    def select(self, rows: Iterable[int]) -> ReferenceBank:
        """A bank holding only `rows` (in that order): e.g. drop the uncond rows."""
        index = torch.as_tensor(list(rows), dtype=torch.long)
        return ReferenceBank(
            {k: v.index_select(0, index.to(v.device)) for k, v in self.features.items()}
        )


class ReferenceNet(ModelMixin, ConfigMixin):
    """SD1.5-style 2D UNet without output head; keys = Hallo's `reference_unet.*` minus prefix.

    Constructor arguments are the SD1.5 `unet/config.json` fields that shape the weights.
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        in_channels: int = 4,
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        layers_per_block: int = 2,
        down_block_types: tuple[str, ...] = (
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ),
        up_block_types: tuple[str, ...] = (
            "UpBlock2D",
            "CrossAttnUpBlock2D",
            "CrossAttnUpBlock2D",
            "CrossAttnUpBlock2D",
        ),
        cross_attention_dim: int = 768,
        attention_head_dim: int | tuple[int, ...] = 8,
        norm_num_groups: int = 32,
        norm_eps: float = 1e-5,
        flip_sin_to_cos: bool = True,
        freq_shift: int = 0,
        downsample_padding: int = 1,
        mid_block_scale_factor: float = 1.0,
        sample_size: int = 64,
    ):
        super().__init__()
        build_unet(
            self,
            in_channels=in_channels,
            block_out_channels=list(block_out_channels),
            layers_per_block=layers_per_block,
            down_block_types=list(down_block_types),
            up_block_types=list(up_block_types),
            cross_attention_dim=cross_attention_dim,
            attention_head_dim=attention_head_dim,
            norm_num_groups=norm_num_groups,
            norm_eps=norm_eps,
            flip_sin_to_cos=flip_sin_to_cos,
            freq_shift=freq_shift,
            downsample_padding=downsample_padding,
            mid_block_scale_factor=mid_block_scale_factor,
        )

    @classmethod
    def from_unet_config(cls, config: dict) -> ReferenceNet:
        """Build from an SD1.5 / Hallo `unet/config.json` dict (unknown fields ignored)."""
        return cls(**init_kwargs(cls, config))

    def forward(
        self,
        latents: torch.Tensor,
        timestep: torch.Tensor | int | float,
        encoder_hidden_states: torch.Tensor,
        bank_out: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """latents [N,4,h,w]; encoder_hidden_states [N,n,E], or [K,n,E] with N % K == 0
        (sample i then attends to row i % K: Hallo's `ehs.repeat` pairing). Returns the
        up-block output [N, C0, h, w]; fills `bank_out` with {block name: norm1(x)}."""
        n = latents.shape[0]
        ctx = _pair_context(encoder_hidden_states, n)
        temb = time_embedding(self, timestep, n, latents.dtype, latents.device)
        cond = Conditioning(temb=temb, context=ctx, frames=1, batch=n, bank_write=bank_out)
        return run_unet(self, latents, cond)

    def compute_bank(
        self,
        latents: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        timestep: torch.Tensor | int = 0,
        dtype: torch.dtype | None = torch.float16,
    ) -> ReferenceBank:
        """Run once (t=0 by default) and return the bank, cast to `dtype` (None keeps it)."""
        bank: dict[str, torch.Tensor] = {}
        self.forward(latents, timestep, encoder_hidden_states, bank_out=bank)
        ordered = {name: bank[name] for name in self.bank_names() if name in bank}
        if dtype is not None:
            ordered = {k: v.to(dtype) for k, v in ordered.items()}
        return ReferenceBank(ordered)

    def bank_names(self) -> list[str]:
        """Transformer-block names in module-traversal order (Hallo's bank order)."""
        return [name for name, m in self.named_modules() if getattr(m, "bank_name", None) == name]


def _pair_context(ehs: torch.Tensor, n: int) -> torch.Tensor:
    k = ehs.shape[0]
    if k == n:
        return ehs
    if n % k:
        raise ValueError(f"{n} reference samples cannot be paired with {k} context rows")
    return ehs.repeat(n // k, 1, 1)
