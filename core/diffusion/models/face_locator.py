"""Motion-prior guider: Hallo's FaceLocator (a small conv encoder, zero-initialised output).

It encodes a 3-channel conditioning image per frame (Hallo: the face-region mask; here also
landmark / face-region maps drawn from the motion track) down to the latent resolution
(/8) and width C0; AnimateNet adds the result to its first feature map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


class FaceLocator(ModelMixin, ConfigMixin):
    """conv_in → [conv, stride-2 conv] per stage → conv_out (keys as Hallo's `face_locator.*`)."""

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        conditioning_embedding_channels: int = 320,
        conditioning_channels: int = 3,
        block_out_channels: tuple[int, ...] = (16, 32, 64, 128),
    ):
        super().__init__()
        self.conv_in = nn.Conv2d(conditioning_channels, block_out_channels[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        for c_in, c_out in zip(block_out_channels[:-1], block_out_channels[1:], strict=True):
            self.blocks.append(nn.Conv2d(c_in, c_in, 3, padding=1))
            self.blocks.append(nn.Conv2d(c_in, c_out, 3, padding=1, stride=2))
        self.conv_out = nn.Conv2d(
            block_out_channels[-1], conditioning_embedding_channels, 3, padding=1
        )
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, conditioning: torch.Tensor) -> torch.Tensor:
        """[B, 3, F, H, W] → [B, C0, F, H/8, W/8], or [N, 3, H, W] → [N, C0, H/8, W/8]."""
        video = conditioning.dim() == 5
        if video:
            b, c, f, h, w = conditioning.shape
            x = conditioning.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        else:
            x = conditioning
        x = F.silu(self.conv_in(x))
        for block in self.blocks:
            x = F.silu(block(x))
        x = self.conv_out(x)
        if video:
            x = x.reshape(b, f, *x.shape[1:]).permute(0, 2, 1, 3, 4)
        return x
