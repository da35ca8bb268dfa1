"""The UNet skeleton shared by ReferenceNet and AnimateNet (same layout as SD1.5 / Hallo).

`build_unet` creates conv_in, time embedding, down/mid/up blocks on a module; `run_unet`
runs them on `(b f)` maps with a `Conditioning`. Block names, layer counts and channel
arithmetic follow diffusers' UNet2DConditionModel and Hallo's UNet3DConditionModel so the
state-dict keys are identical.
"""

from __future__ import annotations

import contextlib

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn

from .attention import SpatialTransformerBlock
from .blocks import BlockSpec, Conditioning, MidBlock, UNetBlock

_ATTN_DOWN = {"CrossAttnDownBlock2D", "CrossAttnDownBlock3D"}
_PLAIN_DOWN = {"DownBlock2D", "DownBlock3D"}
_ATTN_UP = {"CrossAttnUpBlock2D", "CrossAttnUpBlock3D"}
_PLAIN_UP = {"UpBlock2D", "UpBlock3D"}


def _has_attention(block_type: str, attn: set[str], plain: set[str]) -> bool:
    if block_type in attn:
        return True
    if block_type in plain:
        return False
    raise ValueError(f"unsupported UNet block type {block_type!r}")


def build_unet(
    module: nn.Module,
    *,
    in_channels: int,
    block_out_channels: list[int],
    layers_per_block: int,
    down_block_types: list[str],
    up_block_types: list[str],
    cross_attention_dim: int,
    attention_head_dim: int | list[int],
    norm_num_groups: int,
    norm_eps: float,
    flip_sin_to_cos: bool,
    freq_shift: int,
    downsample_padding: int,
    mid_block_scale_factor: float,
    audio_dim: int | None = None,
    audio_stack_names: list[str] | None = None,
    audio_stack_depths: list[int] | None = None,
    motion_kwargs: dict | None = None,
    motion_resolutions: list[int] | None = None,
    motion_mid_block: bool = False,
    motion_decoder_only: bool = False,
) -> None:
    """Attach conv_in, time_proj, time_embedding, down_blocks, up_blocks, mid_block."""
    c0 = block_out_channels[0]
    temb = c0 * 4
    levels = len(block_out_channels)
    heads = (
        [attention_head_dim] * levels
        if isinstance(attention_head_dim, int)
        else list(attention_head_dim)
    )
    module.conv_in = nn.Conv2d(in_channels, c0, 3, padding=1)
    module.time_proj = Timesteps(c0, flip_sin_to_cos, freq_shift)
    module.time_embedding = TimestepEmbedding(c0, temb)

    def stacked(name: str, depth: int) -> bool:
        return (
            audio_stack_names is not None
            and audio_stack_depths is not None
            and name in audio_stack_names
            and depth in audio_stack_depths
        )

    def motion_for(res: int, decoder: bool) -> dict | None:
        if motion_kwargs is None or res not in (motion_resolutions or []):
            return None
        if motion_decoder_only and not decoder:
            return None
        return motion_kwargs

    # Registration order (down, up, mid) matches diffusers/Hallo so module traversal order
    # (and Hallo's bank pairing by sorted traversal) is the same.
    module.down_blocks = nn.ModuleList()
    module.up_blocks = nn.ModuleList()
    out_ch = c0
    for i, btype in enumerate(down_block_types):
        in_ch, out_ch = out_ch, block_out_channels[i]
        spec = BlockSpec(
            kind="down",
            in_channels=in_ch,
            out_channels=out_ch,
            prev_channels=in_ch,
            temb_channels=temb,
            num_layers=layers_per_block,
            has_attention=_has_attention(btype, _ATTN_DOWN, _PLAIN_DOWN),
            add_sample=i < levels - 1,
            heads=heads[i],
            cross_attention_dim=cross_attention_dim,
            groups=norm_num_groups,
            eps=norm_eps,
            level=i,
            downsample_padding=downsample_padding,
            audio_dim=audio_dim,
            audio_stacked=stacked("down", i),
            motion_kwargs=motion_for(2**i, False),
        )
        module.down_blocks.append(UNetBlock(spec))
    rev = list(reversed(block_out_channels))
    rev_heads = list(reversed(heads))
    out_ch = rev[0]
    for i, btype in enumerate(up_block_types):
        prev, out_ch = out_ch, rev[i]
        in_ch = rev[min(i + 1, levels - 1)]
        spec = BlockSpec(
            kind="up",
            in_channels=in_ch,
            out_channels=out_ch,
            prev_channels=prev,
            temb_channels=temb,
            num_layers=layers_per_block + 1,
            has_attention=_has_attention(btype, _ATTN_UP, _PLAIN_UP),
            add_sample=i < levels - 1,
            heads=rev_heads[i],
            cross_attention_dim=cross_attention_dim,
            groups=norm_num_groups,
            eps=norm_eps,
            level=levels - 1 - i,
            audio_dim=audio_dim,
            audio_stacked=stacked("up", levels - 1 - i),
            motion_kwargs=motion_for(2 ** (levels - 1 - i), True),
        )
        module.up_blocks.append(UNetBlock(spec))
    mid = BlockSpec(
        kind="mid",
        in_channels=block_out_channels[-1],
        out_channels=block_out_channels[-1],
        prev_channels=block_out_channels[-1],
        temb_channels=temb,
        num_layers=1,
        has_attention=True,
        add_sample=False,
        heads=heads[-1],
        cross_attention_dim=cross_attention_dim,
        groups=norm_num_groups,
        eps=norm_eps,
        level=levels - 1,
        output_scale_factor=mid_block_scale_factor,
        audio_dim=audio_dim,
        audio_stacked=stacked("mid", levels - 1),
        motion_kwargs=motion_kwargs if motion_mid_block else None,
    )
    module.mid_block = MidBlock(mid)
    for name, sub in module.named_modules():
        if isinstance(sub, SpatialTransformerBlock):
            sub.bank_name = name


