"""From motion channels to the 68 landmark positions they imply, in rig image pixels.

The geometry of one portrait (`RigGeometry`) is computed once: a face-local frame (x along
the eye line, y down the face), the face height used as the unit of every channel, the
*closed-lip rest shape* and one displacement field per channel. A frame's landmarks are
then `rest + sum(channel * field)` followed by the head transform.

Why the closed rest: a portrait photographed with parted lips or teeth showing would
otherwise "speak" with its mouth open during silence. We move the inner upper and lower
lip points together (outer lips and chin follow part of the way) and plan relative to
that, so a mouth_open of 0 always means closed lips.

Every operation here is elementwise per frame (no matrix products over the frame axis,
no filtering): a frame's landmarks depend only on that frame's channel values, which is
what makes segment overrides bit-exact outside their segment (see core.motion.planner).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# iBUG-68 index groups
JAW = list(range(0, 17))
BROW_L, BROW_R = list(range(17, 22)), list(range(22, 27))
NOSE = list(range(27, 36))
EYE_L, EYE_R = list(range(36, 42)), list(range(42, 48))
INNER_UPPER, INNER_LOWER = [61, 62, 63], [67, 66, 65]  # paired column by column
OUTER_UPPER, OUTER_LOWER = [49, 50, 51, 52, 53], [59, 58, 57, 56, 55]

# pseudo-depth (face-height units, towards the camera) for head-turn parallax
LANDMARK_DEPTH = np.zeros(68)
LANDMARK_DEPTH[JAW] = 0.25 * np.sin(np.linspace(0, np.pi, 17))
LANDMARK_DEPTH[17:27] = 0.22
LANDMARK_DEPTH[27:31] = [0.30, 0.36, 0.42, 0.50]
LANDMARK_DEPTH[31:36] = [0.36, 0.40, 0.44, 0.40, 0.36]
LANDMARK_DEPTH[36:48] = 0.18
LANDMARK_DEPTH[48:68] = 0.34
ANCHOR_DEPTH = 0.1
"""Depth used for mesh anchors (hair, neck) that follow the head without parallax."""


@dataclass(frozen=True)
class RigGeometry:
    """Per-portrait constants of the planner and of the warp engine's head transform."""

    landmarks: np.ndarray  # [68,2] the portrait's own landmarks
    rest: np.ndarray  # [68,2] closed-lip rest shape
    ex: np.ndarray  # [2] unit vector along the eye line (image x of the face)
    ey: np.ndarray  # [2] unit vector down the face
    face_h: float  # brow line to chin, pixels
    center: np.ndarray  # [2] face centre (between eyes and mouth)
    pivot: np.ndarray  # [2] neck pivot of the head rotation
    portrait_gap: float  # the portrait's inner-lip gap in face-height units
    fields: dict[str, np.ndarray]  # channel -> [68,2] pixel displacement per unit
    depth: np.ndarray | None = None
    """[68] the rig's own landmark depth (rig px, + towards the camera; `rig_geometry`),
    which the planner poses the head with, as the renderer does; None: the template's
    (`planner_depth`)."""


def inner_gap(landmarks: np.ndarray) -> np.ndarray:
    """Mean inner-lip gap in pixels of landmarks [..., 68, 2] (0 = closed)."""
    up = landmarks[..., INNER_UPPER, :]
    lo = landmarks[..., INNER_LOWER, :]
    return np.linalg.norm(lo - up, axis=-1).mean(axis=-1)


