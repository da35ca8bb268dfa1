"""Frame a square talking-head render for a platform: 16:9, 9:16 or 1:1 at 720p/1080p.

Placement follows the rule of thirds the way camera operators frame a single speaker: the
eye line sits on the upper third line of the output, the face centred horizontally (or on
a vertical third line, `horizontal="left"|"right"`, for a speaker beside text). The render
is scaled to fit the output's short side (`zoom` enlarges it), so nothing of it is cut
beyond what the eye-line shift pushes out. The rest of the canvas is filled by:
- "blur": the same frame scaled up to cover the canvas, aligned on the face, blurred and
  dimmed, so the picture seems to continue (the look of vertical video made from
  landscape); the seam is feathered;
- "color": a solid colour; "image": a still background image, scaled to cover.

`plan_layout` is computed once per video, `compose` runs per frame (numpy + OpenCV), and
`frame_video` converts a whole MP4, keeping its audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import InputError

ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
QUALITIES: dict[str, int] = {"720p": 720, "1080p": 1080}
FILLS = ("blur", "color", "image")
EYE_LINE = 1.0 / 3.0


def output_size(aspect: str, quality: str = "720p") -> tuple[int, int]:
    """(width, height): 16:9 720p -> 1280x720, 9:16 -> 720x1280, 1:1 -> 720x720."""
    if aspect not in ASPECTS:
        raise InputError(None, f"unknown aspect '{aspect}' (choose {', '.join(ASPECTS)})")
    if quality not in QUALITIES:
        raise InputError(None, f"unknown size '{quality}' (choose {', '.join(QUALITIES)})")
    aw, ah = ASPECTS[aspect]
    short = QUALITIES[quality]
    if aw >= ah:
        return short * aw // ah, short
    return short, short * ah // aw


@dataclass(frozen=True)
class Layout:
    """Where the scaled source goes: top-left (x, y) in output pixels (may be negative),
    scale factor, and the face anchor (source pixels) the background is aligned on."""

    out_w: int
    out_h: int
    src_w: int
    src_h: int
    scale: float
    x: float
    y: float
    eye_y: float
    center_x: float


def eye_line(landmarks: np.ndarray) -> tuple[float, float]:
    """(eye_y, face centre x) from 68 landmarks (iBUG order: eyes are points 36-47)."""
    p = np.asarray(landmarks, dtype=np.float64)
    eyes = p[36:48]
    return float(eyes[:, 1].mean()), float(eyes[:, 0].mean())


def eye_line_of_rig(rig, render_size: tuple[int, int]) -> tuple[float, float]:
    """(eye_y, centre x) in a render of `render_size` (w, h) made from FaceRig `rig`: the
    render shows the rig image scaled to that size, so its landmarks scale with it (no
    detection on the video needed)."""
    w, h = rig.size
    eye_y, cx = eye_line(rig.landmarks)
    return eye_y * render_size[1] / h, cx * render_size[0] / w


def plan_layout(src_size: tuple[int, int], out_size: tuple[int, int], eye_y: float,
                center_x: float | None = None, zoom: float = 1.0,
                horizontal: str = "center") -> Layout:
    """Scale to fit the output's short side (x `zoom`), put the eye line on the upper third
    line and the face on the chosen vertical line, keeping the frame's sides inside the
    canvas where possible (no empty strip on a side the source could cover)."""
    sw, sh = int(src_size[0]), int(src_size[1])
    ow, oh = int(out_size[0]), int(out_size[1])
    if min(sw, sh, ow, oh) <= 0:
        raise ValueError("sizes must be positive")
    if not 0.5 <= zoom <= 4.0:
        raise InputError(None, f"zoom must be between 0.5 and 4, got {zoom}")
    if horizontal not in ("center", "left", "right"):
        raise InputError(None, f"horizontal must be center, left or right, got {horizontal}")
    cx = sw / 2 if center_x is None else float(center_x)
    if not (0 <= eye_y <= sh and 0 <= cx <= sw):
        raise InputError(None, f"the eye line ({cx:.0f}, {eye_y:.0f}) is outside the "
                         f"{sw}x{sh} frame")
    s = min(ow / sw, oh / sh) * zoom
    y = oh * EYE_LINE - eye_y * s
    hx = {"center": 0.5, "left": 1 / 3, "right": 2 / 3}[horizontal]
    x = ow * hx - cx * s
    w = sw * s
    x = float(np.clip(x, ow - w, 0)) if w >= ow else float(np.clip(x, 0, ow - w))
    return Layout(ow, oh, sw, sh, s, x, y, float(eye_y), cx)


def _background(frame: np.ndarray, lay: Layout, fill: str, color: Sequence[int],
                image: np.ndarray | None, dim: float) -> np.ndarray:
    ow, oh = lay.out_w, lay.out_h
    if fill == "color":
        return np.broadcast_to(np.asarray(color, np.uint8)[:3], (oh, ow, 3)).copy()
    if fill == "image":
        if image is None:
            raise InputError(None, "fill 'image' needs a background image")
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        ih, iw = image.shape[:2]
        s = max(ow / iw, oh / ih)
        big = cv2.resize(image, (max(ow, round(iw * s)), max(oh, round(ih * s))),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        y0 = (big.shape[0] - oh) // 2
        x0 = (big.shape[1] - ow) // 2
        return np.ascontiguousarray(big[y0:y0 + oh, x0:x0 + ow, :3])
    # blur: the frame scaled to cover the canvas around the same face anchor, computed
    # small (blur radius ~ 1/40 of the canvas) and scaled up: a few ms per frame at 1080p
    s = max(ow / lay.src_w, oh / lay.src_h, lay.scale) * 1.08
    ax, ay = lay.x + lay.center_x * lay.scale, lay.y + lay.eye_y * lay.scale  # anchor in out
    k = 8
    sw_, sh_ = max(8, ow // k), max(8, oh // k)
    m = np.array([[s / k, 0, (ax - lay.center_x * s) / k],
                  [0, s / k, (ay - lay.eye_y * s) / k]], dtype=np.float64)
    small = cv2.warpAffine(frame, m, (sw_, sh_), flags=cv2.INTER_AREA,
                           borderMode=cv2.BORDER_REFLECT)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(1.0, min(sw_, sh_) / 40))
    small = (small.astype(np.float32) * dim).astype(np.uint8)
    return cv2.resize(small, (ow, oh), interpolation=cv2.INTER_LINEAR)


def compose(frame: np.ndarray, lay: Layout, fill: str = "blur",
            color: Sequence[int] = (0, 0, 0), image: np.ndarray | None = None,
            dim: float = 0.7, feather: float = 0.04) -> np.ndarray:
    """The framed output for one RGB uint8 frame (of the layout's source size)."""
    if fill not in FILLS:
        raise InputError(None, f"unknown fill '{fill}' (choose {', '.join(FILLS)})")
    if frame.shape[:2] != (lay.src_h, lay.src_w):
        raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, the layout was "
                         f"planned for {lay.src_w}x{lay.src_h}")
    out = _background(frame, lay, fill, color, image, dim)
    ow, oh = lay.out_w, lay.out_h
    m = np.array([[lay.scale, 0, lay.x], [0, lay.scale, lay.y]], dtype=np.float64)
    interp = cv2.INTER_AREA if lay.scale < 1 else cv2.INTER_LINEAR
    fg = cv2.warpAffine(frame, m, (ow, oh), flags=interp, borderMode=cv2.BORDER_CONSTANT)
    # the placed frame replaces the fill inside its rectangle; at seams with the blurred
    # fill it fades in over `feather` of the short side (only those strips are blended)
    x0, y0 = int(np.ceil(lay.x)), int(np.ceil(lay.y))
    x1 = int(np.floor(lay.x + lay.src_w * lay.scale))
    y1 = int(np.floor(lay.y + lay.src_h * lay.scale))
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(ow, x1), min(oh, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return out
    bg = out[cy0:cy1, cx0:cx1].copy()
    sub_fg = fg[cy0:cy1, cx0:cx1]
    out[cy0:cy1, cx0:cx1] = sub_fg
    w_px = int(round(feather * min(ow, oh))) if fill == "blur" else 0
    if w_px > 0:
        ys = np.arange(cy0, cy1, dtype=np.float32)
        xs = np.arange(cx0, cx1, dtype=np.float32)
        ry = np.ones_like(ys)
        rx = np.ones_like(xs)
        if y0 > 0:
            ry = np.minimum(ry, np.clip((ys - y0 + 1) / w_px, 0, 1))
        if y1 < oh:
            ry = np.minimum(ry, np.clip((y1 - ys) / w_px, 0, 1))
        if x0 > 0:
            rx = np.minimum(rx, np.clip((xs - x0 + 1) / w_px, 0, 1))
        if x1 < ow:
            rx = np.minimum(rx, np.clip((x1 - xs) / w_px, 0, 1))
        sub = out[cy0:cy1, cx0:cx1]
        rows, cols = np.flatnonzero(ry < 1), np.flatnonzero(rx < 1)
        if rows.size:
            a = (ry[rows, None] * rx[None, :])[..., None]
            sub[rows] = _mix(bg[rows], sub_fg[rows], a)
        if cols.size:
            a = (ry[:, None] * rx[None, cols])[..., None]
            sub[:, cols] = _mix(bg[:, cols], sub_fg[:, cols], a)
    return out


def _mix(bg: np.ndarray, fg: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.clip(bg * (1 - a) + fg * a + 0.5, 0, 255).astype(np.uint8)


def detect_eye_line(frame: np.ndarray) -> tuple[float, float] | None:
    """(eye_y, centre x) of the largest face in an RGB frame (dlib), or None."""
    from core.face import detect_landmarks

    lm = detect_landmarks(frame)
    return None if lm is None else eye_line(lm)


def frame_video(src: str | Path, out: str | Path, aspect: str = "16:9",
                quality: str = "720p", eye_y: float | None = None,
                center_x: float | None = None, fill: str = "blur",
                color: Sequence[int] = (0, 0, 0), image: np.ndarray | None = None,
                zoom: float = 1.0, horizontal: str = "center", progress=None,
                cancel=None) -> Path:
    """`src` MP4 -> `out` MP4 framed for `aspect`/`quality`, audio kept. Without `eye_y`
    the face is found in the first frame; no face: eyes assumed at 40 % of the height
    (where a portrait render puts them)."""
    from core.video import read_frames
    from core.video_transform import transform_video

    first = next(iter(read_frames(src)), None)
    if first is None:
        raise InputError(src, "has no frames")
    sh, sw = first.shape[:2]
    if eye_y is None:
        found = detect_eye_line(first)
        eye_y, cx = found if found is not None else (0.4 * sh, sw / 2)
        center_x = cx if center_x is None else center_x
    lay = plan_layout((sw, sh), output_size(aspect, quality), eye_y, center_x, zoom,
                      horizontal)
    return transform_video(src, out, lambda f, i, t: compose(f, lay, fill, color, image),
                           progress=progress, cancel=cancel)
