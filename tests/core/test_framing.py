"""core.framing: platform sizes, rule-of-thirds placement, fills, whole-file conversion."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.framing import (
    compose,
    detect_eye_line,
    frame_video,
    output_size,
    plan_layout,
)

SIZES = {
    ("16:9", "720p"): (1280, 720), ("9:16", "720p"): (720, 1280), ("1:1", "720p"): (720, 720),
    ("16:9", "1080p"): (1920, 1080), ("9:16", "1080p"): (1080, 1920),
    ("1:1", "1080p"): (1080, 1080),
}


@pytest.fixture(scope="module")
def portrait(samples):
    from PIL import Image

    img = Image.open(samples / "portraits" / "hallo_3.jpg").convert("RGB").resize((512, 512))
    return np.asarray(img)


@pytest.mark.parametrize(("aspect", "quality"), list(SIZES))
def test_output_sizes_are_exact(aspect, quality):
    assert output_size(aspect, quality) == SIZES[(aspect, quality)]


def test_unknown_aspect_or_fill_is_one_clear_error(portrait):
    with pytest.raises(InputError, match="unknown aspect '4:3'"):
        output_size("4:3")
    lay = plan_layout((512, 512), (1280, 720), 200)
    with pytest.raises(InputError, match="unknown fill"):
        compose(portrait, lay, fill="sparkles")
    with pytest.raises(InputError, match="needs a background image"):
        compose(portrait, lay, fill="image")
    with pytest.raises(InputError, match="outside"):
        plan_layout((512, 512), (1280, 720), 900)


@pytest.mark.parametrize(("aspect", "quality"), list(SIZES))
def test_marked_eye_line_lands_on_the_upper_third(aspect, quality):
    src = np.full((400, 400, 3), 128, np.uint8)
    src[170:172, :, 0] = 255  # a red line at the eye height (y = 171)
    src[170:172, :, 1:] = 0
    w, h = output_size(aspect, quality)
    out = compose(src, plan_layout((400, 400), (w, h), 171.0), fill="color")
    assert out.shape == (h, w, 3)
    red = np.flatnonzero((out[:, w // 2, 0] > 200) & (out[:, w // 2, 1] < 60))
    assert red.size and abs(red.mean() - h / 3) <= 2


@pytest.mark.parametrize("aspect", ["16:9", "9:16", "1:1"])
def test_detected_eyes_sit_on_the_third_line(portrait, aspect):
    eye_y, cx = detect_eye_line(portrait)
    w, h = output_size(aspect, "720p")
    out = compose(portrait, plan_layout((512, 512), (w, h), eye_y, cx))
    found = detect_eye_line(out)
    assert found is not None
    assert abs(found[0] - h / 3) <= 4
    if aspect == "16:9":  # room to centre the face horizontally
        assert abs(found[1] - w / 2) <= 4


def test_eye_line_of_a_rig_scales_to_the_render(portrait):
    import cv2

    from core.face import analyze
    from core.framing import eye_line_of_rig

    rig = analyze(portrait)
    ey, cx = eye_line_of_rig(rig, (256, 256))
    found = detect_eye_line(cv2.resize(rig.image, (256, 256), interpolation=cv2.INTER_AREA))
    assert found is not None
    assert abs(ey - found[0]) <= 3 and abs(cx - found[1]) <= 3


def test_blurred_fill_extends_the_picture_and_is_not_black(portrait):
    lay = plan_layout((512, 512), (720, 1280), 240.0, 217.0)
    out = compose(portrait, lay)
    y0 = int(np.ceil(lay.y))
    y1 = int(lay.y + 512 * lay.scale)
    above, below = out[: y0 - 2], out[y1 + 2:]
    for fill in (above, below):
        assert fill.size and fill.mean() > 25  # not black
        assert fill.std() > 3  # a picture, not a flat colour
    # blurred: far smaller local contrast than the sharp portrait
    sharp = out[y0 + 40: y1 - 40].astype(float)
    def grad(a):
        return np.abs(np.diff(a, axis=1)).mean()
    assert grad(below.astype(float)) < 0.3 * grad(sharp)
    # the portrait itself is placed unchanged (up to resampling)
    assert sharp.mean() == pytest.approx(portrait[40:-40].mean(), abs=6)


def test_colour_and_image_fills(portrait):
    lay = plan_layout((512, 512), (1280, 720), 240.0)
    out = compose(portrait, lay, fill="color", color=(10, 200, 30))
    x0 = int(np.ceil(lay.x))
    assert (out[:, : x0 - 1] == (10, 200, 30)).all()
    bg = np.zeros((90, 160, 3), np.uint8)
    bg[..., 2] = 250
    out = compose(portrait, lay, fill="image", image=bg)
    assert (out[:, :20, 2] > 240).all() and (out[:, :20, :2] < 10).all()


def test_frame_video_converts_size_and_keeps_audio(tmp_path, portrait, samples):
    import cv2

    import core.audio as ca
    from core.video import probe, read_frames, write_mp4

    small = cv2.resize(portrait, (256, 256), interpolation=cv2.INTER_AREA)
    wave = ca.load(samples / "audio" / "asterisk_hello-world.wav")
    src = write_mp4(iter([small] * 12), 25, tmp_path / "sq.mp4", audio=wave)
    out = frame_video(src, tmp_path / "tall.mp4", aspect="9:16", quality="720p",
                      eye_y=120.0, center_x=128.0)
    info = probe(out)
    assert (info["width"], info["height"], info["n_frames"]) == (720, 1280, 12)
    assert info["has_audio"]
    first = next(iter(read_frames(out)))
    assert first[:100].mean() > 25  # blurred fill above the head, not black