def geometry(landmarks: np.ndarray) -> RigGeometry:
    """Build the geometry of a portrait from its 68 landmarks (image pixels)."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
    eye_l, eye_r = lm[EYE_L].mean(0), lm[EYE_R].mean(0)
    ex = eye_r - eye_l
    ex = ex / max(np.linalg.norm(ex), 1e-6)
    ey = np.array([-ex[1], ex[0]])
    brow = lm[17:27].mean(0)
    face_h = float(max(np.dot(lm[8] - brow, ey), 8.0))
    center = (eye_l + eye_r) / 2 * 0.5 + lm[48:68].mean(0) * 0.5
    pivot = lm[8] + 0.35 * face_h * ey

    rest = _closed_lips(lm, ey, face_h)
    gap = float(inner_gap(lm) / face_h)
    fields = _fields(rest, ex, ey, face_h)
    return RigGeometry(lm, rest, ex, ey, face_h, center, pivot, gap, fields)


def rig_geometry(rig) -> RigGeometry:
    """`geometry` of a FaceRig's landmarks carrying the rig's own landmark depth
    (core.face.head3d.landmark_depth: its Face Mesh's where the analysis gave one, else the
    turned template), the depth the warp renderer turns the landmarks with.

    Why: posed at the template's depth while the renderer turns the same points at the
    Face Mesh's, the planner's landmarks (which place the painted mouth and lids and the
    diffusion engines' guide maps) were 1-2 px off the rendered face at 15 degrees of yaw."""
    from core.face.head3d import landmark_depth

    geo = geometry(rig.landmarks)
    return replace(geo, depth=np.asarray(landmark_depth(rig), np.float64))


def _closed_lips(lm: np.ndarray, ey: np.ndarray, face_h: float) -> np.ndarray:
    """The portrait's landmarks with the inner lips brought together (see module doc)."""
    rest = lm.copy()
    gaps = []
    for u, lo in zip(INNER_UPPER, INNER_LOWER, strict=True):
        g = float(np.dot(lm[lo] - lm[u], ey))
        gaps.append(max(g, 0.0))
        if g <= 0:
            continue
        mid = (lm[u] + lm[lo]) / 2
        rest[u] = mid
        rest[lo] = mid
        # outer lips follow most of the way: the lip body rolls with the inner edge
    g = float(np.mean(gaps))
    if g <= 0.002 * face_h:
        return rest
    for i, o in enumerate(OUTER_UPPER):
        k = 0.8 if 1 <= i <= 3 else 0.45
        rest[o] = lm[o] + ey * g * 0.5 * k
    for i, o in enumerate(OUTER_LOWER):
        k = 0.8 if 1 <= i <= 3 else 0.45
        rest[o] = lm[o] - ey * g * 0.5 * k
    # the jaw closes part of the gap: chin points rise with weights falling off sideways
    for j, k in zip(range(4, 13), [0.1, 0.25, 0.4, 0.5, 0.5, 0.5, 0.4, 0.25, 0.1], strict=True):
        rest[j] = lm[j] - ey * g * k
    return rest


def _fields(rest: np.ndarray, ex: np.ndarray, ey: np.ndarray, face_h: float) -> dict:
    """Per-channel displacement of each landmark for a unit channel value, in pixels.

    Local (u, v) offsets are written in face-height units and rotated into the image.
    """

    def field(local: dict[int, tuple[float, float]]) -> np.ndarray:
        f = np.zeros((68, 2))
        for i, (u, v) in local.items():
            f[i] = (ex * u + ey * v) * face_h
        return f

    mouth_w = float(np.dot(rest[54] - rest[48], ex)) / face_h  # ~0.35-0.45
    hw = mouth_w / 2

    # mouth_open = inner gap in face-height units: upper inner lip rises a quarter of it,
    # lower inner lip drops three quarters (the jaw does most of the work)
    open_ = {61: (0, -0.25), 62: (0, -0.25), 63: (0, -0.25)}
    open_.update({65: (0, 0.75), 66: (0, 0.75), 67: (0, 0.75)})
    open_.update({50: (0, -0.18), 51: (0, -0.2), 52: (0, -0.18), 49: (0, -0.1), 53: (0, -0.1)})
    open_.update({56: (0, 0.72), 57: (0, 0.75), 58: (0, 0.72), 55: (0, 0.45), 59: (0, 0.45)})
    open_.update({48: (0, 0.25), 54: (0, 0.25), 60: (0, 0.25), 64: (0, 0.25)})

    # jaw drop (face-height units): chin and lower jaw line
    jaw = {
        j: (0.0, k)
        for j, k in zip(
            range(3, 14), [0.05, 0.2, 0.45, 0.7, 0.9, 1.0, 0.9, 0.7, 0.45, 0.2, 0.05], strict=True
        )
    }

    # mouth_width: relative change of mouth width, corners move out/in
    width = {48: (-hw, 0), 60: (-hw * 0.95, 0), 54: (hw, 0), 64: (hw * 0.95, 0)}
    width.update({49: (-hw * 0.6, 0), 59: (-hw * 0.6, 0), 53: (hw * 0.6, 0), 55: (hw * 0.6, 0)})
    width.update(
        {
            50: (-hw * 0.25, 0),
            58: (-hw * 0.25, 0),
            52: (hw * 0.25, 0),
            56: (hw * 0.25, 0),
            61: (-hw * 0.4, 0),
            67: (-hw * 0.4, 0),
            63: (hw * 0.4, 0),
            65: (hw * 0.4, 0),
        }
    )

    # smile: corners up and out, cheeks lift, lower lids rise a little (Duchenne squint)
    smile = {
        48: (-0.035, -0.035),
        60: (-0.03, -0.032),
        54: (0.035, -0.035),
        64: (0.03, -0.032),
        49: (-0.015, -0.018),
        59: (-0.015, -0.015),
        53: (0.015, -0.018),
        55: (0.015, -0.015),
        50: (-0.005, -0.006),
        52: (0.005, -0.006),
        58: (-0.004, -0.004),
        56: (0.004, -0.004),
        3: (-0.006, -0.012),
        4: (-0.004, -0.01),
        13: (0.004, -0.01),
        12: (0.006, -0.012),
        31: (-0.004, -0.004),
        35: (0.004, -0.004),
        40: (0, -0.006),
        41: (0, -0.006),
        46: (0, -0.006),
        47: (0, -0.006),
    }

    # brows up: the arch rises, inner brows a bit more (surprise/interest)
    brows = {
        17: (0, -0.025),
        18: (0, -0.038),
        19: (0, -0.045),
        20: (0, -0.05),
        21: (0, -0.045),
        22: (0, -0.045),
        23: (0, -0.05),
        24: (0, -0.045),
        25: (0, -0.038),
        26: (0, -0.025),
        37: (0, -0.006),
        38: (0, -0.006),
        43: (0, -0.006),
        44: (0, -0.006),
    }

    f = {
        "open": field(open_),
        "jaw": field(jaw),
        "width": field(width),
        "smile": field(smile),
        "brows": field(brows),
    }
    # frown/lowered brows: also draw the inner brows together (corrugator)
    f["brows_down"] = field({21: (0.012, 0), 22: (-0.012, 0), 20: (0.006, 0), 23: (-0.006, 0)})

    # inner brows (AU1 up: sad/fear oblique brows; negative: AU4 knit, inner ends down and
    # together, as in anger)
    f["brow_inner_up"] = field(
        {21: (0, -0.045), 22: (0, -0.045), 20: (0, -0.03), 23: (0, -0.03), 19: (0, -0.012),
         24: (0, -0.012), 17: (0, 0.008), 26: (0, 0.008)}
    )
    f["brow_inner_down"] = field(
        {21: (0.014, 0.03), 22: (-0.014, 0.03), 20: (0.008, 0.018), 23: (-0.008, 0.018),
         19: (0.0, 0.006), 24: (0.0, 0.006)}
    )
    # eyelids: wider (upper lid up, AU5) or narrowed (upper down, lower up, AU7)
    f["lids_wide"] = field({37: (0, -0.02), 38: (0, -0.02), 43: (0, -0.02), 44: (0, -0.02),
                            40: (0, 0.005), 41: (0, 0.005), 46: (0, 0.005), 47: (0, 0.005)})
    f["lids_narrow"] = field({37: (0, 0.016), 38: (0, 0.016), 43: (0, 0.016), 44: (0, 0.016),
                              40: (0, -0.009), 41: (0, -0.009), 46: (0, -0.009),
                              47: (0, -0.009)})
    # sneer (AU9+10): upper lip up, nose wings up
    f["sneer"] = field(
        {49: (0, -0.018), 50: (0, -0.024), 51: (0, -0.022), 52: (0, -0.024), 53: (0, -0.018),
         61: (0, -0.016), 62: (0, -0.014), 63: (0, -0.016), 31: (0, -0.01), 32: (0, -0.008),
         33: (0, -0.006), 34: (0, -0.008), 35: (0, -0.01)}
    )

    # blink: upper lid points travel to the lower lid (95 %), lower lid rises a little
    blink = np.zeros((68, 2))
    for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
        d = rest[lo] - rest[up]
        blink[up] = d * 0.9
        blink[lo] = -d * 0.1
    f["blink"] = blink
    return f


def synthesize(geo: RigGeometry, ch: dict[str, np.ndarray]) -> np.ndarray:
    """Landmarks [n,68,2] for per-frame channels (each [n]; head_pose [n,3], head_shift [n,2]).
    Optional channels (brow_inner, lids, sneer) count as zero when absent.

    Elementwise per frame (see module doc).
    """
    n = ch["mouth_open"].shape[0]
    lm = np.broadcast_to(geo.rest, (n, 68, 2)).copy()
    f = geo.fields
    brows = ch["brows"]
    zero = np.zeros(n)
    inner = ch.get("brow_inner", zero)
    lids = ch.get("lids", zero) * (1.0 - ch["blink"])  # a closed lid has no openness offset
    terms = [
        (ch["mouth_open"], f["open"]),
        (ch["jaw"], f["jaw"]),
        (ch["mouth_width"], f["width"]),
        (ch["smile"], f["smile"]),
        (brows, f["brows"]),
        (np.minimum(brows, 0.0), -f["brows_down"]),
        (ch["blink"], f["blink"]),
        (np.maximum(inner, 0.0), f["brow_inner_up"]),
        (np.maximum(-inner, 0.0), f["brow_inner_down"]),
        (np.maximum(lids, 0.0), f["lids_wide"]),
        (np.maximum(-lids, 0.0), f["lids_narrow"]),
        (ch.get("sneer", zero), f["sneer"]),
    ]
    for c, fld in terms:
        lm += c[:, None, None] * fld[None]
    return pose_head(geo, lm, ch["head_pose"], ch["head_shift"])


def planner_depth(geo: RigGeometry) -> np.ndarray:
    """[68] depth (rig px, + towards the camera) the planner poses the landmarks with: the
    rig's own (`geo.depth`, see `rig_geometry`), else the generic face turned as the
    portrait is (core.face.head3d.turned_template), the depth the renderer gives a rig
    without a Face Mesh."""
    from core.face.head3d import pixels_per_mm, turned_template

    if geo.depth is not None:
        return np.asarray(geo.depth, np.float64)
    lm = np.asarray(geo.landmarks, np.float64)
    return turned_template(lm) * pixels_per_mm(lm)


def pose_head(
    geo: RigGeometry,
    points: np.ndarray,
    pose: np.ndarray,
    shift: np.ndarray,
    depth: np.ndarray | None = None,
) -> np.ndarray:
    """Landmarks [n,68,2] (or [68,2] with pose [3], shift [2]) turned by the head pose
    (yaw, pitch, roll degrees) and moved by head_shift (face heights), with the warp
    renderer's own 3-D head model (core.face.head3d.HeadPoser: rotation about the neck,
    perspective) at `depth` (default `planner_depth`).

    Why the renderer's model: the landmarks drive the painted mouth and eyes and the
    diffusion engines' guide maps, so they must be where the rendered face is (the old
    small-angle model, `apply_head`, was up to ~20 px off at 15 degrees of yaw).
    Elementwise per frame."""
    from core.face.head3d import HeadPoser

    z = planner_depth(geo) if depth is None else np.asarray(depth, np.float64)
    return HeadPoser.build(geo).pose(np.asarray(points, np.float64), z, pose, shift)[0]


def apply_head(
    geo: RigGeometry,
    points: np.ndarray,
    depth: np.ndarray | float,
    pose: np.ndarray,
    shift: np.ndarray,
) -> np.ndarray:
    """Move points [n,P,2] by head pose [n,3] (yaw, pitch, roll in degrees) and shift [n,2].

    The planner's former head model, kept for callers that place a flat patch with it
    (the planner and the renderer now use `pose_head`). A small-angle 3-D model: yaw/pitch rotate points about the face centre with a
    pseudo-depth (so the nose swings more than the jaw line), roll rotates about the neck.
    Elementwise per frame.
    """
    ex, ey, fh = geo.ex, geo.ey, geo.face_h
    rel = points - geo.center
    u = rel[..., 0] * ex[0] + rel[..., 1] * ex[1]
    v = rel[..., 0] * ey[0] + rel[..., 1] * ey[1]
    d = np.asarray(depth, dtype=np.float64) * fh
    yaw = np.radians(pose[:, 0])[:, None]
    pitch = np.radians(pose[:, 1])[:, None]
    roll = np.radians(pose[:, 2])[:, None]
    u2 = u * np.cos(yaw) + (d + 0.25 * fh) * np.sin(yaw)
    v2 = v * np.cos(pitch) + (d + 0.25 * fh) * np.sin(pitch)
    u2 = u2 + shift[:, 0:1] * fh
    v2 = v2 + shift[:, 1:2] * fh
    # back to image, then roll about the neck pivot
    x = geo.center[0] + u2 * ex[0] + v2 * ey[0]
    y = geo.center[1] + u2 * ex[1] + v2 * ey[1]
    px, py = geo.pivot
    c, s = np.cos(roll), np.sin(roll)
    xr = px + (x - px) * c - (y - py) * s
    yr = py + (x - px) * s + (y - py) * c
    return np.stack([xr, yr], axis=-1)
