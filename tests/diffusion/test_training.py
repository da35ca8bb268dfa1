"""Training the diffusion engine at tiny scale on CPU: `data prepare` on talking videos the
CPU engine renders from the shared samples (plus unusable ones), both stages, exact resume,
text-edit training, and the result loading with `from_pretrained` and rendering through
the engine. The 200-step learning check lives in `python main.py bench train`; the test
here runs a 40-step version (marked slow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import InputError
from core.training.loop import TrainConfig, fixed_loss, train
from tests.diffusion._tiny import main_cli as _cli
from tests.diffusion._tiny import one_thread

CLIPS = {"talk_a.mp4": ("hallo_1.jpg", "asterisk_hello-world.wav"),
         "talk_b.mp4": ("hallo_2.jpg", "asterisk_all-circuits-busy-now.wav")}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def videos(tmp_path_factory, samples) -> Path:
    """Two talking clips rendered by the CPU engine, one without a face, one without audio,
    one with a scene cut (two clips back to back)."""
    from core.audio import load
    from core.video import read_frames, write_mp4

    folder = tmp_path_factory.mktemp("videos")
    for name, (portrait, audio) in CLIPS.items():
        r = _cli("render", "--portrait", str(samples / "portraits" / portrait),
                 "--audio", str(samples / "audio" / audio), "--size", "256",
                 "--out", str(folder / name), "--quiet")
        assert r.returncode == 0, r.stderr
    a = list(read_frames(folder / "talk_a.mp4"))
    b = list(read_frames(folder / "talk_b.mp4"))
    wave = load(folder / "talk_a.mp4")
    write_mp4(a, 25.0, folder / "silent.mp4")  # a face but no audio stream
    ramp = np.linspace(0, 255, 256, dtype=np.uint8)
    blank = [np.dstack([np.tile(ramp, (256, 1))] * 3) for _ in range(30)]
    write_mp4(blank, 25.0, folder / "noface.mp4", audio=wave)
    write_mp4(a[:20] + b[:20], 25.0, folder / "cut.mp4", audio=wave)
    (folder / "captions.json").write_text(json.dumps({"talk_a.mp4": "wearing glasses"}))
    return folder


@pytest.fixture(scope="module")
def dataset(videos, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "ds"
    r = _cli("data", "prepare", str(videos), str(out), "--size", "64", "--quiet",
             "--captions", str(videos / "captions.json"))
    assert r.returncode == 0, r.stderr
    assert "2 clip(s) prepared" in r.stdout and "3 skipped" in r.stdout
    return out


def test_prepare_writes_clips_and_reports_unusable_videos(dataset):
    from safetensors.numpy import load_file

    manifest = json.loads((dataset / "manifest.json").read_text())
    assert sorted(c["source"] for c in manifest["clips"]) == sorted(CLIPS)
    reasons = {s["source"]: s["reason"] for s in manifest["skipped"]}
    assert reasons["silent.mp4"] == "no audio stream"
    assert reasons["noface.mp4"] == "no face"
    assert reasons["cut.mp4"].startswith("scene cut at frame 20")
    for clip in manifest["clips"]:
        folder = dataset / "clips" / clip["id"]
        n = clip["frames"]
        assert 30 <= n <= 50  # 1.4 s and 1.8 s at 25 fps
        feats = load_file(str(folder / "features.safetensors"))
        masks = load_file(str(folder / "masks.safetensors"))
        assert feats["landmarks"].shape == (n, 68, 2) and feats["mel"].shape == (n, 80)
        assert feats["embedding"].shape == (512,) and np.abs(feats["embedding"]).sum() > 0
        lm = feats["landmarks"]
        assert (lm > 0).all() and (lm < 64).all()  # the face lies inside the crop
        # the lip mask sits inside the face mask, around the mouth landmarks
        face, lip = masks["face"][0] > 0, masks["lip"][0] > 0
        assert lip.sum() > 0 and (lip & face).sum() > 0.5 * lip.sum()
        my, mx = lm[0, 48:60].mean(0)[::-1].round().astype(int)
        assert lip[my, mx]
        assert len(list((folder / "guides").glob("*.png"))) == n
    pairs = json.loads((dataset / "captions.json").read_text())
    assert [p["prompt"] for p in pairs] == ["wearing glasses"]


def test_prepare_resumes_and_redoes_partial_clips(videos, dataset, tmp_path):
    """A complete clip is kept as it is; a clip without its completion marker and a stray
    partial folder are redone/removed."""
    ds = tmp_path / "ds"
    shutil.copytree(dataset, ds)
    clips = sorted(p for p in (ds / "clips").iterdir())
    keep = (clips[0] / "features.safetensors").stat().st_mtime_ns
    (clips[1] / "clip.json").unlink()
    (ds / "clips" / ".partial-junk").mkdir()
    for bad in ("silent.mp4", "noface.mp4", "cut.mp4"):
        shutil.move(videos / bad, tmp_path / bad)  # only the two talking clips this time
    try:
        r = _cli("data", "prepare", str(videos), str(ds), "--size", "64", "--quiet")
    finally:
        for bad in ("silent.mp4", "noface.mp4", "cut.mp4"):
            shutil.move(tmp_path / bad, videos / bad)
    assert r.returncode == 0, r.stderr
    assert "1 clip(s) prepared, 1 already complete, 0 skipped" in r.stdout
    assert (clips[0] / "features.safetensors").stat().st_mtime_ns == keep
    assert (clips[1] / "clip.json").is_file()
    assert not (ds / "clips" / ".partial-junk").exists()


def test_prepare_refuses_a_folder_without_videos(tmp_path):
    r = _cli("data", "prepare", str(tmp_path), str(tmp_path / "out"), "--quiet")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "holds no videos" in r.stderr


def _cfg(dataset: Path, out: Path, **kw) -> TrainConfig:
    base = dict(stage=1, data=str(dataset), out=str(out), steps=4, batch=2, lr=1e-4,
                save_every=2, seed=3, frames=2)
    base.update(kw)
    return TrainConfig(**base)


def test_resume_continues_with_the_same_losses_bit_for_bit(dataset, tmp_path):
    straight = train(_cfg(dataset, tmp_path / "a", save_every=0))  # saves at the end only
    first = train(_cfg(dataset, tmp_path / "b"), stop_after=2)  # "crashes" after step 2
    assert first.step == 2
    resumed = train(_cfg(dataset, tmp_path / "b"), resume=True)
    assert resumed.step == 4
    assert resumed.losses == straight.losses  # exact floats: same data, noise, weights
    rows = (tmp_path / "b" / "loss.csv").read_text().splitlines()
    assert len(rows) == 5 and (tmp_path / "b" / "loss.png").is_file()
    from safetensors.numpy import load_file

    w1 = load_file(str(tmp_path / "a" / "weights" / "reference_net" /
                       "diffusion_pytorch_model.safetensors"))
    w2 = load_file(str(tmp_path / "b" / "weights" / "reference_net" /
                       "diffusion_pytorch_model.safetensors"))
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)


def test_stage1_trains_text_adapter_and_stage2_only_temporal_and_audio(dataset, tmp_path):
    """Stage 1 with captions moves the text adapter (text encoder frozen); stage 2 from the
    stage-1 run moves only motion/audio modules and the audio projector; the result loads
    with from_pretrained and renders through the diffusion engine."""
    import torch

    from core import engines
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.diffusion.tiny import TINY_SIZE, synthetic_inputs, tiny_pipeline
    from core.types import RenderRequest

    s1 = tmp_path / "s1"
    train(_cfg(dataset, s1, steps=2, lr=1e-3, val_every=2, ema=0.9))
    assert (s1 / "val" / "step-0000002.png").is_file() and (s1 / "weights-ema").is_dir()
    s2 = tmp_path / "s2"
    # stage 2 also runs the CPU mixed-precision path (bf16 autocast) with accumulation
    train(_cfg(dataset, s2, stage=2, steps=2, lr=1e-3, batch=1, init=[str(s1)],
               mixed_precision="bf16", grad_accum=2))
    tiny = tiny_pipeline(seed=3)  # what load_init builds for seed 3
    p1 = MagicTalkPipeline.from_pretrained(s1 / "weights")
    p2 = MagicTalkPipeline.from_pretrained(s2 / "weights")

    def moved(a, b) -> set[str]:
        sa, sb = a.state_dict(), b.state_dict()
        return {k for k in sa if not torch.equal(sa[k], sb[k])}

    assert moved(tiny.text_adapter, p1.text_adapter)
    assert not moved(tiny.text_encoder, p1.text_encoder)
    assert moved(tiny.reference_net, p1.reference_net)
    assert not any("motion_modules" in k or "audio_modules" in k
                   for k in moved(tiny.animate_net, p1.animate_net))
    changed = moved(p1.animate_net, p2.animate_net)
    assert changed and all("motion_modules" in k or "audio_modules" in k for k in changed)
    assert moved(p1.audio_proj, p2.audio_proj)
    assert not moved(p1.reference_net, p2.reference_net)
    assert not moved(p1.face_locator, p2.face_locator)

    rig, feats, motion = synthetic_inputs(6, seed=1)
    eng = engines.create("diffusion", weights=str(s2 / "weights"), steps=2, window=4,
                         overlap=1)
    req = RenderRequest(rig=rig, features=feats, motion=motion, size=TINY_SIZE, seed=1)
    frames = list(eng.render(req))
    assert len(frames) == 6 and frames[0].shape == (TINY_SIZE, TINY_SIZE, 3)
    assert np.std(np.stack(frames).astype(np.float32)) > 1.0


def test_bad_settings_are_one_clear_line(dataset, tmp_path):
    with pytest.raises(InputError, match="fp16 needs a CUDA GPU"):
        train(_cfg(dataset, tmp_path / "x", mixed_precision="fp16"))
    with pytest.raises(InputError, match="1x1 bottleneck"):
        train(_cfg(dataset, tmp_path / "y", batch=1))
    assert not (tmp_path / "y" / "config.json").exists()  # refused before touching --out
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["clips"][0]["frames"] = "many"
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="does not match its metadata"):
        train(_cfg(broken, tmp_path / "w"))
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="manifest.json: is not a dataset manifest"):
        train(_cfg(broken, tmp_path / "w"))
    bad = tmp_path / "mm.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="mm.safetensors.*not a readable safetensors"):
        train(_cfg(dataset, tmp_path / "z", stage=2, batch=1, init=[str(bad)]))


@pytest.mark.slow
@pytest.mark.parametrize("stage,lr,batch,steps", [(1, 1e-3, 2, 40), (2, 3e-3, 1, 80)])
def test_a_short_run_halves_the_loss_on_one_clip(dataset, tmp_path, stage, lr, batch, steps):
    """A short run on one clip halves the loss on fixed batches (the bench runs 200 steps;
    stage 2 trains only the motion and audio modules and gets 80 steps: at 40 it sat at
    ~0.5x, on the edge of the bound, depending on the rendered clip)."""
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.training import model as M
    from core.training.dataset import TrainData

    manifest = json.loads((dataset / "manifest.json").read_text())
    one = [manifest["clips"][0]["id"]]
    cfg = _cfg(dataset, tmp_path / "run", stage=stage, steps=steps, lr=lr, batch=batch,
               save_every=0, drop=0.0, clips=one)
    data = TrainData(dataset, one)
    before = fixed_loss(M.load_init([], seed=cfg.seed), data, cfg)
    result = train(cfg)
    after = fixed_loss(MagicTalkPipeline.from_pretrained(result.weights), data, cfg)
    assert after < 0.5 * before, (before, after)


def test_stored_vae_latents_are_used_only_for_the_same_vae(dataset, tmp_path):
    """Latents stored by `data prepare --vae` replace encoding the frames every step, and
    give the same loss; with another VAE they are ignored."""
    from safetensors.numpy import load_file, save_file

    from core.training import model as M
    from core.training.data import encode_latents, vae_fingerprint
    from core.training.dataset import TrainData

    ds = tmp_path / "ds"
    shutil.copytree(dataset, ds)
    pipe = M.load_init([], seed=3)
    manifest = json.loads((ds / "manifest.json").read_text())
    for clip in manifest["clips"]:
        folder = ds / "clips" / clip["id"]
        data = TrainData(ds, [clip["id"]])
        frames = [data.clips[0].image(i) for i in range(clip["frames"])]
        feats = load_file(str(folder / "features.safetensors"))
        feats["latents"] = encode_latents(pipe.vae, frames, batch=1)
        save_file(feats, str(folder / "features.safetensors"))
        clip["latents"] = vae_fingerprint(pipe.vae)
        (folder / "clip.json").write_text(json.dumps(clip))
    (ds / "manifest.json").write_text(json.dumps(manifest))
    cfg = _cfg(ds, tmp_path / "r")
    plain = fixed_loss(pipe, TrainData(dataset), cfg, batches=2)
    stored = TrainData(ds)
    assert fixed_loss(pipe, stored, cfg, batches=2) == pytest.approx(plain, rel=1e-5)
    batch = stored.pairs(2, 0, 0, 0, 8)
    assert batch["target_lat"] is not None and batch["target_lat"].shape == (2, 1, 4, 8, 8)
    stored.use_latents("another-vae")
    assert stored.pairs(2, 0, 0, 0, 8)["target_lat"] is None


def test_init_from_sd15_folder_and_motion_module_file(tmp_path):
    """An SD1.5-layout folder (diffusers UNet + VAE) seeds ReferenceNet and the denoiser's
    spatial layers; an AnimateDiff-style motion-module file fills the motion modules."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file

    from core.diffusion.tiny import TINY_UNET, tiny_pipeline
    from core.training.model import load_init

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**TINY_UNET)
    sd = tmp_path / "sd15"
    unet.save_pretrained(sd / "unet")
    AutoencoderKL(block_out_channels=(8, 8, 16, 16), norm_num_groups=8, layers_per_block=1,
                  down_block_types=("DownEncoderBlock2D",) * 4,
                  up_block_types=("UpDecoderBlock2D",) * 4).save_pretrained(sd / "vae")
    source = tiny_pipeline(seed=5).animate_net.state_dict()
    mm = {f"denoising_unet.{k}": v for k, v in source.items() if "motion_modules" in k}
    save_file(mm, str(tmp_path / "mm.safetensors"))
    pipe = load_init([sd, tmp_path / "mm.safetensors"])
    u = unet.state_dict()
    ref = pipe.reference_net.state_dict()
    net = pipe.animate_net.state_dict()
    key = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"
    assert torch.equal(ref[key], u[key]) and torch.equal(net[key], u[key])
    assert torch.equal(net["conv_out.weight"], u["conv_out.weight"])
    mkey = next(k for k in net if "motion_modules" in k and k.endswith("weight"))
    assert torch.equal(net[mkey], source[mkey])
    with pytest.raises(InputError, match="not a MagicTalk weights folder"):
        load_init([tmp_path])


