"""AnimateNet: Hallo's video denoiser (UNet3DConditionModel with audio + motion modules).

Video features are kept as `(b f)` 2D maps internally (Hallo's inflated layers act frame by
frame), the temporal motion modules and the per-frame audio attention reshape as needed.
Keys are Hallo's `denoising_unet.*` minus the prefix.

Conditioning, all explicit arguments of `forward`:
* reference tokens from a `ReferenceBank` (ReferenceNet output), per batch element;
* motion frames (bank rows of earlier frames) prepended before each CrossAttn motion module;
* audio tokens [B, F, T, D] (AudioProj output) with full/face/lip region masks per level,
  weighted by `motion_scale` = (pose/full, face, lip);
* the motion-prior guide feature (FaceLocator output) added after conv_in;
* optional decoupled text cross-attention through a separate `TextAdapter`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from core.diffusion.layout import HALLO_MOTION_KWARGS

from .attention import SpatialTransformerBlock, TextProjection
from .blocks import Conditioning
from .unet_core import build_unet, init_kwargs, run_unet, time_embedding
from .unet_ref import ReferenceBank

MASK_REGIONS = ("full", "face", "lip")

DEFAULT_MOTION_KWARGS = HALLO_MOTION_KWARGS  # read-only: copied before use


class AnimateNet(ModelMixin, ConfigMixin):
    """Hallo's UNet3DConditionModel (config = SD1.5 unet config + `unet_additional_kwargs`).

    `skip_outer_motion_modules=True` reproduces the branch Hallo's released inference runs
    (denoiser left in train mode with gradient checkpointing): the motion modules of the
    plain DownBlock3D / UpBlock3D are not applied. Their weights are still part of the key
    set. The flag is a config value, independent of `.training`.
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 4,
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        layers_per_block: int = 2,
        down_block_types: tuple[str, ...] = (
            "CrossAttnDownBlock3D",
            "CrossAttnDownBlock3D",
            "CrossAttnDownBlock3D",
            "DownBlock3D",
        ),
        up_block_types: tuple[str, ...] = (
            "UpBlock3D",
            "CrossAttnUpBlock3D",
            "CrossAttnUpBlock3D",
            "CrossAttnUpBlock3D",
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
        use_motion_module: bool = True,
        motion_module_resolutions: tuple[int, ...] = (1, 2, 4, 8),
        motion_module_mid_block: bool = True,
        motion_module_decoder_only: bool = False,
        motion_module_type: str = "Vanilla",
        motion_module_kwargs: dict | None = None,
        use_audio_module: bool = True,
        audio_attention_dim: int = 768,
        stack_enable_blocks_name: tuple[str, ...] = ("up", "down", "mid"),
        stack_enable_blocks_depth: tuple[int, ...] = (0, 1, 2, 3),
        skip_outer_motion_modules: bool = True,
    ):
        super().__init__()
        if use_motion_module and motion_module_type != "Vanilla":
            raise ValueError(f"unsupported motion module type {motion_module_type!r}")
        mm_kwargs = dict(DEFAULT_MOTION_KWARGS)
        mm_kwargs.update(motion_module_kwargs or {})
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
            audio_dim=audio_attention_dim if use_audio_module else None,
            audio_stack_names=list(stack_enable_blocks_name or []),
            audio_stack_depths=list(stack_enable_blocks_depth or []),
            motion_kwargs=mm_kwargs if use_motion_module else None,
            motion_resolutions=list(motion_module_resolutions),
            motion_mid_block=motion_module_mid_block,
            motion_decoder_only=motion_module_decoder_only,
        )
        self.conv_norm_out = nn.GroupNorm(norm_num_groups, block_out_channels[0], eps=norm_eps)
        self.conv_out = nn.Conv2d(block_out_channels[0], out_channels, 3, padding=1)
        # Not a registered submodule: the adapter is a separate component with its own
        # weights file, so AnimateNet's state dict stays exactly Hallo's key set.
        object.__setattr__(self, "_text_adapter", None)

    @classmethod
    def from_hallo_config(
        cls, unet_config: dict, additional_kwargs: dict | None = None, **overrides
    ) -> AnimateNet:
        """Build from an SD1.5 `unet/config.json` plus Hallo's `unet_additional_kwargs`."""
        merged = dict(unet_config)
        merged.update(additional_kwargs or {})
        merged.update(overrides)
        return cls(**init_kwargs(cls, merged))

    # -- text adapter -------------------------------------------------------------------
    @property
    def text_adapter(self) -> TextAdapter | None:
        return self._text_adapter

    def set_text_adapter(self, adapter: TextAdapter | None) -> None:
        """Attach (or detach with None) the decoupled text cross-attention weights."""
        if adapter is not None:
            missing = set(self.cross_attention_names()) - set(adapter.block_names)
            if missing:
                raise ValueError(f"text adapter lacks blocks: {sorted(missing)[:3]}")
        object.__setattr__(self, "_text_adapter", adapter)

    def cross_attention_names(self) -> list[str]:
        return [n for n, m in self.named_modules() if isinstance(m, SpatialTransformerBlock)]

    # -- forward ------------------------------------------------------------------------
    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int | float,
        encoder_hidden_states: torch.Tensor,
        reference_bank: ReferenceBank | None = None,
        reference_rows: Sequence[int | None] | None = None,
        motion_frame_rows: Sequence[Sequence[int]] | None = None,
        guide_feature: torch.Tensor | None = None,
        audio_tokens: torch.Tensor | None = None,
        masks: Mapping[str, Sequence[torch.Tensor]] | None = None,
        motion_scale: Sequence[float] | torch.Tensor | None = None,
        text_tokens: torch.Tensor | None = None,
        text_scale: float = 0.0,
    ) -> torch.Tensor:
        """Predict the model output (v for Hallo) for a video latent.

        sample: [B, 4, F, h, w]. timestep: scalar, [1] or [B] (per sample, not per frame).
        encoder_hidden_states: [B, n, E] image-projection tokens (repeated per frame).
        reference_bank: from `ReferenceNet.compute_bank`.
        reference_rows: length B; for batch element b the bank row (int, all frames) or a
          list of F rows (per frame) whose tokens its self-attention also attends to; None =
          no reference tokens (Hallo's uncond half). Default: no reference.
          `hallo_bank_rows()` gives Hallo's exact (alternating) choice.
        motion_frame_rows: length B; bank rows prepended as motion frames before every
          CrossAttn motion module, oldest first (all the same length; [] = none).
          Hallo's CFG batch (bank rows [r, m1, m2, r, m1, m2]): motion_frame_rows =
          [[1, 2], [4, 5]]; see `hallo_bank_rows`.
        guide_feature: FaceLocator output [B, C0, F or 1, h, w], added after conv_in.
        audio_tokens: [B, F, T, D] (AudioProj output). None = zeros (Hallo's uncond).
        masks: {"full"|"face"|"lip": [level0 .. level3]}, each level [s*s], [1, s*s],
          [B, s*s], [F, s*s], [B*F, s*s] or [B, F, s*s]; None = no masking.
        motion_scale: (pose/full, face, lip) weights of the audio branches; None = ones.
        text_tokens: [B, L, Et] text-encoder states for the decoupled text attention;
          `text_scale` 0 (default) or no tokens/adapter gives bit-identical output.
        Returns [B, out_channels, F, h, w].
        """
        b, _, f, h, w = sample.shape
        n = b * f
        x = sample.permute(0, 2, 1, 3, 4).reshape(n, -1, h, w)
        temb = time_embedding(self, timestep, b, x.dtype, x.device).repeat_interleave(f, 0)
        ctx = encoder_hidden_states.repeat_interleave(f, 0)

        ref_index = ref_rows = None
        if reference_bank is not None and reference_rows is not None:
            idx, rows = [], []
            for i, row in enumerate(reference_rows):
                per_frame = [row] * f if row is None or isinstance(row, int) else list(row)
                if len(per_frame) != f:
                    raise ValueError(f"reference_rows[{i}] needs {f} per-frame rows")
                for j, r in enumerate(per_frame):
                    if r is not None:
                        idx.append(i * f + j)
                        rows.append(int(r))
            if idx:
                ref_index = torch.tensor(idx, device=x.device)
                ref_rows = torch.tensor(rows, device=x.device)
        if motion_frame_rows is not None and (
            len(motion_frame_rows) != b or len({len(r) for r in motion_frame_rows}) > 1
        ):
            raise ValueError("motion_frame_rows needs one equally long row list per sample")

        if audio_tokens is None:
            audio = x.new_zeros(n, 1, self.config.audio_attention_dim)
        else:
            audio = audio_tokens.reshape(n, *audio_tokens.shape[2:]).to(x.dtype)

        guide = None
        if guide_feature is not None:
            g = guide_feature
            if g.shape[2] == 1 and f > 1:
                g = g.expand(-1, -1, f, -1, -1)
            guide = g.permute(0, 2, 1, 3, 4).reshape(n, -1, h, w)

        text = None
        if text_tokens is not None and text_scale != 0.0 and self._text_adapter is not None:
            text = self._text_adapter.projections_by_block()
            text_tokens = text_tokens.to(x.dtype).repeat_interleave(f, 0)

        cond = Conditioning(
            temb=temb,
            context=ctx,
            frames=f,
            batch=b,
            bank_read=None if reference_bank is None else reference_bank.features,
            ref_index=ref_index,
            ref_rows=ref_rows,
            motion_rows=motion_frame_rows if reference_bank is not None else None,
            audio=audio,
            masks=_level_masks(masks, b, f, x.dtype),
            motion_scale=motion_scale,
            text_projections=text,
            text_tokens=text_tokens if text is not None else None,
            text_scale=float(text_scale),
            skip_outer_motion_modules=self.config.skip_outer_motion_modules,
        )
        x = run_unet(self, x, cond, guide)
        x = self.conv_out(F.silu(self.conv_norm_out(x)))
        return x.reshape(b, f, -1, h, w).permute(0, 2, 1, 3, 4)


