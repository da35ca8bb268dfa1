"""`data prepare`: talking-head videos → a training dataset for the diffusion engine.

Layout of a dataset folder (everything a user could open is data: PNG, safetensors, JSON):

    manifest.json             {"version", "size", "clips": [clip.json contents...],
                               "skipped": [{"source", "reason"}]}
    captions.json             optional: [{"clip": id, "prompt": text}] (text-edit training)
    clips/<id>/clip.json      per-clip metadata; written LAST, so its presence = complete
    clips/<id>/frames/NNNNNN.png   the aligned face crops (size × size RGB)
    clips/<id>/guides/NNNNNN.png   the motion-prior maps (R face, G lips, B eyes), drawn by
                              core.diffusion.conditioning.draw_guide from the tracked
                              landmarks, framed like the engine's portrait crop
    clips/<id>/masks.safetensors   face, lip: [F, size, size] uint8 (0/255)
    clips/<id>/features.safetensors  landmarks [F, 68, 2] (crop pixels), head_pose [F, 3]
                              (yaw, pitch, roll degrees, from the landmarks), mel, rms, vad,
                              visemes, viseme_weights (core.audio.analyze), embedding [512]
                              (identity), optional wav2vec [F, L, C] and latents [F, 4, h, w]

Why a clip folder is built under `clips/.partial-<id>` and renamed: a crash leaves no
half-written clip that looks complete; the next run deletes partial folders and redoes them,
and skips every clip whose clip.json matches the source file (size, mtime) and the size.

Unusable videos are reported and skipped, never fatal: unreadable, no audio, too short, no
face, several faces, the face lost while tracking, scene cuts (frame-difference spikes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.errors import InputError
from core.fsutil import atomic_path

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
MANIFEST = "manifest.json"
CAPTIONS = "captions.json"
FORMAT_VERSION = 1
GUIDES_VERSION = 2
"""How a clip's crops and guides are framed; clips prepared otherwise are prepared again.
2: PortraitCrop.for_landmarks, the rule the engine frames a portrait by (medians)."""
MAX_DECODE_SIDE = 640  # frames are decoded at most this big: the crop is ≤ the face size anyway
CHECK_EVERY = 10  # full face detection every N frames (presence / second face checks)


class Unusable(Exception):
    """A video that cannot become a training clip; `str()` is the reason for the summary."""


@dataclass
class PrepareOptions:
    size: int = 256
    min_frames: int = 16
    max_frames: int = 250
    cut_threshold: float = 6.0  # spike: diff > threshold × median diff (and > 12 grey levels)
    face_fraction: float = 0.45  # face box / crop side, as the engine's PortraitCrop
    vae: object | None = None  # a diffusers AutoencoderKL: also store latents
    wav2vec: object | None = None  # a transformers Wav2Vec2Model: also store its states
    captions: dict[str, str] = field(default_factory=dict)  # video file name → prompt


@dataclass
class PrepareReport:
    done: list[str] = field(default_factory=list)  # clip ids written this run
    reused: list[str] = field(default_factory=list)  # complete clips left as they were
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    def summary(self) -> str:
        lines = [f"{len(self.done)} clip(s) prepared, {len(self.reused)} already complete, "
                 f"{len(self.skipped)} skipped"]
        lines += [f"  skipped {Path(s).name}: {why}" for s, why in self.skipped]
        return "\n".join(lines)


# ---------------------------------------------------------------- helpers
def clip_id(path: Path) -> str:
    """A folder-safe, stable id: the file stem plus a short hash of its name."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem)[:40] or "clip"
    return f"{stem}-{hashlib.blake2b(path.name.encode(), digest_size=4).hexdigest()}"


def _source_key(path: Path) -> dict:
    st = path.stat()
    return {"bytes": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def scene_cuts(frames: list[np.ndarray], threshold: float = 6.0) -> list[int]:
    """Frame indices i where frame i differs from frame i-1 by a spike: mean absolute grey
    difference (64×64 thumbnails) above `threshold` × the clip's median difference and above
    12 grey levels (so a still clip with tiny noise has no "cuts")."""
    if len(frames) < 3:
        return []
    thumbs = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (64, 64),
                         interpolation=cv2.INTER_AREA).astype(np.float32) for f in frames]
    d = np.array([np.abs(a - b).mean() for a, b in zip(thumbs[1:], thumbs[:-1], strict=True)])
    limit = max(12.0, threshold * float(np.median(d)))
    return [int(i) + 1 for i in np.flatnonzero(d > limit)]


