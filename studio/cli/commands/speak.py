"""`speak`: text -> speech WAV with the offline TTS (Piper neural voice, espeak-ng fallback).

    python main.py speak --text "Hello there." --out speech.wav [--voice V] [--rate 1.1]
    python main.py speak --text-file script.txt --out speech.wav [--timings words.json]
    python main.py speak --list-voices

The WAV is written atomically at the voice's native rate (22.05 kHz for the bundled voice).
--timings writes the sentence spans and word timings as JSON (for captions/lip-sync).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.errors import InputError

_AUDIO_SUFFIXES = {".wav": "WAV", ".flac": "FLAC"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "speak", help="synthesise speech from text (offline neural voice)",
        description="Synthesise speech from text with an offline voice. Word timings come "
        "from forced alignment of the synthesised audio.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--text", help="the words to speak")
    src.add_argument("--text-file", type=Path, help="a UTF-8 text file with the words")
    p.add_argument("--out", "-o", type=Path, help="output audio file (.wav or .flac)")
    p.add_argument("--voice", help="voice id (see --list-voices), 'espeak', or a .onnx path")
    p.add_argument("--rate", type=float, default=1.0, help="speaking rate, 0.5-2.0 (1 = normal)")
    p.add_argument("--timings", type=Path, help="also write word/sentence timings (JSON) here")
    p.add_argument("--list-voices", action="store_true", help="list the voices and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.tts import MAX_TEXT_CHARS, list_voices, synthesize, user_voices_dir
    from core.tts.synth import prepare_voice

    if args.list_voices:
        for v in list_voices():
            print(f"{v.id}\t{v.engine}\t{v.label}")
        print(f"(add Piper voices as <name>.onnx + <name>.onnx.json in {user_voices_dir()})",
              file=sys.stderr)
        return 0
    if args.text is None and args.text_file is None:
        raise InputError(None, "give --text or --text-file (or --list-voices)")
    if args.out is None:
        raise InputError(None, "give --out, the audio file to write (.wav)")
    out = _check_out(args.out)
    if args.timings is not None:
        _check_out(args.timings, json_file=True)
    text = args.text if args.text is not None else _read_text(args.text_file, MAX_TEXT_CHARS)
    t0 = time.perf_counter()
    prepare_voice(args.voice)
    load = time.perf_counter() - t0
    speech = synthesize(text, voice=args.voice, rate=args.rate)
    wall = time.perf_counter() - t0 - load
    for w in speech.warnings:
        print(f"warning: {w}", file=sys.stderr)
    _write_audio(out, speech.samples, speech.sample_rate)
    if args.timings is not None:
        _write_json(args.timings, timings_json(speech))
    rtf = wall / max(1e-9, speech.duration)
    print(f"{out}: {speech.duration:.2f} s of speech, voice {speech.voice} ({speech.engine}), "
          f"{len(speech.sentences)} sentence(s), {len(speech.words)} words; synthesised in "
          f"{wall:.2f} s (real-time factor {rtf:.2f}; voice loaded in {load:.2f} s)")
    return 0


def timings_json(speech) -> dict:
    """The timings file: voice, rate, duration, sentences with spans, words."""
    return {
        "voice": speech.voice, "engine": speech.engine, "sample_rate": speech.sample_rate,
        "duration": round(speech.duration, 3),
        "sentences": [{"text": s.text, "start": round(a, 3), "end": round(b, 3),
                       "timing": s.timing} for s, (a, b) in zip(speech.sentences, speech.spans,
                                                                strict=True)],
        "words": [{"text": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
                  for w in speech.words],
    }


def _read_text(path: Path, limit: int) -> str:
    """The text file, refused (one line) when missing, binary or over the length limit."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit * 4 + 1)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a text file") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit * 4:
        raise InputError(path, f"is too long; the limit is {limit} characters per synthesis")
    if b"\x00" in data:
        raise InputError(path, "is not a text file (binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "is not UTF-8 text") from None
    if len(text.strip()) > limit:
        raise InputError(path, f"has {len(text.strip())} characters; the limit is {limit} "
                         "per synthesis (split the script)")
    if not text.strip():
        raise InputError(path, "is empty; there is no text to speak")
    return text


def _check_out(path: Path, json_file: bool = False) -> Path:
    from core.video import check_writable

    if not json_file and path.suffix.lower() not in _AUDIO_SUFFIXES:
        raise InputError(path, "the output must end in .wav or .flac")
    return check_writable(path)


def _write_audio(out: Path, samples, rate: int) -> None:
    import numpy as np
    import soundfile as sf

    from core.fsutil import atomic_path

    with atomic_path(out, suffix=out.suffix.lower()) as tmp:
        sf.write(str(tmp), np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16",
                 format=_AUDIO_SUFFIXES[out.suffix.lower()])


def _write_json(path: Path, data: dict) -> None:
    from core.fsutil import atomic_path

    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
