"""The `diffusion` engine: availability messages, rendering through the registry,
progress, cancel (also through write_mp4), reference caching and segment context."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from core import engines
from core.diffusion.engine import ENV_WEIGHTS, DiffusionEngine, missing_components
from core.diffusion.tiny import TINY_SIZE, synthetic_inputs, write_tiny
from core.errors import Cancelled, EngineUnavailable
from core.types import RenderRequest, TextEdit
from tests.diffusion._tiny import one_thread

N = 12
FAST = dict(steps=2, window=8, overlap=2)


@pytest.fixture(scope="module", autouse=True)
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("tiny") / "weights", with_wav2vec=True)


@pytest.fixture(scope="module")
def request_():
    rig, feats, motion = synthetic_inputs(N, seed=2)
    return RenderRequest(rig=rig, features=feats, motion=motion, size=TINY_SIZE, seed=4)


@pytest.fixture(scope="module")
def engine(weights):
    return engines.create("diffusion", weights=str(weights), **FAST)


def test_unavailable_without_a_folder(monkeypatch):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    ok, why = DiffusionEngine().available()
    assert not ok and "no weights folder configured" in why and "init-tiny" in why


def test_unavailable_when_the_folder_is_missing(tmp_path):
    ok, why = DiffusionEngine(weights=tmp_path / "nope").available()
    assert not ok and "does not exist" in why and str(tmp_path / "nope") in why


def test_unavailable_names_the_missing_component(weights, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(weights, broken)
    for f in (broken / "animate_net").glob("*.safetensors"):
        f.unlink()
    shutil.rmtree(broken / "scheduler")
    ok, why = DiffusionEngine(weights=broken).available()
    assert not ok and "animate_net" in why and "scheduler" in why
    assert "vae" not in missing_components(broken)[0]
    with pytest.raises(EngineUnavailable, match="animate_net"):
        next(DiffusionEngine(weights=broken).render(
            RenderRequest(*synthetic_inputs(2), size=TINY_SIZE)))


def test_available_with_tiny_weights_warns_about_the_cpu(weights):
    ok, note = DiffusionEngine(weights=weights, device="cpu").available()
    assert ok and "no GPU" in note and "face_analysis" in note


def test_env_variable_configures_the_folder(weights, monkeypatch):
    monkeypatch.setenv(ENV_WEIGHTS, str(weights))
    assert DiffusionEngine().available()[0]


def test_render_through_the_registry_with_progress(engine, request_):
    events = []
    frames = list(engine.render(request_, progress=lambda f, m: events.append((f, m))))
    assert len(frames) == N
    assert all(f.shape == (TINY_SIZE, TINY_SIZE, 3) and f.dtype == np.uint8 for f in frames)
    steps = [m for _, m in events if m.startswith("denoising step")]
    assert steps == ["denoising step 1/2", "denoising step 2/2"]
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert engine.last_info["face_embedding"] == "dlib" and engine.last_info["audio"] == "mel"


def test_weights_from_request_settings(weights, request_, engine):
    """`render --weights DIR` passes the folder in request.settings, not the constructor."""
    plain = engines.create("diffusion", **FAST)
    from dataclasses import replace

    req = replace(request_, settings={"weights": str(weights)})
    a = list(plain.render(req, frames=range(0, 4)))
    b = list(engine.render(request_, frames=range(0, 4)))
    np.testing.assert_array_equal(np.stack(a), np.stack(b))


def test_reference_is_computed_once_per_portrait(weights, request_):
    eng = DiffusionEngine(weights=weights, **FAST)
    pipe = eng.pipeline()
    calls = []
    orig = pipe.encode_reference

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    pipe.encode_reference = counting
    from dataclasses import replace

    list(eng.render(request_, frames=range(0, 3)))
    list(eng.render(replace(request_, seed=9, text=TextEdit(prompt="smiling")), frames=range(3, 6)))
    assert len(calls) == 1


def test_segment_renders_with_neighbour_context(engine, request_):
    assert engine.context_frames == FAST["overlap"]
    part = list(engine.render(request_, frames=range(4, 8)))
    assert len(part) == 4
    assert engine.last_info["span"] == (2, 10)


def test_cancel_raises_within_one_step(engine, request_):
    pipe = engine.pipeline()
    calls = []
    orig = pipe.animate_net.forward

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    pipe.animate_net.forward = counting
    flag = {"stop": False}

    def progress(f, m):
        if m.startswith("denoising step"):
            flag["stop"] = True

    try:
        with pytest.raises(Cancelled):
            list(engine.render(request_, progress=progress, cancel=lambda: flag["stop"]))
    finally:
        del pipe.animate_net.forward
    windows = 2  # 12 frames, window 8, overlap 2
    assert len(calls) == windows  # the first step only


def test_cancelled_render_leaves_no_output_file(engine, request_, tmp_path):
    from core.video import write_mp4

    out = tmp_path / "clip.mp4"
    state = {"n": 0}

    def cancel():
        return state["n"] >= 1

    def progress(f, m):
        if m.startswith("denoising"):
            state["n"] += 1

    with pytest.raises(Cancelled):
        write_mp4(engine.render(request_, progress=progress, cancel=cancel), 25.0, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_render_writes_an_mp4(engine, request_, tmp_path):
    from core.video import write_mp4

    out = write_mp4(engine.render(request_), 25.0, tmp_path / "ok.mp4")
    assert out.is_file() and out.stat().st_size > 0


@pytest.fixture(scope="module")
def real_request(samples):
    """The real analysis stages on a sample portrait and a 1.4 s recording."""
    from core import audio, face, image, motion

    rig = face.analyze(image.load_image(samples / "portraits" / "hallo_2.jpg"))
    wave = audio.load(samples / "audio" / "asterisk_hello-world.wav")
    feats = audio.analyze(wave, fps=25.0)
    track = motion.plan(rig, feats, seed=0)
    return RenderRequest(rig=rig, features=feats, motion=track, size=TINY_SIZE, audio=wave)


def test_renders_real_analysis_with_wav2vec_audio(engine, real_request, monkeypatch):
    """The audio tokens the denoiser gets come from wav2vec2 run on the request's own
    waveform, not from the mel fallback: spied at the function computing them and at the
    audio projector's input."""
    import torch

    from core.diffusion import conditioning as cond
    from core.diffusion.pipeline import MagicTalkPipeline

    calls: dict[str, list] = {"wav2vec": [], "mel": [], "states": [], "proj_in": []}
    real_wav2vec, real_mel = cond.wav2vec_states, cond.mel_audio_states
    real_audio_states = MagicTalkPipeline.audio_states

    def spy_wav2vec(model, waveform, n_frames, device="cpu"):
        out = real_wav2vec(model, waveform, n_frames, device)
        calls["wav2vec"].append((waveform, n_frames, out))
        return out

    def spy_mel(*args, **kwargs):
        calls["mel"].append(args)
        return real_mel(*args, **kwargs)

    def spy_audio_states(self, features, rows, waveform=None):
        states, source = real_audio_states(self, features, rows, waveform)
        calls["states"].append((rows, states, source))
        hook = self.audio_proj.register_forward_pre_hook(
            lambda _m, args: calls["proj_in"].append(args[0].detach().float().clone()))
        calls.setdefault("hooks", []).append(hook)
        return states, source

    monkeypatch.setattr(cond, "wav2vec_states", spy_wav2vec)
    monkeypatch.setattr(cond, "mel_audio_states", spy_mel)
    monkeypatch.setattr(MagicTalkPipeline, "audio_states", spy_audio_states)
    try:
        frames = list(engine.render(real_request, frames=range(0, 6)))
    finally:
        for hook in calls.get("hooks", []):
            hook.remove()
    assert len(frames) == 6 and frames[0].shape == (TINY_SIZE, TINY_SIZE, 3)
    assert engine.last_info["face_embedding"] == "dlib"

    assert calls["mel"] == []  # the fallback was never computed
    [(waveform, n_frames, hs)] = calls["wav2vec"]
    assert waveform is real_request.audio  # the request's own recording
    assert n_frames == real_request.features.n_frames
    [(rows, states, source)] = calls["states"]
    assert source == "wav2vec2" and engine.last_info["audio"] == "wav2vec2"
    np.testing.assert_array_equal(states, hs[rows.start : rows.stop])
    # what the audio projector got: per frame, the wav2vec2 states of frames i-2..i+2
    assert calls["proj_in"]
    first = calls["proj_in"][0][0]  # [W, 5, layers, C] of the first window
    radius, span_start = cond.AUDIO_RADIUS, engine.last_info["span"][0]
    assert first.shape[1] == 2 * radius + 1
    for i in range(first.shape[0]):
        for j in range(-radius, radius + 1):
            frame = min(max(span_start + i + j, 0), real_request.features.n_frames - 1)
            expected = torch.from_numpy(hs[frame]).to(first.dtype)
            torch.testing.assert_close(first[i, radius + j], expected, rtol=1e-3, atol=1e-3)
