"""The ear and the side of the head under a turn (issue 11, "a living head"): a portrait
already turned to three-quarters, turned further towards its visible ear, must not
stretch that ear into a pale blob; a frontal portrait's ears move as before."""

from __future__ import annotations

import numpy as np
import pytest

from core.engines.warp_measure import ear_triangles, stretch
from core.engines.warp_mesh import MeshWarp
from core.engines.warp_pose import posed_track
from core.face.head3d import EAR_DEPTH_MM, portrait_yaw

BOUND = 1.8
"""Largest stretch allowed beyond the rigid head (core.engines.warp_ears bounds it at 1.75;
hallo_3 measured 2.85 at -15 degrees of yaw before it)."""
BEHIND_BOUND = 3.0
"""...and of the strip between the ear and the head's outline behind it."""


def _mesh(rig, poses, size=512):
    """(the renderer's posed mesh of `rig` at `size`: the dense one, as WarpEngine builds it
    by default; a track holding the rest face at `poses`)."""
    return MeshWarp.build(rig, size, dense=True), posed_track(rig, poses)


def _ears(mesh) -> np.ndarray:
    """The ear anchors' indices in the mesh (the dense mesh numbers its points anew)."""
    return np.asarray(mesh.groups["ears"], np.int64)


def _outline(mesh) -> np.ndarray:
    """The head-outline anchors' indices in the mesh."""
    return np.asarray(mesh.groups["head"], np.int64)


def ear_stretch(mesh, landmarks, pose, shift, behind_ear: bool = False) -> float:
    """core.engines.warp_measure.stretch over the triangles between an ear anchor and the
    face (the ear), or with `behind_ear` between an ear anchor and the head's outline
    (hair and the side of the head behind the ear)."""
    tris = ear_triangles(mesh, behind_ear)
    assert len(tris)
    return stretch(mesh, tris, landmarks, pose, shift)


@pytest.fixture(scope="module")
def turned(samples, peers) -> dict:
    import core.face
    from core.image import load_image

    return {
        name: core.face.analyze(load_image(path))
        for name, path in (
            ("hallo_3", samples / "portraits" / "hallo_3.jpg"),
            ("hallo_5", samples / "portraits" / "hallo_5.jpg"),
            ("emo_talk_mola", peers / "emo_talk_mola" / "ref.jpg"),
        )
    }


def test_a_turn_towards_the_visible_ear_does_not_stretch_it(turned):
    """Three portraits turned 9-16 degrees (hallo_3, the statue hallo_5 and the held-out
    emo_talk_mola), turned further by 10 and 15 degrees towards the ear they show, alone
    and with pitch and roll: the ear region stays within `BOUND` of the rigid head
    (measured 1.47-1.75 at 512 px; before the bound: hallo_3 2.22, 2.85, 3.2 towards the
    ear, hallo_5 1.82-2.52, emo_talk_mola 1.71-2.28). The strip behind the ear (hair and
    the side of the head, which a turn towards it brings into view and the photo holds
    foreshortened) widens more, but within `BEHIND_BOUND` (measured up to 2.81, hallo_3
    turned 15 degrees towards its ear with pitch and roll; 1.3-1.9 elsewhere)."""
    for name, rig in turned.items():
        a = portrait_yaw(rig.landmarks)
        assert abs(a) > 8, (name, a)  # a three-quarter portrait indeed
        s = np.sign(a)  # a further turn in the portrait's own direction shows more ear
        poses = [(10 * s, 0, 0), (15 * s, 0, 0), (15 * s, 10, 8 * s), (-15 * s, 0, 0)]
        mesh, track = _mesh(rig, poses)
        for i, pose in enumerate(poses):
            got = ear_stretch(mesh, track.landmarks[i], track.head_pose[i], track.head_shift[i])
            assert got < BOUND, (name, pose, got)
            behind = ear_stretch(mesh, track.landmarks[i], track.head_pose[i],
                                 track.head_shift[i], behind_ear=True)
            assert behind < BEHIND_BOUND, (name, pose, behind)


def test_a_frontal_portraits_ears_turn_as_before(peers):
    """A frontal portrait (vasa-1_15, held out: its own yaw 0.2 degrees): its ears sit at
    the skull-side depth and turn rigidly with the head at up to 15 degrees of yaw and
    10 of pitch, exactly as before the stretch bound; the near ear slides less than the
    jaw corner in front of it, and a roll swings both ears."""
    import core.face
    from core.image import load_image

    rig = core.face.analyze(load_image(peers / "vasa-1_15" / "ref.jpg"))
    assert abs(portrait_yaw(rig.landmarks)) < 2
    poses = [(0, 0, 0), (15, 0, 0), (-15, 0, 0), (10, 0, 0), (-10, 0, 0), (0, 10, 0), (0, 0, 8)]
    mesh, track = _mesh(rig, poses)
    ears = _ears(mesh)
    mm = mesh.poser.px_per_mm
    assert np.abs(mesh.depth[ears] / mm - EAR_DEPTH_MM).max() < 1.0
    rest, _ = mesh.dst_points3d(track.landmarks[0], track.head_pose[0], track.head_shift[0])
    old_z = np.full(len(ears), EAR_DEPTH_MM * mm)
    for i, pose in enumerate(poses[1:], 1):
        dst, _ = mesh.dst_points3d(track.landmarks[i], track.head_pose[i], track.head_shift[i])
        before, _ = mesh.poser.pose(mesh.pts[ears], old_z, track.head_pose[i], track.head_shift[i])
        assert np.abs(dst[ears] - before).max() < 0.5, pose  # rig px (~0.3 output px)
        move = dst - rest
        if pose[0] != 0:  # the near ear (the side the face turns from) lags the jaw corner
            near = ears[np.sign(mesh.pts[ears, 0] - mesh.pts[30, 0]) == -np.sign(pose[0])]
            jaw = 0 if pose[0] > 0 else 16
            assert np.abs(move[near, 0]).mean() < 0.5 * abs(move[jaw, 0]), pose
        if pose[2] != 0:
            assert np.linalg.norm(move[ears], axis=1).mean() > 0.5 * np.linalg.norm(
                move[[36, 45]], axis=1).mean()


def test_the_ears_move_smoothly_through_a_turn(turned):
    """The bound is met by pulling the ears towards the contour's depth only as far as
    needed, continuously: through a turn of 0 to 15 degrees towards hallo_3's visible ear
    in quarter-degree steps (where the bound takes over), no ear anchor moves further in
    one step than the fastest point of the face contour in front of it (measured 1.25 rig
    px against 1.31), and its speed changes by under half a pixel per step (no jump)."""
    rig = turned["hallo_3"]
    s = np.sign(portrait_yaw(rig.landmarks))
    yaws = np.arange(0.0, 15.01, 0.25) * s
    mesh, track = _mesh(rig, [(y, 0, 0) for y in yaws], 256)
    ears = _ears(mesh)
    pts = np.array([mesh.dst_points3d(track.landmarks[i], track.head_pose[i], track.head_shift[i])[0]
                    for i in range(len(yaws))])
    ear_step = np.linalg.norm(np.diff(pts[:, ears], axis=0), axis=2).max(axis=1)
    contour_step = np.linalg.norm(np.diff(pts[:, :17], axis=0), axis=2).max(axis=1)
    assert (ear_step <= contour_step * 1.05).all(), (ear_step - contour_step).max()
    jerk = np.linalg.norm(np.diff(pts[:, ears], 2, axis=0), axis=2).max()
    assert jerk < 0.5, jerk