def test_bench_step_rows_run_the_gpu_code_path_on_the_cpu():
    """The SD1.5-size GPU row of `bench train` (bf16 autocast, both stages) runs the same
    function; here with the tiny model on the CPU."""
    from core.diffusion.tiny import tiny_pipeline
    from studio.bench.train_bench import step_rows

    rows = step_rows(tiny_pipeline(), "cpu", 64, 2, 1)
    assert rows["stage1_steps_per_s"] > 0 and rows["stage2_steps_per_s"] > 0
    assert rows["stage1_peak_mb"] > 0


def test_loss_weights_default_per_stage_and_reach_the_loss(dataset, tmp_path):
    """Stage 1 weights nothing by default and stage 2 uses Hallo's face 1 / lip 2; given
    weights override both, travel through the CLI into the run's config, and change the
    loss (the lip cells dominate it when their weight is huge)."""
    from core.training import model as M
    from core.training.dataset import TrainData

    assert _cfg(dataset, tmp_path).loss_weights() == (0.0, 0.0)
    assert _cfg(dataset, tmp_path, stage=2).loss_weights() == (1.0, 2.0)
    assert _cfg(dataset, tmp_path, stage=0).loss_weights()[0] == 1.0
    assert _cfg(dataset, tmp_path, lip_weight=4.0).loss_weights() == (0.0, 4.0)
    data = TrainData(dataset)
    pipe = M.load_init([], seed=3)
    plain = fixed_loss(pipe, data, _cfg(dataset, tmp_path), batches=2)
    lips = fixed_loss(pipe, data, _cfg(dataset, tmp_path, lip_weight=1e6), batches=2)
    assert abs(lips - plain) > 1e-3 * plain, (plain, lips)
    r = _cli("train", "--stage", "1", "--data", str(dataset), "--out", str(tmp_path / "r"),
             "--steps", "1", "--batch", "2", "--lip-weight", "3", "--quiet")
    assert r.returncode == 0, r.stderr
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (saved["face_weight"], saved["lip_weight"]) == (None, 3.0)
