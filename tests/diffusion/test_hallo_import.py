"""import-hallo end to end on a fake pretrained_models folder, and refusal of bad checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core.diffusion.hallo.checkpoint import load_state_dict
from core.diffusion.hallo.importer import (
    HalloConfig,
    build_modules,
    import_hallo,
    merge_hallo_state,
)
from core.errors import InputError


@pytest.fixture(scope="module")
def tiny(fixtures_dir):
    path = fixtures_dir / "hallo_tiny"
    if not (path / "net.safetensors").is_file():
        pytest.skip(f"hallo_tiny fixture not found at {path}")
    cfg = json.loads((path / "config.json").read_text())
    return {
        "dir": path,
        "cfg": cfg,
        "config": HalloConfig.from_fixture_config(cfg),
        "net": load_file(str(path / "net.safetensors")),
        "motion": load_file(str(path / "motion_module.safetensors")),
    }


@pytest.fixture(scope="module")
def meta_modules(tiny):
    return build_modules(tiny["config"], device="meta")


def _fake_pretrained(root: Path, tiny, wrap_motion: bool) -> Path:
    from diffusers import AutoencoderKL

    (root / "hallo").mkdir(parents=True)
    torch.save(dict(tiny["net"]), root / "hallo" / "net.pth")
    (root / "motion_module").mkdir()
    motion = dict(tiny["motion"])
    torch.save(
        {"state_dict": motion} if wrap_motion else motion,
        root / "motion_module" / "mm_sd_v15_v2.ckpt",
    )
    vae = AutoencoderKL(
        block_out_channels=(8,),
        down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=16,
    )
    vae.save_pretrained(root / "sd-vae-ft-mse")
    unet = root / "stable-diffusion-v1-5" / "unet"
    unet.mkdir(parents=True)
    (unet / "config.json").write_text(json.dumps(tiny["cfg"]["reference_unet"]))
    # SD1.5-style UNet weights: the reference UNet's keys are SD1.5's; only its
    # cross-attention K/V matter here (they seed the text adapter).
    from safetensors.torch import save_file

    sd = {
        k[len("reference_unet.") :]: v
        for k, v in tiny["net"].items()
        if k.startswith("reference_unet.")
    }
    save_file(sd, str(unet / "diffusion_pytorch_model.safetensors"))
    return root


@pytest.mark.parametrize("wrap_motion", [True, False])
def test_import_hallo_end_to_end(tiny, tmp_path, wrap_motion):
    from core.diffusion.models import (
        AnimateNet,
        AudioProj,
        FaceLocator,
        ImageProj,
        ReferenceNet,
        TextAdapter,
    )

    src = _fake_pretrained(tmp_path / "pretrained_models", tiny, wrap_motion)
    out = tmp_path / "weights"
    seen = []
    result = import_hallo(src, out, progress=lambda f, m: seen.append(f), config=tiny["config"])
    assert result == out and seen[-1] == 1.0
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    index = json.loads((out / "model_index.json").read_text())
    assert index["animate_net"] == ["core.diffusion.models", "AnimateNet"]
    assert index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["text_encoder"] == [None, None]
    classes = {
        "reference_net": (ReferenceNet, "reference_unet"),
        "animate_net": (AnimateNet, "denoising_unet"),
        "face_locator": (FaceLocator, "face_locator"),
        "image_proj": (ImageProj, "imageproj"),
        "audio_proj": (AudioProj, "audioproj"),
    }
    total = 0
    for component, (cls, prefix) in classes.items():
        assert (out / component / "diffusion_pytorch_model.safetensors").is_file()
        module = cls.from_pretrained(out / component)
        for key, value in module.state_dict().items():
            assert torch.equal(value, tiny["net"][f"{prefix}.{key}"]), key
            total += 1
    assert total == len(tiny["net"])  # every net tensor round-trips; net won over motion file
    adapter = TextAdapter.from_pretrained(out / "text_adapter")
    proj = adapter.projections_by_block()["up_blocks.3.attentions.0.transformer_blocks.0"]
    assert torch.equal(
        proj.to_k_text.weight,
        tiny["net"][
            "reference_unet.up_blocks.3.attentions.0.transformer_blocks.0.attn2.to_k.weight"
        ],
    )
    from diffusers import AutoencoderKL, DDIMScheduler

    AutoencoderKL.from_pretrained(out / "vae")
    sched = DDIMScheduler.from_pretrained(out / "scheduler")
    assert sched.config.prediction_type == "v_prediction"
    assert sched.config.timestep_spacing == "trailing"


def test_import_refuses_missing_layout_and_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match="net.pth.*not found"):
        import_hallo(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_failed_import_leaves_no_partial_folder(tiny, tmp_path):
    src = _fake_pretrained(tmp_path / "pm", tiny, wrap_motion=False)
    (src / "sd-vae-ft-mse" / "diffusion_pytorch_model.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="sd-vae-ft-mse"):
        import_hallo(src, tmp_path / "out", config=tiny["config"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pm"]


def test_missing_key_is_refused(tiny, meta_modules):
    net = dict(tiny["net"])
    del net["denoising_unet.up_blocks.1.audio_modules.0.proj_in.weight"]
    with pytest.raises(InputError, match="1 keys missing.*up_blocks.1.audio_modules.0.proj_in"):
        merge_hallo_state(meta_modules, net, tiny["motion"], "net.pth")


def test_wrong_shape_is_refused(tiny, meta_modules):
    net = dict(tiny["net"])
    key = "denoising_unet.down_blocks.2.audio_modules.0.proj_in.weight"
    net[key] = torch.zeros(64, 64, 1, 1)  # the block width instead of Hallo's input width
    with pytest.raises(
        InputError,
        match=r"wrong shape.*proj_in.weight is \[64, 64, 1, 1\], "
        r"expected \[32, 64, 1, 1\]",
    ):
        merge_hallo_state(meta_modules, net, None, "net.pth")


def test_unexpected_key_is_refused(tiny, meta_modules):
    net = dict(tiny["net"])
    net["denoising_unet.up_blocks.0.attentions.0.norm.weight"] = torch.zeros(32)
    net["text_adapter.x"] = torch.zeros(1)
    with pytest.raises(InputError, match="2 unexpected keys"):
        merge_hallo_state(meta_modules, net, None, "net.pth")


def test_motion_file_with_foreign_keys_is_refused(tiny, meta_modules):
    motion = dict(tiny["motion"])
    motion["conv_in.weight"] = torch.zeros(32, 4, 3, 3)
    with pytest.raises(InputError, match="mm.ckpt.*not motion-module keys.*conv_in.weight"):
        merge_hallo_state(meta_modules, tiny["net"], motion, "net.pth", "mm.ckpt")


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_code_is_refused_unexecuted(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "net.pth"
    torch.save({"reference_unet.conv_in.weight": torch.zeros(1), "x": _Evil(marker)}, path)
    with pytest.raises(InputError) as info:
        load_state_dict(path, "Hallo net checkpoint")
    assert str(path) in str(info.value) and "refused" in str(info.value)
    assert not marker.exists()


def test_custom_class_pickle_and_garbage_are_refused(tmp_path):
    path = tmp_path / "mm.ckpt"
    torch.save({"state_dict": {"a": torch.zeros(1)}, "meta": _Evil(tmp_path / "m")}, path)
    with pytest.raises(InputError, match="refused"):
        load_state_dict(path)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(InputError, match="junk.pth: .*not a PyTorch checkpoint"):
        load_state_dict(junk)
    odd = tmp_path / "odd.pth"
    torch.save({"a": [1, 2]}, odd)
    with pytest.raises(InputError, match="not a tensor"):
        load_state_dict(odd)


def test_cli_import_hallo_reports_one_line(tmp_path, capsys):
    from studio.cli import main

    assert main(["models", "import-hallo", str(tmp_path), "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "net.pth" in err[0]
