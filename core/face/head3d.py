"""Depth of a portrait's mesh points: a generic 3-D face for the 68 landmarks, a skull
ellipsoid for the anchors, or the rig's own Face Mesh depth when the analysis gave one.

Why: a head that turns must show parallax (the nose swings over the cheek, the near cheek
widens, the far one narrows, the hair silhouette barely moves), and a 2-D photo has no
depth. We keep every point's x, y from the portrait and take only z from a model, so at
zero pose the mesh is exactly the portrait's.

Units and axes: millimetres of a mean adult face, in a face-local frame whose origin is
the midpoint between the eye centres (the mean of each eye's six landmarks, close to the
pupils); u runs along the eye line (image left -> right), v down the face, z towards the
camera, z = 0 on the plane of the corneas. A rig's pixels per millimetre come from its
eye-centre distance (`EYE_DISTANCE_MM`).

The landmark depths (`TEMPLATE_Z_MM`) are authored from anthropometric averages of adult
faces (profile proportions): the nose tip ~32 mm in front of the corneas (nasal tip
protrusion ~20 mm from a subnasale ~16 mm forward), the upper lip a little in front of the
lower lip and the chin behind both, the brow ridge and nasion ~11 mm in front of the eyes,
the outer eye corners ~9 mm behind the corneas, and the jaw contour (the face's silhouette
in a frontal photo) going back from the chin (+4 mm) to ~38 mm behind the corneas in front
of the ears. Checked against MediaPipe Face Mesh depth read at the 68 points of the 13
sample and peer portraits: correlation 0.88-0.97 on the frontal ones (0.64-0.85 on
three-quarter ones, after `turned_template`); Face Mesh's depth ran 1.1-1.5 times deeper
on frontal faces, within its own scale uncertainty (its z is "roughly" x's scale). Skull: an ellipsoid 156 x 250 x 190 mm (breadth, height, length) centred 90 mm
behind the corneas, so the hair silhouette sits near the yaw axis, as it does on a head.

The head pose itself (`HeadPoser`: rotation about the neck, perspective) lives here too, as
the one model both the motion planner (core.motion.landmarks.pose_head) and the warp
renderer (core.engines.warp_mesh) use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.types import FaceRig

EYE_DISTANCE_MM = 62.0
"""Distance between the eye centres (mean adult interpupillary distance)."""

# iBUG-68 depth in mm (+ towards the camera, 0 = corneal plane), image-left half authored,
# the right half mirrored below.
_JAW_L = [-38.0, -36.0, -32.0, -27.0, -20.0, -12.0, -5.0, 0.0]  # 0..7
_CHIN = 4.0  # 8
_BROW_L = [-8.0, 2.0, 7.0, 10.0, 11.0]  # 17..21 (outer -> inner)
_NOSE_BRIDGE = [11.0, 17.0, 24.0, 32.0]  # 27..30 (nasion -> tip)
_NOSE_BASE = [8.0, 13.0, 16.0]  # 31, 32, 33 (ala -> subnasale); 34, 35 mirror 32, 31
_EYE_L = [-9.0, -1.0, 0.0, -3.0, 0.0, -1.0]  # 36..41 (outer corner, upper lid, inner...)
_OUTER_LIP = {48: -2.0, 49: 9.0, 50: 14.0, 51: 16.0, 57: 12.0, 58: 11.0, 59: 7.0}
_INNER_LIP = {60: 2.0, 61: 12.0, 62: 13.0}  # the lower inner lip: see PAIRED

PAIRED = ((61, 67), (62, 66), (63, 65), (37, 41), (38, 40), (43, 47), (44, 46))
"""Inner-lip and eyelid points that meet when the mouth or the eye closes share one depth:
two points at the same place and depth stay together under any pose, so a closed mouth
never parts (measured before: a 0.24 px crossing of the lips under 10 degrees of pitch let
the mouth-interior triangles draw a pale dashed line)."""


def _pair(z: np.ndarray) -> np.ndarray:
    z = z.copy()
    for a, b in PAIRED:
        z[a] = z[b] = 0.5 * (z[a] + z[b])
    return z


def _template() -> np.ndarray:
    z = np.zeros(68)
    z[0:8] = _JAW_L
    z[8] = _CHIN
    z[9:17] = _JAW_L[::-1]
    z[17:22] = _BROW_L
    z[22:27] = _BROW_L[::-1]
    z[27:31] = _NOSE_BRIDGE
    z[31], z[32], z[33], z[34], z[35] = _NOSE_BASE + _NOSE_BASE[1::-1]
    z[36:42] = _EYE_L
    # right eye: 42 inner corner .. 45 outer corner; mirror of 39, 38, 37, 36, 41, 40
    z[42:48] = [_EYE_L[3], _EYE_L[2], _EYE_L[1], _EYE_L[0], _EYE_L[5], _EYE_L[4]]
    mirror = {53: 49, 52: 50, 54: 48, 55: 59, 56: 58, 64: 60, 63: 61}
    for i, v in {**_OUTER_LIP, **_INNER_LIP}.items():
        z[i] = v
    for i, j in mirror.items():
        z[i] = z[j]
    for a, b in PAIRED[:3]:
        z[b] = z[a]
    return z


TEMPLATE_Z_MM = _template()
"""[68] generic landmark depth, mm towards the camera from the corneal plane."""

SKULL_CENTRE_MM = np.array([0.0, 10.0, -90.0])  # (u, v, z)
SKULL_AXES_MM = np.array([78.0, 125.0, 95.0])  # half breadth, half height, half length


EAR_DEPTH_MM = -80.0
"""Depth of the ear anchors: the ears sit on the sides of the skull about 80 mm behind the
corneas (the tragus), near the yaw pivot, so a turn hides the near ear behind the cheek
and shows the far one, and they barely slide sideways."""


def ear_depth(u_mm: np.ndarray, yaw: float) -> np.ndarray:
    """[N] depth (mm) of ear anchors at face-local u (mm from the eye midpoint, along the
    eye line) in a portrait whose face is turned by `yaw` degrees (`portrait_yaw`).

    The ears sit at `EAR_DEPTH_MM` on the head, and the head is turned like the landmarks
    (`turned_template`): z = (Z - u sin a) / cos a. Why: with the landmarks turned and the
    ears not, a three-quarter portrait's near jaw line came ~20 mm forward while its ear
    stayed 80 mm back; the strip between them stood almost edge-on to the camera, and a
    further turn towards that ear stretched it (and the ear) 2.5-3 times into a pale
    blob (hallo_3 at -15 degrees)."""
    a = np.radians(float(yaw))
    return (EAR_DEPTH_MM - np.asarray(u_mm, np.float64) * np.sin(a)) / np.cos(a)


def beside_the_ears(uv_mm: np.ndarray, z_mm: np.ndarray, ear_uv_mm: np.ndarray,
                    ear_z_mm: np.ndarray) -> np.ndarray:
    """[N] depth (mm) of head-outline anchors at face-local `uv_mm` with depth `z_mm`,
    moved back, where they lie beside an ear, to no nearer than that ear's anchors.

    Why: the outline anchors take the depth of the skin near the jaw line (anchor_depth),
    so one level with an ear but farther out sat up to 40 mm in front of it (hallo_3:
    -25 mm beside an ear at -63). A turn then moved the two apart sideways by different
    amounts and folded the triangles between them, drawing a hard-edged wedge of
    mirrored hair and background behind the ear. On a real head the silhouette beside
    the ear is the skull's side, at least as far back as the ear. The weight fades with
    the distance from the ear, across (from 60 % of the ear's distance from the midline
    outwards) and along (an ear's height above and below it), so no anchor jumps."""
    uv = np.asarray(uv_mm, np.float64)
    z = np.asarray(z_mm, np.float64).copy()
    eu, ez = np.asarray(ear_uv_mm, np.float64), np.asarray(ear_z_mm, np.float64)
    for side in (eu[:, 0] < 0, eu[:, 0] >= 0):
        if not side.any():
            continue
        ue = float(np.abs(eu[side, 0]).mean())
        top, bottom = float(eu[side, 1].min()), float(eu[side, 1].max())
        height = max(bottom - top, 1.0)
        on = np.sign(uv[:, 0]) == np.sign(eu[side, 0].mean())
        across = np.clip((np.abs(uv[:, 0]) - 0.6 * ue) / (0.4 * ue), 0.0, 1.0)
        off = np.maximum(top - uv[:, 1], uv[:, 1] - bottom) - height
        along = np.clip(1.0 - off / height, 0.0, 1.0)
        w = across * along
        w = w * w * (3 - 2 * w)
        back = np.minimum(0.0, float(ez[side].max()) - z)
        z = np.where(on, z + w * back, z)
    return z


def pixels_per_mm(landmarks: np.ndarray) -> float:
    """A rig's scale: eye-centre distance in pixels over `EYE_DISTANCE_MM`."""
    lm = np.asarray(landmarks, np.float64)
    return float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))) / EYE_DISTANCE_MM


