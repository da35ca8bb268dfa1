"""A tiny random-weight MagicTalk model and synthetic inputs, for tests, demos and benches.

`write_tiny(folder)` builds every component of the real pipeline (VAE, ReferenceNet,
AnimateNet, FaceLocator, ImageProj, AudioProj, CLIP text encoder + tokenizer, scheduler) in a
configuration a few hundred kilobytes big, and saves it with `save_pretrained`, so the same
loading, conditioning, fusion and decoding code runs as with real weights — only faster and
meaningless as pictures. Nothing is downloaded: the tokenizer's vocabulary is the 256
byte-level symbols (plus end-of-word forms and a few merges), built here.

`synthetic_inputs(...)` makes a FaceRig / AudioFeatures / MotionTrack without running the
analysis stages (a drawn face whose landmarks are known exactly, a mouth that opens with a
synthetic loudness curve, blinks), so engine tests and benchmarks need no sample files.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.types import AudioFeatures, FaceRig, MotionTrack

TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "max_position_embeddings": 77,
    "projection_dim": 32,
}


# ---------------------------------------------------------------- tokenizer / text encoder
def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for the bytes 0..255 (GPT-2 scheme:
    printable Latin-1 bytes map to themselves, the rest to code points from 256 on)."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def tiny_tokenizer():
    """A CLIPTokenizer over a 519-token byte-level vocabulary built offline."""
    from transformers import CLIPTokenizer

    sym = _byte_symbols()
    merges = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("i", "n"), ("e", "r")]
    vocab = sym + [s + "</w>" for s in sym] + ["th", "the</w>", "an", "in", "er"]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(
        vocab={t: i for i, t in enumerate(vocab)}, merges=merges, model_max_length=77
    )


def tiny_text_encoder(vocab_size: int, seed: int = 0):
    """A 2-layer, 32-wide random CLIPTextModel."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    cfg = CLIPTextConfig(vocab_size=vocab_size, bos_token_id=vocab_size - 2,
                         eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1, **TINY_TEXT)
    return CLIPTextModel(cfg).eval()


# ---------------------------------------------------------------- synthetic inputs
def face_landmarks(cx: float, cy: float, face: float, mouth_open: float = 0.0,
                   blink: float = 0.0, mouth_width: float = 0.0) -> np.ndarray:
    """iBUG-68 landmarks [68, 2] of a schematic frontal face centred at (cx, cy), `face` px
    high, with the mouth open by `mouth_open` (face-height units) and lids closed by `blink`."""
    p = np.zeros((68, 2), np.float64)
    a = np.linspace(0, np.pi, 17)
    p[0:17] = np.c_[-0.5 * np.cos(a), -0.1 + 0.62 * np.sin(a)]
    bx = np.linspace(-0.42, -0.1, 5)
    p[17:22] = np.c_[bx, -0.3 - 0.05 * np.sin(np.linspace(0, np.pi, 5))]
    p[22:27] = np.c_[-bx[::-1], p[17:22, 1][::-1]]
    p[27:31] = np.c_[np.zeros(4), np.linspace(-0.2, 0.08, 4)]
    p[31:36] = np.c_[np.linspace(-0.1, 0.1, 5), 0.14 + 0.02 * np.cos(np.linspace(-1.5, 1.5, 5))]
    h = 0.035 * (1.0 - float(np.clip(blink, 0, 1))) + 1e-3
    for base, sgn in ((36, -1), (42, 1)):
        xs = sgn * np.array([0.30, 0.25, 0.19, 0.14, 0.19, 0.25])
        ys = -0.15 + np.array([0, -h, -h, 0, h, h])
        if sgn > 0:  # right eye starts at its inner corner
            xs = sgn * np.array([0.14, 0.19, 0.25, 0.30, 0.25, 0.19])
        p[base : base + 6] = np.c_[xs, ys]
    w = 0.18 * (1.0 + mouth_width)
    o = float(max(mouth_open, 0.0))
    my = 0.33
    t = np.linspace(0, np.pi, 7)
    p[48:55] = np.c_[-w * np.cos(t), my - o / 2 - 0.05 * np.sin(t)]  # upper outer, L→R
    t2 = np.linspace(0, np.pi, 7)[1:-1]
    p[55:60] = np.c_[w * np.cos(t2), my + o / 2 + 0.06 * np.sin(t2)]  # lower outer, R→L
    wi = 0.8 * w
    p[60] = (-wi, my)
    p[61:64] = np.c_[[-wi / 2, 0, wi / 2], np.full(3, my - o / 2 - 0.01)]
    p[64] = (wi, my)
    p[65:68] = np.c_[[wi / 2, 0, -wi / 2], np.full(3, my + o / 2 + 0.01)]
    return (p * face + np.array([cx, cy])).astype(np.float32)


