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