def skull_depth(uv_mm: np.ndarray) -> np.ndarray:
    """[N] depth (mm) of the front of the skull ellipsoid at face-local (u, v) mm; points
    outside its outline (hair silhouette, background, neck) get the ellipsoid's centre
    depth, the depth of the silhouette, where a turning head barely moves."""
    q = (np.asarray(uv_mm, np.float64) - SKULL_CENTRE_MM[:2]) / SKULL_AXES_MM[:2]
    r2 = (q**2).sum(axis=1)
    front = SKULL_AXES_MM[2] * np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    return SKULL_CENTRE_MM[2] + front


SKIN_SLOPE = 1.0
"""How fast (mm of depth per mm of distance) the surface falls back from the nearest
landmark towards the skull silhouette: the skin just outside the jaw line turns away
from the camera, it does not drop straight to the ears' depth."""


def anchor_depth(uv_mm: np.ndarray, landmarks_uv_mm: np.ndarray, landmarks_z_mm: np.ndarray) -> np.ndarray:
    """[N] depth (mm) of anchors at face-local (u, v) mm: the skull's front surface, or
    nearer where a landmark close by holds the surface forward (it falls back from the
    landmark's depth by `SKIN_SLOPE` per mm). So the band between the jaw line and the
    hair is compressed or stretched gradually by a turn, not in a single seam."""
    uv = np.asarray(uv_mm, np.float64)
    d = np.linalg.norm(uv[:, None] - np.asarray(landmarks_uv_mm)[None], axis=2)
    held = (np.asarray(landmarks_z_mm)[None] - SKIN_SLOPE * d).max(axis=1)
    return np.maximum(skull_depth(uv), held)


