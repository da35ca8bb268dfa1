"""`bench train`: training speed, peak memory and a learning check of both stages.

Tiny configuration on the CPU: one talking clip rendered by the CPU engine from the shared
samples is prepared at 64 px (`data prepare`), then each stage runs in its own child process
(so its peak RSS is its own) for 200 optimizer steps (50 with --quick) on that clip:
steps per second, peak memory, and the loss on fixed batches before and after (the
learning check: it must at least halve). The SD1.5-size row runs only with CUDA (a few
bf16 steps of the full-size modules with random weights); without it it says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from studio.bench.common import ROOT, sample, tmpdir

STAGES = {1: {"lr": 1e-3, "batch": 2}, 2: {"lr": 3e-3, "batch": 1}}


def _child(stage: int, data: str, out: str, steps: int) -> dict:
    """Runs in a child process: one stage on the dataset's first clip; prints JSON."""
    import torch

    from core.diffusion.pipeline import MagicTalkPipeline
    from core.training import model as M
    from core.training.dataset import TrainData
    from core.training.loop import TrainConfig, fixed_loss, train
    from studio.bench.common import one_thread, self_peak_rss_mb

    one_thread()
    clip = json.loads((Path(data) / "manifest.json").read_text())["clips"][0]["id"]
    cfg = TrainConfig(stage=stage, data=data, out=out, steps=steps, save_every=0, drop=0.0,
                      frames=2, seed=0, clips=[clip], **STAGES[stage])
    dataset = TrainData(data, [clip])
    before = fixed_loss(M.load_init([], seed=0), dataset, cfg)
    t0 = time.perf_counter()
    result = train(cfg)
    seconds = time.perf_counter() - t0
    after = fixed_loss(MagicTalkPipeline.from_pretrained(result.weights), dataset, cfg)
    return {
        "steps": steps,
        "steps_per_s": round(steps / seconds, 3),
        "peak_rss_mb": round(self_peak_rss_mb(), 1),
        "fixed_loss_before": round(before, 4),
        "fixed_loss_after": round(after, 4),
        "loss_ratio": round(after / before, 3),
        "halved": bool(after < 0.5 * before),
        "threads": torch.get_num_threads(),
    }


def _dataset(folder: Path) -> Path:
    portrait = sample("portraits", "hallo_1.jpg")
    audio = sample("audio", "asterisk_all-circuits-busy-now.wav")
    if portrait is None or audio is None:
        raise RuntimeError("the shared samples (hallo_1.jpg, asterisk audio) are missing")
    videos = folder / "videos"
    videos.mkdir()
    main = [sys.executable, str(ROOT / "main.py")]
    subprocess.run([*main, "render", "--portrait", str(portrait), "--audio", str(audio),
                    "--size", "256", "--out", str(videos / "talk.mp4"), "--quiet"],
                   check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*main, "data", "prepare", str(videos), str(folder / "ds"), "--size", "64",
                    "--quiet"], check=True, capture_output=True, cwd=ROOT)
    return folder / "ds"


def _sd15_gpu(quick: bool) -> dict:
    """A few stage-1 and stage-2 steps of the SD1.5-size modules (random weights) at 512 px
    in bf16 autocast on the GPU: steps/s and peak allocated memory."""
    from diffusers import AutoencoderKL

    from core.diffusion.models import AnimateNet, AudioProj, FaceLocator, ImageProj, ReferenceNet
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.diffusion.scheduler import make_scheduler

    pipe = MagicTalkPipeline(
        vae=AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4,
                          up_block_types=("UpDecoderBlock2D",) * 4,
                          block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                          latent_channels=4),
        reference_net=ReferenceNet(), animate_net=AnimateNet(), face_locator=FaceLocator(),
        image_proj=ImageProj(), audio_proj=AudioProj(), scheduler=make_scheduler())
    return step_rows(pipe, "cuda", 512, 8 if quick else 16, 3 if quick else 6)


def step_rows(pipe, device: str, size: int, frames: int, steps: int) -> dict:
    """Steps/s and peak memory of both stages for `pipe` on `device` with random inputs
    (bf16 autocast; on CUDA the peak is torch's allocator peak, on a CPU the process RSS).
    The GPU row of the bench; the tests run it with the tiny model on the CPU."""
    import numpy as np
    import torch

    from core.training import model as M
    from studio.bench.common import self_peak_rss_mb

    cuda = device.startswith("cuda")
    pipe.to(device)
    out: dict = {}
    rng = np.random.default_rng(0)
    lat = size // pipe.vae_scale_factor
    cfg = pipe.audio_proj.config
    for stage, f in ((1, 1), (2, frames)):
        params = [p for _, ps in M.trainable_parameters(pipe, stage, False).items()
                  for _, p in ps]
        opt = torch.optim.AdamW(params, lr=1e-5)
        b = 2 if stage == 1 else 1
        batch = {
            "ref": rng.integers(0, 255, (b, size, size, 3), dtype=np.uint8),
            "target": rng.integers(0, 255, (b, f, size, size, 3), dtype=np.uint8),
            "guide": rng.integers(0, 255, (b, f, size, size, 3), dtype=np.uint8),
            "face": rng.random((b, f, lat, lat), dtype=np.float32),
            "lip": rng.random((b, f, lat, lat), dtype=np.float32),
            "embedding": rng.standard_normal((b, 512), dtype=np.float32),
            "audio": rng.standard_normal((b, f, cfg.seq_len, cfg.blocks, cfg.channels),
                                         dtype=np.float32),
            "prompt": [""] * b, "clip": [0] * b,
        }
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = 0.0
        for i in range(steps + 1):  # the first step warms up (allocations, kernels)
            if i == 1:
                if cuda:
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            with torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16):
                loss = M.diffusion_loss(pipe, batch, stage, torch.Generator().manual_seed(i),
                                        device, False, 1.0, 2.0)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        out[f"stage{stage}_steps_per_s"] = round(steps / (time.perf_counter() - t0), 3)
        out[f"stage{stage}_peak_mb"] = round(
            torch.cuda.max_memory_allocated() / 2**20 if cuda else self_peak_rss_mb(), 1)
        del opt
    return out


def run(quick: bool = False) -> dict:
    import torch

    steps = 50 if quick else 200
    result: dict = {}
    with tmpdir() as tmp:
        data = _dataset(Path(tmp))
        for stage in (1, 2):
            r = subprocess.run(
                [sys.executable, "-m", "studio.bench.train_bench", str(stage), str(data),
                 str(Path(tmp) / f"run{stage}"), str(steps)],
                capture_output=True, text=True, cwd=ROOT)
            if r.returncode != 0:
                result[f"tiny_64px_stage{stage}"] = {"error": r.stderr.strip()[-300:]}
                continue
            result[f"tiny_64px_stage{stage}"] = json.loads(r.stdout.strip().splitlines()[-1])
    if torch.cuda.is_available():
        try:
            result["sd15_512px_gpu_bf16"] = _sd15_gpu(quick)
        except torch.cuda.OutOfMemoryError as exc:
            result["sd15_512px_gpu_bf16"] = f"out of GPU memory ({str(exc)[:80]})"
    else:
        result["sd15_512px_gpu_bf16"] = "not measured: no GPU"
    return result


if __name__ == "__main__":
    stage_, data_, out_, steps_ = sys.argv[1:5]
    print(json.dumps(_child(int(stage_), data_, out_, int(steps_))))
