"""End to end on real samples: render with the CLI, then hold the video to the issue's
targets with the project's own metrics (`core.evaluate`). Short clips keep this fast; the
full table over every sample is `python main.py bench quality`."""

from __future__ import annotations

import json

import pytest

from core.evaluate import evaluate
from studio.cli import main as cli

CASES = [
    # portrait, audio, use the transcript
    ("hallo_5.jpg", "asterisk_tt-weasels.wav", True),
    ("echomimic_a.png", "asterisk_conf-onlyperson.wav", True),
    ("hallo_1.jpg", "echomimic_en.wav", False),
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
    # r is graded loosely and z (sync above chance) strictly, as core.evaluate does (its
    # TARGETS: r "higher is better", z >= 3). 0.35: below every VASA-1 video's own r by the
    # same measure (vasa-1_10: 0.36), above chance on these clips (null mean ~0.2). The old 0.4
    # was set on the Face Mesh's inner lips; the image-read opening (core.evaluate.lipgap)
    # reads what is visible, and the warp render shows no opening under ~0.04 IOD (drawn
    # gap vs pixels of hallo_1 + echomimic_en at 384 px: drawn r 0.50, visible 0.40).
    assert value["lip_sync_r"] >= 0.35
    assert abs(value["lip_sync_lag_frames"]) <= 2
    assert value["lip_sync_z"] >= 3
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
