"""The importer → pipeline contract: a Hallo-layout checkpoint (the hallo_tiny fixture),
converted by `import_hallo`, loads with MagicTalkPipeline.from_pretrained, the engine calls
it available, and it renders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.diffusion._tiny import one_thread


@pytest.fixture(scope="module")
def imported(fixtures_dir, tmp_path_factory):
    from diffusers import AutoencoderKL
    from safetensors.torch import load_file, save_file

    from core.diffusion.hallo.importer import HalloConfig, import_hallo

    tiny = fixtures_dir / "hallo_tiny"
    if not (tiny / "net.safetensors").is_file():
        pytest.skip(f"hallo_tiny fixture not found at {tiny}")
    cfg = json.loads((tiny / "config.json").read_text())
    root = tmp_path_factory.mktemp("hallo") / "pretrained_models"
    (root / "hallo").mkdir(parents=True)
    net = load_file(str(tiny / "net.safetensors"))
    torch.save(net, root / "hallo" / "net.pth")
    (root / "motion_module").mkdir()
    torch.save(load_file(str(tiny / "motion_module.safetensors")),
               root / "motion_module" / "mm_sd_v15_v2.ckpt")
    torch.manual_seed(0)
    AutoencoderKL(  # an 8x VAE like SD's, tiny widths
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16), layers_per_block=1, latent_channels=4,
        norm_num_groups=8, sample_size=128,
    ).save_pretrained(root / "sd-vae-ft-mse")
    unet = root / "stable-diffusion-v1-5" / "unet"
    unet.mkdir(parents=True)
    (unet / "config.json").write_text(json.dumps(cfg["reference_unet"]))
    save_file({k[len("reference_unet."):]: v for k, v in net.items()
               if k.startswith("reference_unet.")},
              str(unet / "diffusion_pytorch_model.safetensors"))
    out = root.parent / "weights"
    import_hallo(root, out, config=HalloConfig.from_fixture_config(cfg))
    return out


def test_imported_hallo_weights_load_and_render(imported):
    from core.diffusion.engine import DiffusionEngine, missing_components
    from core.diffusion.pipeline import MagicTalkPipeline
    from core.diffusion.tiny import synthetic_inputs

    assert missing_components(imported) == []
    assert DiffusionEngine(weights=imported).available()[0]
    with one_thread():
        pipe = MagicTalkPipeline.from_pretrained(imported)
        pipe.set_progress_bar_config(disable=True)
        assert pipe.text_adapter is not None and pipe.animate_net.text_adapter is not None
        rig, feats, motion = synthetic_inputs(6, seed=0)
        out = pipe(rig, feats, motion, num_inference_steps=2, size=128, window=6, overlap=2,
                   seed=0).frames
    assert out.shape == (6, 128, 128, 3) and out.dtype == np.uint8 and out.std() > 0


def test_engine_reads_imported_hallo_weights_the_way_hallo_does(imported, tmp_path):
    """Imported Hallo weights get Hallo's alternating reference reading (the one the
    fixture verifies); other weights the cond-context reading; a setting overrides both.
    Rendering through the engine with the imported folder exercises the whole path."""
    from core.diffusion.engine import DiffusionEngine, weights_pairing
    from core.diffusion.tiny import synthetic_inputs, write_tiny
    from core.types import RenderRequest

    assert weights_pairing(imported) == "hallo"
    tiny = tmp_path / "tiny"
    write_tiny(tiny)
    assert weights_pairing(tiny) == "cond"
    assert weights_pairing(tmp_path / "missing") == "cond"

    rig, feats, motion = synthetic_inputs(6, seed=0)
    request = RenderRequest(rig=rig, features=feats, motion=motion, size=128,
                            settings={"steps": 2, "window": 6, "overlap": 2})
    with one_thread():
        engine = DiffusionEngine(weights=imported)
        hallo = np.stack(list(engine.render(request)))
        assert engine.last_info["reference_pairing"] == "hallo"
        request.settings["reference_pairing"] = "cond"
        cond = np.stack(list(engine.render(request)))
        assert engine.last_info["reference_pairing"] == "cond"
    assert hallo.shape == cond.shape == (6, 128, 128, 3)
    assert np.abs(hallo.astype(int) - cond.astype(int)).max() > 0  # the bank rows matter