def landmark_depth(rig: FaceRig) -> np.ndarray:
    """[68] depth of the rig's landmarks in rig pixels (+ towards the camera, 0 = corneal
    plane): from `rig.mesh3d` when the analysis provided a 3-D face mesh, else the
    template scaled by the rig's eye distance."""
    mesh3d = getattr(rig, "mesh3d", None)
    lm = np.asarray(rig.landmarks, np.float64)
    if mesh3d is not None:
        z = depth_from_mesh3d(np.asarray(mesh3d, np.float64), lm)
        if z is not None:
            return z
    return turned_template(lm) * pixels_per_mm(lm)


MIDLINE = [27, 28, 29, 30, 33, 51, 62, 66, 57, 8]
MAX_PORTRAIT_YAW = 35.0


def portrait_yaw(landmarks: np.ndarray) -> float:
    """The portrait's own yaw (degrees, the renderer's sign: + = face turned towards image
    right), from how far the midline points stand out sideways from the eye midpoint in
    proportion to their template depth (the nose tip dominates): x_i = z_i sin(yaw)."""
    lm = np.asarray(landmarks, np.float64)
    el, er = lm[36:42].mean(0), lm[42:48].mean(0)
    ex = (er - el) / max(float(np.linalg.norm(er - el)), 1e-6)
    x = (lm[MIDLINE] - (el + er) / 2) @ ex / pixels_per_mm(lm)
    z = TEMPLATE_Z_MM[MIDLINE]
    s = float(np.clip((x * z).sum() / (z * z).sum(), -1.0, 1.0))
    return float(np.clip(np.degrees(np.arcsin(s)), -MAX_PORTRAIT_YAW, MAX_PORTRAIT_YAW))


