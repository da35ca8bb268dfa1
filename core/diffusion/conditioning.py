"""Conditioning inputs of the diffusion engine, made from core's plain dataclasses.

- `PortraitCrop`: the square crop of the FaceRig image the engine renders (face centred),
  used for the portrait, the guide maps and the masks alike so they line up.
- `guide_maps`: the motion-prior images the FaceLocator (guider) encodes, drawn per frame
  from MotionTrack.landmarks at the output resolution: R = face region (jaw + brows
  outline), G = lips (outer polygon minus inner polygon, so mouth opening shows as a hole),
  B = eyes (lid polygons, so a blink shows as the polygon collapsing). Drawn per window,
  never for the whole clip at once (a 512² map of 1000 frames would be 3 GB).
- `region_masks`: Hallo's per-level full/face/lip masks for the audio attention, from the
  FaceRig's masks.
- Audio states [n, layers, C] in the layout the audio projector expects (wav2vec2 hidden
  states per video frame) and their ±2-frame windows. Without a wav2vec2 model the
  engine's own features (log-mel, soft visemes, RMS, VAD) are mapped into that layout by a
  fixed seeded projection; a trained projector would not have seen such inputs, which is
  why `DiffusionEngine.available()` says which audio path is in use.
- `face_embedding`: the 512-d identity vector for ImageProj. Hallo uses ArcFace; without it
  the dlib 128-d descriptor is lifted to 512-d by a fixed orthonormal map (deterministic, so
  the same portrait always gives the same embedding).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.types import AudioFeatures, FaceRig, Waveform

AUDIO_RADIUS = 2
"""Hallo stacks the audio states of frames i−2 … i+2 for frame i."""
_SHIFT = 4  # sub-pixel bits for cv2 polygon drawing
_JAW, _BROWS = slice(0, 17), slice(17, 27)
_OUTER_LIPS, _INNER_LIPS = slice(48, 60), slice(60, 68)
_EYES = (slice(36, 42), slice(42, 48))


# ---------------------------------------------------------------- crop
@dataclass(frozen=True)
class PortraitCrop:
    """A square region (x0, y0, side) of the FaceRig image, in image pixels."""

    x0: float
    y0: float
    side: float

    @classmethod
    def for_rig(cls, rig: FaceRig, face_fraction: float = 0.45) -> PortraitCrop:
        """The portrait's crop: `for_landmarks` of its one set of landmarks, so a portrait
        is framed exactly as `data prepare` frames a training video of it (a model trained
        on our datasets sees its faces at the size and place it was trained on)."""
        w, h = rig.size
        return cls.for_landmarks(np.asarray(rig.landmarks, np.float64)[None], w, h,
                                 face_fraction)

    @classmethod
    def for_landmarks(cls, landmarks: np.ndarray, width: int, height: int,
                      face_fraction: float = 0.45) -> PortraitCrop:
        """One square crop for frames of landmarks [F, 68, 2] (a still camera for the
        model): the face box (jaw across, brows to chin) is smoothed over time (5-frame
        moving average); the crop is centred on the boxes' median, a little above it
        (headroom), and its side is the median face over `face_fraction` (Hallo's training
        crops), shrunk to fit inside the image. Medians, so the crop of a clip and of any
        one of its frames agree."""
        p = np.asarray(landmarks, np.float64)
        x0, x1 = p[:, _JAW, 0].min(1), p[:, _JAW, 0].max(1)
        y0, y1 = p[:, _BROWS, 1].min(1), p[:, _JAW, 1].max(1)
        if len(p) >= 5:
            k = np.ones(5) / 5.0
            x0, x1, y0, y1 = (np.convolve(np.pad(v, 2, mode="edge"), k, mode="valid")
                              for v in (x0, x1, y0, y1))
        face = max(float(np.median(np.maximum(x1 - x0, y1 - y0))), 1.0)
        side = min(face / face_fraction, float(width), float(height))
        cx = float(np.median((x0 + x1) / 2.0))
        cy = float(np.median((y0 + y1) / 2.0)) - 0.05 * face
        left = float(np.clip(cx - side / 2.0, 0.0, width - side))
        top = float(np.clip(cy - side / 2.0, 0.0, height - side))
        return cls(left, top, side)

    def matrix(self, size: int) -> np.ndarray:
        """2×3 affine map from image pixels to output pixels."""
        s = size / self.side
        return np.array([[s, 0.0, -self.x0 * s], [0.0, s, -self.y0 * s]], dtype=np.float64)

    def image(self, image: np.ndarray, size: int) -> np.ndarray:
        """[size, size, C] crop of `image` resampled (area filter when shrinking)."""
        interp = cv2.INTER_AREA if self.side > size else cv2.INTER_CUBIC
        return cv2.warpAffine(
            image, self.matrix(size), (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE
        )

    def points(self, pts: np.ndarray, size: int) -> np.ndarray:
        """Image-pixel points [..., 2] → output-pixel points."""
        s = size / self.side
        out = np.asarray(pts, dtype=np.float64).copy()
        out[..., 0] = (out[..., 0] - self.x0) * s
        out[..., 1] = (out[..., 1] - self.y0) * s
        return out


# ---------------------------------------------------------------- guide maps
def _poly(pts: np.ndarray) -> np.ndarray:
    return np.round(pts * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def draw_guide(points: np.ndarray, size: int) -> np.ndarray:
    """One guide map [3, size, size] float32 in {0..1} from 68 output-pixel landmarks."""
    r = np.zeros((size, size), np.uint8)
    g = np.zeros((size, size), np.uint8)
    b = np.zeros((size, size), np.uint8)
    face = np.concatenate([points[_JAW], points[_BROWS][::-1]])
    cv2.fillPoly(r, [_poly(face)], 255, cv2.LINE_AA, _SHIFT)
    cv2.fillPoly(g, [_poly(points[_OUTER_LIPS])], 255, cv2.LINE_AA, _SHIFT)
    cv2.fillPoly(g, [_poly(points[_INNER_LIPS])], 0, cv2.LINE_AA, _SHIFT)
    for eye in _EYES:
        cv2.fillPoly(b, [_poly(points[eye])], 255, cv2.LINE_AA, _SHIFT)
    return np.stack([r, g, b]).astype(np.float32) / 255.0


def guide_maps(landmarks: np.ndarray, crop: PortraitCrop, size: int) -> np.ndarray:
    """Guide maps [F, 3, size, size] float32 for landmark rows [F, 68, 2] (image pixels)."""
    pts = crop.points(np.asarray(landmarks, dtype=np.float64), size)
    return np.stack([draw_guide(p, size) for p in pts]) if len(pts) else np.zeros(
        (0, 3, size, size), np.float32
    )


# ---------------------------------------------------------------- masks
def _mask_or_hull(rig: FaceRig, name: str, pts: np.ndarray) -> np.ndarray:
    m = rig.masks.get(name) if rig.masks else None
    h, w = rig.image.shape[:2]
    if m is not None and m.shape[:2] == (h, w):
        return np.asarray(m, dtype=np.float32)
    out = np.zeros((h, w), np.uint8)
    cv2.fillPoly(out, [_poly(cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2))], 255,
                 cv2.LINE_AA, _SHIFT)
    return out.astype(np.float32) / 255.0


def region_masks(
    rig: FaceRig, crop: PortraitCrop, latent_size: int, levels: int = 4
) -> dict[str, list[np.ndarray]]:
    """Hallo's audio-attention masks: {"full", "face", "lip"} → one flattened [s_L²] float32
    mask per UNet level L (s_L = latent_size / 2^L).

    full = the head region (face box grown ×1.6, where pose motion happens), face = the
    FaceRig face mask, lip = the mouth mask grown a little (jaw motion around the lips).
    """
    h, w = rig.image.shape[:2]
    lm = np.asarray(rig.landmarks, dtype=np.float64)
    x0, y0, x1, y1 = (float(v) for v in rig.box)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.8 * max(x1 - x0, y1 - y0)
    full = np.zeros((h, w), np.float32)
    full[max(0, int(cy - half)) : int(cy + half) + 1, max(0, int(cx - half)) : int(cx + half) + 1] = 1
    face = _mask_or_hull(rig, "face", lm[:27])
    lip = _mask_or_hull(rig, "mouth", lm[48:60])
    grow = max(3, int(0.04 * max(x1 - x0, y1 - y0)))
    lip = cv2.dilate(lip, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    out: dict[str, list[np.ndarray]] = {}
    for name, m in (("full", full), ("face", face), ("lip", lip)):
        base = crop.image(m, latent_size * 4)
        out[name] = [
            cv2.resize(base, (latent_size >> lv, latent_size >> lv), interpolation=cv2.INTER_AREA)
            .reshape(-1).astype(np.float32)
            for lv in range(levels)
        ]
    return out


# ---------------------------------------------------------------- audio
def _projection(seed: int, rows: int, cols: int) -> np.ndarray:
    """A fixed [rows, cols] matrix with orthonormal rows (or columns, whichever is fewer)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, _ = np.linalg.qr(a)
    return (q if rows >= cols else q.T).astype(np.float32)


