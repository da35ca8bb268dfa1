"""The frame's edges under a turned head: where the hair comes near an edge, the border
anchors' source follows the head (the hair slides across the frame edge as under a real
camera), and content entering the frame is eased in from the band inside the edge.

Why: the warp's border anchors never move in the frame (the frame must stay covered),
and with a fixed source too, the strip between them and a hair anchor that follows the
head stretched or squeezed visibly wherever the hair comes near the edge: at 8 degrees of
roll the hair band under the top edge was distorted 2-9x beyond the head's own rigid
motion (a smear of background above the hair, a torn hair outline, a dark wedge in the
parting), measured on portraits cropped at the hairline (tests/core/test_head_edges.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.face.mesh import head_ellipse

if TYPE_CHECKING:
    from core.engines.warp_mesh import MeshWarp
    from core.motion.landmarks import RigGeometry

EDGE_REACH = (0.15, 0.5)
"""A frame-border anchor within this many face heights of the head-and-hair ellipse
(core.face.mesh.head_ellipse) follows the head's motion in the source (see
follow_source): fully up to the first distance (hair at or near the edge),
fading to none at the second."""
CHIN_FADE = 0.3
"""Border anchors follow fully down to this many face heights above the chin, not at
all from the chin down (the trunk, which does not turn)."""
DENSE_BORDER_STEPS = 16
"""Border segments per side of the dense mesh (the rig's own mesh has 5): where the
border follows the hair (follow_source), its motion fades along the edge over a few
segments instead of within one 1/5-frame-wide triangle (a wedge stretched 3x)."""
EASE_BAND = 4.0
"""ease_edges spreads D px of content entering the frame over the first EASE_BAND * D px
of the portrait inside that edge."""


def ease_edges(map_x: np.ndarray, map_y: np.ndarray, w: int, h: int
               ) -> list[tuple[int, int, int]]:
    """Where a frame edge samples past the portrait (a head near the edge moving inwards:
    `follow_source`), pull those samples back in, in place: along the edge the
    overshoot D is read from the map's edge row (column), and the source coordinate
    across that edge, s in [-D, T = EASE_BAND * D], is remapped onto [0, T] by a curve
    of constant slope that rises linearly to 1 over its last T / 2 (C1, so no crease):
    content that was never photographed is made from the band just inside the edge,
    stretched by (T + D - T / 4) / (T - T / 4) = 4 / 3, instead of a mirror image of
    the hair (a zigzag where strands meet the edge) or the strip between the hair and a
    still border stretched several times over.

    Returns the bands it rewrote, (axis, start, stop): rows (axis 0) or columns (1)."""
    bands: list[tuple[int, int, int]] = []
    for full, lim, axis, far in ((map_y, h, 0, False), (map_y, h, 0, True),
                                 (map_x, w, 1, False), (map_x, w, 1, True)):
        edge = full[-1 if far else 0] if axis == 0 else full[:, -1 if far else 0]
        over = (edge - (lim - 1)) if far else -edge
        d = np.maximum(over - 0.5, 0.0)
        if not (d > 0).any():
            continue
        t = EASE_BAND * d
        # only the rows (columns) that reach into the band: a strip along the edge, found
        # from the edge inwards in doubling steps (the map is smooth, so the rows that
        # sample the band are the ones next to the edge; a whole-frame min/max per edge
        # cost ~0.2 ms a 512 px frame)
        n = full.shape[axis]
        k = min(n, 32)
        while True:
            part = (full[n - k:] if far else full[:k]) if axis == 0 else (
                full[:, n - k:] if far else full[:, :k])
            inner = ((lim - 1) - part.max(axis=1 - axis)) if far else part.min(axis=1 - axis)
            hit = np.flatnonzero(inner < t.max())
            deepest = (hit.min() == 0) if far else (hit.max() == k - 1) if len(hit) else False
            if not deepest or k == n:
                break
            k = min(n, 2 * k)
        if not len(hit):
            continue
        cut = slice(n - k + int(hit.min()), None) if far else slice(0, int(hit.max()) + 1)
        bands.append((axis, cut.start, n if cut.stop is None else cut.stop))
        coord = full[cut] if axis == 0 else full[:, cut]
        d = d[None, :] if axis == 0 else d[:, None]
        t = t[None, :] if axis == 0 else t[:, None]
        s = ((lim - 1) - coord) if far else coord  # distance inside the edge
        band = s < t
        # slope a from the edge to T - K, then rising linearly to 1 at T (K = T / 2):
        # the integral over [-D, T] is T
        k = 0.5 * t
        a = (t - 0.5 * k) / np.maximum(t + d - 0.5 * k, 1e-6)
        q = np.maximum(s + d, 0.0)
        r = np.maximum(s - (t - k), 0.0)
        g = a * q + (1.0 - a) * r * r / np.maximum(2.0 * k, 1e-6)
        g = np.where(band, g, s)
        coord[...] = ((lim - 1) - g) if far else g
    return bands


def edge_weights(
    pts: np.ndarray, landmarks: np.ndarray, geo: RigGeometry, size: tuple[int, int]
) -> np.ndarray:
    """[N] how much of the head's motion each frame-border anchor's source follows: 1
    where the head-and-hair ellipse comes within `EDGE_REACH`[0] face heights of the
    border, a smoothstep down to 0 at `EDGE_REACH`[1], faded out from `CHIN_FADE`
    face heights above the chin to the chin (below it the edge shows the trunk, which
    does not turn: a tight crop's bottom edge must stay); every other point 0. A corner
    follows too when the hair is there (pinned, it squeezed the edge between it and its
    following neighbour)."""
    w, h = size
    x, y = pts[:, 0], pts[:, 1]
    edge = (x <= 0.5) | (y <= 0.5) | (x >= w - 1.5) | (y >= h - 1.5)
    edge[:68] = False
    c, (rx, ry) = head_ellipse(np.asarray(landmarks, np.float64))
    rel = pts - c
    r = np.hypot(rel @ geo.ex / rx, rel @ geo.ey / ry)
    gap = np.linalg.norm(rel, axis=1) * np.clip(1.0 - 1.0 / np.maximum(r, 1e-9), 0.0, None)
    near, far = EDGE_REACH
    t = np.clip((far - gap / geo.face_h) / (far - near), 0.0, 1.0)
    below = (pts - pts[8]) @ geo.ey / geo.face_h
    fade = np.clip(-below / CHIN_FADE, 0.0, 1.0)
    return np.where(edge, t * t * (3 - 2 * t) * fade, 0.0)


def follow_source(mesh: MeshWarp, pose: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """[N,2] the mesh points' source pixels for a frame of this head pose: `src_pts`,
    except the frame-border anchors near the hair (`mesh.edge_w`), whose source moves with
    the head.

    A border anchor never moves in the frame (the frame edge must stay covered), so
    with a fixed source too, the strip between it and a hair anchor that follows the
    head stretched or squeezed visibly at 10 degrees of pitch wherever the hair comes
    near the edge (a smear of background above the hair, a torn hair outline). Here
    the frame edge samples the source where the head's motion would have taken that
    pixel from (the inverse of the 3-D pose at the skull's depth, three fixed-point
    steps), scaled by `mesh.edge_w`: near the hair the content slides across the frame
    edge as under a real camera, away from the head the edge stays the portrait's.
    Sources past the portrait's edge are pulled back in by `ease_edges` (MeshWarp.maps
    calls it whenever a frame's sources are not the static ones)."""
    src = mesh.src_pts
    if mesh.edge_w is None or (not np.any(pose) and not np.any(shift)):
        return src
    on = np.flatnonzero(mesh.edge_w > 0)
    if not len(on):
        return src
    b = mesh.pts[on]
    z, wt = mesh.depth[on], mesh.edge_w[on]
    s_ = b
    for _ in range(3):
        moved, _ = mesh.poser.pose(s_, z, pose, shift, 1.0)
        s_ = b - wt[:, None] * (moved - s_)
    src = src.copy()
    src[on] = (s_ + 0.5) * mesh.src_scale - 0.5
    return src


def follow_sources(
    mesh: MeshWarp, poses: np.ndarray, shifts: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """`follow_source` for every frame of a clip at once: (the following anchors' indices
    [K], their source pixels [F, K, 2]), or None when no anchor follows. Why: the three
    fixed-point steps on a few dozen points cost ~0.3 ms a frame one frame at a time
    (numpy call overhead, ~5 % of a 512 px frame); over all frames in one go they cost
    about that for the whole clip. Same arithmetic, frame by frame, as follow_source."""
    if mesh.edge_w is None:
        return None
    on = np.flatnonzero(mesh.edge_w > 0)
    if not len(on):
        return None
    poses = np.asarray(poses, np.float64)
    shifts = np.asarray(shifts, np.float64)
    b = mesh.pts[on]
    z, wt = mesh.depth[on], mesh.edge_w[on]
    s_ = np.broadcast_to(b, (len(poses), *b.shape))
    for _ in range(3):
        moved, _ = mesh.poser.pose(s_, z, poses, shifts, 1.0)
        s_ = b - wt[:, None] * (moved - s_)
    return on, (s_ + 0.5) * mesh.src_scale - 0.5

