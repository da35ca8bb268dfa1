"""The VAE stage (`train --stage vae`) at tiny scale on CPU: it lowers the reconstruction
error, resumes bit for bit, stage 1 started from it keeps its VAE bit-identical (frozen),
and its weights folder loads with from_pretrained and renders through the diffusion
engine. The full recipe on the astronaut (small configuration, ~1 h) is `bench learn`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.training.loop import TrainConfig, train
from tests.diffusion._tiny import main_cli as _cli
from tests.diffusion._tiny import one_thread


@pytest.fixture(scope="module", autouse=True)
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, samples) -> Path:
    """One talking clip (the CPU engine on a shared portrait and speech), prepared at 64 px."""
    videos = tmp_path_factory.mktemp("videos")
    r = _cli("render", "--portrait", str(samples / "portraits" / "hallo_1.jpg"), "--audio",
             str(samples / "audio" / "asterisk_hello-world.wav"), "--size", "256", "--out",
             str(videos / "talk.mp4"), "--quiet")
    assert r.returncode == 0, r.stderr
    out = tmp_path_factory.mktemp("data") / "ds"
    r = _cli("data", "prepare", str(videos), str(out), "--size", "64", "--quiet")
    assert r.returncode == 0, r.stderr
    return out


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(stage=0, data=str(data), out=str(out), steps=4, batch=2, lr=2e-3, seed=3,
                save_every=2)
    base.update(kw)
    return TrainConfig(**base)


def _vae_tensors(weights: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(weights / "vae" / "diffusion_pytorch_model.safetensors"))


def test_vae_stage_halves_the_reconstruction_error(dataset, tmp_path):
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.training import model as M
    from core.training.dataset import TrainData
    from core.training.vae_stage import fixed_vae_loss

    cfg = _cfg(dataset, tmp_path / "run", steps=40, save_every=0, val_every=40)
    data = TrainData(dataset)
    before = fixed_vae_loss(M.load_init([], seed=cfg.seed).vae, data, cfg)
    result = train(cfg)
    after = fixed_vae_loss(MagicTalkPipeline.from_pretrained(result.weights).vae, data, cfg)
    assert after < 0.5 * before, (before, after)
    assert (tmp_path / "run" / "val" / "step-0000040.png").is_file()
    assert (tmp_path / "run" / "loss.png").is_file()
    rows = (tmp_path / "run" / "loss.csv").read_text().splitlines()
    assert len(rows) == 41


def test_vae_stage_resumes_bit_for_bit(dataset, tmp_path):
    straight = train(_cfg(dataset, tmp_path / "a", save_every=0))
    first = train(_cfg(dataset, tmp_path / "b"), stop_after=3)  # "crashes" after step 3
    assert first.step == 3  # the last checkpoint is step 2: step 3 is redone
    resumed = train(_cfg(dataset, tmp_path / "b"), resume=True)
    assert resumed.step == 4 and resumed.losses == straight.losses
    w1, w2 = _vae_tensors(tmp_path / "a" / "weights"), _vae_tensors(tmp_path / "b" / "weights")
    assert w1.keys() == w2.keys() and all(np.array_equal(w1[k], w2[k]) for k in w1)


def test_stage1_from_a_vae_run_keeps_its_vae_and_renders(dataset, tmp_path):
    """Stage 1 `--init RUN_vae` starts from the trained VAE (not the configuration's random
    one), never changes it, and keeps its latent scale; the result renders through the
    diffusion engine."""
    import json

    from core import engines
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.diffusion.tiny import TINY_SIZE, synthetic_inputs, tiny_pipeline
    from core.types import RenderRequest

    vae_run = tmp_path / "vae"
    train(_cfg(dataset, vae_run, steps=3, save_every=0))
    trained = _vae_tensors(vae_run / "weights")
    random = {k: v.detach().numpy() for k, v in tiny_pipeline(seed=3).vae.state_dict().items()}
    assert any(not np.array_equal(trained[k], random[k]) for k in trained)
    scale = json.loads((vae_run / "weights" / "vae" / "config.json").read_text())
    assert scale["scaling_factor"] != pytest.approx(0.18215)  # calibrated on the frames

    s1 = tmp_path / "s1"
    train(_cfg(dataset, s1, stage=1, steps=2, init=[str(vae_run)], save_every=0))
    kept = _vae_tensors(s1 / "weights")
    assert kept.keys() == trained.keys()
    assert all(np.array_equal(kept[k], trained[k]) for k in kept)
    cfg1 = json.loads((s1 / "weights" / "vae" / "config.json").read_text())
    assert cfg1["scaling_factor"] == scale["scaling_factor"]

    pipe = MagicTalkPipeline.from_pretrained(s1 / "weights")
    assert pipe.vae.config.scaling_factor == scale["scaling_factor"]
    rig, feats, motion = synthetic_inputs(4, seed=1)
    eng = engines.create("diffusion", weights=str(vae_run / "weights"), steps=2, window=4,
                         overlap=1)
    frames = list(eng.render(RenderRequest(rig=rig, features=feats, motion=motion,
                                           size=TINY_SIZE, seed=1)))
    assert len(frames) == 4 and frames[0].shape == (TINY_SIZE, TINY_SIZE, 3)


def test_cli_stage_vae_and_bad_settings(dataset, tmp_path):
    r = _cli("train", "--stage", "vae", "--data", str(dataset), "--out", str(tmp_path / "v"),
             "--steps", "1", "--batch", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v" / "weights" / "model_index.json").is_file()
    assert (tmp_path / "v" / "checkpoints" / "step-0000001").is_dir()
    r = _cli("train", "--stage", "vae", "--data", str(dataset), "--out", str(tmp_path / "v"),
             "--steps", "1", "--quiet")
    assert r.returncode == 2 and "already holds a run" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli("train", "--stage", "3", "--data", str(dataset), "--out", str(tmp_path / "w"))
    assert r.returncode == 2 and "--stage" in r.stderr
    r = _cli("train", "--stage", "0", "--data", str(dataset), "--out", str(tmp_path / "w"),
             "--config", "huge")
    assert r.returncode == 2 and "--config" in r.stderr


def test_small_configuration_is_the_size_it_claims(tmp_path):
    """The small configuration down-samples 4x (128 px -> 32x32 latents, so a mouth spans
    several latent cells), its guider lands on the same grid, its UNet runs there, and all
    of it survives save_pretrained / from_pretrained (what `--init RUN` and render load)."""
    import torch

    from core.diffusion.pipeline import MagicTalkPipeline
    from core.diffusion.tiny import SMALL_SIZE, tiny_pipeline

    pipe = tiny_pipeline(config="small", with_text=False)
    assert pipe.vae_scale_factor == 4
    side = SMALL_SIZE // 4
    with torch.no_grad():
        z = pipe.vae.encode(torch.zeros(1, 3, SMALL_SIZE, SMALL_SIZE)).latent_dist.mean
        assert tuple(z.shape) == (1, 4, side, side)
        assert pipe.vae.decode(z).sample.shape[-1] == SMALL_SIZE
        g = pipe.face_locator(torch.zeros(1, 3, SMALL_SIZE, SMALL_SIZE))
    assert tuple(g.shape[-2:]) == (side, side)
    pipe.save_pretrained(tmp_path / "w")
    back = MagicTalkPipeline.from_pretrained(tmp_path / "w")
    assert back.vae_scale_factor == 4
    x = torch.rand(1, 3, SMALL_SIZE, SMALL_SIZE) * 2 - 1
    with torch.no_grad():
        a = pipe.vae.decode(pipe.vae.encode(x).latent_dist.mean).sample
        b = back.vae.decode(back.vae.encode(x).latent_dist.mean).sample
        assert torch.equal(a, b)
        assert tuple(back.face_locator(torch.zeros(1, 3, SMALL_SIZE, SMALL_SIZE)).shape[-2:]) \
            == (side, side)
    with pytest.raises(ValueError, match="unknown configuration"):
        tiny_pipeline(config="huge")


def test_bench_learn_mouth_correlation_drops_missing_frames():
    """The render-vs-training mouth correlation skips frames without a face (None) and
    says None rather than a number when one series never moves."""
    import numpy as np

    from studio.bench.train_proof import _series_r

    t = np.sin(np.linspace(0, 12, 60))
    a = [None if i % 7 == 0 else float(v) for i, v in enumerate(t)]
    b = [float(2 * v + 1) for v in t] + [5.0]  # one frame longer: cut to the shorter
    assert _series_r(a, b) == 1.0
    assert _series_r(a, [float(-v) for v in t]) == -1.0
    assert _series_r(a, [0.3] * 60) is None
    assert _series_r([None] * 60, b) is None
