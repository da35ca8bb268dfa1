"""The warp renderer's fast paths against their references, on a real portrait with planned
speech and head motion: fixed-point remap vs the float maps, scratch buffers vs fresh
arrays, the lids' direct cubic vs polyfit. Tolerances are in grey levels and pixels, never
bit equality (OpenCV's SIMD paths differ between CPUs)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.engines.warp import WarpEngine
from core.engines.warp_eyes import EYES, _cubic
from core.engines.warp_scratch import Scratch
from core.motion import plan
from core.types import RenderRequest
from tests.core.test_motion_support import joined_features, rig_of


@pytest.fixture(scope="module")
def request_512(samples):
    rig = rig_of("hallo_3.jpg")  # photo with teeth: lids, painted interior, seam all run
    feats = joined_features()
    return RenderRequest(rig=rig, features=feats, motion=plan(rig, feats, seed=0), size=512)


def _frames_to_check(req: RenderRequest) -> list[int]:
    """A deep blink, the widest mouth, the largest head turn and a few ordinary frames."""
    m = req.motion
    gap = np.linalg.norm(m.landmarks[:, 66] - m.landmarks[:, 62], axis=1)
    turn = np.abs(m.head_pose[:, 0]) + np.abs(m.head_pose[:, 1])
    picks = {int(np.argmax(m.blink)), int(np.argmax(gap)), int(np.argmax(turn)),
             int(np.argmax(gap * (turn > np.median(turn))))}
    picks |= set(range(0, req.n_frames, max(1, req.n_frames // 6)))
    return sorted(picks)


def test_fixed_point_frames_match_the_float_map_reference(request_512):
    req = request_512
    frames = _frames_to_check(req)
    assert float(req.motion.blink[frames].max()) > 0.5  # a real blink is among them
    fast, ref = WarpEngine(), WarpEngine(fixed_point_maps=False)
    for i in frames:
        a = fast.render_frame(req, i).astype(np.int16)
        b = ref.render_frame(req, i).astype(np.int16)
        d = np.abs(a - b)
        # 1/32 px sample positions: a level or two on edges, nothing on smooth skin
        assert d.max() <= 10, (i, int(d.max()))
        assert d.mean() < 0.15, (i, float(d.mean()))
        assert np.mean(d > 3) < 1e-3, (i, float(np.mean(d > 3)))


def test_scratch_maps_equal_fresh_maps_and_stay_per_thread(request_512):
    req = request_512
    prep = WarpEngine()._prepare(req)
    m = req.motion
    i = int(np.argmax(np.abs(m.head_pose[:, 0])))
    lm = prep.interior.lips(np.asarray(m.landmarks[i], np.float64), float(m.mouth_width[i]), i)
    for mesh in {id(prep.mesh): prep.mesh, id(prep.flat_mesh): prep.flat_mesh}.values():
        dst, depth = mesh.dst_points3d(lm, m.head_pose[i], m.head_shift[i])
        fresh = mesh.maps(dst, depth)
        reused = mesh.maps(dst, depth, reuse=True)
        for f, r in zip(fresh, reused, strict=True):
            assert f.shape == r.shape == (512, 512)
            np.testing.assert_allclose(r, f, atol=1e-3)
        # the thread's own buffers, reused by the next call (no fresh arrays per frame)
        again = mesh.maps(dst, depth, reuse=True)
        assert again[0] is reused[0] and again[1] is reused[1]

    other: list[Scratch] = []
    t = threading.Thread(target=lambda: other.append(Scratch.of(512)))
    t.start()
    t.join()
    assert other[0] is not Scratch.of(512)


def test_direct_lid_cubic_matches_polyfit(request_512):
    """The lids' curves through four landmarks: the interpolating cubic by a 4x4 solve is
    polyfit's curve (to well under a thousandth of a pixel over the eye)."""
    lm = np.asarray(request_512.rig.landmarks, np.float64)
    for eye in EYES:
        for ids in ([eye[0], eye[1], eye[2], eye[3]], [eye[0], eye[5], eye[4], eye[3]]):
            c0, c1 = lm[ids[0]], lm[ids[3]]
            ew = float(np.linalg.norm(c1 - c0))
            u = (c1 - c0) / ew
            v = np.array([-u[1], u[0]])
            st = np.stack([(lm[ids] - c0) @ u, (lm[ids] - c0) @ v], 1) / ew
            ss = np.linspace(0, 1, 50)
            got = np.polyval(_cubic(st[:, 0], st[:, 1]), ss)
            want = np.polyval(np.polyfit(st[:, 0], st[:, 1], 3), ss)
            assert np.abs(got - want).max() * ew < 1e-3


