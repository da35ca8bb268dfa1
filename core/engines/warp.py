"""WarpEngine: the CPU renderer (default engine and instant preview), no weights needed.

Each frame warps the square rig image along the face mesh, from the portrait's landmarks to
the frame's planned landmarks (piecewise affine), turned by the head pose in 3-D (depth per
mesh point, rotation about the neck, perspective, painter's order: core.engines.warp_pose;
border anchors stay put, their source follows the head where the hair reaches an edge),
then paints the mouth interior where
the mouth opens wider than in the photo (see core.engines.warp_mouth) and shifts the irises
by the planned gaze.

Speed: everything that depends only on the rig and the output size (resized source,
static border triangles, pixel grid, colour palette) is prepared once per (request, size)
and cached; a frame costs one pass of a small C kernel that rasterises the moving
triangles and writes their affine maps (core.engines.warp_raster; without it, OpenCV's
polygon fill, a coefficient gather and multiply-add passes) and one cv2.remap on
fixed-point maps, all O(pixels) in C, into per-thread scratch buffers reused
from frame to frame (core.engines.warp_mesh.Scratch); the lids and the mouth work on their
own small windows. Measure with `python -m core.engines.warp --bench` (single thread) or
`python main.py bench warp`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator

import cv2
import numpy as np

from core.engines.mouth.interior import MouthInterior
from core.engines.warp_edges import follow_sources
from core.engines.warp_eyes import LidModel, paint_lids
from core.engines.warp_folds import soften_folds
from core.engines.warp_mesh import MeshWarp
from core.engines.warp_mouth import MouthPalette, paint_mouth, paint_seam
from core.engines.warp_pose import unpose_starts
from core.engines.warp_scratch import Scratch
from core.errors import Cancelled, InputError
from core.motion.landmarks import EYE_L, EYE_R, inner_gap
from core.types import CancelFn, ProgressFn, RenderRequest

MIN_SIZE, MAX_SIZE = 256, 1024


START_CHUNK = 256
"""Frames whose unpose constants _Prepared makes in one go."""


class _Prepared:
    """Per (request, size) precomputation."""

    def __init__(self, request: RenderRequest, size: int, dense: bool = False,
                 compiled: bool = True):
        rig = request.rig
        self.mesh = MeshWarp.build(rig, size, dense=dense)
        self.mesh.compiled = self.mesh.compiled and compiled
        # a still head renders on the rig's 68-point mesh, exactly the 2-D warp: the dense
        # mesh only adds depth samples for a turn, and sampled the expression field a
        # little differently (up to ~1 % of pixels over a grey level at zero pose)
        self.flat_mesh = MeshWarp.build(rig, size, dense=False) if self.mesh.dense else self.mesh
        m = request.motion
        self._edges = follow_sources(self.mesh, m.head_pose, m.head_shift)
        self._poses = (m.head_pose, m.head_shift)
        self._starts: tuple[int, tuple[np.ndarray, np.ndarray]] | None = None
        self._starts_lock = threading.Lock()
        self.palette = MouthPalette.from_rig(rig)
        self.lids = LidModel.build(rig, self.mesh.src, self.mesh.src_scale)
        self.interior = MouthInterior(
            rig, self.mesh.geo, size, self.palette, request.features.viseme_weights,
            request.n_frames, request.fps, request.seed,
        )
        s = self.mesh.out_scale
        self.src_gap = float(inner_gap(np.asarray(rig.landmarks, np.float64))) * s
        self.face_h = self.mesh.geo.face_h * s
        eye_w = [np.linalg.norm(rig.landmarks[e[3]] - rig.landmarks[e[0]]) for e in (EYE_L, EYE_R)]
        self.eye_w = float(np.mean(eye_w)) * self.mesh.src_scale

    def unpose_start(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Posed frame `i`'s unpose constants (warp_pose.unpose_starts), made for
        `START_CHUNK` frames at a time (a long clip's whole set would hold ~3 KB a frame);
        two threads may render from one _Prepared."""
        k = i // START_CHUNK
        with self._starts_lock:
            got = self._starts
            if got is None or got[0] != k:
                lo, hi = k * START_CHUNK, (k + 1) * START_CHUNK
                mesh = self.mesh
                got = self._starts = (k, unpose_starts(
                    mesh.geo, self._poses[0][lo:hi], self._poses[1][lo:hi], mesh.poser,
                    mesh.plan_depth))
        fx, inv = got[1]
        return fx[i - k * START_CHUNK], inv[i - k * START_CHUNK]

    def edge_source(self, i: int) -> np.ndarray:
        """Posed frame `i`'s mesh source pixels (MeshWarp.edge_source, precomputed for the
        clip)."""
        if self._edges is None:
            return self.mesh.src_pts
        on, srcs = self._edges
        src = self.mesh.src_pts.copy()
        src[on] = srcs[i]
        self.mesh.follow_background_source(src)
        return src


