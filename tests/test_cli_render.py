"""End-to-end `render` through the CLI: every kind of bad input from the issue gets a
one-line error naming the file, exit status 2 and no output file; the valid odd inputs
(greyscale, CMYK, 16-bit, EXIF-rotated, 8/96 kHz, 6-channel, silence, 0.1 s) render."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from studio.cli import main as cli

PORTRAIT = "hallo_3.jpg"  # a frontal photograph that dlib detects


@pytest.fixture(scope="module")
def portrait(samples):
    return samples / "portraits" / PORTRAIT


@pytest.fixture(scope="module")
def speech(samples):
    return samples / "audio" / "asterisk_hello-world.wav"


def run_cli(args, capsys):
    code = cli(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def render_args(portrait, audio, out, *extra):
    return ["render", "--portrait", str(portrait), "--audio", str(audio), "--out", str(out),
            "--size", "256", "--quiet", *extra]


def assert_one_line_error(code, err, *words):
    """Exit 2 and stderr exactly one `error: ...` line containing every word."""
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for word in words:
        assert word.lower() in lines[0].lower(), f"{word!r} not in {lines[0]!r}"


def assert_refused(code, err, out_path, *words):
    assert_one_line_error(code, err, *words)
    assert not out_path.exists()
    assert not [p for p in out_path.parent.iterdir() if p.suffix in (".mp4", ".tmp")], \
        "a partial file was left behind"


# ------------------------------------------------------------------ bad portraits
def test_missing_portrait(tmp_path, speech, capsys):
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(tmp_path / "nope.jpg", speech, out), capsys)
    assert_refused(code, err, out, "nope.jpg", "not found")


@pytest.mark.parametrize(
    "name,content,word",
    [
        ("empty.jpg", b"", "empty"),
        ("text.png", b"hello, I am not an image\n" * 20, "image"),
    ],
)
def test_bad_image_bytes(tmp_path, speech, capsys, name, content, word):
    bad = tmp_path / name
    bad.write_bytes(content)
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(bad, speech, out), capsys)
    assert_refused(code, err, out, name, word)


def test_truncated_image(tmp_path, portrait, speech, capsys):
    data = portrait.read_bytes()
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(data[: len(data) // 3])
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(bad, speech, out), capsys)
    assert_refused(code, err, out, "cut.jpg", "truncated")


def test_decompression_bomb(tmp_path, speech, capsys):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (30000, 30000)).save(bomb)  # tiny file, 900 megapixels
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(bomb, speech, out), capsys)
    assert_refused(code, err, out, "bomb.png", "pixels")


def test_no_face_explains_landmarks(tmp_path, speech, capsys):
    yy, xx = np.mgrid[0:400, 0:400]
    img = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
    path = tmp_path / "wall.png"
    Image.fromarray(img).save(path)
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(path, speech, out), capsys)
    assert_refused(code, err, out, "wall.png", "no face", "--landmarks")


# ------------------------------------------------------------------ bad audio and options
def test_empty_and_corrupted_audio(tmp_path, portrait, capsys):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(portrait, empty, out), capsys)
    assert_refused(code, err, out, "empty.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + np.random.default_rng(0).bytes(5000))
    code, _, err = run_cli(render_args(portrait, junk, out), capsys)
    assert_refused(code, err, out, "junk.wav")


def test_unknown_engine(tmp_path, portrait, speech, capsys):
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(portrait, speech, out, "--engine", "magic"), capsys)
    assert_refused(code, err, out, "magic", "unknown engine")


def test_unwritable_output(tmp_path, portrait, speech, capsys):
    out = tmp_path / "no" / "such" / "dir" / "o.mp4"
    code, _, err = run_cli(render_args(portrait, speech, out), capsys)
    assert_one_line_error(code, err, "o.mp4")
    assert list(tmp_path.rglob("*")) == []  # no output, no temp file, no folder made
    as_dir = tmp_path / "adir.mp4"
    as_dir.mkdir()
    code, _, err = run_cli(render_args(portrait, speech, as_dir), capsys)
    assert_one_line_error(code, err, "adir.mp4")
    assert list(tmp_path.rglob("*")) == [as_dir]  # the folder untouched, nothing beside it


def test_diffusion_without_weights_says_what_is_missing(tmp_path, portrait, speech, capsys):
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(render_args(portrait, speech, out, "--engine", "diffusion"), capsys)
    assert_refused(code, err, out, "diffusion", "weights")


# ------------------------------------------------------------------ odd but valid inputs
def _probe(path):
    from core.video import probe

    return probe(path)


def _render_ok(tmp_path, portrait, audio, capsys, *extra):
    out = tmp_path / "ok.mp4"
    code, stdout, err = run_cli(render_args(portrait, audio, out, *extra), capsys)
    assert code == 0, err
    assert stdout.strip().splitlines()[-1] == str(out)
    info = _probe(out)
    assert info["width"] == 256 and info["has_audio"]
    assert abs(info["video_duration"] - info["audio_duration"]) < 1 / 25 + 1e-3
    return info


@pytest.mark.parametrize("mode", ["L", "CMYK", "I;16", "RGBA", "exif"])
def test_odd_images_render(tmp_path, portrait, speech, capsys, mode):
    img = Image.open(portrait).convert("RGB")
    path = tmp_path / f"p_{mode.replace(';', '')}.png"
    if mode == "exif":
        path = tmp_path / "rotated.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 CW to view": the stored pixels are turned the other way
        img.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
    elif mode == "CMYK":
        path = tmp_path / "cmyk.jpg"
        img.convert("CMYK").save(path)
    elif mode == "I;16":
        arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257)
        Image.fromarray(arr).save(path)
    else:
        img.convert(mode).save(path)
    _render_ok(tmp_path, path, speech, capsys)


@pytest.mark.parametrize("kind", ["silence", "short", "8k", "96k", "6ch"])
def test_odd_audio_renders(tmp_path, portrait, speech, capsys, kind):
    data, rate = sf.read(speech, dtype="float32")
    path = tmp_path / f"{kind}.wav"
    if kind == "silence":
        sf.write(path, np.zeros(16000 * 2, np.float32), 16000)
    elif kind == "short":
        sf.write(path, data[: int(0.1 * rate)], rate)
    elif kind == "8k":
        path = speech  # the asterisk prompts are 8 kHz mono recordings
        assert rate == 8000
    elif kind == "96k":
        from scipy.signal import resample_poly

        sf.write(path, resample_poly(data, 12, 1).astype(np.float32), 96000)
    else:
        sf.write(path, np.stack([data * (0.5 + 0.1 * c) for c in range(6)], -1), rate)
    info = _render_ok(tmp_path, portrait, path, capsys)
    if kind == "short":
        assert info["n_frames"] >= 2
