"""Export extras on real renders: caption sidecars aligned to the script's words, burned
captions that change only the caption band, framing at exact canvas sizes."""

from __future__ import annotations

import numpy as np
import pytest

from core.captions import CaptionStyle, caption_band, cue_at, parse_subtitles
from core.errors import InputError
from core.video import probe, read_frames
from studio.export_post import ExportExtras, Framing
from studio.project import Project

WORDS = "Hello there. Nice to meet you."


@pytest.fixture
def scripted(project_dir):
    from core.tts import voices

    if not voices.piper_available()[0] and not voices.espeak_available():
        pytest.skip("no speech synthesiser (piper-tts or espeak-ng) installed")
    p = Project.open(project_dir)
    try:
        audio = p.add_script(WORDS)
        tl = p.new_timeline(p.portraits()[0].id, audio.id, size=256)
        yield p, audio, tl
    finally:
        p.close()


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_caption_sidecar_follows_the_script_words(scripted, tmp_path, fmt):
    p, audio, tl = scripted
    out = p.export_video(tl.id, tmp_path / "talk.mp4", extras=ExportExtras(captions=fmt))
    side = tmp_path / f"talk.{fmt}"
    assert out.is_file() and side.is_file()
    text = side.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT") == (fmt == "vtt")
    cues = parse_subtitles(text)
    words = p.script(audio.id).words
    assert " ".join(" ".join(c.lines) for c in cues).split() == WORDS.split()
    assert abs(cues[0].start - words[0].start) < 0.01
    assert cues[-1].end >= words[-1].end - 0.01
    assert cues[0].start < probe(out)["duration"]


def test_burned_captions_change_only_the_caption_band(scripted, tmp_path):
    p, audio, tl = scripted
    plain = p.export_video(tl.id, tmp_path / "plain.mp4")
    style = CaptionStyle(size=0.08, position="top")
    burned = p.export_video(tl.id, tmp_path / "burned.mp4",
                            extras=ExportExtras(burn=True, style=style))
    cues = __import__("core.captions", fromlist=["make_cues"]).make_cues(
        p.script(audio.id).words)
    inside = outside = 0.0
    n = 0
    for i, (a, b) in enumerate(zip(read_frames(plain), read_frames(burned), strict=True)):
        cue = cue_at(cues, i / tl.fps)
        if cue is None:
            continue
        y0, y1 = caption_band(a.shape, cue, style)
        assert y1 < a.shape[0] // 2  # top position
        d = np.abs(a.astype(int) - b.astype(int))
        inside += d[y0:y1].mean()
        outside += d[y1 + 4:].mean()
        n += 1
    assert n > 10
    assert inside / n > 10 * max(outside / n, 0.2)
    assert outside / n < 2.0  # re-encoding noise only


def test_framing_gives_exact_sizes_with_eyes_on_the_third(scripted, tmp_path):
    p, _, tl = scripted
    for aspect, height, fill, size in (("9:16", 720, "color:#204060", (720, 1280)),
                                       ("1:1", 720, "blur", (720, 720))):
        fr = Framing.parse(aspect, height, fill)
        out = p.export_video(tl.id, tmp_path / f"f{size[0]}x{size[1]}.mp4",
                             extras=ExportExtras(framing=fr))
        info = probe(out)
        assert (info["width"], info["height"]) == size
        assert info["has_audio"] and info["n_frames"] == tl.n_frames
    first = next(iter(read_frames(tmp_path / "f720x1280.mp4")))
    assert np.abs(first[5, 5].astype(int) - [0x20, 0x40, 0x60]).max() <= 6  # colour fill


def test_bad_framing_and_caption_options_are_one_line(scripted):
    with pytest.raises(InputError, match="--aspect"):
        Framing.parse("4:3", 720)
    with pytest.raises(InputError, match="--height"):
        Framing.parse("16:9", 480)
    with pytest.raises(InputError, match="--fill"):
        Framing.parse("16:9", 720, "color:#zzz")
    with pytest.raises(InputError, match="--captions"):
        ExportExtras(captions="ass")
