"""`analyze`: a portrait → a `FaceRig` ready for animation.

The rig image is SQUARE (the contract with the engines, which render S×S frames from it):
a square crop centred on the face, sized so the face box (jaw width or brows-to-chin
height, whichever is larger) is `face_fraction` (0.42) of its side — head, hair and the top
of the shoulders visible, like a talking-head video — kept inside the image (shifted
towards the middle near an edge, never padded with invented pixels; limited to the image's
shorter side). The crop is then resized to `work_size` (1024) when larger and kept at its
native size when smaller, because:
- outputs of 256..1024 px then resample the rig once, never upsampling twice (a 441-px
  painting stays 441 px; the engine's single resize to the output size does the rest);
- 1024² bounds the memory and the per-frame cost of warping, whatever the photo's size.
All rig coordinates (box, landmarks, mesh, Face Mesh) are in rig-image pixels; `rig.crop`
says which square of the original it shows.

Landmarks come from MediaPipe's Face Mesh (core.face.facemesh): its 468 points with depth
and the irises are kept on the rig (`mesh3d`, `iris`) for 3-D work, and the iBUG-68 points
derived from them are the `landmarks` every stage uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import InputError
from core.face.compact import rig_image
from core.face.detect import find_face, landmarks_box
from core.face.facemesh import points68_from_mesh
from core.face.keypoints import fit_68_from_5, validate_landmarks
from core.face.masks import build_masks
from core.face.mesh import build_mesh, check_mesh, close_crossed_lips, face_frame
from core.types import FaceRig

WORK_SIZE = 1024
FACE_FRACTION = 0.42
SMALL_FACE_IOD = 40.0
"""Eyes closer than this (original pixels) → a warning: the video will look soft."""
NARROW_EYES = 0.065
"""Mean lid gap (upper lid points 37/38, 43/44 to the lower ones, in eye-distance units)
below which the portrait's eyes count as nearly closed → a warning. A warp renderer keeps
the portrait's eyes as they are (it can move lids, not draw an iris that the photo hides),
so a portrait caught mid-blink or looking down gives a squinting video all through.
Measured: open eyes 0.086-0.167 on the 13 sample and peer portraits, vasa-1_12 (eyes
almost shut) 0.051, a full blink ~0.02."""

NO_FACE_HELP = (
    "no face found in the image (neither dlib's frontal detector nor MediaPipe's BlazeFace "
    "found a face the Face Mesh confirms); "
    "supply landmarks: --landmarks FILE.json with 5 points [[x,y] left eye, right eye, nose "
    "tip, left mouth corner, right mouth corner] (left = image-left, original image pixels) "
    "or 68 iBUG points"
)


def eye_opening(landmarks: np.ndarray) -> float:
    """Mean gap between the upper and lower lid points of both eyes (iBUG 37-41, 38-40,
    43-47, 44-46) in units of the distance between the eye centres (scale-free, so the
    same number on the original image, the rig and every planned frame)."""
    p = np.asarray(landmarks, np.float64)
    iod = float(np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0)))
    pairs = ((37, 41), (38, 40), (43, 47), (44, 46))
    gaps = [np.linalg.norm(p[a] - p[b]) for a, b in pairs]
    return float(np.mean(gaps) / max(iod, 1e-6))


def crop_square(
    landmarks: np.ndarray, size: tuple[int, int], face_fraction: float = FACE_FRACTION
) -> tuple[int, int, int]:
    """(x0, y0, side) of the square crop of an image of `size` (w, h) around the face."""
    w, h = size
    x0, y0, x1, y1 = landmarks_box(landmarks)
    fs = max(x1 - x0, y1 - y0, 1.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.05 * fs
    side = int(round(min(fs / face_fraction, w, h)))
    side = max(side, 1)
    left = int(round(np.clip(cx - side / 2, 0, w - side)))
    top = int(round(np.clip(cy - side / 2, 0, h - side)))
    return left, top, side


def analyze(
    image: np.ndarray,
    landmarks: np.ndarray | None = None,
    work_size: int = WORK_SIZE,
    source_path: str | Path | None = None,
    face_fraction: float = FACE_FRACTION,
) -> FaceRig:
    """Find the face (or use the user's landmarks) and build the rig.

    image: [H, W, 3] uint8 RGB, upright (`core.image.load_image`).
    landmarks: optional [5, 2] or [68, 2] in ORIGINAL image pixels (see
        `core.face.keypoints` for the 5-point order); skips detection.
    Returns a FaceRig whose image is square, at most `work_size` px (see module docstring).
    Raises InputError naming `source_path` when no face is found or landmarks are bad.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"analyze needs [H, W, 3] uint8 RGB, got {img.shape} {img.dtype}")
    h, w = img.shape[:2]
    warnings: list[str] = []
    mesh = None
    if landmarks is None:
        found = find_face(img)
        if found is None:
            raise InputError(source_path, NO_FACE_HELP)
        best, mesh, warnings = found
        pts = points68_from_mesh(mesh.points)
        box = best.box
        source = "detected"
    else:
        user = validate_landmarks(landmarks, (w, h), source_path)
        pts = user.astype(np.float32) if len(user) == 68 else fit_68_from_5(user)
        box = landmarks_box(pts)
        source = "user68" if len(user) == 68 else "user5"
    _, _, _, iod = face_frame(pts)
    if iod < SMALL_FACE_IOD:
        warnings.append(
            f"the face is small (eyes {iod:.0f} px apart); the video will look soft — "
            "use a larger or closer portrait"
        )

    gap = eye_opening(pts)
    if gap < NARROW_EYES:
        warnings.append(
            f"the eyes are nearly closed in the portrait (lid gap {gap:.2f} of the eye "
            "distance); the video keeps them so — use a portrait with open eyes"
        )

    x0, y0, side = crop_square(pts, (w, h), face_fraction)
    out = int(min(side, work_size))
    rig_img = rig_image(img, (x0, y0, x0 + side, y0 + side), out)
    scale = out / side

    def to_rig(p: np.ndarray) -> np.ndarray:
        # pixel-centre convention: original pixel i covers [i - 0.5, i + 0.5]
        return (np.asarray(p, np.float64) - (x0, y0) + 0.5) * scale - 0.5

    def to_rig3(p: np.ndarray | None) -> np.ndarray | None:
        # x, y like the landmarks; z (same pixel units) scales with them
        if p is None:
            return None
        q = np.asarray(p, np.float64)
        return np.c_[to_rig(q[:, :2]), q[:, 2] * scale].astype(np.float32)

    lm = close_crossed_lips(to_rig(pts).astype(np.float32))
    bx = to_rig(np.array([[box[0], box[1]], [box[2], box[3]]]))
    rig_box = (float(bx[0, 0]), float(bx[0, 1]), float(bx[1, 0]), float(bx[1, 1]))
    mesh_points, triangles, groups = build_mesh(lm, (out, out))
    problems = check_mesh(mesh_points, triangles, (out, out))
    if problems:
        warnings.append("mesh: " + "; ".join(problems))
    return FaceRig(
        image=rig_img,
        box=rig_box,
        landmarks=lm,
        mesh_points=mesh_points,
        triangles=triangles,
        masks=build_masks(lm, (out, out)),
        source=source,
        warnings=warnings,
        mesh_groups=groups,
        crop=(float(x0), float(y0), float(x0 + side), float(y0 + side)),
        mesh3d=None if mesh is None else to_rig3(mesh.points),
        iris=None if mesh is None else to_rig3(mesh.iris),
    )
