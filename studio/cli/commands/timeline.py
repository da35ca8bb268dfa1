"""`timeline new|show`: a portrait + an audio track, split into segments at pauses."""

from __future__ import annotations

from studio.cli.common import add_project_arg, int_arg, open_project, pick_timeline


def register(sub) -> None:
    p = sub.add_parser("timeline", help="create and show timelines")
    s = p.add_subparsers(dest="timeline_cmd", metavar="ACTION", required=True)

    n = s.add_parser("new", help="create a timeline (split at pauses into 2-8 s segments)")
    n.add_argument("--portrait", required=True, metavar="ID")
    n.add_argument("--audio", required=True, metavar="ID")
    n.add_argument("--engine", default="warp")
    n.add_argument("--fps", default="25")
    n.add_argument("--size", default="512")
    n.add_argument("--preset", default=None, metavar="NAME_OR_ID")
    n.add_argument("--seed", default="0")
    n.add_argument("--name", default=None)
    add_project_arg(n)
    n.set_defaults(func=_new)

    sh = s.add_parser("show", help="segments of a timeline and their render state")
    sh.add_argument("--timeline", "-t", default=None, metavar="ID",
                    help="default: the latest timeline")
    add_project_arg(sh)
    sh.set_defaults(func=_show)


def _new(args) -> int:
    with open_project(args) as project:
        preset_id = project.find_preset(args.preset).id if args.preset else None
        tl = project.new_timeline(
            int_arg(args.portrait, "portrait id"), int_arg(args.audio, "audio id"),
            engine=args.engine, fps=int_arg(args.fps, "fps"), size=int_arg(args.size, "size"),
            preset_id=preset_id, seed=int_arg(args.seed, "seed"), name=args.name)
        segs = project.segments(tl.id)
        print(f"created timeline {tl.id} '{tl.name}': {tl.n_frames} frames "
              f"({tl.duration:.2f}s) at {tl.fps} fps, {tl.size}px, engine {tl.engine}, "
              f"{len(segs)} segments")
        _print_segments(segs, tl.fps)
    return 0


def _print_segments(segs, fps) -> None:
    for s in segs:
        o = s.overrides
        extra = []
        if o.preset_id is not None:
            extra.append(f"preset={o.preset_id}")
        if o.seed is not None:
            extra.append(f"seed={o.seed}")
        if o.expression is not None:
            e = o.expression
            extra.append(f"expr(smile={e.smile:+.2f},brows={e.brows:+.2f},"
                         f"head={e.head_motion:.2f},blink={e.blink_rate:.2f})")
        prog = f" {s.progress * 100:.0f}%" if s.state == "rendering" else ""
        print(f"  segment {s.id:5d}  #{s.index:<3d} frames {s.start:6d}-{s.end:<6d} "
              f"{s.start / fps:7.2f}-{s.end / fps:<7.2f}s  {s.state}{prog}"
              + (f"  [{' '.join(extra)}]" if extra else ""))


def _show(args) -> int:
    with open_project(args) as project:
        tl = project.timeline(pick_timeline(project, args.timeline))
        segs = project.segments(tl.id)
        counts = {}
        for s in segs:
            counts[s.state] = counts.get(s.state, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        preset = f", preset {tl.preset_id}" if tl.preset_id else ""
        print(f"timeline {tl.id} '{tl.name}': portrait {tl.portrait_id}, audio {tl.audio_id}, "
              f"{tl.engine}, {tl.size}px, {tl.fps} fps, {tl.n_frames} frames "
              f"({tl.duration:.2f}s), seed {tl.seed}{preset}; {len(segs)} segments: {summary}")
        _print_segments(segs, tl.fps)
    return 0