def feature_vectors(features: AudioFeatures) -> np.ndarray:
    """[n, d] per-frame vector of the engine's own audio analysis: clip-normalised log-mel,
    soft viseme weights, RMS and voice activity (all roughly unit scale)."""
    n = features.n_frames
    mel = np.asarray(features.mel, dtype=np.float32).reshape(n, -1)
    mel = (mel - mel.mean()) / (mel.std() + 1e-6)
    vis = np.asarray(features.viseme_weights, dtype=np.float32).reshape(n, -1) * 2.0
    rms = np.asarray(features.rms, dtype=np.float32).reshape(n, 1)
    vad = np.asarray(features.vad, dtype=np.float32).reshape(n, 1)
    return np.concatenate([mel, vis, rms, vad * 2.0 - 1.0], axis=1)


def mel_audio_states(features: AudioFeatures, layers: int, channels: int) -> np.ndarray:
    """[n, layers, channels] float32 stand-in for wav2vec2 hidden states: each "layer" is a
    different fixed orthonormal lift of `feature_vectors` (seeded by layer index)."""
    v = feature_vectors(features)
    d = v.shape[1]
    scale = np.sqrt(channels / d, dtype=np.float32) if channels > d else np.float32(1.0)
    out = np.empty((features.n_frames, layers, channels), np.float32)
    for layer in range(layers):
        out[:, layer] = v @ _projection(9000 + layer, d, channels) * scale
    return out


