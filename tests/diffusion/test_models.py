"""Module-level behaviour: decoupled text attention, bank rows, projector helpers."""

from __future__ import annotations

import json

import pytest
import torch

from core.diffusion.models import (
    AnimateNet,
    FaceLocator,
    ReferenceNet,
    TextAdapter,
    hallo_bank_rows,
    init_text_adapter_from_unet,
    window_audio_features,
)


@pytest.fixture(autouse=True)
def _fast_cpu_math():
    from core.diffusion.models import flushed_denormals

    with flushed_denormals():
        yield


@pytest.fixture(scope="module")
def tiny_cfg(fixtures_dir):
    path = fixtures_dir / "hallo_tiny" / "config.json"
    if not path.is_file():
        pytest.skip(f"hallo_tiny fixture not found at {path}")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def nets(tiny_cfg):
    torch.manual_seed(0)
    ref = ReferenceNet.from_unet_config(tiny_cfg["reference_unet"]).eval()
    den = AnimateNet.from_hallo_config(
        tiny_cfg["denoising_unet"], tiny_cfg["denoising_unet_additional_kwargs"]
    ).eval()
    with torch.no_grad():  # make the zero-initialised layers live, like the fixture does
        for p in den.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return ref, den


def _inputs(ref, den, frames=2):
    g = torch.Generator().manual_seed(1)
    ehs = torch.randn(2, 4, 48, generator=g)
    bank = ref.compute_bank(torch.randn(6, 4, 16, 16, generator=g), ehs)
    kwargs = dict(
        sample=torch.randn(2, 4, frames, 16, 16, generator=g),
        timestep=torch.tensor([499]),
        encoder_hidden_states=ehs,
        reference_bank=bank,
        audio_tokens=torch.randn(2, frames, 32, 40, generator=g),
    )
    rows = hallo_bank_rows(2, frames, 3)
    return kwargs, rows


def test_text_scale_zero_is_bit_identical_to_no_adapter(nets):
    ref, den = nets
    kwargs, (ref_rows, motion_rows) = _inputs(ref, den)
    text = torch.randn(2, 77, 48)
    with torch.no_grad():
        den.set_text_adapter(None)
        plain = den(**kwargs, reference_rows=ref_rows, motion_frame_rows=motion_rows)
        adapter = TextAdapter.for_animate_net(den)
        den.set_text_adapter(adapter)
        zero = den(
            **kwargs,
            reference_rows=ref_rows,
            motion_frame_rows=motion_rows,
            text_tokens=text,
            text_scale=0.0,
        )
        on = den(
            **kwargs,
            reference_rows=ref_rows,
            motion_frame_rows=motion_rows,
            text_tokens=text,
            text_scale=0.7,
        )
    den.set_text_adapter(None)
    assert torch.equal(plain, zero)
    assert (on - plain).abs().max() > 1e-4
    # the adapter never enters AnimateNet's own (Hallo) key set
    assert not [k for k in den.state_dict() if "text" in k]


def test_text_adapter_initialised_from_base_unet_cross_attention(nets):
    ref, den = nets
    sd = ref.state_dict()  # same block names and widths as SD1.5's UNet
    adapter = init_text_adapter_from_unet(den, sd)
    name = "mid_block.attentions.0.transformer_blocks.0"
    proj = adapter.projections_by_block()[name]
    assert torch.equal(proj.to_k_text.weight, sd[f"{name}.attn2.to_k.weight"])
    assert torch.equal(proj.to_v_text.weight, sd[f"{name}.attn2.to_v.weight"])
    assert len(adapter.block_names) == 10
    with pytest.raises(KeyError, match="attn2.to_k"):
        adapter.init_from_unet({})


def test_reference_tokens_and_motion_frames_matter(nets):
    ref, den = nets
    kwargs, (ref_rows, motion_rows) = _inputs(ref, den)
    with torch.no_grad():
        full = den(**kwargs, reference_rows=ref_rows, motion_frame_rows=motion_rows)
        no_ref = den(**kwargs, reference_rows=[None, None], motion_frame_rows=motion_rows)
        swapped = den(**kwargs, reference_rows=ref_rows, motion_frame_rows=[[2, 1], [5, 4]])
    # uncond half (row 0) never reads reference tokens, cond half does
    assert torch.equal(full[0], no_ref[0])
    assert (full[1] - no_ref[1]).abs().max() > 1e-5
    assert (full - swapped).abs().max() > 1e-6


def test_hallo_bank_rows_alternate_like_hallo():
    ref_rows, motion_rows = hallo_bank_rows(2, 4, 3)
    assert ref_rows == [None, [0, 3, 0, 3]]
    assert motion_rows == [[1, 2], [4, 5]]
    assert hallo_bank_rows(1, 3, 3, cfg=False) == ([[0, 0, 0]], [[1, 2]])


def test_window_audio_features_matches_hallo_windowing(fixtures_dir):
    from safetensors.torch import load_file

    path = fixtures_dir / "hallo_tiny" / "case.safetensors"
    if not path.is_file():
        pytest.skip("hallo_tiny fixture not found")
    case = load_file(str(path))
    windowed = window_audio_features(case["in.audio_emb_raw"])
    assert torch.equal(windowed[None], case["in.audio_emb_windowed"])


def test_face_locator_video_and_frame_layouts_agree(tiny_cfg):
    torch.manual_seed(0)
    loc = FaceLocator(**tiny_cfg["face_locator"])
    with torch.no_grad():
        torch.nn.init.normal_(loc.conv_out.weight, std=0.02)
        video = torch.rand(1, 3, 3, 64, 64)
        out = loc(video)
        per_frame = loc(video[:, :, 1])
    assert out.shape == (1, 32, 3, 8, 8)
    assert torch.allclose(out[:, :, 1], per_frame, atol=1e-6)
