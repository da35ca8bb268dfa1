"""Loading portraits safely: any common file → one upright [H, W, 3] uint8 RGB array.

Why a module of its own: a portrait arrives from a user's disk in whatever state it is in
(greyscale scans, transparent cut-outs, print CMYK JPEGs, 16-bit exports, phone photos that
rely on an EXIF orientation tag, JPEG bytes saved under a .png name, half-downloaded files).
Everything downstream (face detection, the warp engine, the diffusion engine) wants one
thing: upright 8-bit sRGB RGB. Every way of failing becomes a one-line `InputError` that
names the file, so the CLI and the GUI can show it as is.

Choices:
- Transparency is composited over WHITE, the way browsers and image viewers show cut-out
  portraits; a transparent background would otherwise turn black (premultiplied garbage)
  and make the face detector and the generated video look wrong.
- Embedded ICC profiles (CMYK print profiles, Display P3 phone photos) are converted to
  sRGB with LittleCMS when possible; without a profile, CMYK uses Pillow's plain formula.
- 16-bit samples are scaled to 8-bit by value/257 (round to nearest), so 65535 → 255.
- The pixel limit (`MAX_PIXELS`, 50 MP) is checked from the header BEFORE decoding, so a
  decompression bomb (a tiny file claiming a gigantic image) costs nothing.
- Images smaller than `MIN_SIDE` px on a side are refused: no face analysis is possible.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from core.errors import InputError
from core.fsutil import atomic_path, check_input_file

MAX_PIXELS = 50_000_000
"""Refuse images with more pixels than this (50 MP: a 7000×7000 photo still loads)."""
MIN_SIDE = 64
"""Refuse images whose shorter side is below this many pixels."""

_SRGB = None


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as an upright [H, W, 3] uint8 RGB array.

    The format is sniffed from the content, never the extension (a .png holding JPEG data
    loads fine). EXIF orientation is applied. Raises `InputError(path, ...)` for a missing,
    empty, truncated, unreadable, too large or too small image.
    """
    p = check_input_file(path, "an image file")  # a FIFO or /dev/zero would never end
    try:
        size = p.stat().st_size
    except OSError as e:
        raise InputError(p, f"cannot read the file ({e.strerror or e})") from None
    if size == 0:
        raise InputError(p, "the file is empty (0 bytes); choose another image")
    try:
        with open(p, "rb") as f:
            return _decode(f, p)
    except PermissionError as e:
        raise InputError(p, f"cannot read the file ({e.strerror or e})") from None


def decode_image(data: bytes, path: str | Path | None = None) -> np.ndarray:
    """`load_image` for bytes already in memory; `path` is only used in error messages."""
    return _decode(io.BytesIO(data), path if path is not None else "<image>")


def _decode(fp, name: str | Path) -> np.ndarray:
    with warnings.catch_warnings():
        # Pillow warns (then errors) on huge images; make both an InputError.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp)
        except UnidentifiedImageError:
            raise InputError(
                name, "not an image Pillow can read (the content is not JPEG/PNG/WebP/TIFF/...)"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InputError(name, _too_large_message(None)) from None
        except (OSError, SyntaxError, ValueError) as e:
            raise InputError(name, f"cannot read the image header ({e})") from None
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise InputError(name, _too_large_message((w, h)))
        if min(w, h) < MIN_SIDE:
            raise InputError(
                name,
                f"image is too small ({w}×{h} px); a portrait needs at least {MIN_SIDE} px "
                "on each side",
            )
        try:
            im.load()  # force the full decode now: truncation surfaces here, not later
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InputError(name, _too_large_message((w, h))) from None
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            msg = str(e)
            what = "truncated" if "truncat" in msg.lower() else "corrupt"
            raise InputError(
                name, f"the image file is {what} ({msg}); re-export or re-download it"
            ) from None
    # A broken EXIF block must not make a good picture unusable: keep it as stored.
    with contextlib.suppress(Exception):
        im = ImageOps.exif_transpose(im)
    return to_rgb8(im)


def _too_large_message(size: tuple[int, int] | None) -> str:
    dims = f" ({size[0]}×{size[1]} px)" if size else ""
    return (
        f"image is too large{dims}; the limit is {MAX_PIXELS // 1_000_000} megapixels — "
        "resize it first"
    )


def to_rgb8(im: Image.Image) -> np.ndarray:
    """Any Pillow image (any mode) → [H, W, 3] uint8 RGB (alpha composited over white)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        grey = _to_grey8(np.asarray(im), mode)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if "A" in im.getbands() or mode in ("P", "PA") or "transparency" in im.info:
        if mode == "P" and "transparency" not in im.info:
            return np.ascontiguousarray(np.asarray(im.convert("RGB")))
        rgba = np.asarray(im.convert("RGBA")).astype(np.float32)
        a = rgba[:, :, 3:4] / 255.0
        out = rgba[:, :, :3] * a + 255.0 * (1.0 - a)
        return np.ascontiguousarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    icc = im.info.get("icc_profile")
    if icc and mode in ("RGB", "CMYK"):
        converted = _icc_to_srgb(im, icc)
        if converted is not None:
            return converted
    if mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im))


def _to_grey8(a: np.ndarray, mode: str) -> np.ndarray:
    """16-bit / 32-bit integer / float greyscale → uint8 with the right scale."""
    a = a.astype(np.float64)
    if mode == "F":
        scale = 255.0 if np.nanmax(a) <= 1.0 else 1.0
        a = np.nan_to_num(a) * scale
    elif mode.startswith("I;16") or (a.size and a.max() <= 65535 and a.max() > 255):
        a = a / 257.0
    elif a.size and a.max() > 65535:
        a = a * (255.0 / a.max())
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)


def _icc_to_srgb(im: Image.Image, icc: bytes) -> np.ndarray | None:
    """Convert with the embedded profile; None when LittleCMS cannot (then: plain convert)."""
    global _SRGB
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if _SRGB is None:
            _SRGB = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(im, src, _SRGB, outputMode="RGB")
        if out is None or out.mode != "RGB":
            return None
        return np.ascontiguousarray(np.asarray(out))
    except Exception:
        return None


def save_png_atomic(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB/greyscale uint8 array as PNG; a crash never leaves a partial file.

    The PNG goes to a temporary file in the same folder first, then `os.replace` swaps it
    in (atomic on one file system).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p, suffix=".png") as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
    return p
