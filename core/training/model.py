"""The model side of training: where the weights start (`--init`), what each stage trains,
and the diffusion loss of one batch.

`--init` sources (`load_init`), one base plus optional AnimateDiff motion modules:
* a MagicTalk weights folder (model_index.json: a tiny folder, `models import-hallo`
  output, or a previous run's `weights/`), or a run folder (its `weights/`);
* an SD1.5-layout folder (diffusers `unet/` + `vae/`, optional `text_encoder/` +
  `tokenizer/`): ReferenceNet and the denoiser's spatial layers start from the UNet, the
  text adapter from its attn2 K/V, everything else (motion/audio modules, guider,
  projectors) fresh;
* a motion-module file (.ckpt/.pth/.safetensors, read by the safe loader of
  core.diffusion.hallo.checkpoint: no code runs) loaded into the denoiser's motion modules.
Nothing given → the tiny (tests) or small (`--config small`: one face on a CPU)
configuration of core.diffusion.tiny. A VAE-stage run folder (`train --stage vae`) is a
run folder like the others: stage 1 from it starts with its trained VAE, kept frozen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import InputError

STAGE1_MODULES = ("reference_net", "animate_net", "face_locator", "image_proj", "text_adapter")
STAGE2_MODULES = ("animate_net", "audio_proj")


def _is_temporal(name: str) -> bool:
    return "motion_modules" in name


def _is_audio(name: str) -> bool:
    return "audio_modules" in name


def trainable_parameters(pipe, stage: int, text: bool) -> dict[str, list]:
    """{component: [(name, parameter)]} a stage trains; sets requires_grad on ALL params.

    Stage 1: ReferenceNet, the denoiser's spatial layers (not its motion or audio modules),
    the guider, the image projection, and the text adapter when the dataset has captions
    (the text encoder stays frozen). Stage 2: the denoiser's motion modules and audio
    attention, and the audio projector."""
    for module in pipe.components.values():
        if hasattr(module, "parameters"):
            module.requires_grad_(False)
    out: dict[str, list] = {}

    def take(component: str, keep) -> None:
        module = getattr(pipe, component, None)
        if module is None:
            return
        params = [(n, p) for n, p in module.named_parameters() if keep(n)]
        for _, p in params:
            p.requires_grad_(True)
        if params:
            out[component] = params

    if stage == 1:
        take("reference_net", lambda n: True)
        take("animate_net", lambda n: not _is_temporal(n) and not _is_audio(n))
        take("face_locator", lambda n: True)
        take("image_proj", lambda n: True)
        if text:
            take("text_adapter", lambda n: True)
    elif stage == 2:
        take("animate_net", lambda n: _is_temporal(n) or _is_audio(n))
        take("audio_proj", lambda n: True)
    elif stage == 0:
        take("vae", lambda n: True)
    else:
        raise InputError(None, f"--stage {stage}: use vae (0), 1 or 2")
    return out


# ---------------------------------------------------------------- --init
def load_init(sources: list[str | Path] | None, seed: int = 0, config: str = "tiny"):
    """The starting MagicTalkPipeline (float32, CPU) from the --init sources; without a base
    folder, the named configuration of core.diffusion.tiny (random weights)."""
    from core.diffusion.tiny import tiny_pipeline

    sources = [Path(s) for s in sources or []]
    base = [s for s in sources if s.is_dir()]
    files = [s for s in sources if not s.is_dir()]
    if len(base) > 1:
        raise InputError(base[1], "only one weights folder can be the base of a run")
    for f in files:
        if not f.is_file():
            raise InputError(f, "--init: not found")
    if not base:
        pipe = tiny_pipeline(seed=seed, zero_guider=True, config=config)
    else:
        pipe = _load_folder(base[0])
    for f in files:
        load_motion_modules(pipe.animate_net, f)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _load_folder(folder: Path):
    from core.diffusion.pipeline import MagicTalkPipeline

    if (folder / "weights" / "model_index.json").is_file():  # a run folder
        folder = folder / "weights"
    if (folder / "model_index.json").is_file() and (folder / "animate_net").is_dir():
        return MagicTalkPipeline.from_pretrained(folder)
    if (folder / "unet" / "config.json").is_file() and (folder / "vae").is_dir():
        return from_sd15(folder)
    raise InputError(folder, "--init: not a MagicTalk weights folder, run folder or SD1.5 "
                             "folder (unet/ + vae/)")


def from_sd15(folder: Path):
    """A MagicTalkPipeline whose UNets start from an SD1.5 (diffusers) folder."""
    import json

    import torch
    from diffusers import AutoencoderKL

    from core.diffusion.hallo.checkpoint import load_state_dict
    from core.diffusion.models import (
        AnimateNet,
        AudioProj,
        FaceLocator,
        ImageProj,
        ReferenceNet,
        init_text_adapter_from_unet,
    )
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.diffusion.scheduler import make_scheduler

    try:
        cfg = json.loads((folder / "unet" / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(folder / "unet" / "config.json", f"unreadable ({exc})") from None
    weights = sorted((folder / "unet").glob("*.safetensors")) or sorted(
        (folder / "unet").glob("*.bin"))
    if not weights:
        raise InputError(folder / "unet", "holds no weights (.safetensors or .bin)")
    sd = load_state_dict(weights[0], "UNet weights")
    ref = ReferenceNet.from_unet_config(cfg)
    net = AnimateNet.from_hallo_config(cfg)
    _load_matching(ref, sd, folder / "unet")
    _load_matching(net, sd, folder / "unet")
    vae = AutoencoderKL.from_pretrained(str(folder / "vae"))
    e = int(cfg.get("cross_attention_dim", 768))
    c0 = int(cfg.get("block_out_channels", [320])[0])
    text_encoder = tokenizer = adapter = None
    if (folder / "text_encoder").is_dir() and (folder / "tokenizer").is_dir():
        from transformers import CLIPTextModel, CLIPTokenizer

        text_encoder = CLIPTextModel.from_pretrained(str(folder / "text_encoder"),
                                                     local_files_only=True)
        tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"),
                                                  local_files_only=True)
        adapter = init_text_adapter_from_unet(net, sd, text_encoder.config.hidden_size)
    torch.manual_seed(0)
    pipe = MagicTalkPipeline(
        vae=vae, reference_net=ref, animate_net=net,
        face_locator=FaceLocator(conditioning_embedding_channels=c0),
        image_proj=ImageProj(cross_attention_dim=e), audio_proj=AudioProj(output_dim=e),
        scheduler=make_scheduler(), text_encoder=text_encoder, tokenizer=tokenizer,
        text_adapter=adapter)
    return pipe


def _load_matching(module, sd: dict, where: Path) -> None:
    """Copy every tensor of `sd` whose key and shape `module` has; InputError when the
    spatial layers do not match at all (a wrong folder)."""
    import torch

    own = module.state_dict()
    hits = 0
    with torch.no_grad():
        for k, v in sd.items():
            if k in own and tuple(own[k].shape) == tuple(v.shape):
                own[k].copy_(v)
                hits += 1
    if hits < len([k for k in own if "motion_modules" not in k and "audio_modules" not in k]) // 2:
        raise InputError(where, f"only {hits} of the UNet's tensors fit {type(module).__name__}")


def load_motion_modules(net, path: Path) -> int:
    """Load AnimateDiff motion-module weights into `net` (keys `*.motion_modules.*`,
    optionally prefixed `denoising_unet.`/`module.`); strict on shapes. Returns the count."""
    import torch

    from core.diffusion.hallo.checkpoint import load_state_dict

    sd = load_state_dict(path, "motion module")
    own = net.state_dict()
    n = 0
    with torch.no_grad():
        for k, v in sd.items():
            key = k.removeprefix("module.").removeprefix("denoising_unet.")
            if "motion_modules" not in key:
                continue
            if key not in own:
                continue  # e.g. mid-block modules a config without them lacks
            if tuple(own[key].shape) != tuple(v.shape):
                raise InputError(path, f"{key} has shape {tuple(v.shape)}, the denoiser needs "
                                       f"{tuple(own[key].shape)}")
            own[key].copy_(v)
            n += 1
    if n == 0:
        raise InputError(path, "holds no motion-module weights that fit the denoiser")
    return n


# ---------------------------------------------------------------- the loss
def audio_states_for(pipe, clip) -> np.ndarray:
    """[F, layers, C] audio states of a clip as the engine makes them: stored wav2vec2
    states when their shape fits the projector, else the mel/viseme mapping."""
    from core.diffusion import conditioning as cond

    cfg = pipe.audio_proj.config
    w = clip.tensors.get("wav2vec")
    if w is not None and tuple(w.shape[1:]) == (cfg.blocks, cfg.channels):
        return w
    return cond.mel_audio_states(clip.features(), cfg.blocks, cfg.channels)


def to_pixels(images: np.ndarray, device, dtype):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return (x.permute(0, 3, 1, 2).to(dtype) / 127.5 - 1.0)


def encode(pipe, images: np.ndarray, device):
    """Scaled VAE latent means [N, 4, h, w] of RGB uint8 images [N, S, S, 3] (no grad)."""
    import torch

    with torch.no_grad():
        x = to_pixels(images, device, pipe.vae.dtype)
        return pipe.vae.encode(x).latent_dist.mean.float() * pipe.vae.config.scaling_factor


def diffusion_loss(pipe, batch: dict, stage: int, generator, device, text: bool,
                   face_weight: float = 0.0, lip_weight: float = 0.0, drop: float = 0.0):
    """The v-prediction loss of one batch (float32 scalar tensor).

    The reference frame goes through ReferenceNet (t=0) with the identity tokens, giving a
    bank read by the denoiser exactly as at inference (cond row; motion frames = the bank's
    rows, as `MagicTalkPipeline` passes them). The target latent(s) are noised at a random
    timestep; the guider encodes the target's motion-prior maps; stage 2 adds the audio
    tokens. The per-element squared error is weighted by 1 + face_weight·face +
    lip_weight·lip (masks pooled to the latent grid: Hallo's face/lip-weighted loss).
    `drop` is the probability of dropping the audio, identity and text conditions per
    sample (what classifier-free guidance needs); drawn from `generator` like the noise.
    """
    import torch

    sched = pipe.scheduler
    b = len(batch["clip"])
    tgt = batch["target"]
    video = tgt.ndim == 5
    f = tgt.shape[1] if video else 1
    if batch.get("target_lat") is not None and batch.get("ref_lat") is not None:
        x0 = torch.from_numpy(batch["target_lat"]).to(device).float()  # [B, F, 4, h, w]
        x0 = x0.reshape(b * f, *x0.shape[-3:])
        ref_lat = torch.from_numpy(batch["ref_lat"]).to(device).float()
    else:  # encode the frames with the (frozen) VAE
        x0 = encode(pipe, tgt.reshape(-1, *tgt.shape[-3:]), device)  # [B*F, 4, h, w]
        ref_lat = encode(pipe, batch["ref"], device)
    x0 = x0.reshape(b, f, *x0.shape[1:]).permute(0, 2, 1, 3, 4)  # [B, 4, F, h, w]

    noise = torch.randn(x0.shape, generator=generator).to(device)
    t = torch.randint(0, sched.config.num_train_timesteps, (b,), generator=generator)
    keep = (torch.rand(b, generator=generator) >= drop).float().to(device)
    t = t.to(device)
    noisy = sched.add_noise(x0, noise, t)
    target = sched.get_velocity(x0, noise, t) if sched.config.prediction_type == \
        "v_prediction" else noise

    emb = torch.from_numpy(batch["embedding"]).to(device).float() * keep[:, None]
    tokens = pipe.image_proj(emb)  # [B, n, E]
    ctx = torch.stack([pipe.image_proj(torch.zeros_like(emb)), tokens], 1).flatten(0, 1)
    bank = pipe.reference_net.compute_bank(ref_lat.repeat_interleave(2, 0), ctx, 0, dtype=None)
    guide = torch.from_numpy(batch["guide"]).to(device).float() / 255.0  # [B, F, S, S, 3]
    guide = guide.permute(0, 4, 1, 2, 3)  # [B, 3, F, S, S]
    guide_feat = pipe.face_locator(guide)
    audio = None
    if stage == 2:
        a = torch.from_numpy(batch["audio"]).to(device).float()  # [B, F, 5, L, C]
        audio = pipe.audio_proj(a) * keep[:, None, None, None]
    text_tokens, text_scale = None, 0.0
    if text and pipe.text_encoder is not None and any(batch["prompt"]):
        prompts = [p if k else "" for p, k in zip(batch["prompt"], keep.tolist(), strict=True)]
        ids = pipe.tokenizer(prompts, padding="max_length", truncation=True,
                             max_length=pipe.tokenizer.model_max_length,
                             return_tensors="pt").input_ids.to(device)
        with torch.no_grad():
            text_tokens = pipe.text_encoder(ids)[0]
        text_scale = 1.0
    face = torch.from_numpy(batch["face"]).to(device).float()  # [B, F, h, w]
    lip = torch.from_numpy(batch["lip"]).to(device).float()
    pred = pipe.animate_net(
        noisy, t, tokens, reference_bank=bank, masks=level_masks(pipe, face, lip),
        reference_rows=[2 * i + 1 for i in range(b)],
        motion_frame_rows=[[2 * i, 2 * i + 1] for i in range(b)],
        guide_feature=guide_feat, audio_tokens=audio,
        text_tokens=text_tokens, text_scale=text_scale)
    err = (pred.float() - target.float()) ** 2  # [B, 4, F, h, w]
    weight = 1.0 + face_weight * face[:, None] + lip_weight * lip[:, None]  # [B, 1, F, h, w]
    return (err * weight).sum() / (weight.sum() * err.shape[1])


def level_masks(pipe, face, lip) -> dict:
    """The audio attention's full/face/lip masks per UNet level from the batch's face and
    lip masks [B, F, h, w] (area-pooled; "full" = everywhere, the crop is the head region),
    as the engine passes `conditioning.region_masks` at inference."""
    import torch.nn.functional as F

    b, f, h, w = face.shape
    out: dict[str, list] = {"full": [], "face": [], "lip": []}
    for lv in range(len(pipe.animate_net.config.block_out_channels)):
        s = max(1, h >> lv)
        for name, m in (("face", face), ("lip", lip)):
            pooled = F.adaptive_avg_pool2d(m.reshape(b * f, 1, h, w), s)
            out[name].append(pooled.reshape(b * f, s * s))
        out["full"].append(face.new_ones(b * f, s * s))
    return out
