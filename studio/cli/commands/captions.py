"""`captions`: subtitles (SRT/WebVTT) from timed words, optionally burned into a video.

    python main.py captions --audio speech.wav --transcript-file words.txt --out subs.srt
    python main.py captions --timings speech.json --out subs.vtt       # from `speak --timings`
    python main.py captions --subtitles subs.srt --burn video.mp4 --video-out captioned.mp4

Words come from forced alignment of the audio with its transcript (shown as the author
wrote them), or from a `speak --timings` file; an existing .srt/.vtt can be burned as is.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.errors import InputError

MAX_TIMINGS_BYTES = 20_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "captions", help="make SRT/WebVTT captions from speech, or burn them into a video",
        description="Make captions (<= 2 lines of 42 characters, sentence by sentence) from "
        "aligned words, and optionally burn them into an MP4 (audio kept).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--audio", type=Path, help="speech recording (needs a transcript)")
    src.add_argument("--timings", type=Path, help="word timings JSON from `speak --timings`")
    src.add_argument("--subtitles", type=Path, help="an existing .srt or .vtt to burn")
    tx = p.add_mutually_exclusive_group()
    tx.add_argument("--transcript", help="the words spoken")
    tx.add_argument("--transcript-file", type=Path, help="a text file with the words spoken")
    p.add_argument("--out", "-o", type=Path, help="write the captions here (.srt or .vtt)")
    p.add_argument("--burn", type=Path, metavar="VIDEO", help="burn the captions into VIDEO")
    p.add_argument("--video-out", type=Path, help="the captioned MP4 (with --burn)")
    p.add_argument("--position", choices=("bottom", "top"), default="bottom")
    p.add_argument("--font", help="a TTF/OTF font file (default DejaVu Sans Bold)")
    p.add_argument("--size", type=float, default=0.055,
                   help="text height: fraction of the frame height (<1) or pixels")
    p.add_argument("--box", action="store_true", help="draw a dark box behind the text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.captions import CaptionStyle, burn_video, make_cues, write_subtitles

    if args.out is None and args.burn is None:
        raise InputError(None, "give --out (captions file) and/or --burn VIDEO --video-out OUT")
    if args.burn is not None and args.video_out is None:
        raise InputError(None, "--burn needs --video-out, the MP4 to write")
    if args.out is not None and args.out.suffix.lower() not in (".srt", ".vtt"):
        raise InputError(args.out, "captions must end in .srt or .vtt")
    from core.video import check_writable

    for p in (args.out, args.video_out):
        if p is not None:
            check_writable(p)
    if args.subtitles is not None:
        cues = _read_subtitles(args.subtitles)
    else:
        words, duration = _words(args)
        cues = make_cues(words, duration=duration)
    if not cues:
        raise InputError(args.audio or args.timings, "no words to caption")
    if args.out is not None:
        write_subtitles(cues, args.out)
        print(f"{args.out}: {len(cues)} captions")
    if args.burn is not None:
        if not 0 < args.size <= 500:
            raise InputError(None, f"--size must be a fraction (<1) or pixels, got {args.size}")
        style = CaptionStyle(font=args.font, size=args.size, position=args.position,
                             box=(0, 0, 0, 160) if args.box else None)
        out = burn_video(args.burn, cues, args.video_out, style)
        print(f"{out}: captions burned into {args.burn.name}")
    return 0


def _words(args):
    from core.types import Word

    if args.timings is not None:
        data = _read_json(args.timings)
        try:
            words = [Word(str(w["text"]), float(w["start"]), float(w["end"]))
                     for w in data["words"]]
            duration = float(data["duration"]) if "duration" in data else None
        except (KeyError, TypeError, ValueError):
            raise InputError(args.timings, "is not a timings file from `speak --timings` "
                             "(needs words with text/start/end)") from None
        return words, duration
    import core.audio as ca
    from core.tts.wordmap import display_words
    from studio.cli.common import read_transcript

    text = read_transcript(args.transcript, args.transcript_file)
    if text is None:
        raise InputError(args.audio, "captions from audio need --transcript or "
                         "--transcript-file (the words spoken)")
    feats = ca.analyze(ca.load(args.audio, max_seconds=3600), fps=25.0, transcript=text)
    if not feats.aligned or not feats.words:
        raise InputError(args.audio, "the transcript could not be aligned to the speech")
    return display_words(text, feats.words), feats.duration


def _read_json(path: Path) -> dict:
    try:
        if path.stat().st_size > MAX_TIMINGS_BYTES:
            raise InputError(path, "is too large for a timings file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"is not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(path, "is not a timings file from `speak --timings`")
    return data


def _read_subtitles(path: Path):
    from core.captions import parse_subtitles

    try:
        if path.stat().st_size > MAX_TIMINGS_BYTES:
            raise InputError(path, "is too large for a subtitles file")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"is not a readable UTF-8 subtitles file ({exc})") from None
    try:
        return parse_subtitles(text)
    except ValueError as exc:
        raise InputError(path, f"is not an SRT/WebVTT file ({exc})") from None
