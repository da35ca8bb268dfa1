"""MagicTalkPipeline on the tiny random model: shapes, determinism, save/load, and that
every conditioning path does what it claims (portrait, bank, text, guider, audio)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from core.diffusion.pipeline import MagicTalkPipeline, frame_noise
from core.diffusion.tiny import TINY_SIZE, synthetic_inputs, tiny_pipeline
from core.errors import InputError
from core.types import Waveform
from tests.diffusion._tiny import one_thread

N = 10
RUN = dict(num_inference_steps=3, size=TINY_SIZE, window=8, overlap=2, seed=7)


@pytest.fixture(scope="module", autouse=True)
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline(seed=0, with_wav2vec=True)


@pytest.fixture(scope="module")
def inputs():
    return synthetic_inputs(N, seed=1)


@pytest.fixture(scope="module")
def reference(pipe, inputs):
    return pipe.encode_reference(inputs[0], TINY_SIZE)


@pytest.fixture(scope="module")
def base(pipe, inputs, reference):
    return pipe(*inputs, reference=reference, **RUN).frames


def test_shapes_and_determinism(pipe, inputs, reference, base):
    assert base.shape == (N, TINY_SIZE, TINY_SIZE, 3) and base.dtype == np.uint8
    again = pipe(*inputs, reference=reference, **RUN).frames
    np.testing.assert_array_equal(base, again)
    other = pipe(*inputs, reference=reference, **{**RUN, "seed": 8}).frames
    assert np.abs(other.astype(int) - base).mean() > 1.0
    assert base.std() > 1.0  # not a constant image


def test_reference_computed_inside_equals_precomputed(pipe, inputs, base):
    np.testing.assert_array_equal(pipe(*inputs, **RUN).frames, base)


def test_save_then_load_gives_identical_output(pipe, inputs, base, tmp_path):
    pipe.save_pretrained(tmp_path / "w")
    assert (tmp_path / "w" / "model_index.json").is_file()
    assert list((tmp_path / "w" / "animate_net").glob("*.safetensors"))
    loaded = MagicTalkPipeline.from_pretrained(tmp_path / "w")
    loaded.set_progress_bar_config(disable=True)
    assert loaded.wav2vec is not None and loaded.text_adapter is not None
    np.testing.assert_array_equal(loaded(*inputs, **RUN).frames, base)


def test_from_pretrained_refuses_a_non_weights_folder(tmp_path):
    with pytest.raises(InputError, match="model_index.json"):
        MagicTalkPipeline.from_pretrained(tmp_path)


def test_portrait_changes_the_output(pipe, inputs, base):
    rig, feats, motion = inputs
    other = copy.copy(rig)
    other.image = np.ascontiguousarray(255 - rig.image)
    out = pipe(other, feats, motion, **RUN).frames
    assert np.abs(out.astype(int) - base).mean() > 0.5


def test_reference_bank_is_read(pipe, inputs, reference, base):
    out = pipe(*inputs, reference=reference.zeroed(), **RUN).frames
    assert np.abs(out.astype(int) - base).mean() > 0.5


def test_text_scale_zero_equals_no_prompt(pipe, inputs, reference, base):
    zero = pipe(*inputs, reference=reference, prompt="wearing glasses", text_scale=0.0,
                **RUN).frames
    np.testing.assert_array_equal(zero, base)
    edited = pipe(*inputs, reference=reference, prompt="wearing glasses", text_scale=1.0,
                  **RUN).frames
    assert np.abs(edited.astype(int) - base).mean() > 0.5


def _live_guider(pipe) -> None:
    """Give the guider He-initialised convs (incl. conv_out), zero biases: a stand-in for a
    trained guider whose output actually follows its input maps."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for mod in pipe.face_locator.modules():
            if isinstance(mod, torch.nn.Conv2d):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (2 / fan_in) ** 0.5)
                mod.bias.zero_()


def test_untrained_guider_changes_nothing_trained_one_does(pipe, inputs, reference, base):
    assert torch.count_nonzero(pipe.face_locator.conv_out.weight) == 0
    off = pipe(*inputs, reference=reference, use_guider=False, **RUN).frames
    np.testing.assert_array_equal(off, base)
    saved = copy.deepcopy(pipe.face_locator.state_dict())
    try:
        _live_guider(pipe)
        on = pipe(*inputs, reference=reference, **RUN).frames
    finally:
        pipe.face_locator.load_state_dict(saved)
    assert np.abs(on.astype(int) - base).mean() > 0.5


def test_guider_sees_the_motion(pipe, inputs, reference):
    """With a live guider, a different mouth/blink track gives different frames."""
    rig, feats, motion = inputs
    saved = copy.deepcopy(pipe.face_locator.state_dict())
    try:
        _live_guider(pipe)
        a = pipe(rig, feats, motion, reference=reference, **RUN).frames
        moved = copy.copy(motion)  # the same track, head 8 px to the right
        moved.landmarks = motion.landmarks + np.array([8.0, 0.0], np.float32)
        b = pipe(rig, feats, moved, reference=reference, **RUN).frames
    finally:
        pipe.face_locator.load_state_dict(saved)
    assert np.abs(a.astype(int) - b).mean() > 0.2