def wav2vec_states(model, waveform: Waveform, n_frames: int, device="cpu") -> np.ndarray:
    """[n_frames, layers, C] wav2vec2 hidden states (hidden_states[1:], as Hallo uses them),
    resampled linearly from the model's 50 Hz to the video frame rate."""
    import torch

    x = np.asarray(waveform.samples, dtype=np.float32)
    x = (x - x.mean()) / (x.std() + 1e-7)  # Wav2Vec2FeatureExtractor's normalisation
    with torch.inference_mode():
        inp = torch.from_numpy(x)[None].to(device, next(model.parameters()).dtype)
        out = model(inp, output_hidden_states=True)
        hs = torch.stack(out.hidden_states[1:], dim=2)[0].float()  # [T, layers, C]
        hs = torch.nn.functional.interpolate(
            hs.permute(1, 2, 0), size=n_frames, mode="linear", align_corners=True
        ).permute(2, 0, 1)
    return hs.cpu().numpy()


def window_audio(states: np.ndarray, frames: range, radius: int = AUDIO_RADIUS) -> np.ndarray:
    """[F, 2·radius+1, layers, C]: for each frame i, the states of i−radius … i+radius with
    indices clamped to the clip."""
    n = states.shape[0]
    idx = np.arange(frames.start, frames.stop)[:, None] + np.arange(-radius, radius + 1)[None]
    return states[np.clip(idx, 0, n - 1)]


# ---------------------------------------------------------------- identity
def lift_descriptor(desc: np.ndarray, dim: int = 512) -> np.ndarray:
    """A 128-d dlib descriptor → a `dim`-d embedding: unit-normalised, lifted by a fixed
    orthonormal map, scaled to unit per-element variance (the scale of the synthetic and
    normalised ArcFace inputs ImageProj sees)."""
    d = np.asarray(desc, dtype=np.float32).reshape(-1)
    d = d / (np.linalg.norm(d) + 1e-8)
    return (_projection(4242, d.shape[0], dim).T @ d if d.shape[0] < dim else d[:dim]) * np.sqrt(
        dim, dtype=np.float32
    )


def face_embedding(rig: FaceRig, dim: int = 512, arcface=None) -> tuple[np.ndarray, str]:
    """(embedding [dim] float32, source) where source is "arcface" or "dlib".

    `arcface` is an optional callable (image [H,W,3] uint8, landmarks [68,2]) → [512] (the
    onnxruntime path, `core.diffusion.face_embed.ArcFaceEmbedder`, when the weights folder
    has an ArcFace model); otherwise dlib's descriptor is lifted.
    """
    if arcface is not None:
        emb = np.asarray(arcface(rig.image, rig.landmarks), dtype=np.float32).reshape(-1)
        if emb.shape[0] == dim:
            return emb, "arcface"
    from core.face.detect import face_descriptor

    return lift_descriptor(face_descriptor(rig.image, rig.landmarks), dim), "dlib"