class WarpEngine:
    """Mesh-warp renderer implementing core.types.Engine.

    Options: dense_mesh (default True): triangulate the rig's Face Mesh points between the
    landmarks (rig.mesh3d) and pose them with their own depth, so a turn bends the cheeks,
    nose sides and forehead along the face's real relief. Its depth is the landmarks'
    (template-shaped) depth plus the Face Mesh's detail between them (see
    core.face.head3d._residual_field): the raw Face Mesh depth next to the template's drew
    seams through the nose and chin. dense_mesh=False (or a rig without mesh3d) uses the
    68-point mesh.

    fixed_point_maps (default True): remap through OpenCV's fixed-point maps (1/32 px);
    False samples with the float maps themselves, the reference the fast path is tested
    against (tests/core/test_warp_fast.py).

    compiled_maps (default True): draw the dense mesh's maps with the C kernel where it was
    built (core.engines.warp_raster); False draws them with OpenCV, the reference it is
    tested against (tests/core/test_warp_raster.py)."""

    name = "warp"

    def __init__(self, **options):
        self.options = dict(options)
        self._cache: dict[tuple[int, int], tuple[weakref.ref, _Prepared]] = {}
        # one engine serves the render lane and the preview lane at once (studio's
        # EngineHost): the cache is read and rebuilt under this lock; the (slow)
        # preparation itself runs outside it
        self._cache_lock = threading.Lock()

    def available(self) -> tuple[bool, str]:
        return True, ""

    # ---------------------------------------------------------------- public
    def render(
        self,
        request: RenderRequest,
        frames: range | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield [size, size, 3] uint8 RGB frames for `frames` (default: every frame)."""
        n = request.n_frames
        frames = range(n) if frames is None else frames
        if len(frames) and (min(frames) < 0 or max(frames) >= n):
            raise InputError(None, f"frames {frames.start}..{frames.stop} outside 0..{n}")
        prep = self._prepare(request)
        total = len(frames)
        every = max(1, total // 50)
        for k, i in enumerate(frames):
            if cancel is not None and cancel():
                raise Cancelled(f"warp render cancelled at frame {i}")
            yield self._frame(request, prep, i)
            if progress is not None and ((k + 1) % every == 0 or k + 1 == total):
                progress((k + 1) / total, f"frame {k + 1}/{total}")

    def render_frame(self, request: RenderRequest, index: int) -> np.ndarray:
        """One frame, for scrubbing (reuses the cached preparation of this request+size)."""
        if not 0 <= index < request.n_frames:
            raise InputError(None, f"frame {index} outside 0..{request.n_frames}")
        return self._frame(request, self._prepare(request), index)

    # ---------------------------------------------------------------- internals
    def _prepare(self, request: RenderRequest) -> _Prepared:
        size = int(request.size)
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise InputError(None, f"output size {size} px is outside {MIN_SIZE}..{MAX_SIZE}")
        key = (id(request), size)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0]() is request:
                return hit[1]
        prep = _Prepared(request, size, bool(self.options.get("dense_mesh", True)),
                         bool(self.options.get("compiled_maps", True)))
        with self._cache_lock:
            # drop entries whose request is gone; keep a few
            cache = {k: v for k, v in self._cache.items() if v[0]() is not None}
            if len(cache) >= 4:
                cache.pop(next(iter(cache)))
            cache[key] = (weakref.ref(request), prep)
            self._cache = cache
        return prep

    def _frame(self, request: RenderRequest, prep: _Prepared, i: int) -> np.ndarray:
        m = request.motion
        still = not np.any(m.head_pose[i]) and not np.any(m.head_shift[i])
        mesh = prep.flat_mesh if still else prep.mesh
        lm = prep.interior.lips(np.asarray(m.landmarks[i], np.float64), float(m.mouth_width[i]), i)
        start = None if still else prep.unpose_start(i)
        dst, depth = mesh.dst_points3d(lm, m.head_pose[i], m.head_shift[i], start=start)
        src = mesh.src_pts if still else prep.edge_source(i)
        map_x, map_y = mesh.maps(dst, depth, src, reuse=True)  # this thread's scratch buffers
        # the painted mouth, lids and irises follow the posed landmarks (the renderer's own
        # 3-D head, not the planner's small-angle one)
        out_lm = (dst[:68] + 0.5) * mesh.out_scale - 0.5
        if m.gaze is not None and np.any(m.gaze[i] != 0):
            _shift_irises(
                map_x,
                map_y,
                out_lm,
                np.asarray(m.gaze[i], np.float64),
                prep.eye_w,
                1.0 - float(m.blink[i]),
            )
        # fixed-point maps (1/32 px, OpenCV's own bilinear table): the remap runs ~40 %
        # faster than on float maps and the conversion costs a tenth of that; the samples
        # move by at most 1/64 px (measured: under a grey level on smooth skin)
        buf = Scratch.of(mesh.size)
        size = mesh.size
        if self.options.get("fixed_point_maps", True):
            map_x, map_y = cv2.convertMaps(
                map_x, map_y, cv2.CV_16SC2, dstmap1=buf.get("fixed", (size, size, 2), np.int16),
                dstmap2=buf.get("frac", (size, size), np.uint16))
        frame = cv2.remap(
            mesh.src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        if depth is not None:
            soften_folds(mesh, frame, dst, areas=buf.areas)
        # the skull fit is made only when the mouth is painted (a callable: paint_mouth calls
        # it past its strength check)
        paint_mouth(frame, out_lm, prep.palette, prep.src_gap, prep.face_h, prep.interior, i,
                    m.head_pose[i], m.head_shift[i],
                    frame_matrix=None if still else (
                        lambda: _skull_matrix(mesh, m.head_pose[i], m.head_shift[i])))
        paint_seam(frame, out_lm, prep.palette, prep.src_gap, prep.face_h)
        if m.blink[i] > 0:
            open_map = None
            if not still:  # a turned head: the lids follow the warp's own map around them
                dst_o, depth_o = mesh.dst_points3d(lm, m.head_pose[i], m.head_shift[i], True,
                                                   start)
                open_map = mesh.window_maps(dst_o, depth_o, src, _eyes_window(out_lm))
            paint_lids(frame, out_lm, prep.lids, float(m.blink[i]), prep.face_h,
                       None if m.gaze is None else m.gaze[i], open_map)
        return frame


EYES_WINDOW_PAD = 0.75
"""The eyes' window (a blink's eyes-open map) reaches this many eye widths beyond the
brows and eyes; the re-rendered eye (warp_eyes.lid_frame) spans 0.15 eye widths beside
its corners, 0.1 above the brow and 0.4 below the lower lid, plus a little."""


def _eyes_window(lm: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) frame rectangle holding both eyes' re-rendered patches."""
    eye_w = max(float(np.linalg.norm(lm[e[3]] - lm[e[0]])) for e in (EYE_L, EYE_R))
    pad = EYES_WINDOW_PAD * eye_w + 2
    lo = np.floor(lm[17:48].min(axis=0) - pad).astype(int)
    hi = np.ceil(lm[17:48].max(axis=0) + pad).astype(int) + 1
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


