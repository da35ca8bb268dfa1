"""Face detection, 68-point landmarks (from MediaPipe's Face Mesh) and identity descriptors.

Why this mix: dlib's HOG frontal detector runs in milliseconds on a CPU and is built into
dlib; its 5-point shape model and ResNet identity descriptor are two model files that set-up
puts in `<venv>/share/avatar-studio/models` (core.dlib_models: no download at run time, and
not the `face_recognition_models` package, which also carries the 68-point file), all under
terms that allow commercial use (public domain / CC0). The 68
landmarks, whose dlib model was trained on the non-commercial iBUG 300-W set, come from
MediaPipe's Face Mesh instead (core.face.facemesh, Apache-2.0): 468 points with depth,
mapped onto the iBUG-68 layout the motion planner, warp engine and evaluator use. Where HOG
finds no face (paintings, statues, tilted heads), BlazeFace (core.face.blazeface) is asked.
dlib's 68-point model is never loaded.

Models are loaded lazily, once per process, behind a lock so several threads (the GUI
worker, the evaluator) can share them.

Speed: HOG cost grows with the pixel count, so faces are detected on a copy whose longer
side is at most `DETECT_SIDE` px; the Face Mesh then runs on a crop of the FULL image.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from core import dlib_models
from core.face import facemesh
from core.types import FaceMesh

DETECT_SIDE = 640
"""Longest side of the copy the HOG detector sees (HOG's window is 80 px: faces down to
~80 px at this scale are found without upsampling, ~40 px with one upsampling pass)."""
MIN_SCORE = 0.25
"""HOG detections below this score are ignored. dlib's default (0) lets through textures
(flowers, hair curls) scoring 0.0-0.1 on the sample portraits, while the real faces there
score 0.5-2.6; a missed face is recoverable (the user supplies landmarks), a wrong one is
not noticed."""

_lock = threading.Lock()
_models: dict[str, object] = {}


def _model(name: str):
    """Load a dlib model once per process (thread-safe)."""
    m = _models.get(name)
    if m is not None:
        return m
    with _lock:
        m = _models.get(name)
        if m is None:
            import dlib

            if name == "detector":
                m = dlib.get_frontal_face_detector()
            elif name == "predictor5":
                # eye corners + nose base: the alignment dlib's ResNet descriptor expects
                m = dlib.shape_predictor(str(dlib_models.model_path(dlib_models.SHAPE_5)))
            elif name == "recognizer":
                m = dlib.face_recognition_model_v1(
                    str(dlib_models.model_path(dlib_models.RESNET))
                )
            else:  # pragma: no cover - programming error
                raise KeyError(name)
            _models[name] = m
    return m


@dataclass(frozen=True)
class Detection:
    """One face found by the detector: box (x0, y0, x1, y1) in the input image's pixels."""

    box: tuple[float, float, float, float]
    score: float
    detector: str = "hog"
    """"hog" (dlib), or "blazeface-short" / "blazeface-full" (the fallback)."""
    roll: float | None = None
    """The eye line's angle (radians) when the detector knows it (BlazeFace's key points)."""

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


PASSES: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (2, 0), (0, 25))
"""(upsampling count, padding %) of each detection pass, cheapest first."""


def detect_faces(
    image: np.ndarray,
    max_side: int = DETECT_SIDE,
    passes: tuple[tuple[int, int], ...] = PASSES,
    fallback: bool = True,
) -> list[Detection]:
    """All frontal faces, largest first, with boxes in `image` pixels.

    Tries increasingly expensive passes and stops at the first that finds a face:
    downscaled copy without / with one / with two upsamplings (small faces), then the
    copy padded by 25 % (a face filling the whole frame leaves HOG no margin). When HOG
    finds nothing (paintings, statues, tilted heads) and `fallback` is on, MediaPipe's
    BlazeFace short-range then full-range models are asked (core.face.blazeface).
    """
    det = _model("detector")
    img = facemesh.as_rgb8(image)
    h, w = img.shape[:2]
    s = min(1.0, max_side / max(h, w))
    small = img if s == 1.0 else cv2.resize(img, (round(w * s), round(h * s)), cv2.INTER_AREA)
    sy, sx = small.shape[0] / h, small.shape[1] / w
    found: list[Detection] = []
    for up, pad in passes:
        src = small
        off = 0
        if pad:
            off = round(max(small.shape[:2]) * pad / 100)
            src = cv2.copyMakeBorder(small, off, off, off, off, cv2.BORDER_REPLICATE)
        rects, scores, _ = det.run(src, up, MIN_SCORE)
        for r, sc in zip(rects, scores, strict=True):
            box = (
                (r.left() - off) / sx,
                (r.top() - off) / sy,
                (r.right() + 1 - off) / sx,
                (r.bottom() + 1 - off) / sy,
            )
            found.append(Detection(box, float(sc)))
        if found:
            break
    if not found and fallback:
        found = _blazeface(img)
    return sorted(found, key=lambda d: -d.area)


