"""`visemes`: timed mouth shapes for other lip-sync tools (Rhubarb TSV, or our JSON).

    python main.py visemes --audio speech.wav [--transcript "the words" |
        --transcript-file words.txt] --format rhubarb-tsv|json --out mouth.tsv

rhubarb-tsv is byte-compatible with Rhubarb Lip Sync's TSV export (`0.00<TAB>X` ...);
json holds Rhubarb's `mouthCues` plus phones, our 15 visemes and words. With a transcript
the phones are force-aligned (reliable); without, they come from phone recognition.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.errors import InputError

FORMATS = ("rhubarb-tsv", "json")
MAX_AUDIO_S = 3600.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "visemes", help="export timed mouth shapes (Rhubarb A-H/X TSV, or JSON)",
        description="Export timed mouth shapes of a speech recording for lip-sync tools.")
    p.add_argument("--audio", type=Path, required=True, help="the speech recording")
    tx = p.add_mutually_exclusive_group()
    tx.add_argument("--transcript", help="the words spoken (enables forced alignment)")
    tx.add_argument("--transcript-file", type=Path, help="a text file with the words spoken")
    p.add_argument("--format", choices=FORMATS,
                   help="output format (default: from --out: .json -> json, else rhubarb-tsv)")
    p.add_argument("--out", "-o", type=Path, required=True, help="the file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import core.audio as ca
    from core.fsutil import atomic_path
    from core.lipsync import lipsync_json, mouth_cues, to_rhubarb_tsv
    from core.video import check_writable
    from studio.cli.common import read_transcript

    fmt = args.format or ("json" if args.out.suffix.lower() == ".json" else "rhubarb-tsv")
    out = check_writable(args.out)
    transcript = read_transcript(args.transcript, args.transcript_file)
    if transcript is not None and len(transcript) > 100_000:
        raise InputError(args.transcript_file, "the transcript is too long (100000 characters"
                         " at most)")
    wave = ca.load(args.audio, max_seconds=MAX_AUDIO_S)
    feats = ca.analyze(wave, fps=100.0, transcript=transcript)
    cues = mouth_cues(feats.phones, feats.duration)
    if fmt == "json":
        text = json.dumps(lipsync_json(feats, cues, source=str(args.audio)), indent=1)
    else:
        text = to_rhubarb_tsv(cues)
    with atomic_path(out, suffix=out.suffix or ".txt") as tmp:
        tmp.write_text(text, encoding="utf-8")
    how = "force-aligned" if feats.aligned else "phone recognition"
    print(f"{out}: {len(cues)} mouth cues over {feats.duration:.2f} s ({fmt}, {how}, "
          f"{len(feats.phones)} phones)")
    return 0
