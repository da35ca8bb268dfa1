"""`bench diffusion`: the diffusion engine's step time, ReferenceNet caching, memory.

- seconds per denoising step of the tiny random model on the CPU (one thread, 16 frames,
  one window, classifier-free guidance on), with the ReferenceNet bank cached (computed
  once per portrait, the engine's way) and recomputed at every denoiser call (what a
  pipeline without the cache pays); the ratio is the saving;
- peak memory of rendering 64 vs 256 frames (each in a fresh process: resident-set peak of
  the render alone, measured by resetting the kernel's peak counter after warm-up, plus the
  whole process's peak), which shows that memory does not grow with the clip length;
- the same step timings for an SD1.5-sized model (random weights, 512 px, fp16) when a CUDA
  GPU is present, else a `skipped` entry saying why.

Timings come from the pipeline's own step callback, so they exclude VAE decoding; on the
CPU they are this thread's CPU seconds (the machine is shared, wall time is not steady).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _clock(pipe):
    """CPU: this thread's CPU time (steady on a shared, loaded machine; the bench runs
    single-threaded). GPU: wall time after a device synchronisation."""
    import torch

    if pipe.device.type == "cuda":
        def gpu_clock() -> float:
            torch.cuda.synchronize()
            return time.perf_counter()

        return gpu_clock
    return time.thread_time


def _step_times(pipe, inputs, size: int, steps: int, cache: bool, window: int = 16) -> list:
    """Seconds of each denoising step (spacing of the step callbacks) of one 16-frame
    window with classifier-free guidance; the reference state is precomputed, and with
    `cache=False` the bank is recomputed at every denoiser call. The first step (it also
    carries the call's set-up) is dropped."""
    import numpy as np

    rig, feats, motion = inputs
    ref = pipe.encode_reference(rig, size)
    stamps: list[float] = []
    clock = _clock(pipe)

    def cb(p, i, t, kw):
        stamps.append(clock())
        return {}

    for _ in pipe.stream(rig, feats, motion, num_inference_steps=steps, size=size, window=window,
                         overlap=4, seed=0, reference=ref, cache_reference=cache,
                         callback_on_step_end=cb, frames=range(0, 1), context=window):
        pass
    return list(np.diff(stamps))


def _cache_comparison(pipe, inputs, size: int, steps: int, rounds: int) -> dict:
    """Alternate cached / uncached runs `rounds` times; the minimum step time of each is
    the least disturbed by other load on the machine (the median is reported too)."""
    import numpy as np

    on: list[float] = []
    off: list[float] = []
    for _ in range(rounds):
        on += _step_times(pipe, inputs, size, steps, cache=True)
        off += _step_times(pipe, inputs, size, steps, cache=False)
    rig = inputs[0]
    ref = pipe.encode_reference(rig, size)
    bank = []
    clock = _clock(pipe)
    for _ in range(rounds * 2):
        t = clock()
        pipe.recompute_bank(ref)
        bank.append(clock() - t)
    return {
        "s_per_step_ref_cached": round(min(on), 4),
        "s_per_step_ref_uncached": round(min(off), 4),
        "s_per_step_ref_cached_median": round(float(np.median(on)), 4),
        "s_per_step_ref_uncached_median": round(float(np.median(off)), 4),
        "uncached_over_cached": round(min(off) / min(on), 3),
        "reference_net_s": round(min(bank), 4),
    }


def memory_probe(n_frames: int, size: int = 128, steps: int = 1) -> dict:
    """Render `n_frames` with the tiny model in THIS process and return memory numbers.
    Meant to run in a fresh subprocess (see `_probe`)."""
    import hashlib

    import torch

    from core.diffusion.tiny import synthetic_inputs, tiny_pipeline

    torch.set_num_threads(1)
    pipe = tiny_pipeline()
    rig, feats, motion = synthetic_inputs(n_frames, size=192)
    kw = dict(num_inference_steps=steps, size=size, window=16, overlap=4, guidance_scale=1.0)
    ref = pipe.encode_reference(rig, size)
    for _ in pipe.stream(rig, feats, motion.slice(0, 16), reference=ref, **kw):
        pass  # warm-up: allocator pools, kernels, one window
    base = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter (Linux)
    digest = hashlib.sha1()
    t = time.perf_counter()
    count = 0
    for frame in pipe.stream(rig, feats, motion, reference=ref, **kw):
        digest.update(frame.tobytes())  # consume frames the way an encoder does
        count += 1
    elapsed = time.perf_counter() - t
    peak = _status_kb("VmHWM")
    import resource

    return {
        "frames": count,
        "render_peak_mb": round(peak / 1024, 1),
        "render_increment_mb": round((peak - base) / 1024, 1),
        "process_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(elapsed, 2),
    }


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _probe(n_frames: int, size: int = 128, steps: int = 1, timeout: float = 600) -> dict:
    """`memory_probe` in a fresh Python process (so earlier allocations do not count)."""
    code = (
        "import json,sys; from studio.bench.diffusion import memory_probe; "
        f"print(json.dumps(memory_probe({int(n_frames)}, {int(size)}, {int(steps)})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory probe failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _gpu_sd15(quick: bool) -> dict:
    """Step times of an SD1.5-sized model with random weights on the GPU (fp16, 512 px)."""
    import torch
    from diffusers import AutoencoderKL

    from core.diffusion.models import AnimateNet, AudioProj, FaceLocator, ImageProj, ReferenceNet
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.diffusion.scheduler import make_scheduler
    from core.diffusion.tiny import synthetic_inputs

    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    with torch.device("cuda"):  # built on the GPU: ~2.5 B parameters, no CPU copy
        vae = AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
            sample_size=512,
        )
        parts = dict(reference_net=ReferenceNet(), animate_net=AnimateNet(),
                     face_locator=FaceLocator(), image_proj=ImageProj(), audio_proj=AudioProj())
    pipe = MagicTalkPipeline(vae=vae, scheduler=make_scheduler(), **parts).to("cuda", dtype)
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    pipe.set_progress_bar_config(disable=True)
    inputs = synthetic_inputs(16, size=512)
    out = {"device": torch.cuda.get_device_name(0), "dtype": str(dtype).replace("torch.", "")}
    torch.cuda.reset_peak_memory_stats()
    _step_times(pipe, inputs, 512, 2, cache=True)  # warm-up (kernels, allocator)
    torch.cuda.synchronize()
    out.update(_cache_comparison(pipe, inputs, 512, 4 if quick else 6, 2))
    out["gpu_peak_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return out


def run(quick: bool = False) -> dict:
    import torch

    from core.diffusion.tiny import TINY_SIZE, synthetic_inputs, tiny_pipeline

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    result: dict = {}
    try:
        pipe = tiny_pipeline()
        inputs = synthetic_inputs(16)
        pipe.encode_reference(inputs[0], TINY_SIZE)  # loads dlib's model once
        cmp = _cache_comparison(pipe, inputs, TINY_SIZE, 4 if quick else 6, 2 if quick else 3)
        for k, v in cmp.items():
            result[f"tiny_cpu_{k}"] = v
    finally:
        torch.set_num_threads(before)
    size = 128
    for n in (64, 256):
        probe = _probe(n, size=size)
        result[f"tiny_{size}px_{n}f_render_peak_mb"] = probe["render_peak_mb"]
        result[f"tiny_{size}px_{n}f_render_increment_mb"] = probe["render_increment_mb"]
        result[f"tiny_{size}px_{n}f_seconds"] = probe["seconds"]
    a = result[f"tiny_{size}px_64f_render_peak_mb"]
    b = result[f"tiny_{size}px_256f_render_peak_mb"]
    result["peak_256f_over_64f"] = round(b / a, 3)
    if torch.cuda.is_available():
        try:
            for k, v in _gpu_sd15(quick).items():
                result[f"sd15_gpu_{k}"] = v
        except torch.cuda.OutOfMemoryError as exc:
            result["sd15_gpu"] = f"failed: out of GPU memory ({exc})"
    else:
        result["sd15_gpu"] = "skipped: no CUDA GPU on this machine"
    return result