def _level_masks(masks, b: int, f: int, dtype) -> list[list[torch.Tensor | None]] | None:
    if masks is None:
        return None
    levels = max(len(masks.get(r) or []) for r in MASK_REGIONS)
    out = []
    for level in range(levels):
        row = []
        for region in MASK_REGIONS:
            seq = masks.get(region)
            row.append(None if not seq else _broadcast_mask(seq[level], b, f).to(dtype))
        out.append(row)
    return out


def _broadcast_mask(m: torch.Tensor, b: int, f: int) -> torch.Tensor:
    n = b * f
    if m.dim() == 1:
        m = m[None]
    if m.dim() == 3:
        m = m.reshape(-1, m.shape[-1])
    if m.shape[0] == n:
        return m
    if m.shape[0] == 1:
        return m.expand(n, -1)
    if m.shape[0] == b:
        return m.repeat_interleave(f, 0)
    if m.shape[0] == f:
        return m.repeat(b, 1)
    raise ValueError(f"mask with {m.shape[0]} rows does not fit batch {b} × {f} frames")


class TextAdapter(ModelMixin, ConfigMixin):
    """Decoupled text cross-attention weights (`to_k_text`, `to_v_text`) for AnimateNet.

    Not part of Hallo's checkpoint: saved as its own component. `block_names` are the
    AnimateNet spatial transformer blocks (their `attn2` gets the text branch) and
    `inner_dims` their attention widths.
    """

    config_name = "config.json"

    @register_to_config
    def __init__(self, text_dim: int, block_names: list[str], inner_dims: list[int]):
        super().__init__()
        self.projections = nn.ModuleDict(
            {
                _safe(name): TextProjection(text_dim, dim)
                for name, dim in zip(block_names, inner_dims, strict=True)
            }
        )

    @property
    def block_names(self) -> list[str]:
        return list(self.config.block_names)

    def projections_by_block(self) -> dict[str, TextProjection]:
        return {name: self.projections[_safe(name)] for name in self.config.block_names}

    @classmethod
    def for_animate_net(cls, net: AnimateNet, text_dim: int | None = None) -> TextAdapter:
        """A randomly initialised adapter matching `net` (text_dim defaults to E)."""
        names = net.cross_attention_names()
        dims = [net.get_submodule(n).attn2.to_q.out_features for n in names]
        return cls(text_dim or net.config.cross_attention_dim, names, dims)

    def init_from_unet(self, unet_state_dict: Mapping[str, torch.Tensor]) -> None:
        """Copy an SD1.5 UNet's text cross-attention (`<block>.attn2.to_k/to_v.weight`).

        The denoiser's block names equal SD1.5's, so its text K/V projections give the
        adapter a sensible start when no trained adapter exists.
        """
        for name in self.config.block_names:
            proj = self.projections[_safe(name)]
            for src, dst in (("to_k", proj.to_k_text), ("to_v", proj.to_v_text)):
                key = f"{name}.attn2.{src}.weight"
                if key not in unet_state_dict:
                    raise KeyError(f"UNet state dict has no {key}")
                weight = unet_state_dict[key]
                if tuple(weight.shape) != tuple(dst.weight.shape):
                    raise ValueError(
                        f"{key} has shape {tuple(weight.shape)}, adapter needs "
                        f"{tuple(dst.weight.shape)}"
                    )
                with torch.no_grad():
                    dst.weight.copy_(weight)


