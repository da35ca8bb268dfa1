"""The engine's DDIM step equals diffusers' and reproduces Hallo's recorded step."""

from __future__ import annotations

import pytest
import torch

from core.diffusion.scheduler import ddim_step_, guide, make_scheduler


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("zero_snr", [True, False])
def test_in_place_step_matches_diffusers(prediction_type, zero_snr):
    sched = make_scheduler(prediction_type, zero_snr)
    sched.set_timesteps(20)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 6, 8, 8, generator=g)
    for t in sched.timesteps[:: 7].tolist() + [int(sched.timesteps[-1])]:
        out = torch.randn(1, 4, 6, 8, 8, generator=g)
        ref = sched.step(out, t, x.clone(), eta=0.0).prev_sample
        mine = x.clone()
        # applied in two chunks of frames, as fusion does on the CPU clip tensor
        ddim_step_(sched, out[:, :, :3], t, mine[:, :, :3])
        ddim_step_(sched, out[:, :, 3:], t, mine[:, :, 3:])
        torch.testing.assert_close(mine, ref, rtol=1e-5, atol=1e-5)


def test_bad_prediction_type_is_refused():
    with pytest.raises(ValueError):
        make_scheduler("sample")


def test_guidance_formula():
    u, c = torch.tensor([1.0]), torch.tensor([3.0])
    assert guide(u, c, 3.5).item() == pytest.approx(1 + 3.5 * 2)
    assert guide(u, c, 1.0) is c


def test_reproduces_hallo_step(fixtures_dir):
    """hallo_tiny/case.safetensors holds one real Hallo DDIM step (40 steps, index 20)."""
    from safetensors.torch import load_file

    case = load_file(str(fixtures_dir / "hallo_tiny" / "case.safetensors"))
    sched = make_scheduler()  # Hallo's configuration is the default
    sched.set_timesteps(40)
    t = int(case["in.timestep"][0])
    assert t == int(sched.timesteps[20]) == 499
    guided = guide(case["out.noise_pred_uncond"], case["out.noise_pred_cond"], 3.5)
    torch.testing.assert_close(guided, case["out.noise_pred_guided"], rtol=1e-5, atol=1e-5)
    x = case["in.latents"].clone()
    ddim_step_(sched, guided, t, x)
    torch.testing.assert_close(x, case["out.latents_prev"], rtol=1e-5, atol=1e-5)
