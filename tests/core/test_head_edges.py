"""A head near the frame's edge: at extreme poses the hair there moves with the head
instead of stretching against a still frame border (issue 11, "a living head")."""

from __future__ import annotations

import numpy as np
import pytest

from core.engines.warp import WarpEngine
from core.engines.warp_pose import posed_track
from core.face.mesh import head_ellipse
from core.types import RenderRequest
from tests.core.test_motion_support import synthetic_features

EXTREMES = [(0, 0, 8), (0, 0, -8), (15, 10, 8), (-15, -10, -8), (0, 10, 0), (15, 0, 0)]
BAND = 0.3
"""Rows measured: this many face heights below the frame's top edge."""


def _analyze(path, top: float = 0.0):
    import core.face
    from core.image import load_image

    img = load_image(path)
    return core.face.analyze(np.ascontiguousarray(img[int(top * img.shape[0]):]))


def _jac(mx: np.ndarray, my: np.ndarray) -> tuple[np.ndarray, ...]:
    return (np.gradient(mx, axis=1), np.gradient(mx, axis=0),
            np.gradient(my, axis=1), np.gradient(my, axis=0))


def hair_stretch(mesh, landmarks, pose, shift) -> float:
    """95th percentile, over the output pixels of the top `BAND` whose source lies inside
    the head-and-hair ellipse, of how far the warp distorts the hair beyond the head's
    own rigid 3-D motion: the singular values of J_warp @ inv(J_rigid), both backward
    maps (output px -> rig px), the rigid one the inverse of the head pose at the depth of
    the topmost head anchor. 1 = the hair moves as a rigid head; the old still border
    stretched the strip between it and the hair 2-9x at 8 degrees of roll."""
    dst, depth = mesh.dst_points3d(landmarks, pose, shift)
    mx, my = mesh.maps(dst, depth, mesh.edge_source(pose, shift))
    so, ss = mesh.out_scale, mesh.src_scale
    mx, my = (mx + 0.5) / ss - 0.5, (my + 0.5) / ss - 0.5
    rows = int(BAND * mesh.geo.face_h * so)
    yy, xx = np.mgrid[0:rows, 0:mesh.size].astype(np.float64)
    p = np.stack([(xx + 0.5) / so - 0.5, (yy + 0.5) / so - 0.5], -1).reshape(-1, 2)
    top = int(np.argmin(mesh.pts[:, 1] + 1e9 * (mesh.pose_w < 1)))
    z = np.full(len(p), mesh.depth[top])
    s = p.copy()
    for _ in range(6):
        q, _ = mesh.poser.pose(s, z, pose, shift, 1.0)
        s = s - (q - p)
    a, b, c, d = _jac(mx[:rows], my[:rows])
    e, f, g, h = _jac(s[:, 0].reshape(rows, -1), s[:, 1].reshape(rows, -1))
    det = e * h - f * g
    r00, r01 = (a * h - b * g) / det, (b * e - a * f) / det
    r10, r11 = (c * h - d * g) / det, (d * e - c * f) / det
    sq = r00**2 + r01**2 + r10**2 + r11**2
    area = np.abs(r00 * r11 - r01 * r10)
    smax = np.sqrt(sq / 2 + np.sqrt(np.maximum(sq * sq / 4 - area**2, 0)))
    smin = area / np.maximum(smax, 1e-9)
    dist = np.maximum(smax, 1 / np.maximum(smin, 1e-3))
    centre, (rx, ry) = head_ellipse(np.asarray(mesh.rig.landmarks, np.float64))
    rel = np.stack([mx[:rows] - centre[0], my[:rows] - centre[1]], -1)
    hair = np.hypot(rel @ mesh.geo.ex / rx, rel @ mesh.geo.ey / ry) < 1.0
    hair[[0, -1]] = False
    hair[:, [0, -1]] = False
    assert hair.sum() > 200  # the hair does reach the measured band
    return float(np.percentile(dist[hair], 95))


@pytest.fixture(scope="module")
def top_rigs(samples, peers) -> dict:
    return {
        "vasa-1_12": _analyze(peers / "vasa-1_12" / "ref.jpg"),
        "emo_talk_kara": _analyze(peers / "emo_talk_kara" / "ref.jpg"),
        "hallo_1 top cut": _analyze(samples / "portraits" / "hallo_1.jpg", top=0.13),
    }