def test_boxed_tongue_layer_equals_the_whole_window():
    """The tongue computed on the rows and columns its alphas reach gives the same alphas
    everywhere and the same colour wherever it shows, over mouth windows of every shape,
    with the raised tip and the "th" tip (the interior paints with the boxed one)."""
    from core.engines.mouth.tongue import tongue_layer, tongue_layer_boxed

    rng = np.random.default_rng(7)
    colour, dark = np.array([180, 90, 90], np.float32), np.array([40, 20, 20], np.float32)
    for _ in range(300):
        h, w = int(rng.integers(8, 60)), int(rng.integers(10, 120))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        lo_mid = np.array([rng.uniform(-5, w + 5), rng.uniform(0, h + 5)])
        top_y = rng.uniform(-5, h)
        front_y = max(rng.uniform(top_y, h + 8), top_y + 1.0)
        args = (xx, yy, lo_mid, rng.uniform(0.3, w / 1.5), top_y, front_y, colour, dark,
                float(rng.choice([0.0, rng.uniform(0, 1)])), rng.uniform(-8, h),
                float(rng.choice([0.0, rng.uniform(0, 1)])), rng.uniform(0, h + 8))
        want, got = tongue_layer(*args), tongue_layer_boxed(*args)
        np.testing.assert_allclose(got[1], want[1], atol=1e-6)
        np.testing.assert_allclose(got[2], want[2], atol=1e-6)
        shows = (want[1] > 1e-6) | (want[2] > 1e-6)
        np.testing.assert_allclose(got[0][shows], want[0][shows], atol=1e-3)


def test_eyes_window_map_equals_the_whole_frame_map(request_512, monkeypatch):
    """A blink on a turned head reads the eyes-open map around the eyes only
    (MeshWarp.window_maps): every blinking frame of the planned track, and a deep blink at
    the extreme poses, render as with the whole frame's map (within a grey level: the
    window's products run on other SIMD lanes), and the window maps equal the whole map's
    cut (same triangles, same order)."""
    from dataclasses import replace

    import core.engines.warp_mesh as wm
    from core.engines.warp import _eyes_window
    from core.engines.warp_pose import posed_track
    from tests.core.test_motion_support import synthetic_features

    req = request_512
    poses = [(15, 10, 8), (-15, -10, -8), (15, -10, -8), (-15, 10, 8)]
    posed = posed_track(req.rig, poses)
    posed = replace(posed, blink=np.array([1.0, 0.6, 0.9, 0.4], np.float32))
    extreme = RenderRequest(rig=req.rig, features=synthetic_features(len(poses)),
                            motion=posed, size=512)
    blinks = [int(i) for i in np.flatnonzero(req.motion.blink > 0.2)][:12]
    assert blinks and np.abs(req.motion.head_pose[blinks]).max() > 1.0
    cases = [(req, blinks), (extreme, list(range(len(poses))))]
    windowed = [list(WarpEngine().render(r, frames=f)) for r, f in cases]

    def whole(self, dst, depth, src, window):
        return wm.FrameMap(*self.maps(dst, depth, src))

    monkeypatch.setattr(wm.MeshWarp, "window_maps", whole)
    for (r, f), got in zip(cases, windowed, strict=True):
        ref = list(WarpEngine().render(r, frames=f))
        for a, b in zip(got, ref, strict=True):
            assert np.abs(a.astype(int) - b).max() <= 1
    monkeypatch.undo()
    eng = WarpEngine()
    prep = eng._prepare(extreme)
    mesh = prep.mesh
    for i in range(len(poses)):
        m = extreme.motion
        dst, depth = mesh.dst_points3d(m.landmarks[i], m.head_pose[i], m.head_shift[i], True)
        src = prep.edge_source(i)
        fx, fy = mesh.maps(dst, depth, src)
        got = mesh.window_maps(dst, depth, src, _eyes_window((dst[:68] + 0.5) * mesh.out_scale - 0.5))
        h, w = got.map_x.shape
        assert h > 20 and w > 40
        cut = np.s_[got.y0:got.y0 + h, got.x0:got.x0 + w]
        assert np.abs(got.map_x - fx[cut]).max() < 1e-3 and np.abs(got.map_y - fy[cut]).max() < 1e-3


def test_clip_unpose_constants_equal_the_frame_by_frame_ones(request_512, monkeypatch):
    """The renderer's unpose constants made for a whole chunk of frames at once
    (warp_pose.unpose_starts) give each posed frame the mesh it gets alone (to 1e-9 px),
    on both sides of chunk boundaries and going back to an earlier chunk."""
    import core.engines.warp as warp

    START_CHUNK = 50  # (smaller chunks than the renderer's, so this clip has several)
    monkeypatch.setattr(warp, "START_CHUNK", START_CHUNK)
    req = request_512
    eng = WarpEngine()
    prep = eng._prepare(req)
    mesh = prep.mesh
    m = req.motion
    frames = [i for i in (0, 1, START_CHUNK - 1, START_CHUNK, 2 * START_CHUNK + 3,
                          req.n_frames - 1, 5)
              if i < req.n_frames and np.any(m.head_pose[i])]
    assert len(frames) >= 6
    for i in frames:
        alone, _ = mesh.dst_points3d(m.landmarks[i], m.head_pose[i], m.head_shift[i])
        batched, _ = mesh.dst_points3d(m.landmarks[i], m.head_pose[i], m.head_shift[i],
                                       start=prep.unpose_start(i))
        assert np.abs(alone - batched).max() < 1e-9, i
