"""Timed words in the author's own spelling.

Aligners work on normalised words ("doctor", "three", "dollars", "fifty"), synthesisers on
phonemes; captions and the script editor want the tokens the author typed ("Dr.",
"$3.50,"). These functions put the timings back on those tokens: each token is normalised
on its own (core.audio.text, the same rules the aligner used), the normalised sequence is
matched to the timed one (difflib, so a word the aligner skipped costs only that word),
and a token's time spans its matched words. Unmatched tokens share the gap they sit in.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from core.audio.text import normalize_transcript
from core.types import Word

_NON_WORD_PHONEMES = frozenset("^$_.,;:!?¡¿—…\"()-'«»")


def tokens_of(text: str) -> list[str]:
    """Whitespace tokens; a token with no letter or digit ("—", "&"? no: "&" is spoken)
    is glued to its neighbour so every display token is a word."""
    out: list[str] = []
    for tok in text.split():
        if any(c.isalnum() for c in tok) or normalize_transcript(tok):
            out.append(tok)
        elif out:
            out[-1] += " " + tok
        else:
            out.append(tok)
    if len(out) > 1 and not normalize_transcript(out[0]) and not any(
            c.isalnum() for c in out[0]):
        out[1] = out[0] + " " + out[1]
        out.pop(0)
    return out


def display_words(text: str, timed: Sequence[Word], by_index: bool = False
                  ) -> list[Word] | None:
    """The tokens of `text` with times taken from `timed`.

    by_index: `timed[i]` belongs to the i-th token (a synthesiser's own word groups); None
    when the counts differ. Otherwise `timed` are aligner words matched by spelling.
    """
    toks = tokens_of(text)
    if by_index:
        if len(timed) != len(toks):
            return None
        return [Word(t, w.start, w.end) for t, w in zip(toks, timed, strict=True)]
    flat: list[str] = []
    owner: list[int] = []
    for i, tok in enumerate(toks):
        for w in normalize_transcript(tok):
            flat.append(w)
            owner.append(i)
    starts: list[float | None] = [None] * len(toks)
    ends: list[float | None] = [None] * len(toks)
    sm = difflib.SequenceMatcher(None, flat, [w.text.lower() for w in timed], autojunk=False)
    for a, b, size in sm.get_matching_blocks():
        for k in range(size):
            i, w = owner[a + k], timed[b + k]
            starts[i] = w.start if starts[i] is None else min(starts[i], w.start)
            ends[i] = w.end if ends[i] is None else max(ends[i], w.end)
    t_end = max((w.end for w in timed), default=0.0)
    return _fill_gaps(toks, starts, ends, t_end)


def _fill_gaps(toks: list[str], starts: list, ends: list, t_end: float) -> list[Word]:
    """Tokens without a time get an equal share of the gap between timed neighbours."""
    out: list[Word] = []
    i = 0
    n = len(toks)
    while i < n:
        if starts[i] is not None:
            out.append(Word(toks[i], float(starts[i]), float(ends[i])))
            i += 1
            continue
        j = i
        while j < n and starts[j] is None:
            j += 1
        a = out[-1].end if out else 0.0
        b = float(starts[j]) if j < n else max(a, t_end)
        step = max(0.0, b - a) / (j - i)
        for k in range(i, j):
            out.append(Word(toks[k], a + (k - i) * step, a + (k - i + 1) * step))
        i = j
    return out


def piper_word_spans(chunk_alignments: Sequence[Sequence], sample_rate: int
                     ) -> list[tuple[float, float]] | None:
    """Word (start, end) seconds from Piper's per-phoneme sample counts, one list per
    audio chunk (chunks are consecutive). Words are the runs between space phonemes;
    punctuation, pauses and the BOS/EOS markers take time but belong to no word.

    A space phoneme's time is split between its neighbours: it holds the articulation
    into the next word (the silent closure of "my pub"'s p), and aligners, like viewers,
    count that to the words; its midpoint is the boundary (checked against forced
    alignment of the same audio: within 70 ms)."""
    spans: list[tuple[float, float]] = []
    pos = 0
    for aligns in chunk_alignments:
        if aligns is None:
            return None
        cur: list[int] | None = None
        lead: int | None = None  # start of the next word, set by a preceding space
        for al in aligns:
            n = int(al.num_samples)
            ph = str(al.phoneme)
            if ph == " ":
                mid = pos + n // 2
                if cur is not None:
                    spans.append((cur[0] / sample_rate, mid / sample_rate))
                cur = None
                lead = mid
            elif ph not in _NON_WORD_PHONEMES:
                if cur is None:
                    cur = [pos if lead is None else lead, pos + n]
                else:
                    cur[1] = pos + n
                lead = None
            else:
                lead = None
            pos += n
        if cur is not None:
            spans.append((cur[0] / sample_rate, cur[1] / sample_rate))
    return spans
