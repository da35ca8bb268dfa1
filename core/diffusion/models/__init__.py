"""Diffusion modules in Hallo's checkpoint layout (torch + diffusers imported here).

Public API (state-dict keys = Hallo's `net.pth` keys minus the component prefix):
* `ReferenceNet(**sd15_unet_config)` / `.from_unet_config(cfg)`;
  `.compute_bank(latents [N,4,h,w], ehs [N or K,n,E], timestep=0, dtype=float16)`
  → `ReferenceBank` (features {block name: [N, h*w, C]}); sample i uses ehs[i % K].
* `AnimateNet(**cfg)` / `.from_hallo_config(sd15_unet_config, unet_additional_kwargs)`;
  `forward(sample [B,4,F,h,w], timestep, encoder_hidden_states [B,n,E], reference_bank,
  reference_rows, motion_frame_rows, guide_feature [B,C0,F|1,h,w], audio_tokens [B,F,T,D],
  masks {"full"|"face"|"lip": [per level]}, motion_scale (3,), text_tokens [B,L,Et],
  text_scale)` → [B,4,F,h,w]. `hallo_bank_rows(batch, frames, S)` gives Hallo's rows.
* `TextAdapter` (separate component; `AnimateNet.set_text_adapter`),
  `init_text_adapter_from_unet(net, sd15_unet_state_dict)`.
* `FaceLocator(conditioning_embedding_channels=C0)`: [B,3,F,H,W] → [B,C0,F,H/8,W/8].
* `ImageProj(cross_attention_dim, clip_embeddings_dim=512, clip_extra_context_tokens=4)`:
  [N,512] → [N,4,E]. `AudioProj(seq_len, blocks, channels, intermediate_dim, output_dim,
  context_tokens)`: [B,F,5,12,C] → [B,F,32,D]; `window_audio_features` makes the windows.
* `flushed_denormals()`: wrap CPU inference in it (denormals made a tiny call 25× slower).
"""

from .face_locator import FaceLocator
from .projectors import AudioProj, ImageProj, window_audio_features
from .unet3d import AnimateNet, TextAdapter, hallo_bank_rows, init_text_adapter_from_unet
from .unet_core import flushed_denormals
from .unet_ref import ReferenceBank, ReferenceNet

__all__ = [
    "AnimateNet",
    "AudioProj",
    "FaceLocator",
    "ImageProj",
    "ReferenceBank",
    "ReferenceNet",
    "TextAdapter",
    "flushed_denormals",
    "hallo_bank_rows",
    "init_text_adapter_from_unet",
    "window_audio_features",
]
