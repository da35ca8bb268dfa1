"""core.lipsync: Rhubarb A-H/X mouth cues from timed phones, TSV and JSON exports."""

from __future__ import annotations

import json
import re

import pytest

import core.audio as ca
from core.audio.visemes import PHONE_TO_VISEME, VISEMES
from core.lipsync import (
    PHONE_TO_SHAPE,
    SHAPES,
    lipsync_json,
    mouth_cues,
    parse_rhubarb_tsv,
    shape_of,
    to_rhubarb_tsv,
)
from core.types import Phone

TSV_LINE = re.compile(r"^\d+\.\d{2}\t[A-HX]$")


def check_rhubarb_tsv(text: str, duration: float) -> list[tuple[float, str]]:
    """Rhubarb's TSV contract: '<s.ss>\\t<shape>' lines, starting at 0.00, increasing,
    a line only when the shape changes, ending with X no later than the audio's end."""
    assert text.endswith("\n")
    lines = text.splitlines()
    assert all(TSV_LINE.match(ln) for ln in lines), lines
    rows = parse_rhubarb_tsv(text)
    assert rows[0][0] == 0.0
    assert rows[-1][1] == "X" and rows[-1][0] <= round(duration, 2)
    assert all(a[1] != b[1] for a, b in zip(rows, rows[1:], strict=False))
    return rows


def test_every_aligner_phone_has_a_shape_and_the_documented_classes_hold():
    for label in PHONE_TO_VISEME:
        assert shape_of(label) in SHAPES
    assert {shape_of(p) for p in ("P", "B", "M")} == {"A"}
    assert {shape_of(p) for p in ("F", "V")} == {"G"}
    assert shape_of("AA") == "D" and shape_of("EH") == "C" and shape_of("AE") == "C"
    assert shape_of("AO") == "E" and shape_of("ER") == "E"
    assert {shape_of(p) for p in ("UW", "W")} == {"F"} and shape_of("L") == "H"
    assert shape_of("SIL") == "X" and shape_of("+NSN+") == "X" and shape_of("??") == "X"
    assert set(PHONE_TO_SHAPE.values()) <= set(SHAPES)


def test_cues_cover_the_audio_and_keep_short_closures():
    ph = [Phone("SIL", 0, 0.2), Phone("B", 0.2, 0.22), Phone("AA", 0.22, 0.4),
          Phone("T", 0.4, 0.41), Phone("OW", 0.41, 0.61), Phone("SIL", 0.61, 1.0)]
    cues = mouth_cues(ph, 1.0)
    assert cues[0].start == 0.0 and cues[-1].shape == "X"
    assert all(a.end == b.start for a, b in zip(cues, cues[1:], strict=False))
    shapes = [c.shape for c in cues]
    # the 20 ms closure is kept (widened to 40 ms); the 10 ms T flash is merged away
    assert shapes == ["X", "A", "D", "E", "F", "X"]
    assert cues[1].end - cues[1].start == pytest.approx(0.04)
    # OW glides from rounded (E) to puckered (F) at 60 %
    assert cues[4].start == pytest.approx(0.53)
    rows = check_rhubarb_tsv(to_rhubarb_tsv(cues), 1.0)
    assert rows == [(c.start, c.shape) for c in cues]


def test_speech_up_to_the_end_still_ends_with_x_and_silence_is_one_x():
    assert to_rhubarb_tsv(mouth_cues([Phone("AA", 0.0, 0.5)], 0.5)) == "0.00\tD\n0.50\tX\n"
    assert to_rhubarb_tsv(mouth_cues([], 2.0)) == "0.00\tX\n"


def test_parse_rejects_malformed_tsv():
    with pytest.raises(ValueError, match="line 2"):
        parse_rhubarb_tsv("0.00\tX\n0.10\tQ\n")
    with pytest.raises(ValueError, match="does not increase"):
        parse_rhubarb_tsv("0.00\tX\n0.00\tA\n")


@pytest.fixture(scope="module")
def onlyperson(samples):
    path = samples / "audio" / "asterisk_conf-onlyperson.wav"
    text = json.loads((samples / "audio" / "transcripts.json").read_text())[path.name]
    wave = ca.load(path)
    return path, ca.analyze(wave, fps=100.0, transcript=text)


def test_bilabials_of_a_real_recording_close_the_mouth(onlyperson):
    _, feats = onlyperson
    assert feats.aligned
    cues = mouth_cues(feats.phones, feats.duration)
    check_rhubarb_tsv(to_rhubarb_tsv(cues), feats.duration)
    bilabials = [p for p in feats.phones if p.label in ("P", "B", "M")]
    # "the only person in this conference": at least the P of "person"
    assert any(p.word == "person" for p in bilabials)
    for p in bilabials:
        closed = [c for c in cues if c.shape == "A" and c.start < p.end and c.end > p.start]
        assert closed, f"no A cue over {p}"
    # vowels open the mouth somewhere in the clip: wide/open shapes exist
    assert {"C", "D"} & {c.shape for c in cues}


def test_json_export_holds_rhubarb_cues_phones_visemes_and_words(onlyperson):
    path, feats = onlyperson
    cues = mouth_cues(feats.phones, feats.duration)
    data = json.loads(json.dumps(lipsync_json(feats, cues, source=str(path))))
    assert data["metadata"]["duration"] == pytest.approx(feats.duration, abs=1e-3)
    assert [c["value"] for c in data["mouthCues"]] == [c.shape for c in cues]
    assert [w["text"] for w in data["words"]] == ["you", "are", "currently", "the", "only",
                                                  "person", "in", "this", "conference"]
    vis = data["visemes"]
    assert vis[0]["start"] == 0.0 and vis[-1]["end"] == pytest.approx(feats.duration, abs=1e-3)
    assert all(a["end"] == b["start"] for a, b in zip(vis, vis[1:], strict=False))
    assert {v["viseme"] for v in vis} <= set(VISEMES) and "PP" in {v["viseme"] for v in vis}
    assert len(data["phones"]) == len(feats.phones)
