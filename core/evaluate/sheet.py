"""Contact sheet: a grid of frames to LOOK at a result, each labelled with its frame index
and measured mouth opening (so a number in the report can be checked against a picture)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import InputError


def sample_indices(n_frames: int, count: int) -> list[int]:
    """`count` frame indices spread evenly over [0, n_frames), first and last included."""
    if n_frames <= 0:
        return []
    count = min(count, n_frames)
    return sorted({int(round(v)) for v in np.linspace(0, n_frames - 1, count)})


def contact_sheet(tiles: Sequence[tuple[int, np.ndarray, float | None]], cols: int = 4,
                  tile_width: int = 256) -> np.ndarray:
    """Grid image of (frame index, RGB frame, mouth opening or None) tiles."""
    import cv2

    if not tiles:
        raise ValueError("no frames for the contact sheet")
    h0, w0 = tiles[0][1].shape[:2]
    tw, th = tile_width, max(2, round(tile_width * h0 / w0))
    rows = -(-len(tiles) // cols)
    sheet = np.full((rows * th, cols * tw, 3), 24, np.uint8)
    for k, (index, frame, mouth) in enumerate(tiles):
        r, c = divmod(k, cols)
        tile = cv2.resize(frame, (tw, th), interpolation=cv2.INTER_AREA)
        label = f"#{index}" + (f"  mouth {mouth:.2f}" if mouth is not None
                               and np.isfinite(mouth) else "  no face")
        cv2.rectangle(tile, (0, 0), (tw - 1, 18), (0, 0, 0), -1)
        cv2.putText(tile, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                    cv2.LINE_AA)
        cv2.rectangle(tile, (0, 0), (tw - 1, th - 1), (90, 90, 90), 1)
        sheet[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = tile
    return sheet


def write_sheet(image: np.ndarray, path: str | Path) -> Path:
    """Save the sheet as PNG atomically; InputError when the folder is missing/unwritable."""
    from core.image import save_png_atomic

    p = Path(path)
    if p.is_dir():
        raise InputError(p, "the sheet path is a folder; give a file name ending in .png")
    if not p.parent.is_dir():
        raise InputError(p, f"the folder {p.parent} does not exist")
    try:
        return save_png_atomic(image, p)
    except OSError as exc:
        raise InputError(p, f"cannot write the contact sheet ({exc.strerror or exc})") from None


# ---------------------------------------------------------------- comparison sheets
def frames_at(path: str | Path, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """The frames of a video at the given indices, decoded in one pass (memory: only those
    frames). Indices past the end are missing from the result."""
    from core.video import read_frames

    want = set(int(i) for i in indices)
    out: dict[int, np.ndarray] = {}
    if not want:
        return out
    last = max(want)
    for i, frame in enumerate(read_frames(path)):
        if i in want:
            out[i] = frame
        if i >= last:
            break
    return out


def top_openings(mouth: Sequence[float | None], count: int, fps: float,
                 min_gap_s: float = 0.3) -> list[int]:
    """Frame indices of the `count` widest mouth openings, at least `min_gap_s` apart (so the
    picks are different syllables, not one syllable's neighbouring frames)."""
    m = np.array([np.nan if v is None else float(v) for v in mouth], dtype=np.float64)
    gap = max(1, int(round(min_gap_s * fps)))
    picks: list[int] = []
    for i in np.argsort(-np.nan_to_num(m, nan=-np.inf)):
        if not np.isfinite(m[i]) or len(picks) >= count:
            break
        if all(abs(int(i) - p) >= gap for p in picks):
            picks.append(int(i))
    return picks


def mouth_crop(frame: np.ndarray, landmarks: np.ndarray | None, side: int) -> np.ndarray:
    """A square crop around the mouth (1.8 mouth widths wide), resized to `side`; the
    frame's lower-middle third when no landmarks are known."""
    import cv2

    h, w = frame.shape[:2]
    if landmarks is not None:
        mouth = np.asarray(landmarks, dtype=np.float64)[48:68]
        c = mouth.mean(0)
        half = 0.9 * max(float(np.ptp(mouth[:, 0])), 8.0)
    else:
        c, half = np.array([w / 2, 0.72 * h]), w / 6
    x0, y0 = int(max(0, c[0] - half)), int(max(0, c[1] - half))
    x1, y1 = int(min(w, c[0] + half)), int(min(h, c[1] + half))
    crop = frame[y0:max(y1, y0 + 2), x0:max(x1, x0 + 2)]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    import cv2

    tile = np.ascontiguousarray(tile)
    cv2.rectangle(tile, (0, 0), (tile.shape[1] - 1, 18), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    cv2.rectangle(tile, (0, 0), (tile.shape[1] - 1, tile.shape[0] - 1), (90, 90, 90), 1)
    return tile


def _fit(img: np.ndarray, tile: int) -> np.ndarray:
    """The image scaled to fit a tile x tile square, centred on a dark background."""
    import cv2

    h, w = img.shape[:2]
    s = tile / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    out = np.full((tile, tile, 3), 24, np.uint8)
    y, x = (tile - nh) // 2, (tile - nw) // 2
    out[y:y + nh, x:x + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def grid(rows: Sequence[Sequence[tuple[np.ndarray, str]]], tile: int = 256) -> np.ndarray:
    """Rows of (RGB image, label) tiles, each fitted into a tile x tile square, as one image."""
    if not rows or not any(rows):
        raise ValueError("no tiles for the sheet")
    cols = max(len(r) for r in rows)
    sheet = np.full((len(rows) * tile, cols * tile, 3), 24, np.uint8)
    for r, row in enumerate(rows):
        for c, (img, text) in enumerate(row):
            sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = _label(_fit(img, tile),
                                                                               text)
    return sheet