def turned_template(landmarks: np.ndarray) -> np.ndarray:
    """[68] template depth (mm) of a portrait whose face is turned by `portrait_yaw`.

    A frontal template point (X, Z) shows at x = X cos a + Z sin a and lies at depth
    z = -X sin a + Z cos a; with x read from the photo, z = (Z - x sin a) / cos a. So in a
    three-quarter portrait the far cheek and jaw lie deeper and the near ones nearer, and
    a further turn moves the nose over the far cheek as it should."""
    lm = np.asarray(landmarks, np.float64)
    a = np.radians(portrait_yaw(lm))
    if abs(a) < 1e-6:
        return TEMPLATE_Z_MM.copy()
    el, er = lm[36:42].mean(0), lm[42:48].mean(0)
    ex = (er - el) / max(float(np.linalg.norm(er - el)), 1e-6)
    x = (lm - (el + er) / 2) @ ex / pixels_per_mm(lm)
    return _pair((TEMPLATE_Z_MM - x * np.sin(a)) / np.cos(a))


DEPTH_SCALE_RANGE = (0.75, 1.25)
"""How far a dense mesh may scale the template's depth. Face Mesh's z is only "roughly" in
x's scale; read on the sample portraits it ran 1.1-1.5 times the template, and at 1.4 the
nose of a 15-degree turn cut a hard line over the far cheek (vasa-1_10)."""


def depth_from_mesh3d(
    mesh3d: np.ndarray, landmarks: np.ndarray, points: np.ndarray | None = None
) -> np.ndarray | None:
    """[68] landmark depth read off a dense 3-D face mesh [M,3] (x, y rig pixels, z depth in
    pixel units, either sign convention), in this module's convention: + towards the
    camera, the eyes' mean at the template's eye depth; with `points` [P,2], the depth of
    those points follows, [68 + P]. None if the mesh is unusable.

    Extra points take the depth of the mesh interpolated linearly at their (x, y) (nearest
    vertex outside the mesh's hull); the 68 landmarks the template's shape scaled to the
    mesh's depth (see below). The sign is chosen so the nose tip (30) is nearer the
    camera than the jaw corners (0, 16), whatever convention the mesh used (MediaPipe's z
    grows away from the camera)."""
    mesh3d = np.asarray(mesh3d, np.float64)
    if mesh3d.ndim != 2 or mesh3d.shape[1] != 3 or len(mesh3d) < 10:
        return None
    if not np.isfinite(mesh3d).all():
        return None
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator

    lm = np.asarray(landmarks, np.float64)
    at = lm if points is None else np.concatenate([lm, np.asarray(points, np.float64)[:, :2]])
    xy, z = mesh3d[:, :2], mesh3d[:, 2]
    try:
        lin = LinearNDInterpolator(xy, z)(at)
    except Exception:  # degenerate (collinear) mesh: Qhull refuses it
        return None
    near = NearestNDInterpolator(xy, z)(at)
    d = np.where(np.isfinite(lin), lin, near)
    if d[30] < 0.5 * (d[0] + d[16]):
        d = -d
    eyes = slice(36, 48)
    s = pixels_per_mm(lm)
    d = d - d[eyes].mean() + TEMPLATE_Z_MM[eyes].mean() * s
    # The 68 points take the (turned) template's shape at the mesh's depth scale: read off
    # the mesh, the jaw line (the silhouette, where the surface turns away and depth changes
    # fast across a pixel) was irregular (hallo_1: -59, -49, -29, -31, -56, -29 ... mm) and
    # kinked the cheek outline of a turned head, and the nose base drew a dark hook over
    # the cheek on hallo_3. The mesh still sets how deep this face is (k, fitted on the
    # inner face) and where it is (the eyes' mean); dense points (points=) keep its depth.
    t = turned_template(lm) * s
    inner = np.arange(17, 68)
    ti, di = t[inner] - t[eyes].mean(), d[inner] - d[eyes].mean()
    k = float(np.clip((ti @ di) / max(float(ti @ ti), 1e-9), *DEPTH_SCALE_RANGE))
    raw = d[:68].copy()
    d[:68] = d[eyes].mean() + k * (t - t[eyes].mean())
    d[:68] = _pair(d[:68])
    if len(d) > 68:
        d[68:] += _residual_field(lm, d[:68] - raw, at[68:], s)
    return d