@pytest.mark.parametrize("size", [256, 512])
def test_hair_at_the_top_edge_moves_with_the_head(top_rigs, size):
    """Three portraits whose hair touches the top edge (two held-out peers, and hallo_1
    with its top cut off through the headband): at 8 degrees of roll and at the
    combined extremes the hair band within 0.3 face heights of the edge stays within 2x
    of the rigid head's motion (measured 1.0-1.9; the still border gave 2.1-9)."""
    for name, rig in top_rigs.items():
        track = posed_track(rig, EXTREMES)
        req = RenderRequest(rig=rig, features=synthetic_features(len(EXTREMES)),
                            motion=track, size=size)
        mesh = WarpEngine()._prepare(req).mesh
        for i, pose in enumerate(EXTREMES):
            got = hair_stretch(mesh, track.landmarks[i], track.head_pose[i], track.head_shift[i])
            assert got < 2.0, (name, pose, got)


def test_edge_following_fades_along_the_edge_and_spares_the_trunk(samples, top_rigs):
    """The border anchors' following weight changes gently from one anchor to the next
    (no 1/5-frame wedge between a following anchor and a still one), is nil along the
    bottom edge (the trunk never turns) and off the border, and a still head keeps the
    static sources (the 2-D frame, bit-exact)."""
    for rig in (_analyze(samples / "portraits" / "hallo_5.jpg"),
                top_rigs["emo_talk_kara"]):
        req = RenderRequest(rig=rig, features=synthetic_features(2),
                            motion=posed_track(rig, [(15, 10, 8), (0, 0, 0)]), size=256)
        mesh = WarpEngine()._prepare(req).mesh
        w, h = rig.size
        pts, ew = mesh.pts, mesh.edge_w
        on = (pts[:, 0] <= 0.5) | (pts[:, 1] <= 0.5) | (pts[:, 0] >= w - 1.5) | (pts[:, 1] >= h - 1.5)
        on[:68] = False
        assert ew[~on].max() == 0.0 and ew.max() > 0.3
        assert ew[pts[:, 1] >= h - 1.5].max() == 0.0
        for edge, along in ((pts[:, 1] <= 0.5, 0), (pts[:, 0] <= 0.5, 1), (pts[:, 0] >= w - 1.5, 1)):
            k = np.flatnonzero(edge & on)
            steps = np.abs(np.diff(ew[k[np.argsort(pts[k, along])]]))
            assert steps.max() <= 0.5, steps.max()
        m = req.motion
        assert mesh.edge_source(m.head_pose[1], m.head_shift[1]) is mesh.src_pts
        moved = mesh.edge_source(m.head_pose[0], m.head_shift[0])
        still = ew == 0
        bg = np.zeros(len(pts), bool)
        bg[mesh.bg] = True  # background points: their sources follow the border's, blended
        assert np.array_equal(moved[still & ~bg], mesh.src_pts[still & ~bg])
        border_move = np.abs(moved[~still] - mesh.src_pts[~still]).max()
        assert border_move > 1.0
        assert np.abs(moved[bg] - mesh.src_pts[bg]).max() <= border_move


def test_output_larger_than_the_portrait_is_the_same_frame():
    """A turned head rendered at 1024 px from the demo's ~220 px portrait is the same
    picture as at 256 px, edges included. (There the frame's last row lies outside the border
    triangles; it sampled the output pixel's own coordinates, far past the source's edge,
    which the edge easing took for an 800 px overshoot and folded the whole frame into
    mirrored hair.)"""
    import cv2
    from skimage import data

    import core.face

    rig = core.face.analyze(data.astronaut())  # the demo portrait: a ~220 px rig image
    assert rig.size[0] < 300, rig.size
    track = posed_track(rig, [(12, 8, 6)])
    frames = {}
    for size in (256, 1024):
        req = RenderRequest(rig=rig, features=synthetic_features(1), motion=track, size=size)
        frames[size] = next(iter(WarpEngine().render(req))).astype(np.float32)
    small, big = frames.values()
    down = cv2.resize(big, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    diff = np.abs(down - small).mean(axis=2)
    assert diff.mean() < 3.0, diff.mean()
    for edge in (diff[:4], diff[-4:], diff[:, :4], diff[:, -4:]):
        assert edge.mean() < 6.0, edge.mean()


def test_clip_sources_equal_the_frame_by_frame_ones(top_rigs):
    """The renderer takes the border anchors' sources of a whole clip in one go
    (follow_sources); they are follow_source's, frame by frame, still frames included."""
    from core.engines.warp_edges import follow_source, follow_sources

    rig = top_rigs["emo_talk_kara"]
    track = posed_track(rig, [*EXTREMES, (0, 0, 0)])
    req = RenderRequest(rig=rig, features=synthetic_features(len(EXTREMES) + 1),
                        motion=track, size=256)
    mesh = WarpEngine()._prepare(req).mesh
    on, srcs = follow_sources(mesh, track.head_pose, track.head_shift)
    assert len(on) > 0
    for i in range(len(EXTREMES) + 1):
        one = follow_source(mesh, track.head_pose[i], track.head_shift[i])
        np.testing.assert_allclose(srcs[i], one[on], atol=1e-9)