def synthetic_rig(size: int = 192) -> FaceRig:
    """A drawn portrait (skin ellipse, eyes, brows, lips) with its exact landmarks."""
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = np.linspace(60, 140, size, dtype=np.uint8)[:, None, None]
    cx, cy, face = size / 2, size / 2, size * 0.5
    lm = face_landmarks(cx, cy, face)
    cv2.ellipse(img, (int(cx), int(cy + 0.05 * face)), (int(0.52 * face), int(0.68 * face)),
                0, 0, 360, (214, 170, 140), -1, cv2.LINE_AA)
    for eye in (lm[36:42], lm[42:48]):
        cv2.fillPoly(img, [np.round(eye).astype(np.int32)], (250, 250, 250), cv2.LINE_AA)
        c = eye.mean(0)
        cv2.circle(img, (int(c[0]), int(c[1])), max(2, int(0.03 * face)), (60, 40, 30), -1)
    for brow in (lm[17:22], lm[22:27]):
        cv2.polylines(img, [np.round(brow).astype(np.int32)], False, (70, 50, 40), 2, cv2.LINE_AA)
    cv2.fillPoly(img, [np.round(lm[48:60]).astype(np.int32)], (170, 60, 70), cv2.LINE_AA)
    box = (float(lm[:, 0].min()), float(lm[17:27, 1].min()), float(lm[:, 0].max()),
           float(lm[:17, 1].max()))
    masks = {}
    for name, pts in (("face", lm[:27]), ("mouth", lm[48:60]), ("eyes", lm[36:48])):
        m = np.zeros((size, size), np.uint8)
        cv2.fillPoly(m, [cv2.convexHull(np.round(pts).astype(np.int32))], 255)
        masks[name] = m.astype(np.float32) / 255.0
    return FaceRig(image=img, box=box, landmarks=lm, mesh_points=lm.copy(),
                   triangles=np.zeros((0, 3), np.int32), masks=masks, source="detected")