RESIDUAL_SMOOTHING = 2.0
"""Thin-plate smoothing (mm^2) of the landmark depth correction carried to dense points."""


def _residual_field(lm: np.ndarray, resid: np.ndarray, points: np.ndarray, s: float) -> np.ndarray:
    """[P] the correction (landmarks' depth minus the mesh's raw depth there), spread
    smoothly over the dense points: a thin-plate spline through the 68 residuals.

    Why: the landmarks take the template's shape while the dense points keep the mesh's
    own depth, and on the samples the two differed by up to 17 mm at the nose wings and
    30-50 mm at the jaw and mouth (hallo_3, vasa-1_5). A dense point beside a landmark then
    sat far in front of or behind it, the triangles between them folded under a turn, and
    the painter's order drew a hard seam down the side of the nose and across the chin.
    With the correction the dense depth is the template's surface plus the mesh's detail
    between the landmarks, continuous across them."""
    from scipy.interpolate import RBFInterpolator

    ok = np.isfinite(resid)
    if ok.sum() < 10:
        return np.zeros(len(points))
    r = resid[ok] / s
    f = RBFInterpolator(lm[ok] / s, r, kernel="thin_plate_spline", smoothing=RESIDUAL_SMOOTHING)
    return np.clip(f(np.asarray(points, np.float64) / s), r.min(), r.max()) * s


def usable_mesh3d(rig: FaceRig) -> np.ndarray | None:
    """The rig's dense 3-D face mesh [M,3] when the analysis gave a usable one, else None."""
    m = getattr(rig, "mesh3d", None)
    if m is None:
        return None
    m = np.asarray(m, np.float64)
    if m.ndim != 2 or m.shape[1] != 3 or len(m) < 10 or not np.isfinite(m).all():
        return None
    return m


# ------------------------------------------------------------------ the 3-D head pose
# One model for the motion planner's landmarks (core.motion.landmarks.pose_head) and the
# warp renderer's mesh (core.engines.warp_mesh), so the landmarks that drive the mouth,
# the eyes and the diffusion engines' guide maps are where the rendered face is.

CAMERA_FACE_WIDTHS = 6.0
"""Camera distance in face widths (a ~85 mm portrait lens framing head and shoulders)."""
FACE_WIDTH_MM = 140.0
PIVOT_MM = np.array([0.0, 45.0, -85.0])
"""Yaw/pitch pivot (u, v, z) in mm from the eye midpoint: the atlanto-axial joint, at the
height of the nose base and ~85 mm behind the corneas."""
ROLL_PIVOT_FACE_H = 0.35
"""Roll pivot: this many face heights below the chin (as the planner's roll)."""
YAW_SOFT = (25.0, 15.0)
"""Total yaw (the portrait's own plus the pose) is rendered as asked up to 25 degrees and
then eased towards 40: a photo holds nothing of the far cheek past that, and a
three-quarter portrait turned further away tore at the far cheek."""


