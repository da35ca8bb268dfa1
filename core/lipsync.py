"""Timed mouth shapes for other tools: Rhubarb Lip Sync's A-H/X cues and our own JSON.

Rhubarb's nine mouth shapes (documented in its README) are the de-facto exchange format
of 2-D lip-sync (Spine, After Effects, Godot/Unity plug-ins read its TSV/JSON):
    A closed (P B M)            B slightly open, clenched teeth (most consonants, EE)
    C open (EH, AE)             D wide open (AA)
    E slightly rounded (AO, ER) F puckered (UW, OW, W)
    G F/V, upper teeth on lip   H L, tongue raised      X idle / silence
The mapping below is ours, from ARPAbet phones (the phones core.audio already times):
vowels by openness and rounding, diphthongs as a glide between two shapes (the same 60/40
split as core.audio.visemes), consonants by what the lips show.

TSV output matches Rhubarb's exactly: `<seconds, 2 decimals>\\t<shape>`, one line per
change, starting at 0.00 and ending with X at the end of the audio. Shapes shorter than
MIN_SHAPE_S are merged into their neighbour (a 20 ms flash reads as flicker), except
closures (A): a missed p/b/m closure is the most visible lip-sync error, so a short A is
kept and widened to the minimum instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.audio.visemes import PHONE_GLIDE, VISEMES, viseme_of
from core.types import AudioFeatures, Phone, Word

SHAPES = "ABCDEFGHX"
MIN_SHAPE_S = 0.04
_GLIDE_SPLIT = 0.6

PHONE_TO_SHAPE: dict[str, str] = {
    # vowels: openness and rounding
    "AA": "D", "AE": "C", "AH": "C", "AO": "E", "AW": "D", "AY": "D", "EH": "C", "ER": "E",
    "EY": "C", "IH": "B", "IY": "B", "OW": "E", "OY": "E", "UH": "E", "UW": "F",
    # consonants: what the lips and teeth show
    "P": "A", "B": "A", "M": "A",
    "F": "G", "V": "G",
    "L": "H",
    "W": "F", "R": "E",
    "T": "B", "D": "B", "K": "B", "G": "B", "NG": "B", "HH": "C", "N": "B", "S": "B",
    "Z": "B", "SH": "B", "ZH": "B", "CH": "B", "JH": "B", "TH": "B", "DH": "B", "Y": "B",
}  # fmt: skip
SHAPE_GLIDE: dict[str, str] = {"AW": "F", "AY": "B", "EY": "B", "OW": "F", "OY": "B"}
"""Diphthongs: the shape their second part moves to."""


@dataclass(frozen=True)
class MouthCue:
    start: float
    end: float
    shape: str


def shape_of(label: str) -> str:
    """Rhubarb shape of an ARPAbet phone (silence, noise and unknown labels: X)."""
    return PHONE_TO_SHAPE.get(label.upper(), "X")


def mouth_cues(phones: Sequence[Phone], duration: float, min_shape: float = MIN_SHAPE_S
               ) -> list[MouthCue]:
    """Contiguous cues covering [0, duration] on the TSV's 10 ms grid, ending with X."""
    raw: list[tuple[float, float, str]] = []
    for ph in sorted(phones, key=lambda p: p.start):
        a, b = max(0.0, ph.start), min(duration, ph.end)
        if b <= a:
            continue
        s = shape_of(ph.label)
        glide = SHAPE_GLIDE.get(ph.label.upper())
        if glide is None:
            raw.append((a, b, s))
        else:
            m = a + _GLIDE_SPLIT * (b - a)
            raw += [(a, m, s), (m, b, glide)]
    segs: list[list] = []  # [start, shape]; each runs until the next start
    t = 0.0
    for a, b, s in raw:
        a = max(a, t)
        if b <= a:
            continue
        if a > t:
            segs.append([t, "X"])
        segs.append([a, s])
        t = b
    end = round(duration, 2)
    segs.append([min(t, duration), "X"])  # rest after the last phone (maybe 0 long)
    segs = _collapse([[round(a, 2), s] for a, s in segs])
    segs = _drop_short(segs, min_shape, end)
    if segs[-1][1] != "X":
        segs.append([end, "X"])
    return [MouthCue(a, segs[i + 1][0] if i + 1 < len(segs) else max(end, a), s)
            for i, (a, s) in enumerate(segs)]