def _skull_matrix(mesh: MeshWarp, pose: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """2x3 affine (rig-output px -> frame px) of a patch rigid with the skull at the teeth,
    under this renderer's 3-D head (HeadPoser), so the drawn teeth turn exactly as the lips
    around them do (the planner's small-angle head model is up to ~20 px off at 15° yaw)."""
    basis = mesh.__dict__.get("_skull_basis")
    if basis is None:  # per mesh: the patch's points and the pseudo-inverse of their fit
        geo = mesh.geo
        c = mesh.pts[62]
        span = 0.2 * geo.face_h
        src = np.array([c, c + geo.ex * span, c + geo.ey * span, c - geo.ex * span])
        s = (src + 0.5) * mesh.out_scale - 0.5
        # the least-squares affine s -> d is pinv([s 1]) @ d (full rank: three of the
        # points are not collinear), as lstsq gave it, without a solver call per frame
        basis = mesh.__dict__["_skull_basis"] = (src, np.linalg.pinv(np.hstack([s, np.ones((4, 1))])))
    src, pinv = basis
    dst, _ = mesh.poser.pose(src, np.full(4, mesh.depth[62]), pose, shift, 1.0)
    return (pinv @ ((dst + 0.5) * mesh.out_scale - 0.5)).T


def _shift_irises(map_x, map_y, lm, gaze, eye_w, openness) -> None:
    """Move the eye contents by the gaze offset inside each (shrunk, soft) eye polygon."""
    if openness <= 0.05:
        return
    h, w = map_x.shape
    for eye in (EYE_L, EYE_R):
        p = lm[eye]
        x0, y0 = np.floor(p.min(0)).astype(int) - 2
        x1, y1 = np.ceil(p.max(0)).astype(int) + 3
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 3 or y1 - y0 < 2:
            continue
        c = p.mean(0)
        q = c + (p - c) * 0.8 - np.array([x0, y0])
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(q * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        a = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.0) * openness
        map_x[y0:y1, x0:x1] -= a * float(gaze[0] * eye_w)
        map_y[y0:y1, x0:x1] -= a * float(gaze[1] * eye_w)


def bench(sizes=(256, 512, 1024), n_frames: int = 100, portrait: str | None = None) -> dict:
    """Frames per second of WarpEngine.render on one thread, per output size.

    Uses a real portrait and a synthetic speaking motion (mouth, blinks, head) so the
    mouth painter and every path run. Returns {size: (wall fps, CPU-time fps)}; the CPU
    figure is what one free core gives when the machine is busy with other work.
    """
    from pathlib import Path

    import core.face
    from core.image import load_image
    from core.motion import plan
    from core.types import AudioFeatures, Phone

    cv2.setNumThreads(1)
    path = portrait or str(
        Path(__file__).resolve().parents[2].parent / "shared/samples/portraits/hallo_1.jpg"
    )
    rig = core.face.analyze(load_image(path))
    from core.audio.visemes import frame_tracks

    fps = 25.0
    phones = [
        Phone(["AA", "M", "IY", "OW"][k % 4], 0.1 * k, 0.1 * k + 0.1, stressed=k % 3 == 0)
        for k in range(int(n_frames / fps * 10))
    ]
    vis, w = frame_tracks(phones, n_frames, fps)
    rms = np.full(n_frames, 0.8, np.float32)
    feats = AudioFeatures(
        fps,
        n_frames,
        n_frames / fps,
        rms,
        np.ones(n_frames, np.float32),
        np.zeros((n_frames, 80), np.float32),
        vis,
        w,
        phones,
    )
    motion = plan(rig, feats)
    out = {}
    for size in sizes:
        req = RenderRequest(rig=rig, features=feats, motion=motion, size=size)
        eng = WarpEngine()
        eng.render_frame(req, 0)  # preparation is per request, not per frame
        t, c = time.perf_counter(), time.process_time()
        for _ in eng.render(req):
            pass
        out[size] = (n_frames / (time.perf_counter() - t), n_frames / (time.process_time() - c))
    return out


if __name__ == "__main__":
    import sys

    if "--bench" in sys.argv:
        for size, (wall, cpu) in bench().items():
            print(f"{size}x{size}: {wall:.0f} frames/s wall, {cpu:.0f} frames/s CPU (1 thread)")
