"""User-supplied landmarks: JSON loading, validation, and the 5 → 68 point fit.

Why: dlib's detector fails on some paintings, cartoons and statues. The user can then click
(or type) 5 key points, or give all 68 iBUG points, in ORIGINAL image pixels:

    5 points, in this order ("left"/"right" = as seen in the IMAGE, not the subject's):
        0 centre of the image-left eye     (the subject's right eye)
        1 centre of the image-right eye    (the subject's left eye)
        2 nose tip
        3 image-left mouth corner
        4 image-right mouth corner

From 5 points a plausible 68-point face is placed: `MEAN_SHAPE` (a symmetric mean face)
is mapped by the similarity transform that best fits its 5 key points to the user's, then
the eye, nose and mouth regions are nudged so the 5 key points land exactly where the user
put them (faces in paintings rarely have average proportions).

`MEAN_SHAPE` was derived once with `derive_mean_shape` from the Face Mesh's iBUG-68 points
(core.face.facemesh.points68_from_mesh) on the five sample portraits (hallo_1/2/3/5,
echomimic_a) plus their mirror images, normalised to eye centres at (∓0.5, 0) (inter-ocular distance 1, y down), inner lips closed;
tests/core/test_face_keypoints.py re-derives it from the samples and checks it matches.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.errors import InputError

# fmt: off
MEAN_SHAPE = np.array([
    (-1.053, -0.027), (-1.023, 0.268), (-0.994, 0.475), (-0.940, 0.693), (-0.808, 0.990),
    (-0.625, 1.190), (-0.436, 1.333), (-0.246, 1.434), (0.000, 1.479), (0.246, 1.434),
    (0.436, 1.333), (0.625, 1.190), (0.808, 0.990), (0.940, 0.693), (0.994, 0.475),
    (1.023, 0.268), (1.053, -0.027), (-0.907, -0.197), (-0.770, -0.304), (-0.555, -0.366),
    (-0.348, -0.344), (-0.222, -0.267), (0.222, -0.267), (0.348, -0.344), (0.555, -0.366),
    (0.770, -0.304), (0.907, -0.197), (0.000, 0.001), (0.000, 0.176), (0.000, 0.326),
    (0.000, 0.549), (-0.187, 0.640), (-0.114, 0.660), (0.000, 0.693), (0.114, 0.660),
    (0.187, 0.640), (-0.671, -0.011), (-0.586, -0.071), (-0.434, -0.076), (-0.290, 0.039),
    (-0.442, 0.065), (-0.577, 0.055), (0.290, 0.039), (0.434, -0.076), (0.586, -0.071),
    (0.671, -0.011), (0.577, 0.055), (0.442, 0.065), (-0.381, 0.911), (-0.237, 0.845),
    (-0.117, 0.830), (0.000, 0.846), (0.117, 0.830), (0.237, 0.845), (0.381, 0.911),
    (0.217, 1.032), (0.115, 1.068), (0.000, 1.078), (-0.115, 1.068), (-0.217, 1.032),
    (-0.322, 0.897), (-0.092, 0.929), (0.000, 0.935), (0.092, 0.929), (0.322, 0.897),
    (0.096, 0.929), (0.000, 0.935), (-0.096, 0.929),
], dtype=np.float64)
"""[68, 2] symmetric mean face, iBUG order, eye centres at (-0.5, 0) and (0.5, 0), y down."""

MIRROR = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65]
)
"""Index permutation mapping each landmark to its left/right counterpart."""
# fmt: on

LEFT_EYE = slice(36, 42)  # image-left eye (subject's right)
RIGHT_EYE = slice(42, 48)
NOSE_TIP = 30
MOUTH_LEFT, MOUTH_RIGHT = 48, 54
KEYPOINT_NAMES = ("left eye", "right eye", "nose tip", "left mouth corner", "right mouth corner")

_HELP = (
    "give 5 points [[x,y] left eye, right eye, nose tip, left mouth corner, right mouth "
    "corner] (left = image-left) or all 68 iBUG points, in original image pixels"
)


def five_from_68(landmarks: np.ndarray) -> np.ndarray:
    """The 5 key points [5, 2] of a 68-point face (same order as user key points)."""
    p = np.asarray(landmarks, dtype=np.float64)
    return np.stack(
        [p[LEFT_EYE].mean(0), p[RIGHT_EYE].mean(0), p[NOSE_TIP], p[MOUTH_LEFT], p[MOUTH_RIGHT]]
    )


def normalize_shape(landmarks: np.ndarray) -> np.ndarray:
    """Similarity-normalise 68 points: eye centres to (-0.5, 0) and (0.5, 0)."""
    p = np.asarray(landmarks, dtype=np.float64)
    le, re = p[LEFT_EYE].mean(0), p[RIGHT_EYE].mean(0)
    v = re - le
    s = float(np.hypot(*v))
    c, sn = v / s
    rot = np.array([[c, sn], [-sn, c]])  # rotates v onto +x
    return (p - (le + re) / 2) @ rot.T / s


def derive_mean_shape(landmark_sets: list[np.ndarray]) -> np.ndarray:
    """Mean of normalised faces and their mirror images, with the inner lips closed."""
    shapes = []
    for lm in landmark_sets:
        n = normalize_shape(lm)
        m = n[MIRROR].copy()
        m[:, 0] *= -1
        shapes += [n, m]
    mean = np.mean(shapes, axis=0)
    for a, b in ((61, 67), (62, 66), (63, 65)):
        mean[a, 1] = mean[b, 1] = (mean[a, 1] + mean[b, 1]) / 2
    return mean


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) src → dst as a 2×3 matrix
    (Umeyama, reflections excluded)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (a**2).sum() / len(src)
    scale = float(np.trace(np.diag(d) @ sign) / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - m[:, :2] @ ms
    return m


def fit_68_from_5(points5: np.ndarray, mean_shape: np.ndarray | None = None) -> np.ndarray:
    """A plausible [68, 2] iBUG layout whose 5 key points are exactly `points5`."""
    k = np.asarray(points5, dtype=np.float64)
    mean = MEAN_SHAPE if mean_shape is None else np.asarray(mean_shape, np.float64)
    m = similarity_fit(five_from_68(mean), k)
    out = mean @ m[:, :2].T + m[:, 2]
    res = k - five_from_68(out)  # what the similarity could not explain
    # Eyes and their brows follow their eye centre; the eye-line's lower face blends.
    out[36:42] += res[0]
    out[17:22] += res[0]
    out[42:48] += res[1]
    out[22:27] += res[1]
    # Nose: tip and nostrils take the tip's offset; the bridge blends to the eyes' mean.
    eyes_res = (res[0] + res[1]) / 2
    out[30:36] += res[2]
    for i, t in zip(range(27, 30), (0.25, 0.5, 0.75), strict=True):
        out[i] += (1 - t) * eyes_res + t * res[2]
    # Mouth: each point blends the two corner offsets by its position between the corners;
    # across the mouth line the middle takes only a quarter (corners raised by a smile do
    # not lift the lips' centre as much). Leave-one-out on the samples: mouth error 0.061
    # iod vs 0.081 with full blending.
    left, right = out[MOUTH_LEFT].copy(), out[MOUTH_RIGHT].copy()
    axis = right - left
    length2 = float(axis @ axis)
    u = axis / np.sqrt(length2)
    normal = np.array([-u[1], u[0]])
    t = np.clip(((out[48:68] - left) @ axis) / length2, 0.0, 1.0)[:, None]
    r = (1 - t) * res[3] + t * res[4]
    across = 1.0 - 3.0 * t * (1 - t)  # 1 at the corners, 0.25 in the middle
    out[48:68] += (r @ u)[:, None] * u + across * (r @ normal)[:, None] * normal
    # Jaw: half of a blend of the eyes' offsets (sides) and the mouth's (chin).
    mouth_res = (res[3] + res[4]) / 2
    for i in range(17):
        w = i / 16.0
        side = (1 - w) * res[0] + w * res[1]
        down = np.clip((i - 3) / 5.0, 0.0, 1.0) if i <= 8 else np.clip((13 - i) / 5.0, 0.0, 1.0)
        out[i] += 0.5 * ((1 - down) * side + down * mouth_res)
    return out.astype(np.float32)


def validate_landmarks(
    points: np.ndarray, size: tuple[int, int], path: str | Path | None = None
) -> np.ndarray:
    """Check user points ([5, 2] or [68, 2], image pixels) against an image of `size` (w, h).

    Returns float64 points. Raises InputError naming `path` when they are unusable:
    wrong shape, not finite, outside the image, mirrored, or degenerate (eyes on top of
    each other, mouth not below the eyes).
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] not in (5, 68):
        raise InputError(path, f"landmarks must be 5 or 68 [x, y] pairs, got shape {p.shape}; "
                         + _HELP)
    if not np.isfinite(p).all():
        raise InputError(path, "landmarks contain NaN or infinite values; " + _HELP)
    w, h = size
    tol = 0.02 * max(w, h)
    key = five_from_68(p) if len(p) == 68 else p
    check = p if len(p) == 5 else np.concatenate([p[17:68], key])  # jaw may leave the frame
    bad = np.where(
        (check[:, 0] < -tol) | (check[:, 0] > w + tol) | (check[:, 1] < -tol)
        | (check[:, 1] > h + tol)
    )[0]
    if len(bad):
        x, y = check[bad[0]]
        raise InputError(
            path, f"landmark ({x:.0f}, {y:.0f}) lies outside the {w}×{h} image; "
            "coordinates are pixels of the original image"
        )
    le, re, nose, ml, mr = key
    iod = float(np.hypot(*(re - le)))
    if iod < 8.0:
        raise InputError(path, f"the eyes are only {iod:.1f} px apart; the face is too small "
                         "or the points are wrong")
    eye_mid, mouth_mid = (le + re) / 2, (ml + mr) / 2
    e = re - le
    down = mouth_mid - eye_mid
    cross = e[0] * down[1] - e[1] * down[0]  # > 0: mouth is "below" the eye line
    if cross <= 0:
        raise InputError(
            path, "the points are mirrored or upside down: the first eye must be the "
            "image-left one and the mouth must lie below the eyes; " + _HELP
        )
    face_h = float(np.hypot(*down))
    if face_h < 0.3 * iod or face_h > 4.0 * iod:
        raise InputError(path, "the eye-to-mouth distance is implausible for a face "
                         f"({face_h:.0f} px for eyes {iod:.0f} px apart); " + _HELP)
    mouth_w = float(np.hypot(*(mr - ml)))
    if mouth_w < 0.1 * iod or (mr - ml) @ e <= 0:
        raise InputError(path, "the mouth corners are swapped or on top of each other; "
                         + _HELP)
    return p


def load_landmarks_json(path: str | Path) -> np.ndarray:
    """Read user landmarks from JSON: `[[x, y], ...]` or `{"points": [[x, y], ...]}`.

    Returns a float64 [5, 2] or [68, 2] array (in original image pixels). Bad JSON or
    shape → InputError naming the file.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(p, "landmarks file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(p, f"cannot read the landmarks file ({e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(p, f"not valid JSON (line {e.lineno}: {e.msg}); " + _HELP) from None
    if isinstance(data, dict):
        if "points" not in data:
            raise InputError(p, 'the JSON object has no "points" list; ' + _HELP)
        data = data["points"]
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(p, "landmarks must be a list of [x, y] number pairs; " + _HELP) from None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] not in (5, 68):
        raise InputError(p, f"expected 5 or 68 [x, y] pairs, got shape {arr.shape}; " + _HELP)
    if not np.isfinite(arr).all():
        raise InputError(p, "landmarks contain NaN or infinite values; " + _HELP)
    return arr
