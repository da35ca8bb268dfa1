"""Script text -> sentences, and sentence audio -> one track with natural pauses.

Why sentences: a script is edited a sentence at a time, and neural TTS is synthesised a
sentence at a time anyway, so keeping per-sentence audio lets a later edit re-synthesise
only the sentences that changed and `splice` the track together again. The split is
deliberately simple and predictable (the same text always gives the same sentences, so a
sentence's text can key its cached audio): terminal punctuation followed by space, and
blank lines (paragraphs); a single line break is a space, because hard-wrapped text files
are common; common abbreviations ("Dr.", "e.g.") and decimals ("3.5") do not end one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_ABBREVIATIONS = frozenset([
    "dr", "mr", "mrs", "ms", "st", "vs", "etc", "jr", "sr", "prof", "mt", "fig", "approx",
    "dept", "inc", "ltd", "e.g", "i.e",
])
_END = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)(\s+)")
PAUSE_S = 0.30
"""Default silence between sentences: a relaxed reading pause (measured on audiobook
narration, 0.25-0.5 s between sentences)."""
FADE_S = 0.005
"""Each sentence's ends are faded over 5 ms so a join never clicks."""


MAX_SENTENCE_CHARS = 400
"""Longer "sentences" (a run-on list without a full stop) are cut at a comma or space:
synthesis and alignment of one piece stay short and bounded in memory."""


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Sentences of `text`, whitespace-normalised, empty ones dropped, none over
    `max_chars` (cut at the last comma/semicolon, else space, before the limit)."""
    out: list[str] = []
    for s in _sentences(text):
        while len(s) > max_chars:
            cut = max(s.rfind(c, 0, max_chars) for c in (", ", "; ", ": "))
            cut = cut + 1 if cut > max_chars // 3 else s.rfind(" ", 0, max_chars)
            if cut <= 0:
                cut = max_chars
            out.append(s[:cut].strip())
            s = s[cut:].strip()
        if s:
            out.append(s)
    return out


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        para = " ".join(para.split())
        if not para:
            continue
        start = 0
        for m in _END.finditer(para + " "):
            end = m.end(2)
            word = para[start:m.start(1)].split()[-1:] or [""]
            last = word[0].lower().lstrip("(\"'")
            if m.group(1) == "." and (last in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last)):
                continue  # "Dr. Smith", "J. R. R. Tolkien"
            nxt = para[m.end():m.end() + 1]
            if m.group(1) == "." and nxt and nxt.islower():
                continue  # "approx. three" - a lowercase next word rarely starts a sentence
            piece = para[start:end].strip()
            if piece:
                out.append(piece)
            start = m.end()
        rest = para[start:].strip()
        if rest:
            out.append(rest)
    return out


def trim_silence(x: np.ndarray, sample_rate: int, keep: float = 0.05,
                 threshold: float = 0.01) -> tuple[np.ndarray, int]:
    """`x` without leading/trailing near-silence beyond `keep` seconds: (trimmed, offset of
    the first kept sample). Synthesisers pad unevenly; trimming makes the pause between
    spliced sentences the one `splice` chooses, not the model's whim."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    loud = np.flatnonzero(np.abs(x) > threshold * max(1e-6, float(np.abs(x).max(initial=0))))
    if loud.size == 0:
        return x[:0], 0
    pad = int(keep * sample_rate)
    a = max(0, int(loud[0]) - pad)
    b = min(len(x), int(loud[-1]) + 1 + pad)
    return x[a:b], a


def splice(chunks: Sequence[np.ndarray], sample_rate: int,
           pause: float | Sequence[float] = PAUSE_S) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Join sentence audio with pauses: (samples, [(start_s, end_s) of each sentence]).

    `pause` is one value or one per join (len(chunks) - 1), e.g. longer after a paragraph.
    Ends are faded by FADE_S; nothing else is changed, so splicing the unchanged sentences
    of an edited script reproduces their audio sample for sample.
    """
    n = len(chunks)
    pauses = [float(pause)] * max(0, n - 1) if np.isscalar(pause) else [float(p) for p in pause]
    if len(pauses) != max(0, n - 1):
        raise ValueError(f"need {max(0, n - 1)} pauses for {n} sentences, got {len(pauses)}")
    if any(p < 0 for p in pauses):
        raise ValueError("pauses must not be negative")
    fade = max(1, int(FADE_S * sample_rate))
    parts: list[np.ndarray] = []
    spans: list[tuple[float, float]] = []
    pos = 0
    for i, c in enumerate(chunks):
        c = np.asarray(c, dtype=np.float32).reshape(-1).copy()
        if len(c) > 2 * fade:
            ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
            c[:fade] *= ramp
            c[-fade:] *= ramp[::-1]
        spans.append((pos / sample_rate, (pos + len(c)) / sample_rate))
        parts.append(c)
        pos += len(c)
        if i < n - 1:
            gap = int(round(pauses[i] * sample_rate))
            parts.append(np.zeros(gap, dtype=np.float32))
            pos += gap
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return samples, spans
