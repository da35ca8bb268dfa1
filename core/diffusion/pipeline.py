"""MagicTalkPipeline: portrait + audio features + motion track → talking-head frames.

A diffusers `DiffusionPipeline` (`from_pretrained` / `save_pretrained` of a local folder with
`model_index.json` and safetensors, one `__call__`, `callback_on_step_end`, an interrupt flag,
a tqdm progress bar). Components, one sub-folder each:

    vae             diffusers AutoencoderKL
    reference_net   ReferenceNet   (portrait latent at t=0 → reference bank)
    animate_net     AnimateNet     (spatial + audio + motion modules; reads the bank)
    face_locator    FaceLocator    (motion-prior guider, zero-initialised conv_out)
    image_proj      ImageProj      (512-d face embedding → identity tokens)
    audio_proj      AudioProj      (±2-frame audio windows → per-frame audio tokens)
    scheduler       DDIMScheduler  (Hallo's: v-prediction, zero-SNR, trailing)
    text_encoder, tokenizer, text_adapter   optional: CLIP text encoder + tokenizer and the
                    decoupled text cross-attention weights (to_k_text / to_v_text)
    wav2vec         optional transformers Wav2Vec2Model; without it the audio tokens come
                    from the engine's own mel/viseme features
    face_analysis/  optional ArcFace ONNX models (not a diffusers component; read by the
                    engine's face-embedding hook when present)

The component names and folder layout are those `core.diffusion.hallo.importer` writes.

How one call runs (why it is shaped this way):
1. The portrait is cropped square around the face, VAE-encoded, and ReferenceNet runs ONCE
   on it (t=0) for the uncond and cond identity tokens, giving a 2-row bank
   (`ReferenceState`). Hallo's first clip uses the portrait as its motion frames too, so the
   same bank serves as reference (row 1 for cond) and motion frames (Hallo's [u,c] / [c,u]
   pairing): the whole reference side is computed once per portrait, not per step or window.
   Callers (the engine) cache it across calls.
2. Latents of the span to denoise live on the CPU in float32; the initial noise of frame k is
   drawn from a generator seeded by (seed, k), so a frame's noise does not depend on which
   range is rendered — a re-rendered segment starts from the same noise as the full clip.
3. Every step, `LatentFusion` moves one window at a time to the device; the denoiser runs
   the CFG batch (uncond: no reference tokens, zero audio and guide, negative prompt; cond:
   all of them), guidance mixes the two, and the window predictions are blended with
   triangular weights; the DDIM step is applied to the whole CPU clip in place.
4. Frames are VAE-decoded one at a time and yielded (`stream`), so nothing proportional to
   the clip length is ever on the device.

`text_scale = 0` (or an empty prompt) skips the text branch entirely: bit-identical to no text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, DiffusionPipeline
from diffusers.utils import BaseOutput

from core.diffusion import conditioning as cond
from core.diffusion.anchors import Anchors
from core.diffusion.fusion import LatentFusion, context_span
from core.diffusion.layout import OPTIONAL_COMPONENTS
from core.diffusion.loading import load_components, own_memory, quiet_loading
from core.diffusion.models import (
    AnimateNet,
    AudioProj,
    FaceLocator,
    ImageProj,
    ReferenceBank,
    ReferenceNet,
    TextAdapter,
)
from core.diffusion.noise import frame_noise
from core.diffusion.scheduler import alphas_for, ddim_step_, guide
from core.errors import InputError
from core.types import AudioFeatures, FaceRig, MotionTrack, Waveform

log = logging.getLogger(__name__)


_STEP_CHUNK = 32  # frames per in-place DDIM update (bounds the step's temporaries)

# Hallo's CFG layout over a 2-row bank [ref·uncond-ctx, ref·cond-ctx] (see module doc).
_MOTION_ROWS_CFG = [[1, 0], [0, 1]]
REFERENCE_PAIRINGS = ("hallo", "cond")


def cond_reference_rows(frames: int, pairing: str = "hallo") -> list[int] | int:
    """Bank rows (in the 2-row bank [ref·uncond-ctx, ref·cond-ctx]) read by the cond half.

    "hallo": what Hallo's released inference does under CFG. Its reference bank is tiled
    over the `(batch frames)` axis, so the cond frame j reads row (frames + j) % 2: the
    frames alternate between the reference encoded with the uncond and with the cond image
    tokens (verified bit-for-bit against the fixture by `core.diffusion.hallo.verify`).
    Imported Hallo weights ran under exactly this reading, so the engine uses it for them.
    "cond" (the default): every cond frame reads the cond-context reference — the cleaner
    design, and free of the frame-to-frame alternation "hallo" causes in other weights.
    """
    if pairing == "cond":
        return 1
    if pairing != "hallo":
        raise InputError(None, f"reference pairing '{pairing}' is unknown: use {' or '.join(REFERENCE_PAIRINGS)}")
    return [(frames + j) % 2 for j in range(frames)]
_MOTION_ROWS_COND = [[0, 1]]


@dataclass
class ReferenceState:
    """Everything computed once per portrait: bank, identity tokens, crop, sources."""

    bank: ReferenceBank
    image_tokens: torch.Tensor  # [2, n, E]: uncond (imageproj(0)), cond (imageproj(emb))
    latent: torch.Tensor  # [1, 4, h, w] scaled portrait latent
    crop: cond.PortraitCrop
    size: int
    face_source: str  # "arcface" | "dlib" | "given"

    def zeroed(self) -> ReferenceState:
        """A copy whose bank is all zeros (tests: is the bank read at all?)."""
        bank = ReferenceBank({k: torch.zeros_like(v) for k, v in self.bank.features.items()})
        return ReferenceState(bank, self.image_tokens, self.latent, self.crop, self.size,
                              self.face_source)


@dataclass
class MagicTalkOutput(BaseOutput):
    frames: np.ndarray  # [F, size, size, 3] uint8


class MagicTalkPipeline(DiffusionPipeline):
    """See the module docstring. Build with `from_pretrained(folder)` or from components."""

    model_cpu_offload_seq = "image_proj->reference_net->audio_proj->face_locator->animate_net->vae"
    _optional_components = list(OPTIONAL_COMPONENTS)
    _callback_tensor_inputs = ["latents"]

    def __init__(
        self,
        vae: AutoencoderKL,
        reference_net: ReferenceNet,
        animate_net: AnimateNet,
        face_locator: FaceLocator,
        image_proj: ImageProj,
        audio_proj: AudioProj,
        scheduler: DDIMScheduler,
        text_encoder=None,
        tokenizer=None,
        text_adapter: TextAdapter | None = None,
        wav2vec=None,
    ):
        super().__init__()
        self.register_modules(
            vae=vae,
            reference_net=reference_net,
            animate_net=animate_net,
            face_locator=face_locator,
            image_proj=image_proj,
            audio_proj=audio_proj,
            scheduler=scheduler,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            text_adapter=text_adapter,
            wav2vec=wav2vec,
        )
        if text_adapter is not None:
            animate_net.set_text_adapter(text_adapter)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.arcface: Callable[[np.ndarray], np.ndarray] | None = None
        self._interrupt = False
        self._num_timesteps = 0
        self._guidance_scale = 1.0

    # -------------------------------------------------------------- diffusers-style state
    @property
    def interrupt(self) -> bool:
        """Set by `interrupt_now()` (or a step callback): the loop stops before the next
        window and `stream` returns without yielding frames."""
        return self._interrupt

    def interrupt_now(self) -> None:
        self._interrupt = True

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale != 1.0

    # -------------------------------------------------------------- loading / saving
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> MagicTalkPipeline:
        """Load a local weights folder offline: every component listed in model_index.json
        with its own class's `from_pretrained` (see `core.diffusion.loading.load_components`); `dtype=` casts the
        modules; components passed as keyword arguments replace the stored ones."""
        folder = Path(pretrained_model_name_or_path)
        if not (folder / "model_index.json").is_file():
            raise InputError(folder, "not a MagicTalk weights folder (no model_index.json)")
        with quiet_loading():
            parts = load_components(folder, kwargs.pop("dtype", kwargs.pop("torch_dtype", None)),
                                    _component_names())
        parts.update(kwargs)  # explicitly passed components win
        pipe = cls(**parts)
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                own_memory(module)
                module.eval()
        return pipe

    def save_pretrained(self, save_directory, **kwargs) -> None:
        kwargs.setdefault("safe_serialization", True)
        with quiet_loading():
            super().save_pretrained(save_directory, **kwargs)

    @property
    def dtype(self) -> torch.dtype:
        return self.animate_net.dtype

    # -------------------------------------------------------------- conditioning
    def encode_reference(
        self, rig: FaceRig, size: int, face_embedding: np.ndarray | None = None
    ) -> ReferenceState:
        """Crop + VAE-encode the portrait, project the face embedding and run ReferenceNet
        once at t=0 → the 2-row reference bank. The expensive, once-per-portrait part."""
        device, dtype = self._execution_device, self.dtype
        crop = cond.PortraitCrop.for_rig(rig)
        image = crop.image(np.asarray(rig.image), size)
        pix = torch.from_numpy(image).to(device, dtype).permute(2, 0, 1)[None] / 127.5 - 1.0
        with torch.inference_mode():
            latent = self.vae.encode(pix).latent_dist.mean * self.vae.config.scaling_factor
            dim = self.image_proj.config.clip_embeddings_dim
            if face_embedding is None:
                emb, source = cond.face_embedding(rig, dim, self.arcface)
            else:
                emb, source = np.asarray(face_embedding, np.float32).reshape(-1), "given"
            e = torch.from_numpy(emb)[None].to(device, dtype)
            tokens = self.image_proj(torch.cat([torch.zeros_like(e), e]))
            bank = self.reference_net.compute_bank(latent.repeat(2, 1, 1, 1), tokens, 0)
        return ReferenceState(bank, tokens, latent, crop, size, source)

    def recompute_bank(self, state: ReferenceState) -> ReferenceState:
        """The same state with its bank computed again (what every denoiser call would cost
        without caching; used by the bench to measure the saving)."""
        with torch.inference_mode():
            bank = self.reference_net.compute_bank(
                state.latent.repeat(2, 1, 1, 1), state.image_tokens, 0
            )
        return ReferenceState(bank, state.image_tokens, state.latent, state.crop, state.size,
                              state.face_source)

    def encode_text(self, prompt: str, negative_prompt: str = "") -> torch.Tensor | None:
        """[2, L, Et] CLIP states of (negative prompt, prompt), or None without an encoder."""
        if self.text_encoder is None or self.tokenizer is None:
            return None
        ids = self.tokenizer(
            [negative_prompt or "", prompt],
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(self._execution_device)
        with torch.inference_mode():
            states = self.text_encoder(ids)[0]
        return states.to(self.dtype)

    def audio_states(
        self, features: AudioFeatures, rows: range, waveform: Waveform | None = None
    ) -> tuple[np.ndarray, str]:
        """([len(rows), layers, C] audio states, source) for clip rows `rows`:
        wav2vec2 hidden states when a model and the waveform are there, else the mapped
        mel/viseme features."""
        cfg = self.audio_proj.config
        n = features.n_frames
        if self.wav2vec is not None and waveform is not None:
            hs = cond.wav2vec_states(self.wav2vec, waveform, n, self._execution_device)
            if hs.shape[1:] == (cfg.blocks, cfg.channels):
                return hs[rows.start : rows.stop], "wav2vec2"
            log.warning("wav2vec2 states %s do not fit the audio projector; using mel features",
                        hs.shape[1:])
        states = cond.mel_audio_states(features, cfg.blocks, cfg.channels)
        return states[rows.start : rows.stop], "mel"

    # -------------------------------------------------------------- generation
    def __call__(self, portrait: FaceRig, audio: AudioFeatures, motion: MotionTrack, **kw):
        """All frames as `MagicTalkOutput(frames=[F, size, size, 3] uint8)`; arguments as
        `stream`. An interrupted call returns the frames decoded so far (none)."""
        frames = list(self.stream(portrait, audio, motion, **kw))
        size = kw.get("size") or 512
        arr = np.stack(frames) if frames else np.zeros((0, size, size, 3), np.uint8)
        return MagicTalkOutput(frames=arr)

    def stream(
        self,
        portrait: FaceRig,
        audio: AudioFeatures,
        motion: MotionTrack,
        prompt: str = "",
        negative_prompt: str = "",
        text_scale: float = 1.0,
        num_inference_steps: int = 25,
        guidance_scale: float = 3.5,
        seed: int = 0,
        window: int = 16,
        overlap: int = 4,
        size: int | None = 512,
        frames: range | None = None,
        context: int | None = None,
        waveform: Waveform | None = None,
        motion_scale: Sequence[float] = (1.0, 1.0, 1.0),
        shared_noise: float = 0.0,
        reference_pairing: str = "cond",
        reference: ReferenceState | None = None,
        cache_reference: bool = True,
        use_guider: bool = True,
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
        between_windows: Callable[[], None] | None = None,
        anchors: dict[int, np.ndarray] | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield [size, size, 3] uint8 frames `frames` (default all) of the clip.

        The span [frames.start − context, frames.stop + context) (context defaults to
        `overlap`) is denoised so the returned frames see their neighbours. `reference`: a
        precomputed `encode_reference` result; `cache_reference=False` recomputes the bank
        at every denoiser call (for the bench only). `reference_pairing`: which reference
        rows the cond frames read (see `cond_reference_rows`). `shared_noise` (0..1) correlates the
        initial noise of all frames (see `frame_noise`). `callback_on_step_end(pipe, i, t,
        {"latents": ...})` may return {"latents": tensor} to replace them.

        `anchors` {clip frame: [size, size, 3] uint8}: existing frames of the neighbours
        (their renders) inside the context span but outside `frames`; the context there is
        inpainted around them (see `core.diffusion.anchors.Anchors`), so the returned frames meet those renders.
        """
        cond_reference_rows(1, reference_pairing)  # validate before any work
        size = int(size or 512)
        if size <= 0 or size % self.vae_scale_factor:
            raise InputError(None, f"size {size} must be a multiple of {self.vae_scale_factor}")
        n = motion.n_frames
        if n == 0:
            return
        frames = range(0, n) if frames is None else frames
        if frames.start < 0 or frames.stop > n or len(frames) == 0:
            raise InputError(None, f"frames {frames.start}..{frames.stop} outside the clip 0..{n}")
        if window < 1 or not 0 <= overlap < window:
            raise InputError(None, f"window {window} / overlap {overlap}: need 0 <= overlap < window")
        span = context_span(frames, n, overlap if context is None else int(context))
        self._interrupt = False
        self._guidance_scale = float(guidance_scale)
        device, dtype = self._execution_device, self.dtype
        latent_side = size // self.vae_scale_factor

        if reference is None or reference.size != size:
            reference = self.encode_reference(portrait, size)
        crop = reference.crop

        text = None
        if prompt and text_scale != 0.0:
            text = self.encode_text(prompt, negative_prompt)
            if text is None:
                log.warning("no text encoder in the weights folder: the prompt is ignored")
            elif self.text_adapter is None:
                log.warning("no text adapter in the weights folder: the prompt is ignored")
                text = None

        lo = max(0, span.start - cond.AUDIO_RADIUS)
        hi = min(n, span.stop + cond.AUDIO_RADIUS)
        states, _ = self.audio_states(audio, range(lo, hi), waveform)
        states_t = torch.from_numpy(np.ascontiguousarray(states))

        levels = len(self.animate_net.config.block_out_channels)
        masks = {
            k: [torch.from_numpy(m).to(device, dtype) for m in v]
            for k, v in cond.region_masks(portrait, crop, latent_side, levels).items()
        }
        scale_t = [float(s) for s in motion_scale]

        c_lat = self.animate_net.config.in_channels
        shape = (1, c_lat, len(span), latent_side, latent_side)
        latents = torch.empty(shape, dtype=torch.float32)
        for i, k in enumerate(span):
            latents[0, :, i] = frame_noise(seed, k, (c_lat, latent_side, latent_side),
                                           shared_noise)
        latents.mul_(float(self.scheduler.init_noise_sigma))

        self.scheduler.set_timesteps(num_inference_steps)
        timesteps = [int(t) for t in self.scheduler.timesteps]
        self._num_timesteps = len(timesteps)
        fusion = LatentFusion(shape, window, overlap)
        cfg = self.do_classifier_free_guidance
        pinned = None
        if anchors:
            pinned = Anchors.encode(self, anchors, span, frames, size, seed, shared_noise)
        if pinned is not None:
            # the start: x_T of the anchors (= their noise under a zero-terminal-SNR schedule)
            pinned.apply(latents, float(self.scheduler.alphas_cumprod[timesteps[0]]))

        def window_inputs(win: range):
            clip = range(span.start + win.start, span.start + win.stop)
            idx = np.arange(clip.start, clip.stop)[:, None] + np.arange(
                -cond.AUDIO_RADIUS, cond.AUDIO_RADIUS + 1
            )[None]
            idx = np.clip(np.clip(idx, 0, n - 1) - lo, 0, states_t.shape[0] - 1)
            a = states_t[torch.from_numpy(idx)][None].to(device, dtype)  # [1,W,5,L,C]
            audio_tokens = self.audio_proj(a)
            guide_feat = None
            if use_guider:
                maps = cond.guide_maps(motion.landmarks[clip.start : clip.stop], crop, size)
                g = torch.from_numpy(maps).to(device, dtype).permute(1, 0, 2, 3)[None]
                guide_feat = self.face_locator(g)
            return audio_tokens, guide_feat

        def denoise_at(t: int):
            def denoise(x: torch.Tensor, win: range) -> torch.Tensor:
                ref = reference if cache_reference else self.recompute_bank(reference)
                with torch.inference_mode():
                    audio_tokens, guide_feat = window_inputs(win)
                    if cfg:
                        zeros_g = None if guide_feat is None else torch.zeros_like(guide_feat)
                        pred = self.animate_net(
                            torch.cat([x, x]),
                            t,
                            ref.image_tokens,
                            reference_bank=ref.bank,
                            reference_rows=[None, cond_reference_rows(x.shape[2], reference_pairing)],
                            motion_frame_rows=_MOTION_ROWS_CFG,
                            guide_feature=None if guide_feat is None else torch.cat(
                                [zeros_g, guide_feat]
                            ),
                            audio_tokens=torch.cat([torch.zeros_like(audio_tokens), audio_tokens]),
                            masks=masks,
                            motion_scale=scale_t,
                            text_tokens=text,
                            text_scale=float(text_scale) if text is not None else 0.0,
                        )
                        u, c = pred.chunk(2)
                        return guide(u, c, self._guidance_scale)
                    return self.animate_net(
                        x,
                        t,
                        ref.image_tokens[1:],
                        reference_bank=ref.bank,
                        reference_rows=[1],  # one context only: Hallo reads it everywhere too
                        motion_frame_rows=_MOTION_ROWS_COND,
                        guide_feature=guide_feat,
                        audio_tokens=audio_tokens,
                        masks=masks,
                        motion_scale=scale_t,
                        text_tokens=None if text is None else text[1:],
                        text_scale=float(text_scale) if text is not None else 0.0,
                    )

            return denoise

        def check() -> None:
            if between_windows is not None:
                between_windows()
            if self._interrupt:
                raise _Interrupted

        try:
            with self.progress_bar(total=len(timesteps)) as bar:
                for i, t in enumerate(timesteps):
                    check()
                    pred = fusion.predict(latents, denoise_at(t), device, dtype, check)
                    pull = None if pinned is None else pinned.x0_pull(self.scheduler, latents,
                                                                      pred, t)
                    for c0 in range(0, latents.shape[2], _STEP_CHUNK):  # no clip-size temps
                        c1 = c0 + _STEP_CHUNK
                        ddim_step_(self.scheduler, pred[:, :, c0:c1], t, latents[:, :, c0:c1])
                    if pinned is not None:  # to the noise level the DDIM step just reached
                        pinned.apply(latents, alphas_for(self.scheduler, t)[1], pull)
                    if callback_on_step_end is not None:
                        local = {"latents": latents}
                        kwargs = {k: local[k] for k in callback_on_step_end_tensor_inputs}
                        out = callback_on_step_end(self, i, t, kwargs) or {}
                        if "latents" in out and out["latents"] is not latents:
                            latents.copy_(out["latents"])
                    bar.update()
        except _Interrupted:
            return
        if self._interrupt:
            return

        sf = float(self.vae.config.scaling_factor)
        for k in frames:
            if self._interrupt:
                return
            z = latents[:, :, k - span.start].to(device, dtype) / sf
            with torch.inference_mode():
                img = self.vae.decode(z).sample[0]
            img = ((img.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
            yield img.permute(1, 2, 0).cpu().numpy()


class _Interrupted(Exception):
    """Internal: unwinds the denoising loop when the interrupt flag is set."""


def _component_names() -> set[str]:
    """The pipeline's component arguments (what a weights folder may provide)."""
    import inspect

    return set(inspect.signature(MagicTalkPipeline.__init__).parameters) - {"self"}
