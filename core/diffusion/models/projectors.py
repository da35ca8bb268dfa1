"""Conditioning projectors: face embedding → image tokens, audio windows → audio tokens."""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


class ImageProj(ModelMixin, ConfigMixin):
    """Hallo's ImageProjModel: a 512-d face embedding → `clip_extra_context_tokens` tokens of
    width `cross_attention_dim` (the denoiser's cross-attention context). Keys proj, norm."""

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        cross_attention_dim: int = 768,
        clip_embeddings_dim: int = 512,
        clip_extra_context_tokens: int = 4,
    ):
        super().__init__()
        self.proj = nn.Linear(clip_embeddings_dim, clip_extra_context_tokens * cross_attention_dim)
        self.norm = nn.LayerNorm(cross_attention_dim)

    def forward(self, image_embeds: torch.Tensor) -> torch.Tensor:
        """[N, 512] → [N, tokens, E]."""
        cfg = self.config
        tokens = self.proj(image_embeds).reshape(
            -1, cfg.clip_extra_context_tokens, cfg.cross_attention_dim
        )
        return self.norm(tokens)


class AudioProj(ModelMixin, ConfigMixin):
    """Hallo's AudioProjModel: a window of `seq_len` frames × `blocks` wav2vec layers ×
    `channels` per video frame → `context_tokens` tokens of width `output_dim`.
    Keys proj1, proj2, proj3, norm."""

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        seq_len: int = 5,
        blocks: int = 12,
        channels: int = 768,
        intermediate_dim: int = 512,
        output_dim: int = 768,
        context_tokens: int = 32,
    ):
        super().__init__()
        self.proj1 = nn.Linear(seq_len * blocks * channels, intermediate_dim)
        self.proj2 = nn.Linear(intermediate_dim, intermediate_dim)
        self.proj3 = nn.Linear(intermediate_dim, context_tokens * output_dim)
        self.norm = nn.LayerNorm(output_dim)

    def forward(self, audio_embeds: torch.Tensor) -> torch.Tensor:
        """[B, F, seq_len, blocks, channels] → [B, F, context_tokens, output_dim]."""
        b, f = audio_embeds.shape[:2]
        x = audio_embeds.reshape(b * f, -1)
        x = torch.relu(self.proj1(x))
        x = torch.relu(self.proj2(x))
        cfg = self.config
        tokens = self.norm(self.proj3(x).reshape(b * f, cfg.context_tokens, cfg.output_dim))
        return tokens.reshape(b, f, cfg.context_tokens, cfg.output_dim)


def window_audio_features(features: torch.Tensor, offsets=(-2, -1, 0, 1, 2)) -> torch.Tensor:
    """[T, layers, C] per-video-frame features → [T, len(offsets), layers, C]: frame i stacks
    frames i+offset, indices clamped to [0, T-1] (Hallo's `process_audio_emb`)."""
    t = features.shape[0]
    index = torch.arange(t)[:, None] + torch.as_tensor(offsets)[None, :]
    return features[index.clamp(0, t - 1)]
