"""`render`: portrait + audio -> MP4 (one-shot), or render a project's timeline.

With `--portrait` and `--audio` it renders directly (no project). Without them it renders
the stale or missing segments of a project's timeline (see studio.cli.project_render).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import InputError
from core.types import EMOTIONS, EXPRESSION_RANGES, Expression, TextEdit, check_expression_value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="render a talking-head video (one-shot, or a project's timeline)",
        description="One-shot: render --portrait P --audio A [--out OUT.mp4]. "
        "Project: render [--project P] [--timeline T] [--segment S].",
    )
    one = p.add_argument_group("one-shot render")
    one.add_argument("--portrait", type=Path, help="portrait image (JPEG, PNG, ...)")
    one.add_argument("--audio", type=Path, help="speech recording (WAV, FLAC, OGG, MP3, M4A)")
    tx = one.add_mutually_exclusive_group()
    tx.add_argument("--transcript", help="the words spoken (improves lip sync)")
    tx.add_argument("--transcript-file", type=Path, help="a text file with the words spoken")
    one.add_argument("--out", type=Path, help="output MP4 (default: out/<portrait>_<audio>.mp4)")
    one.add_argument("--size", type=int, default=512, help="output size in pixels, 256-1024 (default 512)")
    one.add_argument("--fps", type=float, default=25.0, help="frames per second (default 25)")
    one.add_argument("--seed", type=int, default=0, help="seed for blinks, head motion and noise")
    one.add_argument("--smile", type=float, default=0.0, help="-1 (frown) .. 1 (smile)")
    one.add_argument("--brows", type=float, default=0.0, help="-1 (lowered) .. 1 (raised)")
    one.add_argument("--head-motion", type=float, default=1.0, help="0 (still) .. 2 (animated)")
    one.add_argument("--blink-rate", type=float, default=1.0, help="0 (never) .. 3 (often)")
    one.add_argument("--emotion", default="neutral",
                     help="emotion: " + ", ".join(EMOTIONS) + " (default neutral)")
    for name in ("intensity", "expressiveness", "gaze"):
        r = EXPRESSION_RANGES[name]
        one.add_argument(f"--{name}", type=float, default=r.default,
                         help=f"{r.label}, {r.min:g}-{r.max:g} (default {r.default:g})")
    one.add_argument("--landmarks", type=Path, help="JSON with 5 or 68 [x, y] face points, for portraits where no face is found")
    one.add_argument("--crf", type=int, default=18, help="H.264 quality, 0-51, lower is better (default 18)")
    p.add_argument("--engine", help="engine: warp (default, CPU) or diffusion")
    diff = p.add_argument_group("diffusion engine")
    diff.add_argument("--weights", type=Path, help="weights folder for the diffusion engine")
    diff.add_argument("--device", default=None, help="cpu, cuda (default: cuda when present)")
    diff.add_argument("--prompt", default="", help="text edit, e.g. 'wearing glasses'")
    diff.add_argument("--negative-prompt", default="")
    diff.add_argument("--text-scale", type=float, default=None, help="weight of the text edit")
    diff.add_argument("--steps", type=int, default=None, help="denoising steps")
    diff.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    proj = p.add_argument_group("project render")
    proj.add_argument("--project", help="project folder or name")
    proj.add_argument("--timeline", type=int, help="timeline id (default: the latest)")
    proj.add_argument("--segment", type=int, help="render only this segment id")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> dict:
    settings: dict = {}
    if args.weights is not None:
        settings["weights"] = str(args.weights)
    if args.device:
        settings["device"] = args.device
    for name in ("text_scale", "steps", "guidance"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    return settings


def _expression(args: argparse.Namespace) -> Expression:
    """The one-shot's Expression: the flags (emotion and the newer controls validated
    against core.types' ranges table, one clear line when out of range), then the emotion
    words of --prompt where the flags stay at their defaults."""
    from core.motion.emotion_words import apply_prompt

    values = {"emotion": args.emotion, "intensity": args.intensity,
              "expressiveness": args.expressiveness, "gaze": args.gaze}
    for name, value in values.items():
        try:
            check_expression_value(name, value)
        except ValueError as err:
            raise InputError(None, f"--{name}: {err}") from None
    ex = Expression(args.smile, args.brows, args.head_motion, args.blink_rate, **values)
    return apply_prompt(ex.clamped(), args.prompt)


def run(args: argparse.Namespace) -> int:
    if args.portrait is None and args.audio is None:
        from studio.cli.project_render import render_timeline

        return render_timeline(args)
    if args.portrait is None or args.audio is None:
        raise InputError(None, "a one-shot render needs both --portrait and --audio")

    from studio.cli.common import read_transcript
    from studio.cli.progress import progress_bar
    from studio.oneshot import OneShotJob, render_oneshot

    expression = _expression(args)
    transcript = read_transcript(args.transcript, args.transcript_file)
    out = args.out
    if out is None:  # the default folder is ours to create; a folder the user named is not
        out = Path("out") / f"{args.portrait.stem}_{args.audio.stem}.mp4"
        out.parent.mkdir(exist_ok=True)
    job = OneShotJob(
        portrait=args.portrait,
        audio=args.audio,
        out=out,
        transcript=transcript or None,
        landmarks=args.landmarks,
        size=args.size,
        fps=args.fps,
        engine=args.engine or "warp",
        seed=args.seed,
        expression=expression,
        text=TextEdit(prompt=args.prompt, negative_prompt=args.negative_prompt),
        settings=_settings(args),
        crf=args.crf,
    )
    if not 0 <= job.crf <= 51:
        raise InputError(None, f"--crf {job.crf} is out of range: use 0-51")
    with progress_bar("render", enabled=not args.quiet) as progress:
        result = render_oneshot(job, progress=progress)
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(result.out)
    return 0
