"""core.captions: cue building rules, SRT/WebVTT round trips, burning into frames/videos."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.captions import (
    MAX_CUE_S,
    CaptionStyle,
    Cue,
    burn,
    burn_video,
    caption_band,
    cue_at,
    make_cues,
    parse_subtitles,
    to_srt,
    to_vtt,
    wrap_lines,
    write_subtitles,
)
from core.errors import InputError
from core.types import Word

LONG = ("Good morning everyone, and welcome to the quarterly review of our product roadmap, "
        "which covers the three big launches planned for next year. Short one. Then we will "
        "discuss the budget; after that, questions from the floor are very welcome indeed, "
        "so please prepare them. Supercalifragilisticexpialidociouslyextraordinarilylongword "
        "appears too.")


def timed(text: str, wps: float = 2.8, pause_after_sentence: float = 0.5) -> list[Word]:
    """Words at a natural pace (`wps` words per second) with pauses after sentences."""
    out, t = [], 0.3
    for tok in text.split():
        d = 1.0 / wps * (0.6 + 0.08 * len(tok))
        out.append(Word(tok, t, t + d))
        t += d + 0.04 + (pause_after_sentence if tok.endswith((".", "!", "?")) else 0.0)
    return out


def test_cues_respect_line_limits_and_never_overlap():
    words = timed(LONG)
    cues = make_cues(words)
    assert len(cues) >= 6
    for c in cues:
        assert 1 <= len(c.lines) <= 2, c
        assert all(len(ln) <= 42 for ln in c.lines), c
        assert c.end > c.start and c.end - c.start <= MAX_CUE_S + 1e-6
    for a, b in zip(cues, cues[1:], strict=False):
        assert a.end <= b.start
    # every word appears once, in order
    assert " ".join(" ".join(c.lines) for c in cues).replace(" ", "") == \
        "".join(w.text for w in words)
    # sentences start new cues; a long sentence breaks at its comma/semicolon
    firsts = [c.lines[0].split()[0] for c in cues]
    assert "Short" in firsts and "Then" in firsts and "which" in firsts
    assert any(c.lines[-1].endswith(("roadmap,", "that,", "budget;")) for c in cues)


def test_a_short_sentence_shares_a_cue_line_by_line():
    cues = make_cues(timed("Hello! I am your new digital presenter. Type any script now."))
    assert cues[0].lines == ("Hello! I am your new digital presenter.",)
    cues = make_cues(timed("Hi there. This sentence fits on a single line."))
    assert cues[0].lines == ("Hi there.", "This sentence fits on a single line.")
    cues = make_cues(timed("Hi. This second sentence is far too long to share a cue with it."))
    assert cues[0].lines == ("Hi.",)
    cues = make_cues(timed("Hello!"), duration=0.9)
    assert cues[0].end == pytest.approx(0.9)  # never past the audio


def test_short_cue_lingers_into_silence_but_not_over_the_next():
    long = "this sentence is much too long to share one caption with a greeting."
    words = [Word("Hi.", 1.0, 1.2)] + [Word(t, 1.5 + 0.2 * i, 1.68 + 0.2 * i)
                                       for i, t in enumerate(long.split())]
    cues = make_cues(words)
    assert cues[0].lines == ("Hi.",)
    assert cues[0].start == 1.0 and cues[0].end == pytest.approx(1.5 - 0.04)
    alone = make_cues([Word("Hi.", 1.0, 1.2)])
    assert alone[0].end == pytest.approx(2.0)  # the 1 s minimum


def test_wrap_lines_balances_and_cuts_overlong_tokens():
    text = "one two three four five six seven eight nine ten eleven"
    lines = wrap_lines(text.split(" "))
    assert len(lines) == 2 and all(len(x) <= 42 for x in lines)
    assert abs(len(lines[0]) - len(lines[1])) <= 8
    assert all(len(x) <= 42 for x in wrap_lines(["x" * 100]))


def test_srt_and_vtt_round_trip():
    cues = make_cues(timed(LONG + " Tom & Jerry <3 -> fun."))
    srt, vtt = to_srt(cues), to_vtt(cues)
    stamp = r"\d{2}:\d{2}:\d{2}[,.]\d{3}"
    assert re.search(rf"^1\n{stamp} --> {stamp}\n", srt)
    assert "," in srt.split("\n")[1] and "." in vtt.split("\n")[2]
    assert vtt.startswith("WEBVTT\n\n") and "&amp;" in vtt and "&lt;3" in vtt
    for text in (srt, vtt):
        back = parse_subtitles(text)
        assert [c.lines for c in back] == [c.lines for c in cues]
        for a, b in zip(back, cues, strict=True):
            assert a.start == pytest.approx(b.start, abs=1e-3)
            assert a.end == pytest.approx(b.end, abs=1e-3)
    with pytest.raises(ValueError):
        parse_subtitles("not subtitles")


def test_timestamps_past_an_hour():
    srt = to_srt([Cue(3723.5, 3725.25, ("late",))])
    assert "01:02:03,500 --> 01:02:05,250" in srt


def test_write_subtitles_by_extension(tmp_path):
    cues = [Cue(0.0, 1.0, ("a",))]
    assert write_subtitles(cues, tmp_path / "x.vtt").read_text().startswith("WEBVTT")
    assert write_subtitles(cues, tmp_path / "x.srt").read_text().startswith("1\n")
    with pytest.raises(InputError, match="must end in .srt or .vtt"):
        write_subtitles(cues, tmp_path / "x.txt")


def test_cue_at():
    cues = [Cue(0.0, 1.0, ("a",)), Cue(2.0, 3.0, ("b",))]
    assert cue_at(cues, 0.5).lines == ("a",) and cue_at(cues, 1.5) is None
    assert cue_at(cues, 2.0).lines == ("b",) and cue_at(cues, 3.0) is None


@pytest.fixture(scope="module")
def portrait_frame(samples):
    from PIL import Image

    img = Image.open(samples / "portraits" / "hallo_3.jpg").convert("RGB").resize((640, 360))
    return np.asarray(img)


@pytest.mark.parametrize("position", ["bottom", "top"])
def test_burn_changes_only_the_caption_band(portrait_frame, position):
    cue = make_cues(timed(LONG))[0]
    style = CaptionStyle(position=position)
    out = burn(portrait_frame, cue, style)
    y0, y1 = caption_band(portrait_frame.shape, cue, style)
    assert 0 <= y0 < y1 <= portrait_frame.shape[0]
    changed = np.nonzero((out != portrait_frame).any(axis=(1, 2)))[0]
    assert changed.size > 0 and changed.min() >= y0 and changed.max() < y1
    assert (y1 < 180) if position == "top" else (y0 > 180)
    # white glyphs with a black outline are both present in the band
    band = out[y0:y1].reshape(-1, 3)
    assert (band.min(axis=1) > 240).sum() > 200 and (band.max(axis=1) < 20).sum() > 200
    assert burn(portrait_frame, None) is portrait_frame


def test_burn_shrinks_text_to_the_frame_width(portrait_frame):
    small = np.ascontiguousarray(portrait_frame[:, :200])
    out = burn(small, ("a rather long caption line for a narrow frame",), CaptionStyle())
    cols = np.nonzero((out != small).any(axis=(0, 2)))[0]
    assert cols.min() > 0 and cols.max() < 199


def test_without_dejavu_pillows_own_font_still_draws(portrait_frame, monkeypatch):
    import core.captions as cc

    monkeypatch.setattr(cc, "FONT_CANDIDATES", ("/nonexistent/font.ttf",))
    cc._font.cache_clear()
    try:
        out = burn(portrait_frame, "hello world", CaptionStyle())
    finally:
        cc._font.cache_clear()
    assert (out != portrait_frame).any(axis=2).sum() > 300


def test_bad_font_is_one_clear_error(portrait_frame, tmp_path):
    bad = tmp_path / "font.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(InputError, match="cannot be used as a font"):
        burn(portrait_frame, "hello", CaptionStyle(font=str(bad)))


def test_burn_video_keeps_audio_size_and_length(tmp_path, portrait_frame, samples):
    import core.audio as ca
    from core.video import probe, read_frames, write_mp4

    wave = ca.load(samples / "audio" / "asterisk_hello-world.wav")
    n = 25
    frames = [portrait_frame] * n
    src = write_mp4(iter(frames), 25, tmp_path / "in.mp4", audio=wave)
    cues = [Cue(0.2, 0.8, ("Hello world.",))]
    out = burn_video(src, cues, tmp_path / "out.mp4")
    a, b = probe(src), probe(out)
    assert (b["width"], b["height"], b["n_frames"], b["fps"]) == (640, 360, n, 25.0)
    assert b["has_audio"] and b["audio_duration"] == pytest.approx(a["audio_duration"], abs=0.05)
    got = list(read_frames(out))
    orig = list(read_frames(src))
    y0, y1 = caption_band(portrait_frame.shape, cues[0], CaptionStyle())
    diff = [np.abs(g.astype(int) - o.astype(int)) for g, o in zip(got, orig, strict=True)]
    assert diff[10][y0:y1].mean() > 10  # caption shown at 0.4 s
    assert diff[2][y0:y1].mean() < 3 and diff[22][y0:y1].mean() < 3  # not before/after
    assert diff[10][: y0 - 10].mean() < 3  # the rest is just re-encoded
