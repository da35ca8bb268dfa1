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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_project_arg(p)
    p.set_defaults(func=_export)


def _export(args) -> int:
    import time

    from tqdm import tqdm

    size = None if args.size is None else int_arg(args.size, "size")
    fps = None if args.fps is None else int_arg(args.fps, "fps")
    crf = int_arg(args.crf, "crf")
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
                                       progress=progress)
        finally:
            if bar is not None:
                bar.close()
        dt = time.perf_counter() - t0
        print(f"exported timeline {tl.id} ({tl.duration:.2f}s) to {out} in {dt:.1f}s")
    return 0
