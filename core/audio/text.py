"""Transcript normalisation for forced alignment, and espeak-ng pronunciations.

pocketsphinx aligns whitespace-separated dictionary words and nothing else, so a user's
transcript ("Dr. Smith paid $3.50 -- 20% more!") must become lowercase words the CMU
dictionary knows ("doctor smith paid three dollars fifty twenty percent more").

The CMU dictionary shipped with pocketsphinx has no stress marks and no entry for names or
new words. espeak-ng (a Debian package, optional here) fills both gaps: its `-x` phoneme
output carries primary/secondary stress and is available for any spelling, so we map it to
ARPAbet for out-of-vocabulary words and borrow its stress for the words the CMU dict knows.
Without espeak-ng, unknown words are dropped and no vowel is marked stressed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

from core.errors import InputError

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")]
_ORDINAL_FIX = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
_ABBREV = {
    "dr": "doctor", "mr": "mister", "mrs": "missus", "ms": "miss", "st": "saint",
    "vs": "versus", "etc": "et cetera", "jr": "junior", "sr": "senior", "prof": "professor",
}  # fmt: skip
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "@": " at ", "=": " equals "}


def number_to_words(n: int) -> str:
    """0..999 999 999 999 in English words ("twenty one thousand four hundred")."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        t, o = divmod(n, 10)
        return _TENS[t] + ("" if o == 0 else " " + _ONES[o])
    for size, name in _SCALES:
        if n >= size:
            q, r = divmod(n, size)
            head = number_to_words(q) + " " + name
            return head if r == 0 else head + " " + number_to_words(r)
    return str(n)  # unreachable


