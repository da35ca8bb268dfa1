"""Per-frame mesh warp: destination mesh -> dense backward map -> cv2.remap.

How a frame is made (measured choices, see the report in core/engines/warp.py):
1. Destination mesh: landmarks from the motion track with the planner's head model taken
   out (the expression), anchors moved by the local deformation of nearby landmarks (so
   the skin under the chin follows a jaw drop and the cheeks follow a smile); then every
   point is turned in 3-D by the head pose (core.engines.warp_pose: depth from the rig's
   face mesh or a generic face, rotation about the neck, perspective), by group:
   head/forehead/cheeks/jaw ring and ears fully (the ears lagging the cheek in front of
   them no further than keeps the ear from stretching: core.engines.warp_ears), hair on
   the shoulders and the neck partly, the shoulders (the trunk) and the image border
   never, so the neck stretches between head and trunk; the dense mesh's background
   points follow as a harmonic blend of the head and the frame border (smooth, so lines
   behind a turned head bend instead of kinking). Zero pose skips the 3-D step (bit-exact
   2-D warp).
2. Per triangle, the affine map destination -> source (vectorised 3x3 inverses).
3. The mesh is rasterised back to front by posed depth (so the nose and near cheek cover
   what they turn over) and every pixel gets its triangle's affine map (core.engines.
   warp_raster): in one C pass where the kernel was built, else with OpenCV (an index
   image of one cv2.fillConvexPoly per triangle, then per-pixel coefficients by cv2.LUT
   or a nearest-neighbour remap and two multiply-adds). No numpy gathers either way; the
   renderer writes every full-size array into per-thread scratch buffers (`Scratch`),
   reused from frame to frame.
4. cv2.remap samples the source image (reflect border: a pixel a hair outside the source
   never turns black), through OpenCV's fixed-point maps (core.engines.warp); where the
   head folds, the silhouette is feathered (core.engines.warp_folds).

The border anchors never move in the frame, so the frame stays covered: no tears, no
black corners, whatever the head pose. Away from the head the frame edge is the
portrait's edge; where the hair comes near an edge, the border anchors' SOURCE follows
the head (MeshWarp.edge_source: the hair slides across the frame edge as under a real
camera instead of the strip between hair and edge stretching), and content entering the
frame is eased in from the band inside the edge (ease_edges).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.engines.warp_anchors import (  # noqa: F401  (interior_triangles: re-exported)
    anchor_weights,
    background_follow,
    dense_mesh,
    follow_sparse,
    interior_triangles,
)
from core.engines.warp_ears import EarLimit
from core.engines.warp_edges import ease_edges, edge_weights, follow_source
from core.engines.warp_pose import HeadPoser, unpose
from core.engines.warp_raster import (
    COMPILED,
    GROW,
    affines,
    draw_maps,
    fill_index,
    signed_areas,
)
from core.engines.warp_scratch import Scratch
from core.face.head3d import (
    anchor_depth,
    beside_the_ears,
    depth_from_mesh3d,
    ear_depth,
    landmark_depth,
    usable_mesh3d,
)
from core.motion.landmarks import RigGeometry, planner_depth, rig_geometry
from core.types import FaceRig

IDENTITY = 255  # triangle index reserved for "no triangle": identity map

def lip_edges(rig: FaceRig, geo: RigGeometry) -> np.ndarray:
    """[68,2] the portrait's landmarks with the inner-lip points 61-63 / 65-67 moved onto
    the real lip edge, for a portrait that shows teeth.

    dlib often places the inner-lip points of a smiling, teeth-showing photo inside the
    teeth (measured on hallo_3: the lower inner points sit 2-4 px above the lower lip). If
    those points are the source of the closed lips, the lips carry a band of teeth pixels
    and a closed mouth reads as parted (rest gap 0.025 IOD instead of ~0). So along each
    inner-to-outer lip column we walk out of the bright, low-saturation teeth pixels and
    put the source point a pixel inside the lip (at most 60 % of the way to the outer lip).
    """
    lm = np.asarray(rig.landmarks, np.float64).copy()
    img = rig.image.astype(np.float32)
    lum = img @ np.array([0.299, 0.587, 0.114], np.float32)
    lum = cv2.GaussianBlur(lum, (0, 0), max(0.6, 0.002 * geo.face_h))
    h, w = lum.shape
    inner = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inner, [np.round(lm[60:68]).astype(np.int32)], 1)
    outer = np.zeros((h, w), np.uint8)
    cv2.fillPoly(outer, [np.round(lm[48:60]).astype(np.int32)], 1)
    lips = lum[(outer > 0) & (inner == 0)]
    mouth = lum[inner > 0]
    if lips.size < 20 or mouth.size < 10:
        return lm
    lip_l = float(np.median(lips))
    teeth_l = float(np.percentile(mouth, 85))
    if teeth_l < lip_l + 20:  # no bright teeth: dark cavity, the landmarks are fine
        return lm
    thr = 0.5 * (lip_l + teeth_l)
    step = 0.5
    for i_in, i_out in ((61, 50), (62, 51), (63, 52), (67, 58), (66, 57), (65, 56)):
        a, b = lm[i_in], lm[i_out]
        length = float(np.linalg.norm(b - a))
        if length < 2:
            continue
        ts = np.arange(0, 0.6 * length, step) / length
        pts = a[None] + ts[:, None] * (b - a)[None]
        xs = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
        ys = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
        bright = lum[ys, xs] > thr
        if not bright[0]:
            continue
        k = int(np.argmin(bright)) if not bright.all() else len(bright) - 1
        t = min(ts[k] + 1.0 / length, 0.6)
        lm[i_in] = a + t * (b - a)
    return lm


@dataclass(frozen=True)
class FrameMap:
    """A backward map over part of a frame: the source pixel (map_x, map_y) of every
    frame pixel of the rectangle at (x0, y0) of their shape (MeshWarp.window_maps)."""

    map_x: np.ndarray
    map_y: np.ndarray
    x0: int = 0
    y0: int = 0


@dataclass
class MeshWarp:
    """Everything about one rig at one output size that does not change per frame."""

    rig: FaceRig
    size: int
    geo: RigGeometry
    src: np.ndarray  # source image, already resized when the output is smaller
    src_pts: np.ndarray  # [N,2] mesh points in source-image pixels
    head_w: np.ndarray  # [A] anchor weights for the head transform
    local_w: np.ndarray  # [A,68] anchor <- landmark local-deformation weights (no lids)
    full_w: np.ndarray  # [A,68] the same for dense face points, lids included
    tris: np.ndarray  # [T,3] triangles, static ones first
    n_static: int  # triangles whose vertices never move (drawn once)
    static_idx: np.ndarray  # [S,S] uint8/uint16 index image of the static triangles
    use_lut: bool
    interior: np.ndarray  # [T] bool: mouth-interior triangles
    xy1: np.ndarray  # [S,S,3] float32 (x, y, 1) per pixel
    out_scale: float
    src_scale: float
    poser: HeadPoser  # the 3-D head transform
    depth: np.ndarray  # [N] rest depth of every mesh point, rig px (+ towards the camera)
    pose_w: np.ndarray  # [N] how much of the head pose each point follows (border 0)
    pts: np.ndarray  # [N,2] the mesh's points in rig pixels (the rig's, or a denser mesh)
    zeros: np.ndarray  # [S,S] float32 zeros (the row map of the coefficient gather)
    dense: bool = False  # built with the Face Mesh points (see build)
    plan_depth: np.ndarray | None = None  # [68] the planner's landmark depth (unpose)
    edge_w: np.ndarray | None = None  # [N] how much of the head's motion each border
    # anchor's source follows (0 off the border and far from the hair; see edge_source)
    ear_limit: EarLimit | None = None  # how far the posed ears may lag (warp_ears)
    groups: dict | None = None  # point groups of the mesh (core.face.mesh.build_mesh)
    bg: np.ndarray | None = None  # [B] background points (dense mesh), moved harmonically
    bg_cols: np.ndarray | None = None  # [K] the points whose motion they follow
    bg_h: np.ndarray | None = None  # [B,K] how (warp_anchors.background_follow)
    compiled: bool = False  # maps from the C kernel (warp_raster.draw_maps), not OpenCV
    frame_pin: np.ndarray | None = None  # [N,2] where the kernel draws the border ring
    # (output px, NaN: not on the frame's edge; see _drawn)

    # ---------------------------------------------------------------- build
    @classmethod
    def build(cls, rig: FaceRig, size: int, dense: bool = False,
              background: bool = True) -> MeshWarp:
        """The warp of `rig` at `size` px; `dense`: with the rig's Face Mesh points between
        the landmarks when it has a usable mesh3d (else, or when False, the rig's own
        68-point mesh; its landmarks take mesh3d's depth either way). `background`: the
        dense mesh's background points (False: a fan of triangles from the hair to the
        frame border, as before them; for comparison in `bench pose`)."""
        h, w = rig.image.shape[:2]
        out_scale = size / float(w)
        if size < w:
            src = cv2.resize(rig.image, (size, size), interpolation=cv2.INTER_AREA)
            src_scale = size / float(w)
        else:
            src = np.ascontiguousarray(rig.image)
            src_scale = 1.0
        geo = rig_geometry(rig)
        mesh3d = usable_mesh3d(rig) if dense else None
        dense = None if mesh3d is None else dense_mesh(rig, mesh3d, background)
        if dense is not None:  # denser mesh: the Face Mesh points between the landmarks
            pts, rig_tris, groups = (np.asarray(dense[0], np.float64), dense[1], dense[2])
        else:  # the rig's mesh (its landmarks still take mesh3d's depth: landmark_depth)
            mesh3d = None
            pts = np.asarray(rig.mesh_points, dtype=np.float64)
            rig_tris, groups = rig.triangles, getattr(rig, "mesh_groups", None) or {}
        pts_src = pts.copy()
        if geo.portrait_gap > 0.005:
            from core.engines.warp_mouth import MouthPalette

            if MouthPalette.from_rig(rig).has_teeth:  # only teeth pull dlib's points inside
                pts_src[:68] = lip_edges(rig, geo)
        if geo.portrait_gap > 0.005:
            # a photo with parted lips: sample the lip edges a pixel inside the lips, so a
            # closed mouth never shows a seam of teeth pixels between them
            nudge = min(1.5 / src_scale, geo.portrait_gap * geo.face_h / 3)
            pts_src[[61, 62, 63]] -= geo.ey * nudge
            pts_src[[65, 66, 67]] += geo.ey * nudge
        src_pts = (pts_src + 0.5) * src_scale - 0.5

        n_pts = len(pts)
        head_w, local_w = anchor_weights(pts, groups, geo, (w, h))
        full_w = np.zeros_like(local_w)
        if dense is not None:
            local_w, full_w = follow_sparse(rig, geo, pts, groups, local_w, full_w)

        tris = np.asarray(rig_tris, dtype=np.int64)
        moving = np.ones(n_pts, bool)
        moving[68:] = (head_w > 0) | (local_w.sum(1) > 1e-4) | (full_w.sum(1) > 1e-4)
        bg = np.asarray(groups.get("background", []), dtype=np.int64)
        moving[bg] = True
        static = ~moving[tris].any(axis=1)
        tris = np.concatenate([tris[static], tris[~static]])
        use_lut = len(tris) < IDENTITY

        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        xy1 = np.dstack([xx, yy, np.ones_like(xx)])
        poser = HeadPoser.build(geo)
        depth = np.zeros(n_pts)
        face = np.asarray(groups.get("face", []), dtype=np.int64)
        z3 = None if mesh3d is None else depth_from_mesh3d(mesh3d, pts[:68], pts[face])
        if z3 is None:
            depth[:68] = landmark_depth(rig)
            face = face[:0]
        else:
            depth[:68], depth[face] = z3[:68], z3[68:]
        held = np.concatenate([np.arange(68), face])  # points whose depth is known
        rest = np.setdiff1d(np.arange(68, n_pts), face)
        mm = poser.px_per_mm
        depth[rest] = (
            anchor_depth(poser.local_mm(pts[rest]), poser.local_mm(pts[held]), depth[held] / mm) * mm
        )
        ears = np.asarray(groups.get("ears", []), dtype=np.int64)
        # on the skull's side, not its front, turned with the portrait's face
        depth[ears] = ear_depth(poser.local_mm(pts[ears])[:, 0], poser.portrait_yaw) * mm
        outline = np.asarray(groups.get("head", []), dtype=np.int64)
        if len(ears) and len(outline):
            depth[outline] = beside_the_ears(poser.local_mm(pts[outline]), depth[outline] / mm,
                                             poser.local_mm(pts[ears]), depth[ears] / mm) * mm
        pose_w = np.concatenate([np.ones(68), head_w])
        self = cls(
            rig,
            size,
            geo,
            src,
            src_pts,
            head_w,
            local_w,
            full_w,
            tris,
            int(static.sum()),
            np.zeros(0),
            use_lut,
            interior_triangles(tris),
            xy1,
            out_scale,
            src_scale,
            poser,
            depth,
            pose_w,
            pts,
            np.zeros((size, size), np.float32),
            dense is not None,
        )
        self.plan_depth = planner_depth(geo)
        self.compiled = COMPILED is not None and not use_lut
        pin = np.full_like(pts, np.nan)
        for axis, extent in ((0, w), (1, h)):
            pin[pts[:, axis] <= 0, axis] = -1.0
            pin[pts[:, axis] >= extent - 1, axis] = size
        self.frame_pin = pin
        self.edge_w = edge_weights(pts, rig.landmarks, geo, (w, h))
        # (the background points beside the ears follow them harmonically, after the limit:
        # the triangles they share with the ears are background, not ear)
        ear_tris = tris[~np.isin(tris, np.concatenate([bg, outline])).any(axis=1)]
        self.ear_limit = EarLimit.build(pts, ears, depth, ear_tris,
                                        poser.local_mm(pts[ears])[:, 0])
        self.groups = groups
        if len(bg):
            self.bg = bg
            self.bg_cols, self.bg_h = background_follow(pts, tris, bg)
        dst0 = (pts + 0.5) * out_scale - 0.5
        base = np.full(
            (size, size), IDENTITY if use_lut else len(tris), np.uint8 if use_lut else np.uint16
        )
        fill_index(base, dst0, tris, self.interior, range(self.n_static))
        self.static_idx = base
        return self

    @property
    def empty(self) -> int:
        """The index-image value of a pixel no triangle covers (identity map)."""
        return IDENTITY if self.use_lut else len(self.tris)

    # ---------------------------------------------------------------- per frame
    def dst_points3d(
        self, landmarks: np.ndarray, pose: np.ndarray, shift: np.ndarray, open_eyes: bool = False,
        start: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(destination mesh [N,2] in rig pixels, posed depth [N] or None at zero pose).

        The planner's head model is taken out of the landmarks (warp_pose.unpose); the
        expression that remains moves the landmarks and, through `local_w`, the nearby
        anchors; then the 3-D head pose turns every point by its `pose_w`. `start`: this
        pose's unpose constants (warp_pose.unpose_starts), when made for the clip."""
        pts = self.pts
        rig_lm = pts[:68]
        flat = unpose(self.geo, landmarks, pose, shift, self.poser, self.plan_depth, start)
        if open_eyes:  # the lids at rest, moved with their eye corners (warp.paint_lids)
            flat = flat.copy()
            for lids, corners in (([37, 38, 40, 41], [36, 39]), ([43, 44, 46, 47], [42, 45])):
                flat[lids] = rig_lm[lids] + (flat[corners] - rig_lm[corners]).mean(0)
        local = flat - rig_lm  # deformation without the head
        full = self.full_w @ local  # dense face points: as inside the 68-point mesh
        # the eyelids must not drag skin anchors: a blink moves the upper lid by a third of
        # the eye height, and anchors pulled along folded the brow triangles (torn brows)
        local[36:48] = 0.0
        anchors = pts[68:] + self.local_w @ local + full
        rest = np.concatenate([flat, anchors])
        if not np.any(pose) and not np.any(shift):
            self._follow_background(rest)
            return rest, None
        moving = self.pose_w > 0
        out = rest.copy()
        depth = self.depth.copy()
        lim = self.ear_limit
        if lim is None:
            out[moving], depth[moving] = self.poser.pose(
                rest[moving], self.depth[moving], pose, shift, self.pose_w[moving]
            )
            self._follow_background(out)
            return out, depth
        # the ear limit's rigid reference rides on the same call (one call's overhead)
        n = int(moving.sum())
        xy, z = self.poser.pose(
            np.concatenate([rest[moving], lim.corners]),
            np.concatenate([self.depth[moving], lim.corner_z]), pose, shift,
            np.concatenate([self.pose_w[moving], np.ones(len(lim.corners))]),
        )
        out[moving], depth[moving] = xy[:n], z[:n]
        lim.apply(self.poser, rest, self.depth, out, depth, pose, shift, xy[n:])
        self._follow_background(out)
        return out, depth

    def _follow_background(self, dst: np.ndarray) -> None:
        """Move the background points, in place, by the harmonic blend of their
        neighbours' displacement (see warp_anchors.background_follow)."""
        self._blend_background(dst, self.pts)

    def _blend_background(self, values: np.ndarray, rest: np.ndarray) -> None:
        """values[bg] = rest[bg] + the harmonic blend of the neighbours' values - rest."""
        if self.bg is None:
            return
        cols = self.bg_cols
        values[self.bg] = rest[self.bg] + self.bg_h @ (values[cols] - rest[cols])

    def edge_source(self, pose: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """[N,2] the mesh points' source pixels for a frame of this head pose: `src_pts`,
        except the frame-border anchors near the hair, whose source follows the head
        (core.engines.warp_edges.follow_source)."""
        if self.edge_w is None:
            return self.src_pts
        src = follow_source(self, pose, shift)
        if src is not self.src_pts:
            self.follow_background_source(src)
        return src

    def follow_background_source(self, src: np.ndarray) -> None:
        """Move, in place, the background points' source pixels by the harmonic blend of
        their neighbours' source displacement (the frame-border anchors that follow the
        hair, `edge_source`): as their position follows the head's, so one smooth field
        runs from the hair to the frame edge (with fixed sources, the strip between them
        and the following border kinked along a triangle edge under the top edge)."""
        self._blend_background(src, self.src_pts)

    def window_maps(
        self, dst_rig: np.ndarray, depth: np.ndarray | None, src: np.ndarray | None,
        window: tuple[int, int, int, int],
    ) -> FrameMap:
        """The backward map (`maps`) over the frame rectangle `window` (x0, y0, x1, y1)
        only. Why: a blink on a turned head needs the eyes-open map around the eyes only,
        and the whole frame's second map cost ~1.5 ms of a 13 ms blink frame at 512 px.
        Where the frame-edge easing of this thread's last full `maps` call reached into
        the window, the whole map is made (and cut), so both always agree."""
        s = self.size
        x0, y0, x1, y1 = (max(0, window[0]), max(0, window[1]), min(s, window[2]),
                          min(s, window[3]))
        eased = Scratch.of(s).eased if src is not None and src is not self.src_pts else ()
        if x1 <= x0 or y1 <= y0 or any(
                (a < y1 and b > y0) if axis == 0 else (a < x1 and b > x0)
                for axis, a, b in eased):
            mx, my = self.maps(dst_rig, depth, src)
            return FrameMap(mx[y0:y1, x0:x1], my[y0:y1, x0:x1], x0, y0)
        mx, my = self.maps(dst_rig, depth, src, window=(x0, y0, x1, y1))
        return FrameMap(mx, my, x0, y0)

    def maps(
        self, dst_rig: np.ndarray, depth: np.ndarray | None = None,
        src: np.ndarray | None = None, reuse: bool = False,
        window: tuple[int, int, int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(map_x, map_y) float32 [S,S]: source pixel of every output pixel (`src`: the
        mesh points' source pixels for this frame, `edge_source`; default `src_pts`).

        `reuse`: write every full-size intermediate and the two maps into this thread's
        scratch buffers (`Scratch`) instead of fresh arrays; the maps are then valid until
        this thread's next reuse call at this size. Why: a frame's dozen fresh 0.5-3 MB
        arrays were handed back to the OS and faulted in again every frame in some heap
        states (measured ~2,300 page faults, ~4 ms per 512 px frame: more than the warp)."""
        buf = Scratch.of(self.size) if reuse and window is None else None
        if self.compiled:
            order = self._order(dst_rig, depth, src, window)
            map_x, map_y = self._drawn(order, window, buf)[1:]
            areas = order[3]
        else:
            map_x, map_y, areas = self._gathered(dst_rig, depth, src, window, buf)
        if buf is not None:  # warp_folds.soften_folds of this frame reads them (same mesh)
            buf.areas = areas
        eased: list = []
        if window is None and src is not None and src is not self.src_pts:
            h, w = self.src.shape[:2]
            eased = ease_edges(map_x, map_y, w, h)
        if window is None:  # where this frame's easing reached (window_maps reads it)
            Scratch.of(self.size).eased = eased
        return map_x, map_y

    def _rest(self) -> tuple[float, ...]:
        """The affine (a..f) of a pixel no triangle covers: it samples the source where it
        would at rest, output pixel p -> k (p + 0.5) - 0.5 (k = source px per output px).
        Not the plain identity: with a small portrait at 1024 px the frame's last two rows
        fall outside the border triangles, and p itself sampled far past the source's
        edge (frame-edge garbage, which ease_edges then read as a huge overshoot and
        folded the frame)."""
        k = self.src_scale / self.out_scale
        return (k, 0.0, 0.5 * k - 0.5, 0.0, k, 0.5 * k - 0.5)

    def _table(self, coef: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """[T+1,6] float32: the triangles' affines, the rest map in the degenerate ones'
        rows and in the last row ("no triangle")."""
        rest = self._rest()
        table = np.vstack([coef, [rest]]).astype(np.float32)
        table[: len(coef)][~ok] = rest
        return table

    def _drawn(
        self, order: tuple[np.ndarray, ...], window: tuple[int, int, int, int] | None,
        buf: Scratch | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index, map_x, map_y) from the compiled kernel (warp_raster), for `order`, what
        `_order` gives for this frame and `window`."""
        dst, coef, ok, _, moving = order
        x0, y0, x1, y1 = window or (0, 0, self.size, self.size)
        shape = (y1 - y0, x1 - x0)
        if buf is None:
            idx, map_x, map_y = (np.empty(shape, t) for t in (np.uint16, np.float32, np.float32))
        else:
            idx = buf.get("idx_drawn", shape, np.uint16)
            map_x, map_y = buf.get("map_x", shape, np.float32), buf.get("map_y", shape, np.float32)
        # the border ring sits on the portrait's outermost pixel centres, which at an
        # enlarging size lie inside the frame's (by 0.65 px at 2.3x): drawn out to the
        # frame's edge, the border triangles' own maps reach its outermost pixels
        drawn = np.where(np.isnan(self.frame_pin), dst, self.frame_pin)
        order = np.concatenate([np.arange(self.n_static), moving])
        draw_maps(drawn, self.tris, self.interior, order, self._table(coef, ok),
                  (x0, y0, x1, y1), idx, map_x, map_y)
        return idx, map_x, map_y

    def _gathered(
        self, dst_rig: np.ndarray, depth: np.ndarray | None, src: np.ndarray | None,
        window: tuple[int, int, int, int] | None, buf: Scratch | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(map_x, map_y, signed areas) drawn with OpenCV: the index image (`_index`), then
        per pixel its triangle's coefficients (cv2.LUT, or past 255 triangles a
        nearest-neighbour remap) and two multiply-adds. All O(pixels) in C."""
        kind = self.static_idx.dtype  # uint8 (68-point mesh) or uint16 (dense)
        idx_out = None if buf is None else buf.get(f"idx_{kind}", self.static_idx.shape, kind)
        if window is not None:  # (the whole frame's index canvas: see _index)
            idx_out = Scratch.of(self.size).get(f"idx_window_{kind}", self.static_idx.shape, kind)
        idx, coef, ok, areas = self._index(dst_rig, depth, idx_out, src, window)
        s = self.size
        xy1, zeros = self.xy1, self.zeros
        if window is not None:  # (the window's part of the full-frame constants)
            x0, y0, x1, y1 = window
            xy1 = np.ascontiguousarray(xy1[y0:y1, x0:x1])
            zeros = np.zeros((y1 - y0, x1 - x0), np.float32)

        def get(name: str, channels: int, dtype=np.float32):
            shape = (s, s, channels) if channels > 1 else (s, s)
            return None if buf is None else buf.get(name, shape, dtype)

        if self.use_lut:
            lut = np.zeros((256, 6), np.float32)
            lut[IDENTITY] = self._rest()
            lut[: len(self.tris)] = self._table(coef, ok)[:-1]
            idx3 = cv2.merge([idx, idx, idx], dst=get("idx3", 3, idx.dtype))
            cx = cv2.LUT(idx3, lut[None, :, 0:3].copy(), dst=get("cx", 3))
            cy = cv2.LUT(idx3, lut[None, :, 3:6].copy(), dst=get("cy", 3))
        else:  # a dense mesh: gather the coefficients with a nearest-neighbour remap (C)
            table = self._table(coef, ok)
            col = get("col", 1)  # "no triangle" (len(tris)) -> the rest row
            if col is None:
                col = idx.astype(np.float32)
            else:
                np.copyto(col, idx, casting="unsafe")
            row = zeros
            cx = cv2.remap(table[None, :, 0:3].copy(), col, row, cv2.INTER_NEAREST,
                           dst=get("cx", 3))
            cy = cv2.remap(table[None, :, 3:6].copy(), col, row, cv2.INTER_NEAREST,
                           dst=get("cy", 3))
        ones = np.ones((1, 3), np.float32)
        # products in place: (a, b, c) * (x, y, 1), then summed over the channels
        map_x = cv2.transform(cv2.multiply(cx, xy1, dst=cx), ones, dst=get("map_x", 1))
        map_y = cv2.transform(cv2.multiply(cy, xy1, dst=cy), ones, dst=get("map_y", 1))
        return map_x, map_y, areas

    def index(
        self, dst_rig: np.ndarray, depth: np.ndarray | None = None,
        src: np.ndarray | None = None, out: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(triangle-index image [S,S], per-triangle affines [T,6], ok flags [T]); the image
        is drawn into `out` when given (a scratch buffer, see `maps`), by the same
        rasteriser the maps come from (`compiled`: the C kernel, else OpenCV).

        With `depth` (a posed head) the moving triangles are drawn back to front (painter's
        order): first those that turned away from the camera (negative area: the surface
        folded behind a nearer one, e.g. the far cheek under the nose), then the others by
        rising mean depth, so the nose and the near cheek cover what they pass over instead
        of tearing. The mouth and eye interiors stay last, as at zero pose."""
        if self.compiled:
            order = self._order(dst_rig, depth, src, None)
            idx = self._drawn(order, None, None)[0]
            if out is not None:
                np.copyto(out, idx)
                idx = out
            return idx, order[1], order[2]
        return self._index(dst_rig, depth, out, src)[:3]

    def _order(
        self, dst_rig: np.ndarray, depth: np.ndarray | None, src: np.ndarray | None,
        window: tuple[int, int, int, int] | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(mesh in output px [N,2], affines [T,6], ok [T], signed areas [T], the moving
        triangles to draw in painter's order (`index`); with `window` (x0, y0, x1, y1)
        only those that reach into it)."""
        dst = (dst_rig + 0.5) * self.out_scale - 0.5
        coef, ok = affines(dst, self.src_pts if src is None else src, self.tris)
        areas = signed_areas(dst, self.tris)
        # interior triangles thinner than ~1 px: nothing to show, and ill-conditioned
        thin = self.interior & (np.abs(areas) < 1.0)
        moving = np.arange(self.n_static, len(self.tris))
        moving = moving[ok[moving] & ~thin[moving]]
        if window is not None:
            x0, y0, x1, y1 = window
            corner = dst[self.tris[moving]]
            lo, hi = corner.min(axis=1), corner.max(axis=1)
            m = 1 + GROW  # (a triangle is grown before it is drawn)
            moving = moving[(hi[:, 0] >= x0 - m) & (lo[:, 0] <= x1 + m)
                            & (hi[:, 1] >= y0 - m) & (lo[:, 1] <= y1 + m)]
        if depth is not None:
            inner = self.interior[moving]
            # interior triangles keep their own order (last, as at zero pose): they only
            # overlap one another, where the lips cross at rest
            key = np.where(inner, moving, depth[self.tris[moving]].mean(axis=1))
            folded = (areas[moving] < 0) & ~inner
            rank = np.lexsort((key, ~folded, inner))
            moving = moving[rank]
        return dst, coef, ok, areas, moving

    def _index(
        self, dst_rig: np.ndarray, depth: np.ndarray | None, out: np.ndarray | None,
        src: np.ndarray | None = None, window: tuple[int, int, int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`index` drawn with OpenCV, and the triangles' signed areas [T] in output pixels;
        with `window` (x0, y0, x1, y1) the index image of that part of the frame only (the
        triangles that reach into it, drawn on the whole frame: OpenCV's polygon fill is
        not shift-invariant where it clips, and a window-sized canvas assigned ~35 edge
        pixels to the neighbouring triangle)."""
        dst, coef, ok, areas, moving = self._order(dst_rig, depth, src, window)
        if out is None:
            idx = self.static_idx.copy()
        else:
            idx = out
            np.copyto(idx, self.static_idx)
        fill_index(idx, dst, self.tris, self.interior, moving.tolist())
        if window is not None:
            x0, y0, x1, y1 = window
            idx = np.ascontiguousarray(idx[y0:y1, x0:x1])
        return idx, coef, ok, areas