def test_audio_drives_the_output_and_wav2vec_path_is_used(pipe, inputs, reference, base):
    rig, feats, motion = inputs
    quiet = copy.copy(feats)
    quiet.mel = np.full_like(feats.mel, -10.0)
    quiet.viseme_weights = np.zeros_like(feats.viseme_weights)
    quiet.rms = np.zeros_like(feats.rms)
    out = pipe(rig, quiet, motion, reference=reference, **RUN).frames
    assert np.abs(out.astype(int) - base).mean() > 0.2
    t = np.arange(int(16000 * N / 25)) / 16000.0
    wave = Waveform(samples=(0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    states, source = pipe.audio_states(feats, range(0, N), wave)
    assert source == "wav2vec2" and states.shape == (N, 12, 16)
    w2v = pipe(rig, feats, motion, reference=reference, waveform=wave, **RUN).frames
    assert np.abs(w2v.astype(int) - base).mean() > 0.2


def test_frames_subrange_with_full_context_equals_full_render(pipe, inputs, reference, base):
    """One window covers the clip, so a sub-range denoised with context reaching both ends
    is the same computation: it must give exactly the full render's frames."""
    run = {**RUN, "window": 16}
    full = pipe(*inputs, reference=reference, **run).frames
    part = pipe(*inputs, reference=reference, frames=range(3, 7), context=N, **run).frames
    np.testing.assert_array_equal(part, full[3:7])


def test_frame_noise_depends_on_seed_and_frame_only():
    a = frame_noise(3, 10, (4, 2, 2))
    assert torch.equal(a, frame_noise(3, 10, (4, 2, 2)))
    assert not torch.equal(a, frame_noise(3, 11, (4, 2, 2)))
    assert not torch.equal(a, frame_noise(4, 10, (4, 2, 2)))


def test_interrupt_stops_within_one_step(pipe, inputs, reference):
    calls = []
    orig = pipe.animate_net.forward

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    def stop_after_first(p, i, t, kw):
        p.interrupt_now()
        return {}

    pipe.animate_net.forward = counting
    try:
        out = pipe(*inputs, reference=reference, callback_on_step_end=stop_after_first,
                   **{**RUN, "num_inference_steps": 5}).frames
    finally:
        del pipe.animate_net.forward
    windows = 2  # 10 frames, window 8, overlap 2
    assert len(calls) == windows  # exactly one step ran
    assert len(out) == 0 and pipe.interrupt


def test_step_callback_sees_and_can_replace_latents(pipe, inputs, reference, base):
    seen = []

    def cb(p, i, t, kw):
        seen.append((i, int(t), tuple(kw["latents"].shape)))
        return {"latents": kw["latents"]}

    out = pipe(*inputs, reference=reference, callback_on_step_end=cb, **RUN).frames
    np.testing.assert_array_equal(out, base)
    assert [s[0] for s in seen] == [0, 1, 2]
    assert seen[0][2] == (1, 4, N, TINY_SIZE // 8, TINY_SIZE // 8)


def test_bad_arguments_are_input_errors(pipe, inputs, reference):
    with pytest.raises(InputError):
        pipe(*inputs, reference=reference, **{**RUN, "size": 60})
    with pytest.raises(InputError):
        pipe(*inputs, reference=reference, frames=range(5, 50), **RUN)
    with pytest.raises(InputError):
        pipe(*inputs, reference=reference, **{**RUN, "overlap": 8})


def test_two_row_bank_equals_hallos_six_row_layout(pipe, inputs, reference):
    """Hallo's first clip runs ReferenceNet on [r, m1, m2] × 2 with motion frames = the
    portrait, context pairing i % 2, cond reading row 3 and motion rows [1, 2] / [4, 5].
    The pipeline's 2-row bank with rows [None, 1] / motion [[1, 0], [0, 1]] must give the
    same denoiser output (it is the same computation without the duplicate rows)."""
    net = pipe.animate_net
    lat = reference.latent
    tokens = reference.image_tokens
    with torch.inference_mode():
        bank6 = pipe.reference_net.compute_bank(lat.repeat(6, 1, 1, 1), tokens, 0)
        x = torch.randn(2, 4, 6, 8, 8, generator=torch.Generator().manual_seed(0))
        common = dict(encoder_hidden_states=tokens)
        hallo = net(x, 499, reference_bank=bank6, reference_rows=[None, 3],
                    motion_frame_rows=[[1, 2], [4, 5]], **common)
        ours = net(x, 499, reference_bank=reference.bank, reference_rows=[None, 1],
                   motion_frame_rows=[[1, 0], [0, 1]], **common)
    torch.testing.assert_close(ours, hallo, rtol=1e-5, atol=1e-5)


def test_hallo_reference_pairing_matches_the_verified_hallo_rows():
    """The engine's "hallo" pairing reads, for every cond frame, the same reference as
    Hallo's tiled bank (core.diffusion.models.hallo_bank_rows, checked against the fixture):
    Hallo's 6-row bank [ref, m1, m2] x (uncond ctx, cond ctx) maps onto our 2-row bank
    [ref·uncond, ref·cond] by row // samples_per_batch."""
    from core.diffusion.models import hallo_bank_rows
    from core.diffusion.pipeline import cond_reference_rows

    for frames in (16, 15, 8, 1):
        ref_rows, _ = hallo_bank_rows(batch=2, frames=frames, samples_per_batch=3, cfg=True)
        assert ref_rows[0] is None  # the uncond half reads no reference
        assert cond_reference_rows(frames, "hallo") == [r // 3 for r in ref_rows[1]]
    assert cond_reference_rows(16, "cond") == 1
    with pytest.raises(InputError):
        cond_reference_rows(16, "sideways")
