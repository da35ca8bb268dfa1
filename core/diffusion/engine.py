"""DiffusionEngine: the `diffusion` engine (core.types.Engine) over MagicTalkPipeline.

Where the weights come from, in order: `create("diffusion", weights=DIR)`, then
`request.settings["weights"]` (what `render --weights DIR` passes), then the environment
variable AVATAR_DIFFUSION_WEIGHTS. `available()` names exactly what is missing: no folder
configured, the folder missing, or which component of it is missing; without a GPU it stays
available (a tiny folder renders in seconds on a CPU) but says that a full-size model will be
very slow.

Settings (constructor options, overridden per request by `request.settings`):
  steps (25), guidance (3.5), window (16), overlap (4), text_scale (1.0; multiplied by the
  preset's `TextEdit.strength`), motion_scale ((1, 1, 1): pose/face/lip audio weights),
  device ("cuda" when present, else "cpu"), dtype (bf16/fp16 on GPU, fp32 on CPU),
  guides ("tracked": the guide maps are drawn from the plan as the Face Mesh tracks it on
  the warp engine's render, as training guides are made (core.diffusion.tracked_guides);
  "plan": from the planner's landmarks).

Segments and context: `context_frames` (= overlap) is how many frames of each neighbour a
segment render denoises with it: `render(request, frames=range(a, b))` denoises
[a − O, b + O) of the clip (request.motion covers the whole clip) and yields only [a, b).
Because the initial noise of every frame depends only on (seed, frame) and the neighbour
frames are denoised together with the segment, a re-rendered segment meets its
neighbours' existing renders without a seam. The studio therefore passes the whole clip's
motion/features and the segment's range; it need not add the overlap itself, but a
segment's spec hash must cover the inputs of [a − context_frames, b + context_frames) (the
neighbours' motion, audio and seed), since those frames influence the segment's pixels.

Anchors: the context frames are denoised afresh under another window layout than the
neighbours had, so alone they would not reproduce the neighbours' actual renders. A caller
that has those renders passes them as `request.settings["anchors"]` = {clip frame index:
[size, size, 3] uint8 RGB frame} (indices in [a − O, a) and [b, b + O)); the pipeline then
inpaints the segment around them (see `core.diffusion.anchors.Anchors`), so the first and
last frames meet the neighbours' existing frames. The studio passes the previous segment's
last O frames and the next segment's first O frames when their renders are current.
Anchors outside the denoised span are ignored; they never enter the engine's cache keys.

The ReferenceNet bank (plus identity tokens and the portrait latent) is computed once per
(weights, portrait, size) and kept in a small LRU cache, so re-rendering a segment with
another preset or seed never re-runs ReferenceNet (the bank does not depend on the text:
the text edit acts in the denoiser's cross-attention only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.diffusion.layout import MODEL_COMPONENTS
from core.diffusion.tracked_guides import with_tracked_landmarks
from core.errors import Cancelled, EngineUnavailable, InputError
from core.types import CancelFn, ProgressFn, RenderRequest

log = logging.getLogger(__name__)

ENV_WEIGHTS = "AVATAR_DIFFUSION_WEIGHTS"
DEFAULTS = {
    "steps": 25,
    "guidance": 3.5,
    "window": 16,
    "overlap": 4,
    "text_scale": 1.0,
    "motion_scale": (1.0, 1.0, 1.0),
    # None = from the weights: "hallo" for folders `models import-hallo` wrote, else "cond"
    # (see core.diffusion.pipeline.cond_reference_rows)
    "reference_pairing": None,
    # "tracked": guides drawn from the plan as the Face Mesh tracks it on the warp engine's
    # render (how training guides are made, see core.diffusion.tracked_guides); "plan": from
    # the planner's landmarks themselves
    "guides": "tracked",
}
GUIDE_SOURCES = ("tracked", "plan")
_TINY_HINT = "create a tiny test folder with `python main.py models init-tiny DIR`"


def missing_components(folder: str | Path) -> list[str]:
    """What a weights folder lacks, each as 'component (what is missing)'; [] = complete."""
    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        return ["model_index.json"]
    out = []
    for name in MODEL_COMPONENTS:
        sub = folder / name
        if not (sub / "config.json").is_file():
            out.append(f"{name} ({name}/config.json)")
        elif not any(sub.glob("*.safetensors")) and not any(sub.glob("*.bin")):
            out.append(f"{name} (weights in {name}/)")
    if not (folder / "scheduler" / "scheduler_config.json").is_file():
        out.append("scheduler (scheduler/scheduler_config.json)")
    return out


def optional_notes(folder: str | Path) -> list[str]:
    """What optional parts are absent and what that means for the output."""
    folder = Path(folder)
    notes = []
    if not (folder / "text_encoder" / "config.json").is_file() or not (
        folder / "text_adapter" / "config.json"
    ).is_file():
        notes.append("no text_encoder/text_adapter: prompts (text edits) are ignored")
    if not (folder / "wav2vec" / "config.json").is_file():
        notes.append("no wav2vec/: audio tokens come from the mel/viseme features")
    ok, why = _arcface_status(folder)
    if not ok:
        notes.append(why)
    return notes


def _arcface_status(folder: Path) -> tuple[bool, str]:
    """(True, model) when an ArcFace ONNX model is in the folder (helper
    `core.diffusion.face_embed`), else (False, what is missing + the dlib fallback)."""
    try:
        from core.diffusion.face_embed import face_embedding_status
    except ImportError:
        return False, "no ArcFace support installed: identity embedding from dlib's descriptor"
    return face_embedding_status(folder)


def _torch_device(device: str | None) -> str:
    import torch

    if device:
        return str(device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def weights_pairing(weights: Path) -> str:
    """The reference pairing the weights were made for: imported Hallo checkpoints ran
    under Hallo's alternating reading, anything else uses the cond-context reference."""
    try:
        index = json.loads((Path(weights) / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "cond"
    source = index.get("_source") if isinstance(index, dict) else None
    return "hallo" if isinstance(source, dict) and source.get("format") == "hallo" else "cond"


class DiffusionEngine:
    """Engine "diffusion": ReferenceNet + AnimateNet with progressive latent fusion."""

    name = "diffusion"

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str | None = None,
        dtype: str | None = None,
        cache_size: int = 4,
        **settings,
    ):
        env = os.environ.get(ENV_WEIGHTS)
        self.weights = Path(weights).expanduser() if weights else (Path(env) if env else None)
        self.device = device
        self.dtype = dtype
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            log.debug("DiffusionEngine ignores options %s", sorted(unknown))
        self.settings = {**DEFAULTS, **{k: v for k, v in settings.items() if k in DEFAULTS}}
        self._pipes: dict[tuple, object] = {}
        self._refs: OrderedDict[tuple, object] = OrderedDict()
        self._cache_size = max(1, int(cache_size))
        self._lock = threading.Lock()
        self.last_info: dict = {}

    @property
    def context_frames(self) -> int:
        """Frames of neighbour context each side of a segment render (= window overlap)."""
        return int(self.settings["overlap"])

    # -------------------------------------------------------------- availability
    def _status(self, weights: Path | None) -> tuple[bool, str]:
        if weights is None:
            return False, (
                f"no weights folder configured: pass --weights DIR or set {ENV_WEIGHTS} "
                f"({_TINY_HINT})"
            )
        if not weights.exists():
            return False, f"weights folder {weights} does not exist ({_TINY_HINT})"
        if not weights.is_dir():
            return False, f"weights path {weights} is not a folder"
        missing = missing_components(weights)
        if missing:
            return False, f"weights folder {weights} is incomplete: missing {', '.join(missing)}"
        notes = optional_notes(weights)
        if _torch_device(self.device) == "cpu":
            notes.insert(0, "no GPU: runs on the CPU, which is very slow for full-size weights "
                            "(fine for tiny test weights)")
        return True, "; ".join(notes)

    def available(self) -> tuple[bool, str]:
        """(ok, message): when not ok the message says what is missing; when ok it lists
        warnings (no GPU, optional parts absent), empty when there are none."""
        return self._status(self.weights)

    def _weights_for(self, request: RenderRequest) -> Path | None:
        w = request.settings.get("weights") if request.settings else None
        return Path(w).expanduser() if w else self.weights

    # -------------------------------------------------------------- loading
    def pipeline(self, weights: Path | None = None, device: str | None = None):
        """The loaded MagicTalkPipeline for `weights` on `device` (cached)."""
        import torch

        weights = weights or self.weights
        ok, reason = self._status(weights)
        if not ok:
            raise EngineUnavailable(self.name, reason)
        dev = _torch_device(device or self.device)
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise EngineUnavailable(self.name, f"device {dev} requested but no CUDA GPU found")
        if self.dtype:
            dtype = getattr(torch, str(self.dtype))
        elif dev.startswith("cuda"):
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        key = (str(weights.resolve()), dev, str(dtype))
        with self._lock:
            pipe = self._pipes.get(key)
            if pipe is None:
                from core.diffusion.pipeline import MagicTalkPipeline

                try:
                    pipe = MagicTalkPipeline.from_pretrained(weights, dtype=dtype)
                except (OSError, ValueError, KeyError, RuntimeError) as exc:
                    raise EngineUnavailable(
                        self.name, f"cannot load weights from {weights}: {exc}"
                    ) from None
                pipe.to(dev)
                if _arcface_status(weights)[0]:
                    from core.diffusion.face_embed import load_arcface

                    pipe.arcface = load_arcface(weights)
                pipe.set_progress_bar_config(disable=True)
                self._pipes.clear()  # one model in memory at a time
                self._pipes[key] = pipe
        return pipe

    def reference(self, pipe, rig, size: int):
        """The pipeline's ReferenceState for this portrait, cached per (weights, portrait,
        size) — computed once, reused by every segment, preset and seed."""
        h = hashlib.sha1()
        h.update(np.ascontiguousarray(rig.image).tobytes())
        h.update(np.ascontiguousarray(rig.landmarks, dtype=np.float32).tobytes())
        h.update(repr(tuple(float(v) for v in rig.box)).encode())
        key = (id(pipe), h.hexdigest(), int(size))
        with self._lock:
            state = self._refs.get(key)
            if state is not None:
                self._refs.move_to_end(key)
                return state
        state = pipe.encode_reference(rig, int(size))
        with self._lock:
            self._refs[key] = state
            while len(self._refs) > self._cache_size:
                self._refs.popitem(last=False)
        return state

    # -------------------------------------------------------------- rendering
    def render(
        self,
        request: RenderRequest,
        frames: range | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield [size, size, 3] uint8 frames of `frames` (default: the whole clip)."""
        s = {**self.settings, **{k: v for k, v in (request.settings or {}).items() if k in DEFAULTS}}
        n = request.n_frames
        frames = range(0, n) if frames is None else frames
        if frames.start < 0 or frames.stop > n:
            raise InputError(None, f"frames {frames.start}..{frames.stop} outside the clip 0..{n}")
        if len(frames) == 0:
            return
        if request.size % 8:
            raise InputError(None, f"size {request.size} must be a multiple of 8 for diffusion")
        weights = self._weights_for(request)
        pipe = self.pipeline(weights, request.settings.get("device"))
        if cancel is not None and cancel():
            raise Cancelled()
        ref = self.reference(pipe, request.rig, request.size)
        steps = int(s["steps"])
        decode_share = 0.1
        text_scale = float(s["text_scale"]) * float(request.text.strength)

        def on_step(p, i, t, kw):
            if progress is not None:
                progress((1 - decode_share) * (i + 1) / steps, f"denoising step {i + 1}/{steps}")
            if cancel is not None and cancel():
                p.interrupt_now()
            return {}

        def between_windows():
            if cancel is not None and cancel():
                pipe.interrupt_now()

        self.last_info = {
            "face_embedding": ref.face_source,
            "audio": "wav2vec2" if (pipe.wav2vec is not None and request.audio) else "mel",
            "reference_pairing": s["reference_pairing"] or weights_pairing(weights),
            "span": (max(0, frames.start - int(s["overlap"])),
                     min(n, frames.stop + int(s["overlap"]))),
        }
        if s["guides"] not in GUIDE_SOURCES:
            raise InputError(None, f"guides {s['guides']!r} must be one of {GUIDE_SOURCES}")
        self.last_info["guides"] = s["guides"]
        if s["guides"] == "tracked":
            if progress is not None:
                progress(0.0, "tracking the planned motion for the guides")
            request = with_tracked_landmarks(request, range(*self.last_info["span"]), cancel)
            if cancel is not None and cancel():
                raise Cancelled()
        anchors = (request.settings or {}).get("anchors") or None
        if anchors is not None and not isinstance(anchors, dict):
            raise InputError(None, "settings['anchors'] must map frame indices to RGB frames")
        self.last_info["anchors"] = sorted(int(k) for k in anchors) if anchors else []
        stream = pipe.stream(
            request.rig,
            request.features,
            request.motion,
            prompt=request.text.prompt,
            negative_prompt=request.text.negative_prompt,
            text_scale=text_scale,
            num_inference_steps=steps,
            guidance_scale=float(s["guidance"]),
            seed=int(request.seed),
            window=int(s["window"]),
            overlap=int(s["overlap"]),
            size=int(request.size),
            frames=frames,
            waveform=request.audio,
            motion_scale=tuple(float(v) for v in s["motion_scale"]),
            reference_pairing=self.last_info["reference_pairing"],
            reference=ref,
            callback_on_step_end=on_step,
            between_windows=between_windows,
            anchors=anchors,
        )
        for done, frame in enumerate(stream, 1):
            yield frame
            if progress is not None:
                progress(1 - decode_share + decode_share * done / len(frames),
                         f"decoding frame {done}/{len(frames)}")
            if cancel is not None and cancel():
                pipe.interrupt_now()
                raise Cancelled()
        if pipe.interrupt:
            raise Cancelled()