@contextlib.contextmanager
def flushed_denormals():
    """Flush float32 denormals to zero on the CPU while inside (restored to off after).

    Softmax tails underflow into denormal range and CPU arithmetic on denormals is ~20-50×
    slower: measured 10 s vs 0.4 s for one tiny AnimateNet call. Values below 1.2e-38 are
    numerically irrelevant here (parity with Hallo is unchanged).
    """
    enabled = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if enabled:
            torch.set_flush_denormal(False)


def init_kwargs(cls: type, config: dict) -> dict:
    """The entries of `config` that `cls.__init__` accepts (ignores `_class_name` & co)."""
    import inspect

    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in config.items() if k in params and k != "self"}


def time_embedding(module: nn.Module, timestep, batch: int, dtype, device) -> torch.Tensor:
    """[batch, 4*C0] embedding of `timestep` (scalar, [1] or [batch])."""
    t = timestep
    if not torch.is_tensor(t):
        t = torch.tensor([t], dtype=torch.float64 if isinstance(t, float) else torch.int64)
    t = t.to(device)
    if t.dim() == 0:
        t = t[None]
    t = t.expand(batch)
    emb = module.time_proj(t).to(dtype=dtype)
    return module.time_embedding(emb)


def run_unet(
    module: nn.Module, x: torch.Tensor, cond: Conditioning, guide: torch.Tensor | None = None
) -> torch.Tensor:
    """conv_in (+ guide feature) → down → mid → up; returns the last up-block output."""
    x = module.conv_in(x)
    if guide is not None:
        x = x + guide.to(x.dtype)
    up_factor = 2 ** (len(module.up_blocks) - 1)
    forward_size = any(s % up_factor != 0 for s in x.shape[-2:])
    skips = [x]
    for block in module.down_blocks:
        x, outs = block.forward_down(x, cond)
        skips.extend(outs)
    x = module.mid_block(x, cond)
    for i, block in enumerate(module.up_blocks):
        n = len(block.resnets)
        res, skips = skips[-n:], skips[:-n]
        size = None
        if forward_size and i < len(module.up_blocks) - 1:
            size = tuple(skips[-1].shape[-2:])
        x = block.forward_up(x, res, cond, size)
    return x
