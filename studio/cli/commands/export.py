"""`export`: the timeline as one MP4 (renders what is missing first)."""

from __future__ import annotations

from studio.cli.common import add_project_arg, int_arg, open_project, pick_timeline


def register(sub) -> None:
    p = sub.add_parser("export", help="write the timeline as an MP4 (H.264 + AAC)")
    p.add_argument("--timeline", "-t", default=None, metavar="ID",
                   help="default: the latest timeline")
    p.add_argument("--out", "-o", default=None, metavar="FILE",
                   help="default: exports/<timeline name>.mp4 in the project")
    p.add_argument("--size", default=None, help="side in pixels (default: the timeline's)")
    p.add_argument("--fps", default=None, help="frame rate (default: the timeline's)")
    p.add_argument("--crf", default="18", help="quality 0..51, lower is better (default 18)")
    p.add_argument("--captions", choices=("srt", "vtt"), default=None,
                   help="write captions beside the video (same name, .srt/.vtt)")
    p.add_argument("--burn-captions", action="store_true", help="draw captions into the video")
    p.add_argument("--caption-size", type=float, default=0.055,
                   help="caption text height: fraction of the frame height (<1) or pixels")
    p.add_argument("--caption-position", choices=("top", "bottom"), default="bottom")
    p.add_argument("--caption-font", default=None, metavar="TTF",
                   help="a TTF/OTF font file (default DejaVu Sans Bold)")
    p.add_argument("--aspect", choices=("16:9", "9:16", "1:1"), default=None,
                   help="frame the head on a 16:9, 9:16 or 1:1 canvas (rule of thirds)")
    p.add_argument("--height", default="720", help="with --aspect: 720 or 1080 (short side)")
    p.add_argument("--fill", default="blur",
                   help="with --aspect: blur, color:#RRGGBB or image:PATH")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_project_arg(p)
    p.set_defaults(func=_export)


def _export(args) -> int:
    import time

    from tqdm import tqdm

    size = None if args.size is None else int_arg(args.size, "size")
    fps = None if args.fps is None else int_arg(args.fps, "fps")
    crf = int_arg(args.crf, "crf")
    extras = _extras(args)
    with open_project(args) as project:
        tl = project.timeline(pick_timeline(project, args.timeline))
        t0 = time.perf_counter()
        bar = None  # created on the first progress report, so a bad option prints one line

        def progress(f, m):
            nonlocal bar
            if args.quiet:
                return
            if bar is None:
                bar = tqdm(total=1000, unit="‰", desc="export", leave=False)
            bar.n = int(f * 1000)
            bar.set_postfix_str(m[:40], refresh=False)
            bar.refresh()

        try:
            out = project.export_video(tl.id, args.out, size=size, fps=fps, crf=crf,
                                       progress=progress, extras=extras)
        finally:
            if bar is not None:
                bar.close()
        dt = time.perf_counter() - t0
        print(f"exported timeline {tl.id} ({tl.duration:.2f}s) to {out} in {dt:.1f}s")
    return 0


def _extras(args):
    """The captions/framing options as studio.export_post.ExportExtras (None: none)."""
    from pathlib import Path

    from core.captions import CaptionStyle
    from core.errors import InputError
    from studio.export_post import ExportExtras, Framing

    if args.aspect is None and (args.fill != "blur" or args.height != "720"):
        raise InputError(None, "--fill and --height frame the video: give --aspect too")
    if args.caption_font is not None and not Path(args.caption_font).is_file():
        raise InputError(Path(args.caption_font), "font file not found")
    if not 0 < args.caption_size <= 400:
        raise InputError(None, f"--caption-size must be > 0, got {args.caption_size}")
    framing = None if args.aspect is None else Framing.parse(args.aspect, args.height,
                                                             args.fill)
    if args.captions is None and not args.burn_captions and framing is None:
        return None
    style = CaptionStyle(font=args.caption_font, size=args.caption_size,
                         position=args.caption_position)
    return ExportExtras(captions=args.captions, burn=args.burn_captions, style=style,
                        framing=framing)