def soft_yaw(total):
    """The rendered total yaw for an asked total yaw (degrees, scalar or array), see
    `YAW_SOFT`."""
    k, m = YAW_SOFT
    t = np.asarray(total, np.float64)
    a = np.abs(t)
    out = np.where(a <= k, t, np.sign(t) * (k + m * np.tanh((a - k) / m)))
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class HeadPoser:
    """Per-rig constants of the 3-D head transform (pixels of the rig image)."""

    geo: Any  # core.motion.landmarks.RigGeometry (landmarks, center, ex, ey, face_h)
    centre: np.ndarray  # [2] principal point (face centre), image pixels
    ex: np.ndarray  # [2] face x axis in the image
    ey: np.ndarray  # [2] face y axis (down)
    dist: float  # camera distance, px
    pivot: np.ndarray  # [3] (u, v, z) relative to centre, px
    roll_pivot: np.ndarray  # [2] (u, v) relative to centre, px
    eye_origin: np.ndarray  # [2] (u, v) of the eye midpoint relative to centre, px
    px_per_mm: float
    portrait_yaw: float = 0.0  # degrees: the photo's own head turn

    @classmethod
    def build(cls, geo: Any) -> HeadPoser:
        lm = geo.landmarks
        s = pixels_per_mm(lm)
        c = np.asarray(geo.center, np.float64)
        ex, ey = np.asarray(geo.ex, np.float64), np.asarray(geo.ey, np.float64)
        eye = (lm[36:42].mean(0) + lm[42:48].mean(0)) / 2 - c
        eye_uv = np.array([eye @ ex, eye @ ey])
        pivot = np.array([eye_uv[0] + PIVOT_MM[0] * s, eye_uv[1] + PIVOT_MM[1] * s, PIVOT_MM[2] * s])
        chin = lm[8] - c
        roll = np.array([chin @ ex, chin @ ey + ROLL_PIVOT_FACE_H * geo.face_h])
        dist = CAMERA_FACE_WIDTHS * FACE_WIDTH_MM * s
        return cls(geo, c, ex, ey, dist, pivot, roll, eye_uv, s, portrait_yaw(lm))

    # ---------------------------------------------------------------- frames
    def to_local(self, xy: np.ndarray) -> np.ndarray:
        """[N,2] image pixels -> [N,2] face-local (u, v) pixels about the face centre."""
        r = np.asarray(xy, np.float64) - self.centre
        return np.stack([r @ self.ex, r @ self.ey], axis=-1)

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        return self.centre + uv[..., 0:1] * self.ex + uv[..., 1:2] * self.ey

    def local_mm(self, xy: np.ndarray) -> np.ndarray:
        """[N,2] image pixels -> face-local (u, v) millimetres about the eye midpoint (the
        frame of core.face.head3d)."""
        return (self.to_local(xy) - self.eye_origin) / self.px_per_mm

    # ---------------------------------------------------------------- pose
    def pose(
        self,
        xy: np.ndarray,
        z: np.ndarray,
        pose: np.ndarray,
        shift: np.ndarray,
        weight: np.ndarray | float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points [..., N, 2] (image px) with depth [N] (px, + towards the camera) turned by
        `pose` [..., 3] (yaw, pitch, roll degrees) and moved by `shift` [..., 2] (face
        heights), each point's angles and shift scaled by its `weight` [N]. Leading axes
        are frames (one pose per frame), each frame on its own. Returns (image xy
        [..., N, 2], depth [..., N])."""
        uv = self.to_local(xy)
        z = np.broadcast_to(np.asarray(z, np.float64), uv.shape[:-1])
        w = np.broadcast_to(np.asarray(weight, np.float64), uv.shape[:-1])
        pose = np.asarray(pose, np.float64)
        sh = np.asarray(shift, np.float64)
        a0 = self.portrait_yaw
        turn = np.asarray(soft_yaw(a0 + pose[..., 0])) - soft_yaw(a0)
        yaw = np.radians(turn)[..., None] * w
        pitch = np.radians(pose[..., 1])[..., None] * w
        roll = np.radians(pose[..., 2])[..., None] * w
        d = self.dist
        k = (d - z) / d  # lift onto the camera ray: zero pose projects back to xy
        u, v = uv[..., 0] * k, uv[..., 1] * k
        pu, pv, pz = self.pivot
        cy, sy = np.cos(yaw), np.sin(yaw)
        u1 = pu + (u - pu) * cy + (z - pz) * sy
        z1 = pz - (u - pu) * sy + (z - pz) * cy
        cp, sp = np.cos(pitch), np.sin(pitch)
        v2 = pv + (v - pv) * cp + (z1 - pz) * sp
        z2 = pz - (v - pv) * sp + (z1 - pz) * cp
        ru, rv = self.roll_pivot
        cr, sr = np.cos(roll), np.sin(roll)
        u3 = ru + (u1 - ru) * cr - (v2 - rv) * sr
        v3 = rv + (u1 - ru) * sr + (v2 - rv) * cr
        fh = self.geo.face_h
        u3 = u3 + w * sh[..., 0:1] * fh
        v3 = v3 + w * sh[..., 1:2] * fh
        p = d / (d - z2)
        out = self.to_image(np.stack([u3 * p, v3 * p], axis=-1))
        return out, z2
