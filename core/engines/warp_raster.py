"""Rasterising the warp mesh: per-triangle affine maps, and the per-pixel map they make.

Two ways to the same backward map, because the fast one needs a C compiler at install:
- `draw_maps` (the default wherever core/engines/_pwmaps.c was built, as `make setup`
  does; plain C loaded with ctypes): one C pass rasterises every triangle in painter's
  order and writes its affine map straight into map_x / map_y and the triangle-index
  image. ~0.6 ms for a 512 px frame of the dense mesh.
- `fill_index` (the fallback, and the 68-point mesh's path): one cv2.fillConvexPoly call
  per triangle into the index image; the caller then gathers the coefficients per pixel
  (MeshWarp.maps). ~2.2 ms for the same frame: the per-call overhead of ~550 triangles
  and four full-frame passes.
Both grow each triangle by `GROW` px about its centroid before drawing it (interior
triangles excepted; see `fill_index`) and agree everywhere but a pixel-wide seam here and
there, where the two rules give a pixel to different neighbours whose maps meet there
(tested: tests/core/test_warp_raster.py).
"""

from __future__ import annotations

import ctypes
import importlib.machinery
from pathlib import Path

import cv2
import numpy as np


def _load_kernel():
    """`pw_draw` of core/engines/_pwmaps.c, which `pip install -e .` (make setup) builds
    beside this file; None where it was not built (no C compiler at install): OpenCV
    draws the maps then."""
    here = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_pwmaps{suffix}"
        if not path.is_file():
            continue
        try:
            fn = ctypes.CDLL(str(path)).pw_draw
        except (OSError, AttributeError):  # a stale or foreign build: the fallback
            return None
        p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32
        fn.argtypes = [p, i64, p, i64, p, i64, p, p, i32, i32, i32, i32, p, p, p]
        fn.restype = ctypes.c_int
        return fn
    return None


COMPILED = _load_kernel()
_ERRORS = {1: (ValueError, "empty window, or no or too many triangles"),
           2: (IndexError, "order: no such triangle"),
           3: (IndexError, "a triangle's point index is out of range")}

SHIFT = 4  # sub-pixel bits for fillConvexPoly
GROW = 0.6  # px each triangle is grown by when rasterised (see fill_index)


