"""The VAE stage (`python main.py train --stage vae`): teach the pipeline's AutoencoderKL the
faces of a prepared dataset before the denoiser is trained on its latents.

Why a stage of its own: the denoiser only ever sees latents, and what a render looks like
is the VAE decoder's picture of them. A tiny/small configuration starts with a random VAE,
whose decoder turns any latent into coloured noise, so whatever stages 1 and 2 learn, the
render stays noise. Real models start from SD's VAE (`--init` an SD1.5 folder); without one
(a CPU, one face) this stage trains a small VAE on the dataset's own frames. Stage 1 then
starts from the run (`--init RUN_vae`) and keeps the VAE frozen, as the papers do with SD's.

The loss of one batch of frames x (in [-1, 1]) and reconstructions y (decoded from a sample
of the posterior):
    face-weighted L1(y, x) + MSE(y, x) + EDGE·L1(∇y, ∇x) + KL_WEIGHT·KL(posterior ‖ N(0, 1))
The gradient term keeps edges (eyes, lips, hair) from being averaged into blur, which a pure
pixel loss does on a small model; the face weight (the dataset's face masks) spends the
capacity where identity lives; the small KL keeps the latent space smooth and bounded (the
diffusion model has to learn it), without the blur a strong KL causes.

The latent scale: diffusion assumes latents of about unit variance. At every save the
`scaling_factor` of the VAE config is set to 1 / (standard deviation of the latent means of
the dataset's frames), as the SD authors chose 0.18215 for theirs; the engine and the other
stages read it from the config.

The run folder is the one of the other stages (core.training.loop): config.json, loss.csv +
loss.png, val/step-N.png (frames over their reconstructions), checkpoints/ (exact resume),
weights/ (a complete pipeline folder, `from_pretrained`-loadable, whose VAE is the trained
one and whose other components are the configuration's untrained ones).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.fsutil import atomic_path

KL_WEIGHT = 1e-4
"""Weight of the per-element KL term: enough to bound the latents, too little to blur."""
EDGE_WEIGHT = 1.0
"""Weight of the image-gradient L1 term (sharpness)."""
CALIBRATION_FRAMES = 32
"""Frames encoded to measure the latent standard deviation (the scaling factor)."""


def frame_batch(data, batch: int, seed: int, step: int, micro: int) -> dict:
    """`batch` random frames (+ face masks) of random clips: a pure function of (seed, step,
    micro), like every sampler of core.training.dataset, so a resumed run sees the same."""
    rng = np.random.default_rng([seed, step, micro, 3])
    images, faces, where = [], [], []
    for _ in range(batch):
        ci = int(rng.integers(len(data.clips)))
        clip = data.clips[ci]
        i = int(rng.integers(clip.frames))
        images.append(clip.image(i))
        faces.append(clip.face[i].astype(np.float32) / 255.0)
        where.append((ci, i))
    return {"images": np.stack(images), "face": np.stack(faces), "index": where}


def _pixels(images: np.ndarray, device):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def reconstruction_error(y, x, face, face_weight: float):
    """Face-weighted L1 + MSE + EDGE·L1 of the image gradients (scalar tensor)."""
    w = (1.0 + face_weight * face)[:, None]  # [B, 1, S, S]
    l1 = ((y - x).abs() * w).sum() / (w.sum() * x.shape[1])
    mse = ((y - x) ** 2).mean()
    edge = ((y[..., 1:, :] - y[..., :-1, :]) - (x[..., 1:, :] - x[..., :-1, :])).abs().mean()
    edge = edge + ((y[..., 1:] - y[..., :-1]) - (x[..., 1:] - x[..., :-1])).abs().mean()
    return l1 + mse + EDGE_WEIGHT * edge


def vae_loss(vae, batch: dict, generator, device, face_weight: float):
    """The VAE loss of one batch of frames (see the module docstring)."""
    import torch

    x = _pixels(batch["images"], device)
    face = torch.from_numpy(batch["face"]).to(device)
    post = vae.encode(x).latent_dist
    z = post.mean + post.std * torch.randn(post.mean.shape, generator=generator).to(device)
    y = vae.decode(z).sample
    kl = 0.5 * (post.mean ** 2 + post.var - 1.0 - post.logvar).mean()
    return reconstruction_error(y, x, face, face_weight) + KL_WEIGHT * kl


def latent_scale(vae, data, device, frames: int = CALIBRATION_FRAMES) -> float:
    """1 / std of the latent means over `frames` frames spread over the dataset's clips."""
    import torch

    picks = [(c, int(i)) for c in data.clips
             for i in np.linspace(0, c.frames - 1, max(1, frames // len(data.clips)))]
    zs = []
    with torch.no_grad():
        for k in range(0, len(picks), 8):
            x = _pixels(np.stack([c.image(i) for c, i in picks[k : k + 8]]), device)
            zs.append(vae.encode(x).latent_dist.mean.float())
    std = float(torch.cat(zs).std())
    if not np.isfinite(std) or std <= 1e-6:
        raise RuntimeError("the VAE's latents collapsed (zero variance): lower --lr")
    return 1.0 / std


def reconstruct(vae, images: np.ndarray, device) -> list[np.ndarray]:
    """uint8 RGB reconstructions (posterior means decoded) of uint8 RGB frames."""
    import torch

    with torch.no_grad():
        y = vae.decode(vae.encode(_pixels(images, device)).latent_dist.mean).sample
    y = ((y.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return list(y.permute(0, 2, 3, 1).cpu().numpy())


def validate_vae(vae, data, out: Path, n: int, device) -> Path:
    """Frames spread over the first clip over their reconstructions, as one PNG."""
    from core.training.plots import contact_sheet

    clip = data.clips[0]
    idx = np.linspace(0, clip.frames - 1, max(1, min(n, clip.frames))).round().astype(int)
    truth = [clip.image(int(i)) for i in idx]
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".png") as tmp:
        contact_sheet([truth, reconstruct(vae, np.stack(truth), device)]).save(tmp)
    return out


def fixed_vae_loss(vae, data, cfg, batches: int = 4, device="cpu") -> float:
    """The mean reconstruction error (no KL) over fixed batches: what a run learned,
    free of the per-step noise of the sampled frames and posterior."""
    import torch

    total = 0.0
    with torch.no_grad():
        for i in range(batches):
            b = frame_batch(data, cfg.batch, 555_000 + cfg.seed, i, 0)
            x = _pixels(b["images"], device)
            y = vae.decode(vae.encode(x).latent_dist.mean).sample
            total += float(reconstruction_error(y, x, torch.from_numpy(b["face"]).to(device),
                                                cfg.loss_weights()[0]))
    return total / batches


def train_vae(cfg, resume: bool = False, progress: Callable[[float, str], None] | None = None,
              stop_after: int | None = None):
    """Run (or continue) a VAE-stage run; `cfg` is the resolved TrainConfig (stage 0)."""
    import torch

    from core.training import loop as L
    from core.training import model as M
    from core.training.dataset import TrainData

    run = Path(cfg.out)
    data = TrainData(cfg.data, cfg.clips or None)
    acc = L._accelerator(cfg)
    device = acc.device
    pipe = M.load_init(cfg.init, seed=cfg.seed, config=cfg.config)
    pipe.to(device)
    if data.size % pipe.vae_scale_factor:
        raise InputError(cfg.data, f"{data.size} px frames are not a multiple of the VAE's "
                                   f"down-sampling ({pipe.vae_scale_factor})")
    vae = pipe.vae
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.requires_grad_(False)
            module.eval()  # no dropout or batch norm anywhere: eval = train computation
    vae.requires_grad_(True)
    named = {f"vae.{n}": p for n, p in vae.named_parameters()}

    def loss_of(seed: int, step: int, micro: int):
        batch = frame_batch(data, cfg.batch, seed, step, micro)
        gen = torch.Generator().manual_seed(
            int(np.random.default_rng([seed, step, micro, 8]).integers(2**62)))
        with acc.autocast():
            return vae_loss(vae, batch, gen, device, cfg.loss_weights()[0])

    return L.run_steps(
        run, cfg, acc, pipe, named, L.start_run(run, named, cfg, acc, resume), loss_of,
        lambda png: validate_vae(vae, data, png, max(4, cfg.val_frames), device),
        progress=progress, stop_after=stop_after,
        before_save=lambda: vae.register_to_config(
            scaling_factor=latent_scale(vae, data, device)))
