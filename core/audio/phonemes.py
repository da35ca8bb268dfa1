"""Timed phones from pocketsphinx 5: forced alignment with a transcript, phone loop without.

Alignment (reliable): the transcript's words form a left-to-right grammar with optional
silences; a first pass finds word boundaries and a second pass (`set_alignment`) the phone
boundaries inside them. Beams are very wide (1e-200) because the grammar is a single chain:
narrower beams made pocketsphinx give up ("final result does not match the grammar") on
fast, synthetic or digitally padded speech, and alignment still costs only ~0.03 s of CPU
per second of audio (measured on a 20 s clip, idle machine).

Phone loop (noisy): an allphone search with the shipped phone bigram LM, one utterance per
voice-activity region, so silence yields no phones, memory stays bounded on long inputs
and cepstral mean normalisation is estimated per utterance.

The decoders are built lazily, once per process, and used under a lock: a pocketsphinx
Decoder is not re-entrant, and the studio calls `analyze` from a worker thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

from core.audio import text as textnorm
from core.audio.visemes import VOWELS
from core.types import SAMPLE_RATE, Phone, Word

log = logging.getLogger(__name__)

FRAME_RATE = 100  # pocketsphinx frames per second
ALIGN_MAX_SECONDS = 600.0
"""Longer inputs are not force-aligned (one utterance would hold the whole hour's search
history); they use the phone loop, with a warning. Split long recordings into takes."""
_ALIGN_BEAMS = {"beam": 1e-200, "pbeam": 1e-200, "wbeam": 1e-200}
_LOOP_BEAMS = {"beam": 1e-20, "pbeam": 1e-20, "lw": 2.0}

_CMN_INIT = "40,3,-1"  # pocketsphinx's default initial cepstral mean (config "cmninit")

_lock = threading.Lock()
_decoders: dict[str, object] = {}


class AlignmentFailed(RuntimeError):
    """Alignment could not produce a path through the transcript."""


def _decoder(kind: str):
    """The per-process pocketsphinx Decoder of `kind` ("align" or "loop"). Call under _lock."""
    dec = _decoders.get(kind)
    if dec is None:
        from pocketsphinx import Decoder, get_model_path

        common = {"samprate": SAMPLE_RATE, "lm": None, "loglevel": "FATAL"}
        if kind == "align":
            dec = Decoder(bestpath=False, **common, **_ALIGN_BEAMS)
        else:
            dec = Decoder(
                allphone=get_model_path("en-us/en-us-phone.lm.bin"), **common, **_LOOP_BEAMS
            )
        _decoders[kind] = dec
    return dec


def _fresh(dec) -> None:
    """Forget noise and cepstral-mean state from earlier utterances.

    Without this the same audio decodes differently depending on what the process heard
    before; resetting makes every call deterministic (same request, same phones).
    """
    dec.start_stream()
    dec.set_cmn(_CMN_INIT)


def _pcm16(x: np.ndarray, seed: int = 0) -> bytes:
    """16-bit PCM with 1 LSB of seeded noise.

    Digital silence (exact zeros) gives pocketsphinx degenerate log-energy features and makes
    alignment fail on clean, padded audio; dither fixes that. pocketsphinx's own `dither`
    draws from a process-wide RNG, so the same audio would decode differently call to call;
    this noise is seeded, so results are reproducible.
    """
    noise = np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)
    y = np.clip(x, -1.0, 1.0) * 32767.0 + noise
    return np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes()


def _clean_label(label: str) -> str:
    """Pocketsphinx phone name -> ARPAbet without stress ("+NSN+" noise -> "SIL")."""
    lab = label.strip().upper().rstrip("012")
    return "SIL" if (not lab or lab.startswith("+") or lab == "SIL") else lab


def _clean_word(word: str) -> str | None:
    """'bought(2)' -> 'bought'; silences and fillers -> None."""
    w = word.split("(")[0]
    if not w or w.startswith(("<", "[", "+")):
        return None
    return w


# ------------------------------------------------------------------ forced alignment
def prepare_words(dec, transcript: str) -> tuple[list[str], dict, list[str]]:
    """Normalised words the decoder can align, espeak pronunciations, and dropped words.

    Unknown words get an espeak-ng pronunciation added to the decoder's dictionary (kept for
    later calls); without one they are dropped (the optional silences/noise between words
    absorb their audio). Call under _lock.
    """
    words = textnorm.normalize_transcript(transcript)
    uniq = list(dict.fromkeys(words))
    espeak = dict(zip(uniq, textnorm.espeak_pronunciations(uniq), strict=True))
    keep: list[str] = []
    dropped: list[str] = []
    for w in words:
        pron = dec.lookup_word(w)
        if pron is None and espeak.get(w) is not None:
            phones = espeak[w][0]
            try:
                dec.add_word(w, " ".join(phones), True)
                pron = dec.lookup_word(w)
            except RuntimeError:
                pron = None
        if pron is None:
            dropped.append(w)
            continue
        keep.append(w)
    return keep, espeak, dropped


def align(x: np.ndarray, transcript: str) -> tuple[list[Phone], list[Word], list[str]]:
    """Force-align `transcript` to the waveform: (phones, words, warnings).

    Raises AlignmentFailed when there is nothing to align or no path fits the audio.
    """
    warnings: list[str] = []
    if len(x) / SAMPLE_RATE > ALIGN_MAX_SECONDS:
        raise AlignmentFailed(
            f"audio is longer than {ALIGN_MAX_SECONDS:.0f} s; forced alignment is limited to "
            "that (split the recording into takes)"
        )
    pcm = _pcm16(x)
    with _lock:
        dec = _decoder("align")
        words, espeak, dropped = prepare_words(dec, transcript)
        if dropped:
            warnings.append(
                "words not in the pronunciation dictionary were skipped: "
                + ", ".join(sorted(set(dropped))[:10])
            )
        if not words:
            raise AlignmentFailed("the transcript has no alignable words")
        try:
            dec.set_align_text(" ".join(words))
            _fresh(dec)
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
            if dec.hyp() is None:
                raise AlignmentFailed("no alignment path fits the audio")
            dec.set_alignment()
            _fresh(dec)
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
            alignment = dec.get_alignment()
        except RuntimeError as err:
            raise AlignmentFailed(str(err)) from None
        if alignment is None:
            raise AlignmentFailed("pocketsphinx returned no alignment")
        phones, out_words = _read_alignment(alignment, espeak)
    if not out_words:
        raise AlignmentFailed("the alignment contains no words")
    return phones, out_words, warnings


def _read_alignment(alignment, espeak: dict):
    """Alignment entries -> Phones and Words; stress from espeak on the chosen variant."""
    phones: list[Phone] = []
    words: list[Word] = []
    for w in alignment:
        name = _clean_word(w.name)
        start = w.start / FRAME_RATE
        end = (w.start + w.duration) / FRAME_RATE
        if name is not None:
            words.append(Word(text=name, start=start, end=end))
        entries = list(w)
        labels = [_clean_label(p.name) for p in entries]
        flags = textnorm.transfer_stress(labels, espeak.get(name), name) if name else []
        for i, (p, label) in enumerate(zip(entries, labels, strict=True)):
            stressed = bool(label in VOWELS and i < len(flags) and flags[i])
            phones.append(
                Phone(
                    label=label,
                    start=p.start / FRAME_RATE,
                    end=(p.start + p.duration) / FRAME_RATE,
                    word=name,
                    stressed=stressed,
                )
            )
    return phones, words


# ------------------------------------------------------------------ phone loop
def phone_loop(
    x: np.ndarray,
    regions: Sequence[tuple[float, float]],
    progress: Callable[[float], None] | None = None,
) -> list[Phone]:
    """Free phone recognition inside each (start, end) region, in seconds."""
    phones: list[Phone] = []
    total = sum(b - a for a, b in regions) or 1.0
    done = 0.0
    for a, b in regions:
        s0, s1 = int(a * SAMPLE_RATE), min(len(x), int(b * SAMPLE_RATE))
        if s1 - s0 < SAMPLE_RATE // 10:  # < 0.1 s: too short to hold a phone sequence
            continue
        pcm = _pcm16(x[s0:s1], seed=s0)
        with _lock:
            dec = _decoder("loop")
            try:
                _fresh(dec)
                dec.start_utt()
                dec.process_raw(pcm, full_utt=True)
                dec.end_utt()
            except RuntimeError as err:
                log.warning("phone decoding failed for %.1f-%.1f s: %s", a, b, err)
                continue
            segs = list(dec.seg() or [])
        for s in segs:
            label = _clean_label(s.word)
            start = a + s.start_frame / FRAME_RATE
            end = a + (s.end_frame + 1) / FRAME_RATE
            if end > start:
                phones.append(Phone(label=label, start=start, end=min(end, b)))
        done += b - a
        if progress is not None:
            progress(done / total)
    return phones
