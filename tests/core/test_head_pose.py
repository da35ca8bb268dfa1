"""The warp renderer's 3-D head pose on real portraits: parallax, perspective, a still
background, painter's order without holes, and zero pose unchanged."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from core.engines.warp import WarpEngine
from core.engines.warp_pose import posed_track
from core.face.head3d import TEMPLATE_Z_MM, depth_from_mesh3d, landmark_depth, portrait_yaw
from core.motion import plan
from core.types import Expression, RenderRequest
from tests.core.test_motion_support import rig_of, synthetic_features


@pytest.fixture(scope="module")
def rig(samples):
    return rig_of("hallo_1.jpg")  # frontal (portrait yaw under 1 degree), closed mouth


def _request(rig, poses, size=512, motion=None):
    motion = posed_track(rig, poses) if motion is None else motion
    n = motion.n_frames
    feats = synthetic_features(n)
    return RenderRequest(rig=rig, features=feats, motion=motion, size=size)


def _dst(rig, pose, size=512):
    """(destination landmarks [68,2] in rig px, prepared engine state) at one pose."""
    req = _request(rig, [pose], size)
    eng = WarpEngine()
    mesh = eng._prepare(req).mesh
    m = req.motion
    dst, depth = mesh.dst_points3d(m.landmarks[0], m.head_pose[0], m.head_shift[0])
    return dst, depth, mesh


def _eye_centres(lm):
    return lm[36:42].mean(0), lm[42:48].mean(0)


def test_yaw_widens_the_near_cheek_and_narrows_the_far_one(rig):
    rest, _, _ = _dst(rig, (0, 0, 0))
    turned, _, _ = _dst(rig, (15, 0, 0))  # + yaw: the face turns towards image right

    def cheeks(lm):
        nose = lm[30, 0]
        return nose - lm[[1, 2, 3], 0].mean(), lm[[13, 14, 15], 0].mean() - nose

    left0, right0 = cheeks(rest)
    left1, right1 = cheeks(turned)
    assert left1 > 1.15 * left0  # image-left cheek faces the camera more: wider
    assert right1 < 0.85 * right0  # image-right cheek turns away: narrower
    # parallax: the nose tip (in front) swings further than the face edge and the ears
    dx = turned[:, 0] - rest[:, 0]
    assert dx[30] > 1.5 * max(dx[0], dx[16]) > 0
    assert dx[30] > dx[27] > dx[39]  # tip > bridge > inner eye corner


def test_pitch_moves_the_nose_vertically_against_the_eyes(rig):
    def nose_below_eyes(lm):
        return lm[30, 1] - np.mean(_eye_centres(lm), axis=0)[1]

    rest = nose_below_eyes(_dst(rig, (0, 0, 0))[0])
    down = nose_below_eyes(_dst(rig, (0, 10, 0))[0])  # + pitch: a nod down
    up = nose_below_eyes(_dst(rig, (0, -10, 0))[0])
    assert down > rest + 2 and up < rest - 2


@pytest.mark.parametrize("roll", [-8.0, 8.0])
def test_roll_turns_the_eye_line_by_the_roll_angle(rig, roll):
    def angle(lm):
        el, er = _eye_centres(lm)
        return np.degrees(np.arctan2(er[1] - el[1], er[0] - el[0]))

    rest = angle(_dst(rig, (0, 0, 0))[0])
    rolled = angle(_dst(rig, (0, 0, roll))[0])
    assert rolled - rest == pytest.approx(roll, abs=1.0)


def test_rendered_roll_is_found_by_the_face_detector(rig):
    """The rendered frame itself, re-analysed: its eye line turned by ~the roll."""
    import core.face

    frames = list(WarpEngine().render(_request(rig, [(0, 0, 0), (0, 0, 8)], 512)))

    def angle(img):
        el, er = _eye_centres(np.asarray(core.face.analyze(img).landmarks, np.float64))
        return np.degrees(np.arctan2(er[1] - el[1], er[0] - el[0]))

    assert angle(frames[1]) - angle(frames[0]) == pytest.approx(8.0, abs=2.0)


EXTREMES = [(15, 10, 8), (-15, -10, -8), (15, -10, -8), (-15, 10, 8), (15, 0, 0), (0, 10, 0)]


@pytest.mark.parametrize(
    "name,size", [("hallo_1.jpg", 256), ("hallo_1.jpg", 1024), ("hallo_2.jpg", 512)]
)
def test_extremes_keep_the_background_and_leave_no_holes(samples, name, size):
    """hallo_2 is a three-quarter portrait (turned ~30 degrees): turned further away."""
    rig = rig_of(name)
    req = _request(rig, [(0, 0, 0), *EXTREMES], size)
    eng = WarpEngine()
    frames = list(eng.render(req))
    rest = frames[0].astype(int)
    mesh = eng._prepare(req).mesh
    m = req.motion
    c = max(4, size // 64)
    for i in range(1, len(frames)):
        f = frames[i].astype(int)
        for ys, xs in ((slice(0, c), slice(0, c)), (slice(0, c), slice(-c, None))):
            assert np.abs(f[ys, xs] - rest[ys, xs]).max() <= 1, (EXTREMES[i - 1], "top corner")
        for ys, xs in ((slice(-c, None), slice(0, c)), (slice(-c, None), slice(-c, None))):
            assert np.abs(f[ys, xs] - rest[ys, xs]).max() <= 1, (EXTREMES[i - 1], "bottom corner")
        # every output pixel is drawn by a triangle of the mesh (no uncovered hole showing the
        # un-warped photo) and no black tears appear
        dst, depth = mesh.dst_points3d(m.landmarks[i], m.head_pose[i], m.head_shift[i])
        idx = mesh.index(dst, depth)[0]
        assert int((idx == mesh.empty).sum()) == 0, EXTREMES[i - 1]
        # (a handful of near-black pixels move with the hair; the count at this threshold
        # also shifts by one or two with the remap's 1/32 px fixed-point sampling: hallo_2
        # at 512 px has 7-8 in the rest frame and 13 at the first extreme with float or
        # fixed-point maps alike; a tear would add dozens)
        assert int((f.max(axis=2) < 4).sum()) <= int((rest.max(axis=2) < 4).sum()) + 8
        assert np.abs(f - rest).mean() > 2  # and the head did move


def test_zero_pose_is_the_two_dimensional_frame(rig):
    """A head pose of 1e-4 degrees goes through the whole 3-D path (lift, rotation,
    perspective, painter's order); on the 68-point mesh it must give the zero-pose frame
    (today's 2-D warp) within a grey level, with speech deforming the mouth. Only the lips
    may differ: where they cross at rest their triangles are ill-conditioned, and any
    1e-3 px change of the points moves them (measured: up to 40 levels along the lip line). A still head renders on the 68-point mesh
    even when the rig has a dense mesh, so its frames are the 2-D warp's exactly."""
    feats = synthetic_features(30)
    m = plan(rig, feats, Expression(head_motion=0, blink_rate=0))
    z = np.zeros_like
    flat = replace(m, head_pose=z(m.head_pose), head_shift=z(m.head_shift), gaze=z(m.gaze))
    tiny = replace(flat, head_pose=np.full_like(m.head_pose, 1e-4))
    sparse = replace(rig, mesh3d=None)
    # geometry, not sampling: the float-map reference (the default fixed-point remap rounds
    # sample positions to 1/32 px, so a 1e-4 px change of the map may flip a rounding and
    # move a hard edge's pixel by a level or two; tests/core/test_warp_fast.py bounds that)
    ref = {"fixed_point_maps": False}
    for size in (256, 512):
        a = WarpEngine(**ref).render_frame(RenderRequest(sparse, feats, flat, size=size), 12)
        b = WarpEngine(**ref).render_frame(RenderRequest(sparse, feats, tiny, size=size), 12)
        lips = np.zeros(a.shape[:2], np.uint8)
        inner = (m.landmarks[12, 48:60] + 0.5) * size / rig.image.shape[1] - 0.5
        cv2.fillPoly(lips, [np.round(inner).astype(np.int32)], 1)
        lips = cv2.dilate(lips, np.ones((7, 7), np.uint8)) > 0
        d = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
        assert d[~lips].max() <= 1
        eng = WarpEngine(dense_mesh=True, **ref)
        dense = eng.render_frame(RenderRequest(rig, feats, flat, size=size), 12)
        assert np.array_equal(dense, a)
        moved = eng.render_frame(RenderRequest(rig, feats, tiny, size=size), 12)
        # the dense mesh samples the same expression field: a still head does not pop when
        # it starts to move
        assert (np.abs(moved.astype(int) - a.astype(int)).max(axis=2) > 1).mean() < 0.01


def test_open_mouth_follows_the_turned_head(rig):
    """The painted mouth interior sits inside the posed inner lips, and the planner's
    inner lips are there too (one head model for both: they were ~10 px apart with the
    planner's former small-angle head)."""
    feats = synthetic_features(3)
    m = posed_track(rig, [(15, 0, 0)] * 3)
    eng = WarpEngine()
    # open the mouth: the planner's open field on the posed rest (its fields are linear)
    from core.motion.landmarks import geometry

    geo = geometry(rig.landmarks)
    lm = m.landmarks.astype(np.float64) + 0.12 * geo.fields["open"][None]
    track = replace(m, landmarks=lm.astype(np.float32), mouth_open=np.full(3, 0.12, np.float32))
    req = RenderRequest(rig=rig, features=feats, motion=track, size=512)
    frame = eng.render_frame(req, 1).astype(int)
    mesh = eng._prepare(req).mesh
    dst, _ = mesh.dst_points3d(lm[1], track.head_pose[1], track.head_shift[1])
    planner = (lm[1, 60:68] + 0.5) * mesh.out_scale - 0.5
    ours = (dst[60:68] + 0.5) * mesh.out_scale - 0.5
    # the painted interior (teeth, tongue, cavity): what changes when the painter is off
    import core.engines.warp as warp_mod

    orig = warp_mod.paint_mouth
    warp_mod.paint_mouth = lambda *a, **k: None
    try:
        bare = WarpEngine().render_frame(req, 1).astype(int)
    finally:
        warp_mod.paint_mouth = orig
    painted = np.abs(frame - bare).max(axis=2) > 12

    def iou(poly):
        mask = np.zeros(painted.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        m_ = mask > 0
        return (painted & m_).sum() / max((painted | m_).sum(), 1)

    assert iou(ours) > 0.6
    assert np.abs(ours - planner).max() < 2.5
    assert iou(planner) > 0.6


def test_template_is_a_face(rig):
    z = TEMPLATE_Z_MM
    assert z[30] == z.max()  # the nose tip is the nearest point
    assert z[0] < z[4] < z[8] and z[16] == z[0]  # the jaw line runs back to the ears
    assert z[51] > z[57] > z[8]  # upper lip ahead of the lower lip ahead of the chin
    # a near-frontal portrait without a 3-D mesh uses the template, barely turned
    d = landmark_depth(replace(rig, mesh3d=None))
    assert abs(portrait_yaw(rig.landmarks)) < 8
    assert np.corrcoef(d, z)[0, 1] > 0.95
    # and the template agrees with the portrait's own Face Mesh depth where it has one
    if rig.mesh3d is not None:
        assert np.corrcoef(landmark_depth(rig), d)[0, 1] > 0.8


def test_three_quarter_portrait_gets_a_turned_template(samples):
    rig = rig_of("hallo_2.jpg")  # the face turned towards image right
    yaw = portrait_yaw(rig.landmarks)
    assert yaw > 10
    d = landmark_depth(rig)
    assert d[0] > d[16]  # the image-left (near) jaw corner is nearer the camera


def test_mesh3d_depth_is_used_whatever_its_sign(rig):
    """A dense mesh (here the template itself, sampled densely, in MediaPipe's sign:
    z grows away from the camera) gives the same depth as the template; one 1.2 times
    deeper gives the template's shape 1.2 times deeper (within DEPTH_SCALE_RANGE)."""
    lm = np.asarray(rig.landmarks, np.float64)
    z = landmark_depth(replace(rig, mesh3d=None))
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(3), size=400)
    tri = rng.integers(0, 68, size=(400, 3))
    xy = (lm[tri] * w[..., None]).sum(1)
    dense = np.concatenate([np.c_[lm, -z], np.c_[xy, -(z[tri] * w).sum(1)]])
    got = depth_from_mesh3d(dense, lm)
    assert got is not None
    assert np.abs(got - z).max() < 0.05 * np.ptp(z)
    assert np.allclose(landmark_depth(replace(rig, mesh3d=dense)), got)
    deep = dense * np.array([1.0, 1.0, 1.2])
    z_eyes = z[36:48].mean()
    assert np.allclose(depth_from_mesh3d(deep, lm) - z_eyes, 1.2 * (z - z_eyes), atol=0.05 * np.ptp(z))


def _dense_face(rig, n=500, seed=0):
    """A stand-in for Face Mesh's [468,3]: points spread over the landmarks' own triangles
    (lips and eyes excluded), their depth the template's, in MediaPipe's sign."""
    from core.engines.warp_mesh import interior_triangles

    lm = np.asarray(rig.landmarks, np.float64)
    z = landmark_depth(rig)
    tris = np.asarray(rig.triangles)
    tris = tris[(tris < 68).all(axis=1) & ~interior_triangles(tris)]
    rng = np.random.default_rng(seed)
    pick = tris[rng.integers(0, len(tris), n)]
    w = rng.dirichlet(np.ones(3), size=n)
    xy = (lm[pick] * w[..., None]).sum(1)
    return np.c_[xy, -(z[pick] * w).sum(1)]


def test_dense_mesh_from_mesh3d_turns_like_the_landmark_mesh(rig):
    """With a dense face mesh the renderer triangulates its points too (a valid mesh), keeps
    zero pose exact, leaves no holes and a still background, and turns the head as the
    68-point mesh does when the depth is the same."""
    from core.face.mesh import check_mesh

    rig = replace(rig, mesh3d=None)
    dense = replace(rig, mesh3d=_dense_face(rig))
    poses = [(0, 0, 0), (15, 0, 0), (-15, 10, 8)]
    eng_s, eng_d = WarpEngine(), WarpEngine(dense_mesh=True)
    req_s, req_d = _request(rig, poses, 512), _request(dense, poses, 512)
    sparse = list(eng_s.render(req_s))
    frames = list(eng_d.render(req_d))
    mesh = eng_d._prepare(req_d).mesh
    assert mesh.dense and len(mesh.tris) > len(eng_s._prepare(req_s).mesh.tris) + 80
    assert check_mesh(mesh.pts, mesh.tris, rig.size) == []
    assert np.abs(frames[0].astype(int) - sparse[0].astype(int)).max() <= 1
    face = cv2.resize(rig.masks["face"], (512, 512)) > 0.5
    m = req_d.motion
    for i in (1, 2):
        dst, depth = mesh.dst_points3d(m.landmarks[i], m.head_pose[i], m.head_shift[i])
        assert int((mesh.index(dst, depth)[0] == mesh.empty).sum()) == 0
        d = np.abs(frames[i].astype(int) - sparse[i].astype(int))
        assert d[:8, :8].max() <= 1 and d[-8:, -8:].max() <= 1
        assert d[face].mean() < 4, d[face].mean()


def test_unusable_mesh3d_falls_back_to_the_template(rig):
    """A rig whose mesh3d is garbage (NaNs, wrong shape, or points that cannot be meshed)
    renders with the 68-point mesh and template depth: the same frame as without it."""
    rig = replace(rig, mesh3d=None)
    ref = WarpEngine().render_frame(_request(rig, [(12, -6, 5)], 256), 0)
    for bad in (np.full((468, 3), np.nan), np.zeros((468, 2)), np.zeros((468, 3))):
        r = replace(rig, mesh3d=bad)
        out = WarpEngine().render_frame(_request(r, [(12, -6, 5)], 256), 0)
        assert np.array_equal(out, ref)
