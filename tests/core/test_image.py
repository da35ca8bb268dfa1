"""core.image: every kind of portrait file → upright uint8 RGB, or a one-line InputError."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from core.image import MAX_PIXELS, decode_image, load_image, save_png_atomic, to_rgb8


def _pattern(w: int = 120, h: int = 80) -> np.ndarray:
    """Grey image with a red block in the top-left corner (asymmetric in both axes)."""
    a = np.full((h, w, 3), 128, np.uint8)
    a[: h // 3, : w // 3] = (255, 0, 0)
    return a


def _where_red(a: np.ndarray) -> tuple[str, str]:
    h, w = a.shape[:2]
    red = (a[:, :, 0] > 200) & (a[:, :, 1] < 80)
    ys, xs = np.nonzero(red)
    return ("top" if ys.mean() < h / 2 else "bottom"), ("left" if xs.mean() < w / 2 else "right")


def test_samples_load_as_rgb(samples):
    for p in sorted((samples / "portraits").iterdir()):
        a = load_image(p)
        assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3, p
        assert a.shape[0] >= 64 and a.flags["C_CONTIGUOUS"]


def test_jpeg_data_behind_png_name(samples, tmp_path):
    p = samples / "portraits" / "echomimic_a.png"
    assert p.read_bytes()[:2] == b"\xff\xd8"  # really JPEG data
    a = load_image(p)
    assert a.shape == (1342, 1342, 3)
    # and a synthetic one
    q = tmp_path / "photo.png"
    Image.fromarray(_pattern()).save(q, format="JPEG", quality=95)
    assert _where_red(load_image(q)) == ("top", "left")


def test_greyscale_becomes_three_equal_channels(tmp_path):
    g = np.tile(np.arange(0, 200, 2, dtype=np.uint8), (70, 1))
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    a = load_image(tmp_path / "g.png")
    assert a.shape == (70, 100, 3)
    assert (a[:, :, 0] == g).all() and (a[:, :, 1] == g).all() and (a[:, :, 2] == g).all()


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((80, 80, 4), np.uint8)
    rgba[:, :40] = (200, 10, 10, 255)  # opaque red
    rgba[:, 40:60] = (0, 0, 0, 0)  # fully transparent black → white
    rgba[:, 60:] = (0, 0, 0, 128)  # half-transparent black → mid grey
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    a = load_image(tmp_path / "cut.png")
    assert tuple(a[5, 5]) == (200, 10, 10)
    assert tuple(a[5, 50]) == (255, 255, 255)
    assert abs(int(a[5, 70, 0]) - 127) <= 1 and a[5, 70, 0] == a[5, 70, 2]


def test_palette_with_transparency(tmp_path):
    p = Image.new("P", (80, 80), 0)
    p.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    p.paste(1, (0, 0, 40, 80))
    p.save(tmp_path / "pal.png", transparency=0)
    a = load_image(tmp_path / "pal.png")
    assert tuple(a[10, 10]) == (0, 200, 0)
    assert tuple(a[10, 70]) == (255, 255, 255)  # transparent index → white
    # palette without transparency
    p.save(tmp_path / "pal2.png")
    assert tuple(load_image(tmp_path / "pal2.png")[10, 70]) == (0, 0, 0)


def test_cmyk_jpeg(tmp_path):
    c = Image.new("CMYK", (96, 96), (255, 0, 0, 0))  # pure cyan ink
    c.paste((0, 0, 0, 255), (0, 0, 48, 96))  # pure black ink
    c.save(tmp_path / "print.jpg", quality=95)
    assert Image.open(tmp_path / "print.jpg").mode == "CMYK"
    a = load_image(tmp_path / "print.jpg").astype(int)
    r, g, b = a[48, 80]
    assert r < 30 and g > 220 and b > 220, (r, g, b)  # cyan
    assert a[48, 10].max() < 30  # black


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    g16 = np.zeros((64, 256), np.uint16)
    g16[:, :] = (np.arange(256) * 257).astype(np.uint16)  # 0 .. 65535
    Image.fromarray(g16).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I;16")
    a = load_image(tmp_path / "g16.png")
    assert (a[0, :, 0] == np.arange(256)).all()
    # 16-bit RGB (Pillow reduces to 8 bits itself; check the scale survives)
    rgb16 = np.zeros((64, 64, 3), np.uint16)
    rgb16[..., 2] = 65535  # cv2 writes BGR: this is red
    rgb16[..., 1] = 32896  # ≈ 128 * 257
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16)
    a = load_image(tmp_path / "c16.png")
    assert tuple(a[3, 3]) == (255, 128, 0)


def test_other_modes():
    assert to_rgb8(Image.fromarray(np.full((70, 70), 0.5, np.float32), "F"))[0, 0, 0] == 128
    i32 = Image.fromarray(np.full((70, 70), 65535, np.int32), "I")
    assert to_rgb8(i32)[0, 0, 1] == 255
    assert to_rgb8(Image.new("1", (70, 70), 1))[0, 0, 2] == 255


@pytest.mark.parametrize(("orientation", "expect"), [(6, ("top", "right")), (8, ("bottom", "left"))])
def test_exif_orientation_is_applied(tmp_path, orientation, expect):
    """Orientation 6 = 'rotate 90° clockwise to display', 8 = counter-clockwise."""
    im = Image.fromarray(_pattern(120, 80))
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"o{orientation}.jpg"
    im.save(p, quality=95, exif=exif.tobytes())
    a = load_image(p)
    assert a.shape[:2] == (120, 80)  # portrait now
    assert _where_red(a) == expect


def test_missing_empty_and_folder(tmp_path):
    with pytest.raises(InputError, match="file not found") as e:
        load_image(tmp_path / "nope.jpg")
    assert "nope.jpg" in str(e.value)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(InputError, match="folder"):
        load_image(tmp_path)


def test_text_named_jpg(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a picture\n" * 20)
    with pytest.raises(InputError, match="not an image") as e:
        load_image(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_truncated_jpeg(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "cut.jpg"
    Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(p, quality=90)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated") as e:
        load_image(p)
    assert str(p) in str(e.value)


def _png_header_only(w: int, h: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [100_000, 8_000])
def test_decompression_bomb_refused_before_decoding(tmp_path, side, monkeypatch):
    """100000² trips Pillow's own bomb check; 8000² (64 MP) only ours — both from the
    header alone: the pixel decoder is never started (spied), so no time or memory is spent."""
    from PIL import ImageFile

    assert side * side > MAX_PIXELS
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header_only(side, side))
    decoded = []
    real_load = ImageFile.ImageFile.load

    def spy_load(self, *args, **kwargs):
        decoded.append(self.size)
        return real_load(self, *args, **kwargs)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    with pytest.raises(InputError, match="too large") as e:
        load_image(p)
    assert decoded == []
    assert "bomb.png" in str(e.value)


def test_tiny_image_refused(tmp_path):
    Image.new("RGB", (200, 40)).save(tmp_path / "strip.png")
    with pytest.raises(InputError, match="too small"):
        load_image(tmp_path / "strip.png")


def test_decode_bytes_and_save_png_atomic(tmp_path):
    a = _pattern()
    out = save_png_atomic(a, tmp_path / "sub" / "x.png")
    assert out.exists() and [f.name for f in out.parent.iterdir()] == ["x.png"]
    b = decode_image(out.read_bytes())
    assert (a == b).all()
    with pytest.raises(InputError, match="<image>"):
        decode_image(b"garbage" * 10)
