"""`evaluate`: measure a rendered talking-head video (lip-sync, identity, blinks, jitter, head
pose in degrees, brow and gaze motion...).

    python main.py evaluate out.mp4 --portrait face.jpg [--audio speech.wav]
        [--transcript "the words" | --transcript-file words.txt] [--json] [--sheet sheet.png]

Without --audio the video's own audio track is used. Prints a table (metric, value, target,
PASS/FAIL) or, with --json, the full result: "metrics" (value, target, pass, note), a flat
"summary" (head_yaw_std, head_pitch_std, head_roll_std, head_motion, brow_std, gaze_std,
lipsync_r_bp, ...) and per-frame series (mouth opening, head pose, brow raise, gaze).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure a talking-head video: lip-sync, identity, blinks, head pose, brows, gaze",
        description="Measure a rendered talking-head video against its portrait and speech.",
    )
    p.add_argument("video", type=Path, help="the video to measure (MP4)")
    p.add_argument("--portrait", type=Path, required=True, help="the portrait it was made from")
    p.add_argument("--audio", type=Path, help="the speech (default: the video's own audio)")
    tx = p.add_mutually_exclusive_group()
    tx.add_argument("--transcript", help="the words spoken (enables the bilabial-closure check)")
    tx.add_argument("--transcript-file", type=Path, help="a text file with the words spoken")
    p.add_argument("--fps", type=float, help="override the video's frame rate")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--sheet", type=Path, help="write a contact sheet PNG of 16 frames here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.evaluate import evaluate, format_table
    from studio.cli.common import read_transcript

    transcript = read_transcript(args.transcript, args.transcript_file)
    result = evaluate(args.video, args.portrait, audio_path=args.audio, transcript=transcript,
                      fps=args.fps, sheet=args.sheet)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0
