"""The silhouette a turned head's fold draws, feathered: where the nose side covers the far
cheek, the warp's map jumps from one surface to the other, and the cut read as a hard
straight seam (see soften_folds).

Why apart from warp_mesh: it works on the rendered frame after the remap, not on the mesh's
maps; the renderer calls it once per posed frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.engines.warp_raster import signed_areas

if TYPE_CHECKING:
    from core.engines.warp_mesh import MeshWarp

FOLD_FEATHER = 0.8
"""px (at 512 px output) of blur along a fold's silhouette."""


def soften_folds(
    mesh: MeshWarp, frame: np.ndarray, dst_rig: np.ndarray, areas: np.ndarray | None = None
) -> None:
    """Feather, in place, the silhouette a turned head's fold draws: the edges between
    a folded (back-facing) triangle and a front-facing one, where the nose side covers
    the far cheek. The map jumps there, and the cut through the cheek's texture read
    as a hard straight seam beside the nose at 1024 px (hallo_3, -15 degrees); a blur
    of `FOLD_FEATHER` px along those edges makes it a soft contour, as a photographed
    nose's is. Cost: a few line draws and one small blur, only when something folds."""
    dst = (dst_rig + 0.5) * mesh.out_scale - 0.5
    if areas is None:  # (`areas`: the triangles' signed areas at dst_rig, if known)
        areas = signed_areas(dst, mesh.tris)
    folded = (areas < 0) & ~mesh.interior
    if not folded.any():
        return
    t1, t2, ends = mesh_edges(mesh)
    sil = (t2 >= 0) & (folded[t1] != folded[np.maximum(t2, 0)])
    if not sil.any():
        return
    seg = dst[ends[sil]]  # [k,2,2]
    pad = 4
    x0, y0 = np.floor(seg.reshape(-1, 2).min(0)).astype(int) - pad
    x1, y1 = np.ceil(seg.reshape(-1, 2).max(0)).astype(int) + pad + 1
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    sigma = FOLD_FEATHER * max(1.0, mesh.size / 512)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((seg - (x0, y0)) * 16).astype(np.int32)
    thick = max(1, int(round(sigma)))
    for a, b in pts:
        cv2.line(mask, tuple(a), tuple(b), 255, thick, cv2.LINE_AA, 4)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)[..., None]
    roi = frame[y0:y1, x0:x1]
    soft = cv2.GaussianBlur(roi, (0, 0), sigma)
    roi[:] = (roi * (1.0 - alpha) + soft * alpha + 0.5).astype(np.uint8)

def mesh_edges(mesh: MeshWarp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t1 [E], t2 [E] (-1 on the hull), ends [E,2]) of the mesh's undirected edges (made
    once per mesh)."""
    cached = getattr(mesh, "_edge_cache", None)
    if cached is not None:
        return cached
    tris = mesh.tris
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    owner = np.tile(np.arange(len(tris)), 3)
    key = np.sort(e, axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))
    key, owner = key[order], owner[order]
    same = np.r_[(key[1:] == key[:-1]).all(axis=1), False]
    first = np.r_[True, ~same[:-1]]
    t1 = owner[first]
    t2 = np.where(same[first], owner[np.minimum(np.flatnonzero(first) + 1, len(owner) - 1)], -1)
    mesh._edge_cache = (t1, t2, key[first])
    return mesh._edge_cache