def synthetic_inputs(
    n_frames: int, fps: float = 25.0, size: int = 192, seed: int = 0
) -> tuple[FaceRig, AudioFeatures, MotionTrack]:
    """(FaceRig, AudioFeatures, MotionTrack) of a synthetic talking clip of `n_frames`."""
    from core.audio.visemes import VISEMES

    rng = np.random.default_rng(seed)
    rig = synthetic_rig(size)
    t = np.arange(n_frames) / fps
    syll = 0.5 - 0.5 * np.cos(2 * np.pi * 4.0 * t)  # ~4 syllables per second
    env = (np.sin(2 * np.pi * 0.3 * t) > -0.6).astype(np.float32)  # pauses
    rms = (syll * env).astype(np.float32)
    nv = len(VISEMES)
    vw = np.zeros((n_frames, nv), np.float32)
    vis = np.where(rms > 0.2, 1 + (np.arange(n_frames) // 3) % (nv - 1), 0).astype(np.int16)
    vw[np.arange(n_frames), vis] = 1.0
    mel = (rng.standard_normal((n_frames, 80)) * 0.3 + rms[:, None] * 4 - 6).astype(np.float32)
    feats = AudioFeatures(fps=fps, n_frames=n_frames, duration=n_frames / fps, rms=rms,
                          vad=env.astype(np.float32), mel=mel, visemes=vis, viseme_weights=vw)
    mouth = 0.12 * rms
    blink = np.zeros(n_frames, np.float32)
    for b in range(int(fps * 1.3), n_frames, int(fps * 3)):
        blink[b : b + 4] = [0.5, 1.0, 1.0, 0.5][: max(0, min(4, n_frames - b))]
    shift = np.c_[0.02 * np.sin(2 * np.pi * 0.2 * t), 0.01 * np.sin(2 * np.pi * 0.13 * t)]
    x0, y0, x1, y1 = rig.box
    face = y1 - y0
    cx, cy = size / 2, size / 2
    lms = np.stack([
        face_landmarks(cx + shift[i, 0] * face, cy + shift[i, 1] * face, size * 0.5,
                       mouth[i], blink[i]) for i in range(n_frames)
    ]) if n_frames else np.zeros((0, 68, 2), np.float32)
    z = np.zeros(n_frames, np.float32)
    motion = MotionTrack(
        fps=fps, mouth_open=mouth.astype(np.float32), mouth_width=z, jaw=mouth * 0.5,
        blink=blink, gaze=np.zeros((n_frames, 2), np.float32),
        head_pose=np.zeros((n_frames, 3), np.float32), head_shift=shift.astype(np.float32),
        smile=z, brows=z, landmarks=lms.astype(np.float32), seed=seed,
    )
    return rig, feats, motion


# ---------------------------------------------------------------- tiny model
TINY_UNET = {
    "block_out_channels": (32, 32, 64, 32),
    "layers_per_block": 1,
    "cross_attention_dim": 48,
    "attention_head_dim": 8,
    "sample_size": 8,
}
"""The hallo_tiny fixture's UNet widths (real block structure, shrunk channels)."""
TINY_AUDIO = {"seq_len": 5, "blocks": 12, "channels": 16, "intermediate_dim": 64,
              "output_dim": 40, "context_tokens": 32}
TINY_SIZE = 64
"""Output size of the tiny model in pixels (8×8 latents)."""
TINY_VAE = {"block_out_channels": (8, 8, 16, 16), "layers_per_block": 1, "norm_num_groups": 8}

SMALL_UNET = {
    "block_out_channels": (64, 64, 128, 128),
    "layers_per_block": 1,
    "cross_attention_dim": 64,
    "attention_head_dim": 8,
    "sample_size": 32,
}
"""The "small" configuration's UNet widths: big enough to learn one face at 128 px (32×32
latents) in about an hour of one CPU core (`bench learn`); the tiny one is for tests."""
SMALL_VAE = {"block_out_channels": (16, 32, 64), "layers_per_block": 1,
             "norm_num_groups": 16}
"""The small VAE: 3 blocks, so 4× down-sampling (32×32 latents at 128 px). With SD's 8× a
128 px face's mouth is 2-3 latent cells and the VAE's reconstructions lose parted lips
(`bench learn` measured it: no open mouth in the reconstructions of the training crops);
at 4× the mouth covers 6-8 cells. The down-sampling follows len(block_out_channels)."""
SMALL_SIZE = 128
CONFIGS = {"tiny": (TINY_VAE, TINY_UNET, TINY_SIZE), "small": (SMALL_VAE, SMALL_UNET, SMALL_SIZE)}
"""Named configurations of `tiny_pipeline(config=...)`: (VAE, UNet, native size)."""


def tiny_wav2vec(seed: int = 0):
    """A random 12-layer, 16-wide Wav2Vec2Model (hidden states fit TINY_AUDIO)."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(seed)
    cfg = Wav2Vec2Config(
        hidden_size=TINY_AUDIO["channels"], num_hidden_layers=TINY_AUDIO["blocks"],
        num_attention_heads=2, intermediate_size=32, conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, vocab_size=32,
        do_stable_layer_norm=False, feat_extract_norm="group",
    )
    return Wav2Vec2Model(cfg).eval()


def tiny_pipeline(
    seed: int = 0,
    perturb: float = 0.02,
    zero_guider: bool = True,
    with_text: bool = True,
    with_wav2vec: bool = False,
    config: str = "tiny",
):
    """A MagicTalkPipeline with tiny random weights (float32, CPU, eval mode).

    Hallo zero-initialises the audio zero_convs, the motion modules' proj_out and the
    guider's conv_out, which would make those paths inert in a random model; like the
    hallo_tiny fixture, every parameter gets N(0, perturb²) noise (seeded) so every path is
    live — except the guider's conv_out when `zero_guider` (an untrained guider).
    """
    import torch
    from diffusers import AutoencoderKL

    from core.diffusion.models import (
        AnimateNet,
        AudioProj,
        FaceLocator,
        ImageProj,
        ReferenceNet,
        TextAdapter,
    )
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.diffusion.scheduler import make_scheduler

    if config not in CONFIGS:
        raise ValueError(f"unknown configuration {config!r}: use {', '.join(CONFIGS)}")
    vae_cfg, unet_cfg, native = CONFIGS[config]
    torch.manual_seed(seed)
    blocks = len(vae_cfg["block_out_channels"])
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks, latent_channels=4,
        sample_size=native, **vae_cfg,
    )
    ref = ReferenceNet(**unet_cfg)
    net = AnimateNet(**unet_cfg, audio_attention_dim=TINY_AUDIO["output_dim"])
    # the guider maps full-size guides to the latent grid: one stride-2 conv per VAE halving
    locator = FaceLocator(conditioning_embedding_channels=unet_cfg["block_out_channels"][0],
                          conditioning_channels=3, block_out_channels=(8, 16, 32, 32)[:blocks])
    image_proj = ImageProj(cross_attention_dim=unet_cfg["cross_attention_dim"],
                           clip_embeddings_dim=512, clip_extra_context_tokens=4)
    audio_proj = AudioProj(**TINY_AUDIO)
    tokenizer = text_encoder = adapter = None
    if with_text:
        tokenizer = tiny_tokenizer()
        text_encoder = tiny_text_encoder(len(tokenizer), seed)
        adapter = TextAdapter.for_animate_net(net, TINY_TEXT["hidden_size"])
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in (ref, net, locator, image_proj, audio_proj, adapter):
            if module is None:
                continue
            for name, p in module.named_parameters():
                if zero_guider and module is locator and name.startswith("conv_out"):
                    continue
                p.add_(torch.randn(p.shape, generator=g) * perturb)
    pipe = MagicTalkPipeline(
        vae=vae, reference_net=ref, animate_net=net, face_locator=locator,
        image_proj=image_proj, audio_proj=audio_proj, scheduler=make_scheduler(),
        text_encoder=text_encoder, tokenizer=tokenizer, text_adapter=adapter,
    )
    if with_wav2vec:
        pipe.register_modules(wav2vec=tiny_wav2vec(seed))
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def write_tiny(folder: str | Path, seed: int = 0, with_wav2vec: bool = True) -> Path:
    """Write a complete tiny weights folder (model_index.json + safetensors, ~3 MB)."""
    import os
    import shutil
    import tempfile

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        tiny_pipeline(seed=seed, with_wav2vec=with_wav2vec).save_pretrained(tmp)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        os.replace(tmp, folder)  # readers never see a half-written folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
