"""Reading a prepared dataset (core.training.data) as deterministic training batches.

Why batches are a pure function of (seed, step, micro-step): exact resume. A resumed run
needs no saved sampler or shuffling state to continue with the very batches it would have
seen; the data order is `numpy.random.default_rng([seed, step, micro])`, the same on any
machine and after any restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import InputError
from core.training.data import CAPTIONS, FORMAT_VERSION, MANIFEST
from core.types import AudioFeatures


@dataclass
class Clip:
    id: str
    folder: Path
    frames: int
    fps: float
    size: int
    tensors: dict[str, np.ndarray]  # features.safetensors
    face: np.ndarray  # [F, S, S] uint8
    lip: np.ndarray
    prompt: str | None = None
    latents_vae: str | None = None  # fingerprint of the VAE that made tensors["latents"]

    def image(self, i: int) -> np.ndarray:
        return _read_rgb(self.folder / "frames" / f"{i:06d}.png")

    def guide(self, i: int) -> np.ndarray:
        return _read_rgb(self.folder / "guides" / f"{i:06d}.png")

    def features(self) -> AudioFeatures:
        t = self.tensors
        n = self.frames
        return AudioFeatures(fps=self.fps, n_frames=n, duration=n / self.fps, rms=t["rms"],
                             vad=t["vad"], mel=t["mel"], visemes=t["visemes"],
                             viseme_weights=t["viseme_weights"])


def _read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(path, "is missing or not a readable image (re-run `data prepare`)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _pool(mask: np.ndarray, side: int) -> np.ndarray:
    """[.., S, S] uint8 → [.., side, side] float32 in [0, 1] (area average)."""
    flat = mask.reshape(-1, *mask.shape[-2:])
    out = np.stack([cv2.resize(m.astype(np.float32) / 255.0, (side, side),
                               interpolation=cv2.INTER_AREA) for m in flat])
    return out.reshape(*mask.shape[:-2], side, side)


class TrainData:
    """The clips of a dataset folder, validated once, with the samplers of both stages."""

    def __init__(self, folder: str | Path, only: list[str] | None = None):
        from safetensors.numpy import load_file

        self.folder = Path(folder)
        path = self.folder / MANIFEST
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(path, f"is not a dataset manifest ({exc}); run `data prepare`")\
                from None
        if not isinstance(manifest, dict) or manifest.get("version") != FORMAT_VERSION:
            raise InputError(path, f"is not a version-{FORMAT_VERSION} dataset manifest")
        prompts = self._captions()
        self.clips: list[Clip] = []
        for meta in manifest.get("clips", []):
            if not isinstance(meta, dict):
                raise InputError(path, "lists a clip that is not an object")
            cid = str(meta.get("id", ""))
            if only and cid not in only:
                continue
            folder = self.folder / "clips" / cid
            if not cid or "/" in cid or cid.startswith(".") or not folder.is_dir():
                raise InputError(path, f"names a clip that is missing: {cid!r}")
            try:
                tensors = load_file(str(folder / "features.safetensors"))
                masks = load_file(str(folder / "masks.safetensors"))
            except Exception as exc:  # noqa: BLE001 - any unreadable file is one message
                raise InputError(folder, f"clip data is unreadable ({exc})") from None
            try:
                n, fps, size = int(meta["frames"]), float(meta["fps"]), int(meta["size"])
                ok = tensors["landmarks"].shape[0] == n and masks["face"].shape[0] == n
                ok = ok and masks["lip"].shape == masks["face"].shape and n > 0 and fps > 0
                ok = ok and all(k in tensors for k in ("mel", "rms", "vad", "visemes",
                                                       "viseme_weights", "embedding"))
            except (KeyError, TypeError, ValueError):
                ok = False
            if not ok:
                raise InputError(folder, "clip data does not match its metadata (re-run "
                                         "`data prepare`)")
            latents = meta.get("latents") or None
            if latents and tensors.get("latents", np.zeros(0)).shape[:1] != (n,):
                latents = None
            self.clips.append(Clip(cid, folder, n, fps, size, tensors, masks["face"],
                                   masks["lip"], prompts.get(cid), latents))
        if not self.clips:
            which = f" among {', '.join(only)}" if only else ""
            raise InputError(self.folder, f"the dataset has no usable clips{which}")
        self.size = self.clips[0].size

    def _captions(self) -> dict[str, str]:
        path = self.folder / CAPTIONS
        if not path.is_file():
            return {}
        try:
            pairs = json.loads(path.read_text(encoding="utf-8"))
            return {str(p["clip"]): str(p["prompt"]) for p in pairs}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(path, f"is not a list of {{clip, prompt}} pairs ({exc})") from None

    @property
    def has_captions(self) -> bool:
        return any(c.prompt for c in self.clips)

    # -------------------------------------------------------------- samplers
    def use_latents(self, fingerprint: str) -> None:
        """Serve stored latents (instead of frames to encode) from clips whose latents the
        VAE with this fingerprint made."""
        self._latents_of = fingerprint

    def _lat(self, clip: Clip, index) -> np.ndarray | None:
        if getattr(self, "_latents_of", None) is None or clip.latents_vae != self._latents_of:
            return None
        return clip.tensors["latents"][index]

    def pairs(self, batch: int, seed: int, step: int, micro: int, latent: int) -> dict:
        """Stage 1: `batch` (reference frame, target frame) pairs of random clips."""
        rng = np.random.default_rng([seed, step, micro, 1])
        out: dict[str, list] = {k: [] for k in ("ref", "target", "guide", "face", "lip",
                                                "embedding", "prompt", "clip", "index",
                                                "ref_lat", "target_lat")}
        for _ in range(batch):
            ci = int(rng.integers(len(self.clips)))
            clip = self.clips[ci]
            r, t = (int(v) for v in rng.integers(clip.frames, size=2))
            out["ref"].append(clip.image(r))
            out["target"].append(clip.image(t))
            out["guide"].append(clip.guide(t)[None])
            out["ref_lat"].append(self._lat(clip, r))
            out["target_lat"].append(self._lat(clip, [t]))
            out["face"].append(_pool(clip.face[t : t + 1], latent))
            out["lip"].append(_pool(clip.lip[t : t + 1], latent))
            out["embedding"].append(clip.tensors["embedding"])
            out["prompt"].append(clip.prompt or "")
            out["clip"].append(ci)
            out["index"].append((r, [t]))
        return _stack(out)

    def clips_of(self, batch: int, frames: int, seed: int, step: int, micro: int,
                 latent: int, audio_states) -> dict:
        """Stage 2: `batch` windows of `frames` consecutive frames (+ a reference frame of
        the same clip, and the ±2-frame audio windows from `audio_states(clip)`)."""
        rng = np.random.default_rng([seed, step, micro, 2])
        out: dict[str, list] = {k: [] for k in ("ref", "target", "guide", "face", "lip",
                                                "embedding", "audio", "prompt", "clip",
                                                "index", "ref_lat", "target_lat")}
        for _ in range(batch):
            ci = int(rng.integers(len(self.clips)))
            clip = self.clips[ci]
            f = min(frames, clip.frames)
            s = int(rng.integers(clip.frames - f + 1))
            r = int(rng.integers(clip.frames))
            idx = list(range(s, s + f))
            out["ref"].append(clip.image(r))
            out["target"].append(np.stack([clip.image(i) for i in idx]))
            out["guide"].append(np.stack([clip.guide(i) for i in idx]))
            out["ref_lat"].append(self._lat(clip, r))
            out["target_lat"].append(self._lat(clip, idx))
            out["face"].append(_pool(clip.face[s : s + f], latent))
            out["lip"].append(_pool(clip.lip[s : s + f], latent))
            out["embedding"].append(clip.tensors["embedding"])
            states = audio_states(ci)
            win = np.arange(s, s + f)[:, None] + np.arange(-2, 3)[None]
            out["audio"].append(states[np.clip(win, 0, clip.frames - 1)])
            out["prompt"].append(clip.prompt or "")
            out["clip"].append(ci)
            out["index"].append((r, idx))
        return _stack(out)


def _stack(out: dict[str, list]) -> dict:
    """Arrays stacked over the batch; stored latents only when every sample has them."""
    keep = {"prompt", "clip", "index"}
    res = {}
    for k, v in out.items():
        if k in ("ref_lat", "target_lat"):
            res[k] = None if any(x is None for x in v) else np.stack(v)
        else:
            res[k] = v if k in keep else np.stack(v)
    return res