def init_text_adapter_from_unet(
    net: AnimateNet, sd15_unet_state_dict: Mapping[str, torch.Tensor], text_dim: int | None = None
) -> TextAdapter:
    """Build a TextAdapter for `net` initialised from an SD1.5 UNet's attn2.to_k/to_v."""
    adapter = TextAdapter.for_animate_net(net, text_dim)
    adapter.init_from_unet(sd15_unet_state_dict)
    return adapter


def _safe(name: str) -> str:
    return name.replace(".", "__")


def hallo_bank_rows(
    batch: int, frames: int, samples_per_batch: int, cfg: bool = True
) -> tuple[list, list[list[int]]]:
    """(reference_rows, motion_frame_rows) reproducing Hallo's bank reading exactly.

    ReferenceNet input is `[ref, m1..mM] * batch` (S = M+1 rows per batch element; with CFG
    batch = 2, uncond first). Hallo tiles the per-element reference rows over the `(b f)`
    axis, so `(b f)` index i reads row `(i % batch) * S`: with CFG the cond frames alternate
    between row 0 (reference encoded with the uncond context) and row S (cond context).
    The uncond half (first element under CFG) reads no reference tokens. Motion frames of
    element b are rows b*S+1 .. b*S+M.
    """
    s = samples_per_batch
    ref_rows: list = []
    for b in range(batch):
        if cfg and b == 0:
            ref_rows.append(None)
        else:
            ref_rows.append([((b * frames + j) % batch) * s for j in range(frames)])
    motion_rows = [[b * s + k for k in range(1, s)] for b in range(batch)]
    return ref_rows, motion_rows
