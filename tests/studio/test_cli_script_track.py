"""CLI of script tracks: asset add --script, asset script (show/edit/undo), export with
captions and framing; bad input is one line and exit 2."""

from __future__ import annotations

import sqlite3

import pytest

from core.video import probe
from tests.cli_helpers import bad, ok


@pytest.fixture
def tts():
    from core.tts import voices

    if not voices.piper_available()[0] and not voices.espeak_available():
        pytest.skip("no speech synthesiser (piper-tts or espeak-ng) installed")


def test_script_track_through_the_cli(capsys, project_dir, tmp_path, tts):
    words = tmp_path / "words.txt"
    words.write_text("Hello there. Nice to meet you.\n", encoding="utf-8")
    edited = tmp_path / "edited.txt"
    edited.write_text("Hello there. Very nice to meet you today.\n", encoding="utf-8")
    proj = ("--project", project_dir)
    out = ok(capsys, "asset", "add", *proj, "--script", words)
    assert "2 sentences" in out
    aid = out.split()[1]
    assert "Nice to meet you." in ok(capsys, "asset", "script", *proj, aid)
    ok(capsys, "timeline", "new", *proj, "--portrait", "1", "--audio", aid, "--size", "256")
    out = ok(capsys, "asset", "script", *proj, aid, "--text-file", edited)
    assert "re-synthesised 1 sentence(s)" in out
    video = tmp_path / "talk.mp4"
    ok(capsys, "export", *proj, "--out", video, "--captions", "srt", "--aspect", "1:1",
       "--quiet")
    assert (probe(video)["width"], probe(video)["height"]) == (720, 720)
    srt = (tmp_path / "talk.srt").read_text(encoding="utf-8")
    assert "Very nice to meet you today." in srt.replace("\n", " ")
    assert "restored" in ok(capsys, "asset", "script", *proj, aid, "--undo")
    bad(capsys, "asset", "script", *proj, aid, "--undo", match="no script edit to undo")
    bad(capsys, "asset", "script", *proj, "1", match="not made from a script")


def test_bad_script_input_is_one_line(capsys, project_dir, tmp_path):
    proj = ("--project", project_dir)
    bad(capsys, "asset", "add", *proj, "--script", tmp_path / "none.txt",
        match="file not found")
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\x00\x01")
    bad(capsys, "asset", "add", *proj, "--script", binary, match="not a text file")
    bad(capsys, "export", *proj, "--fill", "color:#fff", match="--aspect")
    bad(capsys, "export", *proj, "--aspect", "16:9", "--height", "480", match="--height")
    bad(capsys, "render", "--script", "Hi.", match="--portrait")
    bad(capsys, "render", "--voice", "joe", match="--script")


def test_damaged_script_data_is_refused_by_name(capsys, project_dir, tts, tmp_path):
    words = tmp_path / "w.txt"
    words.write_text("Hello there.", encoding="utf-8")
    out = ok(capsys, "asset", "add", "--project", project_dir, "--script", words)
    aid = int(out.split()[1])
    with sqlite3.connect(project_dir / "project.db") as db:
        db.execute("UPDATE audio_tracks SET script_json = ? WHERE id = ?",
                   ('{"v": 1, "text": "x", "voice": "v", "rate": 1, "sample_rate": 22050, '
                    '"sentences": [{"text": "x", "sha": "../../etc/passwd", "start": 0, '
                    '"end": 1, "words": []}]}', aid))
    bad(capsys, "asset", "script", "--project", project_dir, aid, match="damaged")