def head_pose(landmarks: np.ndarray) -> np.ndarray:
    """Rough (yaw, pitch, roll) degrees per frame [F, 3] from 68 landmarks: roll from the eye
    line, yaw from the nose tip between the jaw ends, pitch from the nose tip between the eyes
    and the chin. A cheap, monotone description of the pose for the dataset, not a 3-D fit."""
    p = np.asarray(landmarks, np.float64)
    le, re_ = p[:, 36:42].mean(1), p[:, 42:48].mean(1)
    roll = np.degrees(np.arctan2(re_[:, 1] - le[:, 1], re_[:, 0] - le[:, 0]))
    left, right, nose, chin = p[:, 0], p[:, 16], p[:, 30], p[:, 8]
    width = np.maximum(np.linalg.norm(right - left, axis=1), 1e-6)
    yaw = 90.0 * ((nose[:, 0] - (left[:, 0] + right[:, 0]) / 2) / width)
    eyes_y = (le[:, 1] + re_[:, 1]) / 2
    span = np.maximum(chin[:, 1] - eyes_y, 1e-6)
    pitch = 90.0 * ((nose[:, 1] - eyes_y) / span - 0.45)
    return np.stack([yaw, pitch, roll], 1).astype(np.float32)


def region_masks_from_landmarks(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(face, lip) uint8 masks [size, size] from crop-pixel landmarks: the face = hull of jaw
    and brows; the lips = hull of the outer lips grown by 4 % of the face height (the jaw
    motion around the mouth), as the engine's audio-attention lip mask."""
    face = np.zeros((size, size), np.uint8)
    lip = np.zeros((size, size), np.uint8)
    pts = np.asarray(points, np.float32)
    cv2.fillPoly(face, [np.round(cv2.convexHull(pts[:27])).astype(np.int32)], 255)
    cv2.fillPoly(lip, [np.round(cv2.convexHull(pts[48:60])).astype(np.int32)], 255)
    grow = max(1, int(0.04 * (pts[:, 1].max() - pts[:, 1].min())))
    lip = cv2.dilate(lip, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return face, lip


def _read_video(path: Path, max_frames: int) -> tuple[list[np.ndarray], float]:
    from core.video import probe, read_frames

    info = probe(path)
    if not info["has_audio"]:
        raise Unusable("no audio stream")
    fps = float(info["fps"] or 25.0)
    w, h = info["width"], info["height"]
    s = min(1.0, MAX_DECODE_SIDE / max(w, h))
    size = None if s == 1.0 else (max(2, round(w * s) // 2 * 2), max(2, round(h * s) // 2 * 2))
    frames = []
    for frame in read_frames(path, size=size):
        frames.append(frame)
        if len(frames) >= max_frames:
            break
    return frames, fps


def _track(frames: list[np.ndarray]) -> np.ndarray:
    """Landmarks [F, 68, 2] of the one face (core.face.track_landmarks: full detection
    every CHECK_EVERY frames, the previous frame's box in between); at every full detection
    the face must be present and alone."""
    from core.face import detect_faces, track_landmarks

    out = []
    for i, lm in enumerate(track_landmarks(enumerate(frames), CHECK_EVERY)):
        if i % CHECK_EVERY == 0:
            faces = detect_faces(frames[i])
            if not faces:
                raise Unusable("no face" if i == 0 else f"face lost at frame {i}")
            if len(faces) > 1 and faces[1].area > 0.2 * faces[0].area:
                raise Unusable(f"several faces ({len(faces)}) at frame {i}")
        if lm is None:
            raise Unusable(f"no usable landmarks at frame {i}")
        out.append(np.asarray(lm, np.float32))
    return np.stack(out)


def _embedding(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, str]:
    """The identity vector ImageProj is trained on: dlib's descriptor of the reference crop
    lifted to 512-d, as the engine computes it without ArcFace."""
    from core.diffusion.conditioning import lift_descriptor
    from core.face import face_descriptor

    try:
        return lift_descriptor(face_descriptor(image, landmarks), 512), "dlib"
    except Exception as exc:  # noqa: BLE001 - a descriptor failure must not lose the clip
        log.warning("face descriptor failed (%s); identity embedding left at zero", exc)
        return np.zeros(512, np.float32), "none"


def _save_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not be written")


# ---------------------------------------------------------------- one clip
def prepare_clip(video: Path, folder: Path, opts: PrepareOptions) -> dict:
    """Build the clip folder `folder` (must not exist) from `video`; returns its metadata.
    Raises Unusable (reported, skipped) or InputError (unreadable file: also skipped)."""
    from safetensors.numpy import save_file

    import core.audio as ca
    from core.diffusion.conditioning import PortraitCrop, draw_guide

    frames, fps = _read_video(video, opts.max_frames)
    if len(frames) < opts.min_frames:
        raise Unusable(f"too short ({len(frames)} frames, at least {opts.min_frames} needed)")
    cuts = scene_cuts(frames, opts.cut_threshold)
    if cuts:
        raise Unusable(f"scene cut at frame {cuts[0]}" + (f" (+{len(cuts) - 1} more)"
                                                           if len(cuts) > 1 else ""))
    lms = _track(frames)
    h, w = frames[0].shape[:2]
    crop = PortraitCrop.for_landmarks(lms, w, h, opts.face_fraction)
    size = opts.size
    pts = crop.points(lms, size).astype(np.float32)
    wave = ca.load(video)
    feats = ca.analyze(wave, fps=fps)
    n = min(len(frames), feats.n_frames)
    if n < opts.min_frames:
        raise Unusable(f"audio covers only {feats.n_frames} frames")

    folder.mkdir(parents=True)
    (folder / "frames").mkdir()
    (folder / "guides").mkdir()
    faces, lips, crops = [], [], []
    for i in range(n):
        img = crop.image(frames[i], size)
        crops.append(img)
        _save_png(folder / "frames" / f"{i:06d}.png", img)
        guide = (draw_guide(pts[i].astype(np.float64), size) * 255).round().astype(np.uint8)
        _save_png(folder / "guides" / f"{i:06d}.png", guide.transpose(1, 2, 0))
        f, lip = region_masks_from_landmarks(pts[i], size)
        faces.append(f)
        lips.append(lip)
    save_file({"face": np.stack(faces), "lip": np.stack(lips)}, str(folder / "masks.safetensors"))
    emb, emb_source = _embedding(crops[0], pts[0])
    tensors = {
        "landmarks": pts[:n], "head_pose": head_pose(pts[:n]),
        "mel": np.asarray(feats.mel[:n], np.float32), "rms": np.asarray(feats.rms[:n], np.float32),
        "vad": np.asarray(feats.vad[:n], np.float32),
        "visemes": np.asarray(feats.visemes[:n], np.int16),
        "viseme_weights": np.asarray(feats.viseme_weights[:n], np.float32),
        "embedding": np.asarray(emb, np.float32),
    }
    if opts.wav2vec is not None:
        from core.diffusion.conditioning import wav2vec_states

        tensors["wav2vec"] = wav2vec_states(opts.wav2vec, wave, feats.n_frames)[:n]
    if opts.vae is not None:
        tensors["latents"] = encode_latents(opts.vae, crops)
    # safetensors.numpy writes the raw buffer: a non-C-contiguous array would come back
    # scrambled (np.concatenate keeps its inputs' strides), so every array is made C-ordered
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()},
              str(folder / "features.safetensors"))
    meta = {
        "id": folder.name.removeprefix(".partial-"), "source": video.name,
        "source_key": _source_key(video), "frames": n, "fps": fps, "size": size,
        "crop": [crop.x0, crop.y0, crop.side], "embedding_source": emb_source,
        "latents": None if opts.vae is None else vae_fingerprint(opts.vae), "wav2vec": opts.wav2vec is not None,
        "duration": n / fps, "guides": GUIDES_VERSION,
    }
    (folder / "clip.json").write_text(json.dumps(meta, indent=1))  # last: marks complete
    return meta


def vae_fingerprint(vae) -> str:
    """Which VAE made stored latents: a hash of its config and of its encoder's first
    weights. Training uses stored latents only when its own VAE has the same fingerprint."""
    import torch

    conf = json.dumps({k: v for k, v in dict(vae.config).items() if not k.startswith("_")},
                      sort_keys=True, default=str)
    with torch.no_grad():
        w = next(vae.parameters()).detach().float().cpu().numpy().tobytes()
    return hashlib.blake2b(conf.encode() + w, digest_size=8).hexdigest()


def encode_latents(vae, images: list[np.ndarray], batch: int = 8) -> np.ndarray:
    """[F, C, h, w] float32 scaled latent means of RGB uint8 crops."""
    import torch

    out = []
    dev, dt = vae.device, vae.dtype
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.stack(images[i : i + batch])).to(dev, dt)
            x = x.permute(0, 3, 1, 2) / 127.5 - 1.0
            z = vae.encode(x).latent_dist.mean * vae.config.scaling_factor
            out.append(z.float().cpu().numpy())
    return np.ascontiguousarray(np.concatenate(out))


def clip_complete(folder: Path, video: Path, size: int) -> dict | None:
    """The clip's metadata when `folder` is a complete clip of this very video and size."""
    try:
        meta = json.loads((folder / "clip.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("size") != size:
        return None
    if meta.get("source_key") != _source_key(video) or meta.get("guides") != GUIDES_VERSION:
        return None
    n = int(meta.get("frames", 0))
    ok = (folder / "masks.safetensors").is_file() and (folder / "features.safetensors").is_file()
    ok = ok and (folder / "frames" / f"{n - 1:06d}.png").is_file()
    return meta if ok and n > 0 else None


# ---------------------------------------------------------------- the whole folder
def list_videos(videos_dir: Path) -> list[Path]:
    if not videos_dir.is_dir():
        raise InputError(videos_dir, "is not a folder of videos")
    vids = sorted(p for p in videos_dir.iterdir()
                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not vids:
        raise InputError(videos_dir, f"holds no videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return vids


def read_captions(path: Path | None) -> dict[str, str]:
    """{video file name: prompt} from a JSON object; InputError for anything else."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"is not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= 1000 for k, v in data.items()
    ):
        raise InputError(path, "must be a JSON object {video file name: prompt text}")
    return data


def prepare(
    videos_dir: str | Path,
    out_dir: str | Path,
    opts: PrepareOptions | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> PrepareReport:
    """Prepare every video of `videos_dir` into the dataset `out_dir` (resumable)."""
    opts = opts or PrepareOptions()
    if not 32 <= opts.size <= 1024 or opts.size % 8:
        raise InputError(None, f"--size {opts.size}: use a multiple of 8 in 32..1024")
    videos = list_videos(Path(videos_dir))
    out = Path(out_dir)
    clips_dir = out / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    for partial in clips_dir.glob(".partial-*"):  # a crashed run's half-written clips
        shutil.rmtree(partial, ignore_errors=True)
    report = PrepareReport()
    metas = []
    for k, video in enumerate(videos):
        if progress:
            progress(k / len(videos), video.name)
        cid = clip_id(video)
        final = clips_dir / cid
        meta = clip_complete(final, video, opts.size)
        if meta is not None:
            report.reused.append(cid)
            metas.append(meta)
            continue
        if final.exists():
            shutil.rmtree(final)  # stale (other size / changed source) or incomplete
        tmp = clips_dir / f".partial-{cid}"
        try:
            meta = prepare_clip(video, tmp, opts)
        except (Unusable, InputError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            why = exc.problem if isinstance(exc, InputError) else str(exc)
            report.skipped.append((str(video), why))
            continue
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        os.replace(tmp, final)
        report.done.append(cid)
        metas.append(meta)
        _write_manifest(out, opts, metas, report)  # progress survives a crash
    _write_manifest(out, opts, metas, report)
    if progress:
        progress(1.0, "")
    return report


def _write_manifest(out: Path, opts: PrepareOptions, metas: list[dict],
                    report: PrepareReport) -> None:
    manifest = {
        "version": FORMAT_VERSION, "size": opts.size, "clips": metas,
        "skipped": [{"source": Path(s).name, "reason": r} for s, r in report.skipped],
    }
    with atomic_path(out / MANIFEST, suffix=".json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    by_name = {m["source"]: m["id"] for m in metas}
    pairs = [{"clip": by_name[name], "prompt": text}
             for name, text in sorted(opts.captions.items()) if name in by_name]
    if pairs:
        with atomic_path(out / CAPTIONS, suffix=".json") as tmp:
            tmp.write_text(json.dumps(pairs, indent=1))