def _blazeface(img: np.ndarray) -> list[Detection]:
    """BlazeFace's faces (short range first: portraits fill the frame)."""
    from core.face import blazeface

    for spec, name in ((blazeface.SHORT, "blazeface-short"), (blazeface.FULL, "blazeface-full")):
        dets = blazeface.detect(img, spec)
        if dets:
            return [Detection(d.box, d.score, name, d.roll) for d in dets]
    return []


def choose_face(dets: list[Detection]) -> tuple[Detection | None, list[str]]:
    """The largest face, and a warning when there are others."""
    if not dets:
        return None, []
    best = max(dets, key=lambda d: d.area)
    others = [d for d in dets if d is not best]
    warnings = []
    if others:
        warnings.append(
            f"{len(others) + 1} faces found; using the largest "
            f"({best.box[2] - best.box[0]:.0f} px wide at x={best.box[0]:.0f}, "
            f"y={best.box[1]:.0f}); crop the picture or supply landmarks to choose another"
        )
    return best, warnings


def predict_mesh(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    roll: float | None = None,
    min_score: float = facemesh.MIN_SCORE,
) -> FaceMesh | None:
    """The Face Mesh of the face in a detector `box` (image pixels), or None when the mesh
    model's face-presence score is below `min_score`."""
    return facemesh.mesh_from_box(facemesh.as_rgb8(image), box, angle=roll or 0.0, min_score=min_score)


def find_face(image: np.ndarray) -> tuple[Detection, FaceMesh, list[str]] | None:
    """The largest detected face that the Face Mesh confirms: (detection, mesh, warnings).

    A detection the mesh model does not see a face in (a texture HOG liked, a blur BlazeFace
    liked) is skipped for the next largest.
    """
    dets = detect_faces(image)
    for det in sorted(dets, key=lambda d: -d.area):
        mesh = predict_mesh(image, det.box, det.roll)
        if mesh is not None:
            others = [d for d in dets if d is not det]
            _, warnings = choose_face([det, *others])
            return det, mesh, warnings
    return None


def predict_landmarks(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The 68 iBUG landmarks [68, 2] float32 of the face in `box` (image pixels), from the
    Face Mesh (whatever its presence score: the caller vouches for the box)."""
    mesh = predict_mesh(image, box, min_score=0.0)
    return facemesh.points68_from_mesh(mesh.points)


def detect_landmarks(
    image: np.ndarray, box_hint: tuple[float, float, float, float] | None = None
) -> np.ndarray | None:
    """68 landmarks of the largest face in `image`, or None when no face is found.

    Meant for many frames (evaluation of rendered video): pass `box_hint` (e.g. the box of
    the previous frame or `landmarks_box(previous)`) to skip detection entirely.
    """
    if box_hint is not None:
        return predict_landmarks(image, box_hint)
    found = find_face(image)
    return None if found is None else facemesh.points68_from_mesh(found[1].points)


def landmarks_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """A dlib-like detection box from 68 landmarks (jaw width, brows to chin).

    Useful as `box_hint` for the next frame, and as the face box of user landmarks.
    """
    p = np.asarray(landmarks, dtype=np.float64)
    x0, x1 = p[:17, 0].min(), p[:17, 0].max()
    y0 = p[17:27, 1].min()
    y1 = p[:17, 1].max()
    return float(x0), float(y0), float(x1), float(y1)


def track_landmarks(
    frames: Iterable[tuple[int, np.ndarray]], check_every: int = 10
) -> Iterator[np.ndarray | None]:
    """The 68 landmarks [68, 2] (None: no face) of each (clip index, frame) in turn, as a
    video's one face is tracked: a full detection on the first frame and wherever the index
    is a multiple of `check_every`, the previous frame's box in between; after a lost face
    the frames up to the next full detection are None (a face the detector cannot find
    costs one detection per `check_every` frames). A frame's points depend only on the
    frames since the last multiple, so a span starting at one tracks as the whole clip.
    Used by `data prepare` and by the diffusion engine's tracked guides alike, so both
    make their guides from the same tracker."""
    prev = None
    first = True
    for i, frame in frames:
        full = first or i % check_every == 0
        first = False
        if prev is None and not full:
            yield None
            continue
        lm = detect_landmarks(frame, box_hint=None if full else landmarks_box(prev))
        ok = lm is not None and np.asarray(lm).shape == (68, 2) and bool(np.isfinite(lm).all())
        prev = np.asarray(lm) if ok else None
        yield prev


def face_descriptor(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """dlib's 128-d identity descriptor [128] float32 of the face with these 68 landmarks.

    The descriptor's face chip is aligned with dlib's 5-point model (eye corners, nose
    base), run inside the dlib-like box of the 68 landmarks: the alignment the ResNet was
    trained with, and no 68-point dlib model. Euclidean distance < 0.6 between two
    descriptors means "same person"; the evaluator uses it to measure identity drift.
    """
    import dlib

    img = facemesh.as_rgb8(image)
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"face_descriptor needs [68, 2] landmarks, got {pts.shape}")
    x0, y0, x1, y1 = (round(v) for v in landmarks_box(pts))
    shape = _model("predictor5")(img, dlib.rectangle(int(x0), int(y0), int(x1), int(y1)))
    desc = _model("recognizer").compute_face_descriptor(img, shape)
    return np.asarray(desc, dtype=np.float32)
