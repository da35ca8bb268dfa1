"""`reframe`: place a square talking-head video into 16:9, 9:16 or 1:1 (720p/1080p).

    python main.py reframe --video head.mp4 --aspect 9:16 --size 1080p --out tall.mp4
        [--fill blur|color|image] [--color "#202830"] [--image bg.jpg] [--zoom 1.1]
        [--eye-y PX --center-x PX] [--horizontal center|left|right]

Eyes go on the upper third line (found in the first frame unless given); the rest is a
blurred extension of the video, a colour or an image. The audio is kept.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from core.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    from core.framing import ASPECTS, FILLS, QUALITIES

    p = sub.add_parser("reframe", help="fit a talking-head video into 16:9, 9:16 or 1:1",
                       description="Place a talking-head video on a 16:9, 9:16 or 1:1 canvas "
                       "with the eyes on the upper third line.")
    p.add_argument("--video", type=Path, required=True, help="the rendered video (MP4)")
    p.add_argument("--aspect", choices=list(ASPECTS), default="16:9")
    p.add_argument("--size", choices=list(QUALITIES), default="720p")
    p.add_argument("--fill", choices=list(FILLS), default="blur")
    p.add_argument("--color", default="#000000", help="fill colour (#RRGGBB)")
    p.add_argument("--image", type=Path, help="background image for --fill image")
    p.add_argument("--zoom", type=float, default=1.0, help="enlarge the video (1 = fit)")
    p.add_argument("--eye-y", type=float, help="eye line in video pixels (default: detected)")
    p.add_argument("--center-x", type=float, help="face centre in video pixels")
    p.add_argument("--horizontal", choices=("center", "left", "right"), default="center")
    p.add_argument("--out", "-o", type=Path, required=True, help="the MP4 to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.framing import frame_video, output_size
    from core.video import check_writable

    check_writable(args.out)
    m = re.fullmatch(r"#?([0-9a-fA-F]{6})", args.color.strip())
    if not m:
        raise InputError(None, f"--color must be #RRGGBB, got '{args.color}'")
    color = tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))
    image = None
    if args.fill == "image":
        if args.image is None:
            raise InputError(None, "--fill image needs --image FILE")
        from core.image import load_image

        image = load_image(args.image)
    out = frame_video(args.video, args.out, args.aspect, args.size, eye_y=args.eye_y,
                      center_x=args.center_x, fill=args.fill, color=color, image=image,
                      zoom=args.zoom, horizontal=args.horizontal)
    w, h = output_size(args.aspect, args.size)
    print(f"{out}: {w}x{h} ({args.aspect}, {args.fill} fill)")
    return 0