def _ordinal(n: int) -> str:
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_FIX:
        words[-1] = _ORDINAL_FIX[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _year(n: int) -> str:
    hi, lo = divmod(n, 100)
    if lo == 0:
        return number_to_words(hi) + " hundred"
    if lo < 10:
        return number_to_words(hi) + " oh " + number_to_words(lo)
    return number_to_words(hi) + " " + number_to_words(lo)


def _number_token(m: re.Match) -> str:
    raw = m.group(0)
    money = raw.startswith("$")
    body = raw.lstrip("$").replace(",", "")
    suffix = re.search(r"(st|nd|rd|th)$", body)
    if suffix:
        return " " + _ordinal(int(body[: suffix.start()])) + " "
    if "." in body:
        whole, frac = body.split(".", 1)
        w = number_to_words(int(whole or 0))
        if money:
            cents = int((frac + "00")[:2])
            return f" {w} dollars" + (f" {number_to_words(cents)}" if cents else "") + " "
        return f" {w} point " + " ".join(_ONES[int(c)] for c in frac) + " "
    n = int(body)
    if n >= 10**12:
        return " " + " ".join(_ONES[int(c)] for c in body) + " "
    words = (
        _year(n) if (1100 <= n <= 2099 and not money and "," not in raw) else (number_to_words(n))
    )
    return f" {words}{' dollars' if money else ''} "


MAX_TRANSCRIPT_CHARS = 100_000
"""Longest transcript accepted (about 15,000 words, well over an hour of speech). Forced
alignment grows with the text (espeak-ng for every new word, a grammar over every word):
100,000 characters align in under a second, while a 10 MB file kept it busy for minutes."""


def check_transcript(text: str | None, source: str | Path | None = None) -> str | None:
    """The stripped transcript (None when empty); InputError naming `source` (the file it
    came from, if any) when it is longer than MAX_TRANSCRIPT_CHARS."""
    if text is None:
        return None
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise InputError(source, f"the transcript is too long ({len(text):,} characters; the "
                         f"limit is {MAX_TRANSCRIPT_CHARS:,}); split the recording into takes")
    return text.strip() or None


def normalize_transcript(text: str) -> list[str]:
    """Lowercase words for alignment: numbers spelled out, punctuation and symbols removed.

    Apostrophes inside words are kept ("don't" is a CMU entry); hyphens split words.
    """
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = t.replace("\u2019", "'").replace("\u2018", "'")
    for sym, word in _SYMBOLS.items():
        t = t.replace(sym, word)
    t = re.sub(r"\$?\d[\d,]*(\.\d+)?(st|nd|rd|th)?\b", _number_token, t)
    t = re.sub(r"\$?\d[\d,]*(\.\d+)?", _number_token, t)
    words: list[str] = []
    for tok in re.split(r"[\s\-\u2013\u2014/_]+", t.lower()):
        tok = re.sub(r"[^a-z']", "", tok).strip("'")
        if not tok:
            continue
        words.extend(_ABBREV.get(tok, tok).split())
    return words


# ------------------------------------------------------------------ espeak-ng -> ARPAbet
# espeak-ng `-x` (ASCII) phoneme names for en-us, mapped to ARPAbet. Some expand to two.
_ESPEAK_TO_ARPA: dict[str, str] = {
    "a": "AE", "a#": "AH", "A:": "AA", "A@": "AA R", "0": "AA", "V": "AH", "@": "AH",
    "@2": "AH", "@5": "AH", "@L": "AH L", "3": "ER", "3:": "ER", "E": "EH", "e@": "EH R",
    "eI": "EY", "i": "IY", "i:": "IY", "I": "IH", "I2": "IH", "I#": "IH", "i@": "IH R",
    "i@3": "IH R", "o@": "AO R", "O:": "AO", "O": "AO", "O@": "AO R", "OI": "OY",
    "oU": "OW", "U": "UH", "U@": "UH R", "u:": "UW", "aU": "AW", "aI": "AY", "aI3": "AY ER",
    "aU3": "AW ER", "aI@": "AY ER",
    "p": "P", "b": "B", "t": "T", "t#": "T", "t2": "T", "d": "D", "d#": "D", "k": "K",
    "g": "G", "f": "F", "v": "V", "T": "TH", "D": "DH", "s": "S", "z": "Z", "S": "SH",
    "Z": "ZH", "h": "HH", "m": "M", "m-": "M", "n": "N", "n-": "N", "N": "NG", "l": "L",
    "l-": "L", "r": "R", "r-": "R", "w": "W", "j": "Y", "tS": "CH", "dZ": "JH", "x": "K",
}  # fmt: skip
_ARPA_VOWELS = frozenset(
    ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
)
FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "and",
        "or",
        "but",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "it",
        "its",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "him",
        "her",
        "us",
        "them",
        "my",
        "your",
        "his",
        "our",
        "their",
        "this",
        "that",
        "than",
        "then",
        "not",
        "no",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "there",
        "here",
        "so",
        "if",
    ]
)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_pronunciations(words: list[str]) -> list[tuple[list[str], list[bool]] | None]:
    """Per word: (ARPAbet phones, stressed flag per phone), or None when espeak can't say.

    One espeak-ng call for all words (one word per line gives one output line per word).
    """
    if not words or not espeak_available():
        return [None] * len(words)
    try:
        res = subprocess.run(
            ["espeak-ng", "-v", "en-us", "-q", "-x", "--sep=_"],
            input="\n".join(words) + "\n",
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return [None] * len(words)
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    if res.returncode != 0 or len(lines) != len(words):
        return [None] * len(words)
    return [_parse_espeak(ln) for ln in lines]


def _parse_espeak(line: str) -> tuple[list[str], list[bool]] | None:
    phones: list[str] = []
    stress: list[bool] = []
    for tok in re.split(r"[_\s]+", line):
        stressed = "'" in tok or "," in tok
        tok = tok.replace("'", "").replace(",", "").replace(";", "").replace("=", "")
        if not tok:
            continue
        arpa = _ESPEAK_TO_ARPA.get(tok) or _ESPEAK_TO_ARPA.get(tok.rstrip("#-0123456789"))
        if arpa is None:
            continue  # glottal stops, pauses, unknown symbols: no mouth shape of their own
        for i, ph in enumerate(arpa.split()):
            phones.append(ph)
            stress.append(stressed and i == 0 and ph in _ARPA_VOWELS)
    return (phones, stress) if phones else None


def transfer_stress(
    cmu_phones: list[str], espeak: tuple[list[str], list[bool]] | None, word: str
) -> list[bool]:
    """Stress flags for a CMU pronunciation, borrowed vowel by vowel from espeak's.

    If the two pronunciations have a different number of vowels, each stressed espeak vowel
    marks the CMU vowel at the same relative position. Function words stay unstressed
    (espeak stresses them as citation forms, but in running speech they are weak).
    """
    flags = [False] * len(cmu_phones)
    if espeak is None or word in FUNCTION_WORDS:
        return flags
    e_ph, e_st = espeak
    e_vowel_stress = [s for p, s in zip(e_ph, e_st, strict=True) if p in _ARPA_VOWELS]
    c_vowels = [i for i, p in enumerate(cmu_phones) if p in _ARPA_VOWELS]
    if not c_vowels or not e_vowel_stress:
        return flags
    if len(c_vowels) == len(e_vowel_stress):
        for i, s in zip(c_vowels, e_vowel_stress, strict=True):
            flags[i] = s
    else:
        for k, s in enumerate(e_vowel_stress):
            if s:
                j = round(k * (len(c_vowels) - 1) / max(1, len(e_vowel_stress) - 1))
                flags[c_vowels[j]] = True
    return flags