def affines(dst: np.ndarray, src: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle the 2x3 affine dst -> src as [T,6] (a, b, c, d, e, f), and ok flags
    (False where the destination triangle is degenerate: nothing to draw)."""
    d0, d1, d2 = dst[tris[:, 0]], dst[tris[:, 1]], dst[tris[:, 2]]
    s0, s1, s2 = src[tris[:, 0]], src[tris[:, 1]], src[tris[:, 2]]
    e1, e2 = d1 - d0, d2 - d0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-3
    inv = 1.0 / np.where(ok, det, 1.0)
    # inverse of [[e1x, e2x], [e1y, e2y]]
    i00, i01 = e2[:, 1] * inv, -e2[:, 0] * inv
    i10, i11 = -e1[:, 1] * inv, e1[:, 0] * inv
    f1, f2 = s1 - s0, s2 - s0
    a = f1[:, 0] * i00 + f2[:, 0] * i10
    b = f1[:, 0] * i01 + f2[:, 0] * i11
    d = f1[:, 1] * i00 + f2[:, 1] * i10
    e = f1[:, 1] * i01 + f2[:, 1] * i11
    c = s0[:, 0] - a * d0[:, 0] - b * d0[:, 1]
    f = s0[:, 1] - d * d0[:, 0] - e * d0[:, 1]
    return np.stack([a, b, c, d, e, f], axis=1).astype(np.float32), ok


def signed_areas(pts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """[T] signed areas of triangles `tris` of points `pts` (negative: turned over)."""
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    return 0.5 * (
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    )


def fill_index(
    img: np.ndarray, dst: np.ndarray, tris: np.ndarray, interior: np.ndarray, order,
) -> None:
    """Rasterise triangles `order` of mesh `dst` (output px) into index image `img`, each
    with its own index, later ones over earlier ones.

    Each triangle is grown by GROW px around its centroid before filling: where a lip or
    eyelid closes, the triangles beside the seam get thinner than a pixel and the fill
    rule would leave holes (which would show the identity-mapped photo, e.g. teeth).
    The overlap samples a neighbour's affine half a pixel past its edge: invisible.
    Mouth-interior triangles (`interior`) are not grown: they must not paint over the
    lips.
    """
    order = list(order)
    if not order:
        return
    p = _grown(dst, tris[order], interior[order])
    q = np.round(p * (1 << SHIFT)).astype(np.int32)
    fill = cv2.fillConvexPoly
    for qk, i in zip(q, order, strict=True):  # `order`: Python ints
        fill(img, qk, i, cv2.LINE_8, SHIFT)


def _grown(dst: np.ndarray, tri: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """[K,3,2] the corners of triangles `tri`, moved GROW px away from their centroid
    (interior triangles: not moved)."""
    p = dst[tri]
    d = p - p.mean(axis=1, keepdims=True)
    n = np.linalg.norm(d, axis=2, keepdims=True)
    grow = np.where(inner[:, None, None], 0.0, GROW)
    return p + d / np.maximum(n, 1e-6) * grow


def draw_maps(
    dst: np.ndarray, tris: np.ndarray, interior: np.ndarray, order: np.ndarray,
    table: np.ndarray, window: tuple[int, int, int, int],
    idx: np.ndarray, map_x: np.ndarray, map_y: np.ndarray,
) -> None:
    """With the compiled kernel: rasterise triangles `order` (painter's order, grown as in
    `fill_index`) of mesh `dst` [N,2] (output px) over the frame rectangle `window`
    (x0, y0, x1, y1), writing each covered pixel's triangle into `idx` (uint16) and its
    source pixel, table[t] applied to the pixel's frame coordinates, into `map_x` /
    `map_y` (float32); a pixel no triangle covers gets index len(tris) and the table's
    last row (the rest map). All three outputs are [y1-y0, x1-x0], C-contiguous."""
    if COMPILED is None:
        raise RuntimeError("core/engines/_pwmaps.c was not built (no C compiler at install)")
    x0, y0, x1, y1 = (int(v) for v in window)
    shape = (y1 - y0, x1 - x0)
    for name, arr, dtype in (("index", idx, np.uint16), ("map_x", map_x, np.float32),
                             ("map_y", map_y, np.float32)):
        if arr.dtype != dtype or arr.shape != shape or not arr.flags.c_contiguous:
            raise ValueError(f"{name}: {arr.dtype} {arr.shape}, expected {np.dtype(dtype)} {shape}")
    if not (idx.flags.writeable and map_x.flags.writeable and map_y.flags.writeable):
        raise ValueError("index, map_x and map_y must be writable")
    pts = np.ascontiguousarray(dst, np.float64)
    tri = np.ascontiguousarray(tris, np.int32)
    order = np.ascontiguousarray(order, np.int32)
    table = np.ascontiguousarray(table, np.float32)
    if pts.ndim != 2 or pts.shape[1] != 2 or tri.ndim != 2 or tri.shape[1] != 3:
        raise ValueError(f"points {pts.shape} / triangles {tri.shape}: expected [N,2] / [T,3]")
    if order.ndim != 1 or table.shape != (len(tri) + 1, 6) or len(interior) != len(tri):
        raise ValueError(f"order {order.shape}, table {table.shape}, interior {len(interior)} "
                         f"for {len(tri)} triangles")
    if order.size and (order.min() < 0 or order.max() >= len(tri)):
        raise IndexError(f"order: no such triangle (0..{len(tri) - 1})")
    grow = np.ascontiguousarray(np.where(interior[order], 0.0, GROW), np.float64)
    code = COMPILED(pts.ctypes.data, len(pts), tri.ctypes.data, len(tri), order.ctypes.data,
                    len(order), grow.ctypes.data, table.ctypes.data, x0, y0, x1, y1,
                    idx.ctypes.data, map_x.ctypes.data, map_y.ctypes.data)
    if code:
        kind, what = _ERRORS.get(code, (RuntimeError, f"error {code}"))
        raise kind(f"map kernel: {what}")