def _collapse(segs: list[list]) -> list[list]:
    """Segments sharing a start keep one shape (A wins: a closure must show, else the
    later); neighbours with the same shape merge."""
    out: list[list] = []
    for a, s in segs:
        if out and a <= out[-1][0]:
            if out[-1][1] != "A":
                out[-1][1] = s
            continue
        if out and out[-1][1] == s:
            continue
        out.append([a, s])
    return out


def _drop_short(segs: list[list], min_shape: float, end: float) -> list[list]:
    """Cues shorter than `min_shape` merge into the previous one; a short closure (A) is
    widened into the next cue instead, when that one can spare the time. The final X
    (the end marker) is exempt."""
    i = 0
    while i < len(segs) - 1:
        nxt = segs[i + 1][0]
        if nxt - segs[i][0] >= min_shape - 1e-9:
            i += 1
            continue
        if segs[i][1] == "A":
            after = segs[i + 2][0] if i + 2 < len(segs) else end
            new = round(segs[i][0] + min_shape, 2)
            if after - new >= min_shape - 1e-9 or i + 2 >= len(segs):
                segs[i + 1][0] = min(new, max(end, new))
            i += 1
            continue
        if i > 0:
            del segs[i]
            i -= 1
        else:
            segs[1][0] = segs[0][0]
            del segs[0]
        segs[:] = _collapse(segs)
    return segs


def to_rhubarb_tsv(cues: Sequence[MouthCue]) -> str:
    """Rhubarb's TSV: one `time<TAB>shape` line per change."""
    return "".join(f"{c.start:.2f}\t{c.shape}\n" for c in cues)


def parse_rhubarb_tsv(text: str) -> list[tuple[float, str]]:
    """(time, shape) rows of a Rhubarb TSV; ValueError naming the line when malformed."""
    rows: list[tuple[float, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 2 or parts[1] not in SHAPES:
            raise ValueError(f"line {n}: expected '<seconds>\\t<A-H or X>', got {line!r}")
        t = float(parts[0])
        if rows and t <= rows[-1][0]:
            raise ValueError(f"line {n}: time {t} does not increase")
        rows.append((t, parts[1]))
    return rows


def viseme_spans(phones: Sequence[Phone], duration: float) -> list[dict]:
    """Our 15 visemes as merged (viseme, start, end) spans covering [0, duration]."""
    spans: list[list] = []
    t = 0.0
    for ph in sorted(phones, key=lambda p: p.start):
        a, b = max(t, ph.start), min(duration, ph.end)
        if b <= a:
            continue
        if a > t:
            spans.append(["sil", t, a])
        v = VISEMES[viseme_of(ph.label)]
        glide = PHONE_GLIDE.get(ph.label.upper())
        if glide is None:
            spans.append([v, a, b])
        else:
            m = a + _GLIDE_SPLIT * (b - a)
            spans += [[v, a, m], [glide, m, b]]
        t = b
    if t < duration:
        spans.append(["sil", t, duration])
    out: list[list] = []
    for s in spans:
        if out and out[-1][0] == s[0]:
            out[-1][2] = s[2]
        else:
            out.append(s)
    return [{"viseme": v, "start": round(a, 3), "end": round(b, 3)} for v, a, b in out]


def lipsync_json(feats: AudioFeatures, cues: Sequence[MouthCue], source: str = "") -> dict:
    """Our JSON: Rhubarb's own JSON keys (`metadata`, `mouthCues`, so Rhubarb readers
    load it) plus phones, our 15 visemes and words, all timed in seconds."""
    return {
        "metadata": {"soundFile": source, "duration": round(feats.duration, 3)},
        "mouthCues": [{"start": c.start, "end": round(c.end, 2), "value": c.shape}
                      for c in cues],
        "aligned": bool(feats.aligned),
        "transcript": feats.transcript,
        "phones": [{"phone": p.label, "start": round(p.start, 3), "end": round(p.end, 3),
                    "word": p.word, "stressed": p.stressed} for p in feats.phones],
        "visemes": viseme_spans(feats.phones, feats.duration),
        "words": [_word(w) for w in feats.words],
    }


def _word(w: Word) -> dict:
    return {"text": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
