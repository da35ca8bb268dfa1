"""The training loop of stages 1 and 2 (`python main.py train`); the VAE stage (stage 0,
`--stage vae`) shares its run folder, checkpoints and helpers (core.training.vae_stage).

A run folder:
    config.json            the run's settings (what `--resume` continues with)
    loss.csv, loss.png     the loss per optimizer step, and its curve (drawn with PIL)
    val/step-NNNNNNN.png   validation renders: ground-truth frames over rendered ones
    checkpoints/step-*/    resume state (core.training.checkpoint), the two newest kept
    weights/               a complete `MagicTalkPipeline.from_pretrained` folder (trained
                           weights), replaced atomically at every save and at the end
    weights-ema/           the same with the EMA weights, when --ema is on

Accelerate: an `Accelerator` owns the device, mixed precision (autocast; fp16 with a grad
scaler, CUDA only) and the processes of a multi-GPU launch (`accelerate launch main.py
train ...`): each process draws its own micro-batches (the process index is part of the
data seed), gradients are averaged across processes before every optimizer step, and only
the main process writes. On a CPU it is one process and the loop is exactly reproducible:
`--resume` continues at the same step with the same losses, bit for bit.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.fsutil import atomic_path
from core.training import checkpoint as ckpt

log = logging.getLogger(__name__)
PRECISIONS = ("no", "fp16", "bf16")


@dataclass
class TrainConfig:
    stage: int
    data: str
    out: str
    init: list[str] = field(default_factory=list)
    steps: int = 1000
    batch: int = 1
    grad_accum: int = 1
    lr: float = 1e-5
    warmup: int = 0
    mixed_precision: str = "no"
    ema: float = 0.0
    val_every: int = 0
    save_every: int = 0
    seed: int = 0
    frames: int = 8  # stage 2 clip length
    # Extra loss weight on the face and lip masks (1 + w·mask). None = the stage's default:
    # Hallo's 1.0 / 2.0 in stage 2 (and the VAE stage's face weight), none in stage 1.
    # A small face on a CPU-sized frame can want lip weight in stage 1 too: there the
    # guider must learn to move the lips, which are a few latent cells of the frame.
    face_weight: float | None = None
    lip_weight: float | None = None
    drop: float = 0.05
    max_grad_norm: float = 1.0
    val_frames: int = 4
    val_steps: int = 4
    clips: list[str] = field(default_factory=list)  # train on these clip ids only
    config: str = "tiny"  # the starting configuration without --init (tiny | small)

    def loss_weights(self) -> tuple[float, float]:
        """(face, lip) extra loss weights of this stage (see face_weight)."""
        face, lip = (0.0, 0.0) if self.stage == 1 else (1.0, 2.0)
        return (face if self.face_weight is None else self.face_weight,
                lip if self.lip_weight is None else self.lip_weight)


@dataclass
class RunResult:
    step: int
    losses: list[float]
    weights: Path
    seconds: float


def _check(cfg: TrainConfig) -> None:
    from core.diffusion.tiny import CONFIGS

    if cfg.stage not in (0, 1, 2):
        raise InputError(None, f"--stage {cfg.stage}: use vae (0), 1 or 2")
    if cfg.config not in CONFIGS:
        raise InputError(None, f"--config {cfg.config}: use {' or '.join(CONFIGS)}")
    if cfg.mixed_precision not in PRECISIONS:
        raise InputError(None, f"--mixed-precision {cfg.mixed_precision}: use no, fp16 or bf16")
    for name in ("steps", "batch", "grad_accum", "frames"):
        if getattr(cfg, name) < 1:
            raise InputError(None, f"--{name.replace('_', '-')} must be at least 1")
    if not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        raise InputError(None, f"--lr {cfg.lr}: must be a positive number")
    if not 0.0 <= cfg.ema < 1.0:
        raise InputError(None, f"--ema {cfg.ema}: use 0 (off) or a decay in (0, 1)")


def _accelerator(cfg: TrainConfig):
    import torch

    cuda = torch.cuda.is_available()
    if cfg.mixed_precision == "fp16" and not cuda:
        raise InputError(None, "--mixed-precision fp16 needs a CUDA GPU; use bf16 or no on a CPU")
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    # accelerate keeps one process-wide state and refuses another mixed-precision setting
    # in the same process (a second run from Python, the tests): start each run afresh
    reset = getattr(AcceleratorState, "_reset_state", None)
    if reset is not None:
        reset()
    return Accelerator(mixed_precision=cfg.mixed_precision, cpu=not cuda)


def train(cfg: TrainConfig, resume: bool = False,
          progress: Callable[[float, str], None] | None = None,
          stop_after: int | None = None) -> RunResult:
    """Run (or continue) a training run; returns where it ended. `stop_after` ends the call
    early at that step, as a crash would after its last checkpoint (tests of resume)."""
    import torch

    from core.training import model as M
    from core.training.dataset import TrainData

    run = Path(cfg.out)
    if resume:
        cfg = _resumed_config(run, cfg)
    _check(cfg)
    if cfg.stage == 0:  # the VAE stage (core.training.vae_stage)
        from core.training.vae_stage import train_vae

        return train_vae(cfg, resume=resume, progress=progress, stop_after=stop_after)
    data = TrainData(cfg.data, cfg.clips or None)
    acc = _accelerator(cfg)
    device = acc.device
    pipe = M.load_init(cfg.init, seed=cfg.seed, config=cfg.config)
    pipe.to(device)
    if any(c.latents_vae for c in data.clips):
        from core.training.data import vae_fingerprint

        data.use_latents(vae_fingerprint(pipe.vae))
    latent = data.size // pipe.vae_scale_factor
    frames = min(cfg.frames, min(c.frames for c in data.clips))
    deepest = latent >> (len(pipe.animate_net.config.block_out_channels) - 1)
    if deepest <= 1 and cfg.batch * (frames if cfg.stage == 2 else 1) < 2:
        raise InputError(cfg.data, f"{data.size} px crops leave a 1x1 bottleneck, which "
                                   "needs at least 2 samples per micro-batch: use --batch 2 "
                                   "or prepare the data at a larger --size")
    text = cfg.stage == 1 and data.has_captions and pipe.text_adapter is not None
    groups = M.trainable_parameters(pipe, cfg.stage, text)
    named = {f"{c}.{n}": p for c, ps in groups.items() for n, p in ps}
    if not named:
        raise InputError(None, f"stage {cfg.stage} has nothing to train in these weights")
    for module in pipe.components.values():
        # eval mode throughout: the models have no dropout or batch norm, so training
        # computes exactly what inference computes (and what the engine will run)
        if isinstance(module, torch.nn.Module):
            module.eval()
    audio_cache: dict[int, np.ndarray] = {}

    def audio_states(ci: int) -> np.ndarray:
        if ci not in audio_cache:
            audio_cache[ci] = M.audio_states_for(pipe, data.clips[ci])
        return audio_cache[ci]

    def loss_of(seed: int, step: int, micro: int):
        if cfg.stage == 1:
            batch = data.pairs(cfg.batch, seed, step, micro, latent)
        else:
            batch = data.clips_of(cfg.batch, frames, seed, step, micro, latent, audio_states)
        gen = torch.Generator().manual_seed(
            int(np.random.default_rng([seed, step, micro, 9]).integers(2**62)))
        with acc.autocast():
            return M.diffusion_loss(pipe, batch, cfg.stage, gen, device, text,
                                    *cfg.loss_weights(), cfg.drop)

    return run_steps(run, cfg, acc, pipe, named, start_run(run, named, cfg, acc, resume),
                     loss_of, lambda png: validate(pipe, data, png, cfg), progress=progress,
                     stop_after=stop_after)


def run_steps(run: Path, cfg: TrainConfig, acc, pipe, named: dict, started: tuple,
              loss_of: Callable, validate_at: Callable[[Path], None],
              progress: Callable[[float, str], None] | None = None,
              stop_after: int | None = None,
              before_save: Callable[[], None] | None = None) -> RunResult:
    """The optimiser loop every stage shares (the VAE stage too), from `started` (what
    start_run returned) to cfg.steps: per step the micro-batches' losses (`loss_of(seed,
    step, micro)`, a scalar tensor; seeds per process), backward, optimizer_step, the loss
    row, the progress callback, a validation PNG every cfg.val_every steps
    (`validate_at(path)`) and a checkpoint every cfg.save_every steps and at the end
    (`before_save()` first). `stop_after` ends early after that step (a crash, in tests)."""
    import torch

    opt, sched, ema, step, losses = started
    params = list(named.values())
    t0 = time.perf_counter()
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    rank = acc.process_index
    while step < end:
        total = 0.0
        for micro in range(cfg.grad_accum):
            loss = loss_of(cfg.seed * 1000 + rank, step, micro)
            if not torch.isfinite(loss):
                raise RuntimeError(f"the loss is {loss.item()} at step {step}: lower --lr")
            acc.backward(loss / cfg.grad_accum)
            total += float(loss.detach()) / cfg.grad_accum
        optimizer_step(acc, params, named, opt, sched, ema, cfg)
        step += 1
        losses.append(total)
        if acc.is_main_process:
            _append_loss(run, step, total, sched.get_last_lr()[0])
            if progress:
                progress(step / cfg.steps, f"step {step} loss {total:.4f}")
            if cfg.val_every and step % cfg.val_every == 0:
                validate_at(run / "val" / f"step-{step:07d}.png")
            if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
                if before_save is not None:
                    before_save()
                _save(run, step, named, opt, sched, ema, acc, cfg, pipe)
                _write_curve(run, losses)
    acc.wait_for_everyone()
    return RunResult(step, losses, run / "weights", time.perf_counter() - t0)


def start_run(run: Path, named: dict, cfg: TrainConfig, acc, resume: bool):
    """(optimizer, schedule, EMA copy or None, step, losses) of a run folder, for every
    stage (the VAE stage too): AdamW with linear warm-up over the trained parameters
    `named`; resumed from the newest checkpoint with --resume, else a fresh run that refuses
    a folder already holding one."""
    import torch

    params = list(named.values())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup) if cfg.warmup else 1.0)
    opt = acc.prepare(opt)
    ema = {k: p.detach().float().clone() for k, p in named.items()} if cfg.ema else None
    run.mkdir(parents=True, exist_ok=True)
    step, losses = 0, []
    if resume and (last := ckpt.latest(run)) is not None:
        step, losses = _restore(last, named, opt, sched, ema, acc)
    elif acc.is_main_process:
        if not resume and (run / "config.json").is_file():
            raise InputError(run, "already holds a run: pass --resume to continue it, "
                                  "or choose a new --out folder")
        _atomic_json(run / "config.json", asdict(cfg))
        (run / "loss.csv").unlink(missing_ok=True)  # a run that never saved starts afresh
    if acc.is_main_process:
        _write_curve(run, losses)
    return opt, sched, ema, step, losses


def optimizer_step(acc, params: list, named: dict, opt, sched, ema: dict | None,
                   cfg: TrainConfig) -> None:
    """One optimiser update after the micro-batches' backward passes, shared by every stage
    (the VAE stage too): gradients averaged over processes, clipped, the step and the
    schedule, then the EMA copy moved towards the weights."""
    import torch

    if acc.num_processes > 1:
        for p in params:
            if p.grad is not None:
                p.grad = acc.reduce(p.grad, "mean")
    if cfg.max_grad_norm:
        acc.clip_grad_norm_(params, cfg.max_grad_norm)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    if ema is not None:
        with torch.no_grad():
            for k, p in named.items():
                ema[k].mul_(cfg.ema).add_(p.detach().float(), alpha=1.0 - cfg.ema)


# ---------------------------------------------------------------- state
def _resumed_config(run: Path, given: TrainConfig) -> TrainConfig:
    path = run / "config.json"
    if not path.is_file():
        return given  # nothing to resume: a fresh run
    try:
        saved = json.loads(path.read_text())
        cfg = TrainConfig(**saved)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(path, f"is not a run configuration ({exc})") from None
    cfg.steps = given.steps  # the only setting a resume may change: train longer
    return cfg


def _save(run: Path, step: int, named: dict, opt, sched, ema, acc, cfg: TrainConfig,
          pipe) -> None:
    state = {"scheduler": sched.state_dict(), "config": asdict(cfg)}
    scaler = getattr(acc, "scaler", None)
    if scaler is not None:
        state["scaler"] = {k: (float(v) if hasattr(v, "item") else v)
                           for k, v in scaler.state_dict().items()}
    ckpt.write(run, step, named, opt, ema, state)
    ckpt.prune(run)
    export_weights(pipe, run / "weights")
    if ema is not None:
        import torch

        backup = {k: p.detach().clone() for k, p in named.items()}
        with torch.no_grad():
            for k, p in named.items():
                p.copy_(ema[k])
            export_weights(pipe, run / "weights-ema")
            for k, p in named.items():
                p.copy_(backup[k])


def _restore(folder: Path, named: dict, opt, sched, ema, acc) -> tuple[int, list[float]]:
    """Load a checkpoint into the live objects. Every loaded tensor is copied into fresh
    (aligned) memory: CPU kernels on unaligned file-backed tensors can differ in the last
    bit, which would break the bit-exact resume."""
    import torch

    state, params, opt_sd, ema_sd, rng = ckpt.read(folder)
    missing = set(named) - set(params)
    if missing:
        raise InputError(folder, f"checkpoint lacks {len(missing)} trained tensors "
                                 f"(e.g. {sorted(missing)[0]}): another stage or model?")
    with torch.no_grad():
        for k, p in named.items():
            if tuple(params[k].shape) != tuple(p.shape):
                raise InputError(folder, f"{k} has another shape than the model")
            p.copy_(params[k])
    opt_sd["state"] = {i: {k: v.clone() for k, v in s.items()} for i, s in opt_sd["state"].items()}
    opt.load_state_dict(opt_sd)
    sched.load_state_dict(state["scheduler"])
    if ema is not None and ema_sd is not None:
        for k in ema:
            ema[k].copy_(ema_sd[k])
    scaler = getattr(acc, "scaler", None)
    if scaler is not None and "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    ckpt.restore_rng(rng, state["rng"])
    step = int(state["step"])
    losses = _read_losses(Path(folder).parents[1], step)
    return step, losses


def export_weights(pipe, folder: Path) -> Path:
    """Save the pipeline as a `from_pretrained` folder, atomically (temp folder + rename;
    the previous folder is moved aside first and deleted after)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    old = folder.parent / f".{folder.name}.old"
    try:
        pipe.save_pretrained(tmp)
        if old.exists():
            shutil.rmtree(old)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.replace(old, folder)
        raise
    return folder


def _atomic_json(path: Path, obj) -> None:
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


def _append_loss(run: Path, step: int, loss: float, lr: float) -> None:
    path = run / "loss.csv"
    new = not path.is_file()
    with path.open("a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["step", "loss", "lr"])
        w.writerow([step, repr(loss), repr(lr)])


def _read_losses(run: Path, upto: int) -> list[float]:
    """The logged losses of steps 1..upto; the CSV is cut back to them (a crash after the
    last checkpoint logged steps that the resumed run will do again)."""
    path = run / "loss.csv"
    rows = []
    if path.is_file():
        with path.open(newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= upto]
    with atomic_path(path, suffix=".csv") as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "loss", "lr"])
        for r in rows:
            w.writerow([r["step"], r["loss"], r["lr"]])
    return [float(r["loss"]) for r in rows]


def _write_curve(run: Path, losses: list[float]) -> None:
    from core.training.plots import loss_curve

    if losses:
        with atomic_path(run / "loss.png", suffix=".png") as tmp:
            loss_curve(losses).save(tmp)


# ---------------------------------------------------------------- validation
def validate(pipe, data, out: Path, cfg: TrainConfig) -> Path:
    """Render the first `val_frames` frames of the first clip through the pipeline (the
    engine's own path) and save ground truth over render as one PNG."""
    import torch

    from core.training.plots import contact_sheet
    from core.training.rigs import clip_inputs

    clip = data.clips[0]
    n = min(cfg.val_frames, clip.frames)
    rig, feats, motion = clip_inputs(clip)
    try:
        ref = pipe.encode_reference(rig, data.size, face_embedding=clip.tensors["embedding"])
        frames = list(pipe.stream(rig, feats, motion, num_inference_steps=cfg.val_steps,
                                  guidance_scale=1.0, size=data.size, frames=range(0, n),
                                  window=max(2, min(8, clip.frames)), overlap=1, seed=cfg.seed,
                                  reference=ref))
    finally:
        torch.set_grad_enabled(True)
    truth = [clip.image(i) for i in range(n)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".png") as tmp:
        contact_sheet([truth, frames]).save(tmp)
    return out


def fixed_loss(pipe, data, cfg: TrainConfig, batches: int = 8, device="cpu") -> float:
    """The mean loss over `batches` fixed batches (own seeds, no condition dropout, no
    gradient): a noise-free measure of what a run learned, unlike the per-step loss whose
    timesteps and noise change every step."""
    import torch

    from core.training import model as M

    latent = data.size // pipe.vae_scale_factor
    frames = min(cfg.frames, min(c.frames for c in data.clips))
    text = cfg.stage == 1 and data.has_captions and pipe.text_adapter is not None
    if any(c.latents_vae for c in data.clips):
        from core.training.data import vae_fingerprint

        data.use_latents(vae_fingerprint(pipe.vae))
    total = 0.0
    with torch.no_grad():
        for i in range(batches):
            if cfg.stage == 1:
                batch = data.pairs(cfg.batch, 777_000 + cfg.seed, i, 0, latent)
            else:
                batch = data.clips_of(cfg.batch, frames, 777_000 + cfg.seed, i, 0, latent,
                                      lambda ci: M.audio_states_for(pipe, data.clips[ci]))
            gen = torch.Generator().manual_seed(4242 + i)
            total += float(M.diffusion_loss(pipe, batch, cfg.stage, gen, device, text,
                                            *cfg.loss_weights(), 0.0))
    return total / batches
