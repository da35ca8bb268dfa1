"""The compiled map kernel (core/engines/_pwmaps.c via core.engines.warp_raster) against
an exact point-in-triangle reference and against the OpenCV path it replaces, on a real
portrait with planned speech and head motion; and its checks on what it is handed."""

from __future__ import annotations

import numpy as np
import pytest

from core.engines import warp_raster
from core.engines.warp import WarpEngine
from core.engines.warp_measure import uncovered
from core.engines.warp_mesh import MeshWarp
from core.engines.warp_pose import posed_track
from core.engines.warp_raster import COMPILED, draw_maps
from tests.core.test_warp_fast import _frames_to_check, request_512  # noqa: F401 (fixture)

EXTREMES = [(15, 10, 8), (-15, -10, -8), (15, -10, 8), (-15, 10, -8), (0, 0, 0), (4, -3, 2)]


def test_the_kernel_is_built():
    # `make setup` builds it (pip install -e .); without it every frame takes the ~30 %
    # slower OpenCV path, so a broken build must fail here, not pass unnoticed
    assert COMPILED is not None, "core/engines/_pwmaps.c was not built: run `make setup`"


def _inside(tri: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Pixel centres inside or on triangle `tri` [3,2] (either winding)."""
    s = []
    for k in range(3):
        (ax, ay), (bx, by) = tri[k], tri[(k + 1) % 3]
        s.append((bx - ax) * (ys - ay) - (by - ay) * (xs - ax))
    s = np.stack(s)
    eps = 1e-9
    return np.all(s >= -eps, axis=0) | np.all(s <= eps, axis=0)


def test_kernel_draws_pixel_centres_inside_each_triangle_with_its_affine():
    rng = np.random.default_rng(3)
    h = w = 64
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    for _ in range(20):
        pts = rng.uniform(-8, 72, (3, 2))
        table = np.vstack([rng.normal(0, 2, (1, 6)), [(1, 0, 0, 0, 1, 0)]]).astype(np.float32)
        idx = np.empty((h, w), np.uint16)
        mx, my = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
        draw_maps(pts, np.array([[0, 1, 2]]), np.array([True]), np.array([0]), table,
                  (0, 0, w, h), idx, mx, my)
        want = _inside(pts, xs, ys)
        got = idx == 0
        # centres exactly on an edge may go either way in floating point: none here
        # (random corners), so the sets are equal
        assert np.array_equal(got, want), int((got != want).sum())
        a, b, c, d, e, f = table[0].astype(np.float64)
        assert np.allclose(mx[got], a * xs[got] + b * ys[got] + c, atol=1e-3)
        assert np.allclose(my[got], d * xs[got] + e * ys[got] + f, atol=1e-3)
        assert np.allclose(mx[~got], xs[~got]) and np.allclose(my[~got], ys[~got])
        assert np.all(idx[~got] == 1)  # len(tris): "no triangle"


def test_a_window_gets_exactly_the_whole_frames_pixels():
    rng = np.random.default_rng(5)
    n = 40
    pts = rng.uniform(-4, 100, (n, 2))
    tris = np.array([rng.choice(n, 3, replace=False) for _ in range(60)])
    table = rng.normal(0, 3, (61, 6)).astype(np.float32)
    interior = rng.random(60) < 0.2
    order = rng.permutation(60)

    def draw(window):
        x0, y0, x1, y1 = window
        out = (np.empty((y1 - y0, x1 - x0), t) for t in (np.uint16, np.float32, np.float32))
        idx, mx, my = out
        draw_maps(pts, tris, interior, order, table, window, idx, mx, my)
        return idx, mx, my

    full = draw((0, 0, 96, 96))
    for window in ((10, 20, 50, 33), (0, 0, 1, 96), (95, 95, 96, 96), (31, 7, 96, 64)):
        x0, y0, x1, y1 = window
        for a, b in zip(draw(window), full, strict=True):
            assert np.array_equal(a, b[y0:y1, x0:x1]), window


def test_kernel_refuses_wrong_buffers_and_indices():
    pts = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    tris = np.array([[0, 1, 2]])
    table = np.zeros((2, 6), np.float32)
    good = (np.empty((8, 8), np.uint16), np.empty((8, 8), np.float32), np.empty((8, 8), np.float32))
    with pytest.raises(ValueError, match="map_x"):
        draw_maps(pts, tris, np.array([False]), np.array([0]), table, (0, 0, 8, 8),
                  good[0], np.empty((8, 9), np.float32), good[2])
    with pytest.raises(IndexError, match="no such triangle"):
        draw_maps(pts, tris, np.array([False]), np.array([1]), table, (0, 0, 8, 8), *good)
    with pytest.raises(IndexError, match="out of range"):
        draw_maps(pts, np.array([[0, 1, 3]]), np.array([False]), np.array([0]), table,
                  (0, 0, 8, 8), *good)
    with pytest.raises(ValueError, match="table"):
        draw_maps(pts, tris, np.array([False]), np.array([0]), table[:1], (0, 0, 8, 8), *good)
    # below the wrapper's checks, the kernel checks every index itself and writes nothing
    kernel = warp_raster.COMPILED
    order, grow = np.zeros(1, np.int32), np.zeros(1)
    bad_tris = np.array([[0, 1, 3]], np.int32)
    before = good[0].copy()
    code = kernel(pts.ctypes.data, 3, bad_tris.ctypes.data, 1, order.ctypes.data, 1,
                  grow.ctypes.data, table.ctypes.data, 0, 0, 8, 8,
                  *(a.ctypes.data for a in good))
    assert code == 3 and np.array_equal(good[0], before)


@pytest.mark.parametrize("name", ["hallo_3", "vasa-1_5"])
def test_kernel_maps_equal_opencvs_where_both_draw_the_same_triangle(samples, peers, name):
    import core.face
    from core.image import load_image

    path = samples / "portraits" / f"{name}.jpg" if name.startswith("hallo") else peers / name / "ref.jpg"
    rig = core.face.analyze(load_image(path))
    mesh = MeshWarp.build(rig, 512, dense=True)
    assert mesh.dense and mesh.compiled
    track = posed_track(rig, np.asarray(EXTREMES, np.float64))
    for i, pose in enumerate(EXTREMES):
        dst, depth = mesh.dst_points3d(track.landmarks[i], track.head_pose[i],
                                       track.head_shift[i])
        mesh.compiled = True
        ax, ay = (m.copy() for m in mesh.maps(dst, depth))
        ai = mesh.index(dst, depth)[0]
        mesh.compiled = False
        bx, by = mesh.maps(dst, depth)
        bi = mesh.index(dst, depth)[0]
        d = np.hypot(ax - bx, ay - by)
        same = ai == bi
        assert d[same].max() < 2e-3, (pose, float(d[same].max()))
        # the two rules give seam pixels to different neighbours: along triangle edges
        # only, where the neighbours' maps meet (up to a fold's silhouette)
        assert np.mean(~same) < 0.08, (pose, float(np.mean(~same)))
        # (measured at the extremes: median 0.07-0.08 px, over 1 px on 0.07-0.15 % of
        # the frame, at folds' silhouettes, where a pixel's owner flips between surfaces)
        assert np.median(d[~same]) < 0.15, (pose, float(np.median(d[~same])))
        assert np.mean(d > 1) < 0.003, (pose, float(np.mean(d > 1)))


def test_kernel_frames_match_the_opencv_reference(request_512):  # noqa: F811
    req = request_512
    fast, ref = WarpEngine(), WarpEngine(compiled_maps=False)
    assert fast._prepare(req).mesh.compiled and not ref._prepare(req).mesh.compiled
    for i in _frames_to_check(req):
        a = fast.render_frame(req, i).astype(np.int16)
        b = ref.render_frame(req, i).astype(np.int16)
        d = np.abs(a - b)
        assert d.mean() < 0.1, (i, float(d.mean()))
        assert np.mean(d > 3) < 2e-3, (i, float(np.mean(d > 3)))


@pytest.mark.parametrize("size", [256, 1024])
def test_kernel_leaves_no_pixel_uncovered_at_any_size(samples, size):
    # a 400 px portrait at 1024 px: the border ring's points (on the portrait's outermost
    # pixel centres) lie 0.8 px inside the frame's outermost pixels, which the border
    # triangles must still reach
    import cv2

    import core.face
    from core.image import load_image

    small = cv2.resize(load_image(samples / "portraits" / "hallo_1.jpg"), (400, 400),
                       interpolation=cv2.INTER_AREA)
    rig = core.face.analyze(small)
    mesh = MeshWarp.build(rig, size, dense=True)
    assert mesh.compiled and mesh.out_scale > 2 if size == 1024 else mesh.out_scale < 1
    track = posed_track(rig, np.asarray(EXTREMES, np.float64))
    for i, pose in enumerate(EXTREMES):
        args = (track.landmarks[i], track.head_pose[i], track.head_shift[i])
        assert uncovered(mesh, *args) == 0, (size, pose)
