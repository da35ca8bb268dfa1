"""DDIM sampling for the diffusion engine: the schedule, classifier-free guidance, one step.

Why DDIM with these settings: Hallo (whose checkpoint layout the engine loads) is trained
with v-prediction on a zero-terminal-SNR schedule and sampled with DDIM, eta 0,
"trailing" timestep spacing. Those are the defaults here (`HALLO_SCHEDULER`); an
epsilon-prediction model (e.g. a plain SD1.5 UNet) just sets `prediction_type="epsilon"`.

Why a step of our own beside `DDIMScheduler.step`: progressive latent fusion keeps the
latents of a whole clip on the CPU and only one window on the device, and the step is
elementwise given (alpha_bar_t, alpha_bar_prev), so it can be applied in place, chunk by
chunk, without allocating whole-clip temporaries. It is checked against diffusers'
`DDIMScheduler.step` (and against Hallo's recorded step in the hallo_tiny fixture) in the
tests.
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler

from core.diffusion.layout import HALLO_SCHEDULER


def make_scheduler(
    prediction_type: str = "v_prediction", zero_snr: bool = True, **overrides
) -> DDIMScheduler:
    """A DDIMScheduler with Hallo's schedule; `prediction_type` "epsilon" or "v_prediction",
    `zero_snr` rescales the betas to zero terminal SNR (needs trailing spacing to be useful)."""
    if prediction_type not in ("epsilon", "v_prediction"):
        raise ValueError(f"prediction_type must be 'epsilon' or 'v_prediction', got {prediction_type!r}")
    cfg = dict(HALLO_SCHEDULER)
    cfg.update(prediction_type=prediction_type, rescale_betas_zero_snr=bool(zero_snr))
    cfg.update(overrides)
    return DDIMScheduler(**cfg)


def guide(pred_uncond: torch.Tensor, pred_cond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: uncond + scale · (cond − uncond). scale 1 = cond alone."""
    if scale == 1.0:
        return pred_cond
    return pred_uncond + scale * (pred_cond - pred_uncond)


def alphas_for(scheduler: DDIMScheduler, t: int) -> tuple[float, float]:
    """(alpha_bar_t, alpha_bar_prev) of DDIM's step from timestep t, exactly as
    `DDIMScheduler.step` picks them (prev = t − T/steps, final_alpha_cumprod below 0)."""
    n = scheduler.config.num_train_timesteps
    prev_t = int(t) - n // scheduler.num_inference_steps
    a_t = float(scheduler.alphas_cumprod[int(t)])
    a_prev = float(scheduler.alphas_cumprod[prev_t]) if prev_t >= 0 else float(
        scheduler.final_alpha_cumprod
    )
    return a_t, a_prev


def ddim_step_(
    scheduler: DDIMScheduler, model_output: torch.Tensor, t: int, sample: torch.Tensor
) -> torch.Tensor:
    """DDIM (eta 0) step x_t → x_prev written into `sample` in place; returns `sample`.

    Works on any slice of the clip (the step is elementwise), in float32 arithmetic.
    """
    a_t, a_prev = alphas_for(scheduler, t)
    pt = scheduler.config.prediction_type
    x = sample.float()
    out = model_output.to(x.device, torch.float32)
    sa, sb = a_t**0.5, (1.0 - a_t) ** 0.5
    if pt == "v_prediction":
        x0 = sa * x - sb * out
        eps = sa * out + sb * x
    elif pt == "epsilon":
        x0 = (x - sb * out) / sa
        eps = out
    else:  # pragma: no cover - guarded in make_scheduler
        raise ValueError(f"unsupported prediction_type {pt!r}")
    if scheduler.config.clip_sample:
        r = scheduler.config.clip_sample_range
        x0 = x0.clamp(-r, r)
    x_prev = a_prev**0.5 * x0 + (1.0 - a_prev) ** 0.5 * eps
    sample.copy_(x_prev.to(sample.dtype))
    return sample
