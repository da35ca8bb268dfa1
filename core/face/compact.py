"""A FaceRig without what can be rebuilt from the portrait: for storing rigs compactly.

A rig's pixels dominate its size (a 1024² rig image is 3 MB, its five float32 masks 20 MB)
while both are cheap, exact functions of things the rig keeps anyway: the image is the
square `crop` of the original resized to the rig size, the masks are `build_masks` of the
landmarks. Storing the stripped rig (a few KB) and restoring it from the original image
(~60 ms) gives back bit-identical arrays, unlike lossy quantisation, so a render from a
cached rig equals one from a fresh analysis.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from core.face.masks import build_masks
from core.types import FaceRig


def rig_image(original: np.ndarray, crop: tuple[float, float, float, float],
              size: int) -> np.ndarray:
    """The square `crop` (x0, y0, x1, y1) of `original` at `size`×`size` (INTER_AREA when
    shrinking). The one definition `core.face.analyze` and `restore` share."""
    x0, y0, x1, y1 = (int(round(v)) for v in crop)
    side = x1 - x0
    img = np.asarray(original)
    if side <= 0 or y1 - y0 != side or x0 < 0 or y0 < 0 or (
            y1 > img.shape[0] or x1 > img.shape[1]):
        raise ValueError(f"crop {crop} does not fit an image of {img.shape[1]}x{img.shape[0]}")
    part = img[y0:y1, x0:x1]
    out = part if size == side else cv2.resize(part, (size, size),
                                               interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out)


def strip(rig: FaceRig) -> FaceRig:
    """`rig` without pixels: the image becomes an empty [H, W, 0] array (keeping the size)
    and the masks an empty dict. Needs `rig.crop`."""
    if rig.crop is None:
        raise ValueError("a rig without crop cannot be restored")
    h, w = rig.image.shape[:2]
    return replace(rig, image=np.zeros((h, w, 0), np.uint8), masks={})


def is_stripped(rig: FaceRig) -> bool:
    return rig.image.ndim == 3 and rig.image.shape[2] == 0


def restore(rig: FaceRig, original: np.ndarray) -> FaceRig:
    """The full rig from a stripped one and the ORIGINAL portrait it was analysed from."""
    if not is_stripped(rig) or rig.crop is None:
        raise ValueError("not a stripped rig")
    h, w = rig.image.shape[:2]
    if h != w:
        raise ValueError(f"rig image must be square, got {w}x{h}")
    image = rig_image(original, rig.crop, h)
    return replace(rig, image=image, masks=build_masks(rig.landmarks, (w, h)))
