"""`render`: portrait + audio -> MP4 (one-shot), or render a project's timeline.

With `--portrait` and `--audio` it renders directly (no project). Without them it renders
the stale or missing segments of a project's timeline (see studio.cli.project_render).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import InputError
from core.types import (
    EMOTIONS,
    EXPRESSION_RANGES,
    FPS_RANGE,
    SIZE_RANGE,
    Expression,
    TextEdit,
    check_expression_value,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="render a talking-head video (one-shot, or a project's timeline)",
        description="One-shot: render --portrait P --audio A [--out OUT.mp4]. "
        "Project: render [--project P] [--timeline T] [--segment S]; there --size, --seed, "
        "--engine and the diffusion options change the timeline, expression flags make a "
        "preset (or a --segment override), --transcript/--landmarks update the assets, "
        "--device applies to this run and --out exports afterwards (each says so); "
        "flags that make no sense for a project are refused.",
    )
    one = p.add_argument_group("one-shot render")
    one.add_argument("--portrait", type=Path, help="portrait image (JPEG, PNG, ...)")
    one.add_argument("--audio", type=Path, help="speech recording (WAV, FLAC, OGG, MP3, M4A)")
    tx = one.add_mutually_exclusive_group()
    tx.add_argument("--transcript", help="the words spoken (improves lip sync)")
    tx.add_argument("--transcript-file", type=Path, help="a text file with the words spoken")
    sc = one.add_mutually_exclusive_group()
    sc.add_argument("--script", default=None,
                    help="words to speak with a neural voice (instead of --audio)")
    sc.add_argument("--script-file", type=Path, default=None,
                    help="a text file of words to speak (instead of --audio)")
    one.add_argument("--voice", default=None, help="with --script: the voice (default: the "
                     "bundled neural voice)")
    one.add_argument("--rate", type=float, default=None,
                     help="with --script: speaking rate 0.5..2 (default 1)")
    one.add_argument("--out", type=Path, help="output MP4 (default: out/<portrait>_<audio>.mp4)")
    one.add_argument("--size", type=int, default=None, help=f"output size in pixels, even, {SIZE_RANGE.min:g}-{SIZE_RANGE.max:g} (default {SIZE_RANGE.default:g}; the warp engine renders 256-1024)")
    one.add_argument("--fps", type=float, default=None, help=f"frames per second, {FPS_RANGE.min:g}-{FPS_RANGE.max:g} (default {FPS_RANGE.default:g})")
    one.add_argument("--seed", type=int, default=None, help="seed for blinks, head motion and noise (default 0)")
    one.add_argument("--smile", type=float, default=None, help="-1 (frown) .. 1 (smile)")
    one.add_argument("--brows", type=float, default=None, help="-1 (lowered) .. 1 (raised)")
    one.add_argument("--head-motion", type=float, default=None, help="0 (still) .. 2 (animated)")
    one.add_argument("--blink-rate", type=float, default=None, help="0 (never) .. 3 (often)")
    one.add_argument("--emotion", default=None,
                     help="emotion: " + ", ".join(EMOTIONS) + " (default neutral)")
    for name in ("intensity", "expressiveness", "gaze"):
        r = EXPRESSION_RANGES[name]
        one.add_argument(f"--{name}", type=float, default=None,
                         help=f"{r.label}, {r.min:g}-{r.max:g} (default {r.default:g})")
    one.add_argument("--landmarks", type=Path, help="JSON with 5 or 68 [x, y] face points, for portraits where no face is found")
    one.add_argument("--crf", type=int, default=None, help="H.264 quality, 0-51, lower is better (default 18)")
    p.add_argument("--engine", help="engine: warp (default, CPU) or diffusion")
    diff = p.add_argument_group("diffusion engine")
    diff.add_argument("--weights", type=Path, help="weights folder for the diffusion engine")
    diff.add_argument("--device", default=None, help="cpu, cuda (default: cuda when present)")
    diff.add_argument("--prompt", default=None, help="text edit, e.g. 'wearing glasses'")
    diff.add_argument("--negative-prompt", default=None)
    diff.add_argument("--text-scale", type=float, default=None, help="weight of the text edit")
    diff.add_argument("--steps", type=int, default=None, help="denoising steps")
    diff.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    diff.add_argument("--guides", choices=("tracked", "plan"), default=None,
                      help="motion-prior guides: the plan as the Face Mesh tracks it on the "
                      "warp render (default, as training guides are made) or the plan's "
                      "own landmarks")
    proj = p.add_argument_group("project render")
    proj.add_argument("--project", help="project folder or name")
    proj.add_argument("--timeline", type=int, help="timeline id (default: the latest)")
    proj.add_argument("--segment", type=int, help="render only this segment id")
    proj.add_argument("--cluster", metavar="auto|local[:N]|ray://HOST:PORT",
                      help="render the segments as tasks on a Ray cluster: auto (a running "
                      "cluster, else a local one), local[:N] (N CPU workers on this machine) "
                      "or ray://HOST:10001 (needs: pip install 'avatar-studio[cluster]')")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> dict:
    """The engine options given on the command line (weights, device, text_scale, steps,
    guidance, guides)."""
    settings: dict = {}
    if args.weights is not None:
        settings["weights"] = str(args.weights)
    if args.device:
        settings["device"] = args.device
    for name in ("text_scale", "steps", "guidance", "guides"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    return settings


def _expression(args: argparse.Namespace) -> Expression:
    """The one-shot's Expression: the flags (emotion and the newer controls validated
    against core.types' ranges table, one clear line when out of range), then the emotion
    words of --prompt where the flags stay at their defaults."""
    from core.motion.emotion_words import apply_prompt

    values = {"emotion": args.emotion or "neutral"}
    for name in ("intensity", "expressiveness", "gaze"):
        v = getattr(args, name)
        values[name] = EXPRESSION_RANGES[name].default if v is None else v
    for name, value in values.items():
        try:
            check_expression_value(name, value)
        except ValueError as err:
            raise InputError(None, f"--{name}: {err}") from None
    legacy = {k: EXPRESSION_RANGES[k].default if getattr(args, k) is None else getattr(args, k)
              for k in ("smile", "brows", "head_motion", "blink_rate")}
    ex = Expression(**legacy, **values)
    return apply_prompt(ex.clamped(), args.prompt or "")


def _script_text(args: argparse.Namespace) -> str | None:
    """The --script/--script-file words (None when neither is given)."""
    if args.script_file is not None:
        from core.tts import MAX_TEXT_CHARS
        from studio.cli.commands.speak import _read_text

        return _read_text(args.script_file, MAX_TEXT_CHARS)
    if args.script is None and (args.voice is not None or args.rate is not None):
        raise InputError(None, "--voice and --rate are for --script")
    return args.script


def run(args: argparse.Namespace) -> int:
    script = _script_text(args)
    if script is not None:
        if args.audio is not None or args.transcript or args.transcript_file:
            raise InputError(None, "--script makes the audio: leave out --audio and "
                             "--transcript")
        if args.portrait is None:
            raise InputError(None, "--script makes a one-shot render: give --portrait too")
        return _run_script(args, script)
    if args.portrait is None and args.audio is None:
        from studio.cli.project_render import render_timeline

        return render_timeline(args)
    for flag in ("project", "timeline", "segment", "cluster"):
        if getattr(args, flag) is not None:
            raise InputError(None, f"--{flag} renders a project; --portrait/--audio make a "
                             "one-shot render: give one or the other")
    if args.portrait is None or args.audio is None:
        raise InputError(None, "a one-shot render needs both --portrait and --audio")

    from studio.cli.common import read_transcript
    from studio.cli.progress import progress_bar
    from studio.engines import EngineOptions
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
        size=int(SIZE_RANGE.default) if args.size is None else args.size,
        fps=FPS_RANGE.default if args.fps is None else args.fps,
        engine=args.engine or "warp",
        seed=0 if args.seed is None else args.seed,
        expression=expression,
        text=TextEdit(prompt=args.prompt or "", negative_prompt=args.negative_prompt or ""),
        settings=EngineOptions.from_dict(_settings(args)),
        crf=18 if args.crf is None else args.crf,
    )
    with progress_bar("render", enabled=not args.quiet) as progress:
        result = render_oneshot(job, progress=progress)
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(result.out)
    return 0


def _run_script(args: argparse.Namespace, script: str) -> int:
    """Synthesise the script (core.tts), then the usual one-shot render with the script as
    the transcript; the speech WAV lives in a temp folder removed afterwards."""
    import tempfile

    import soundfile as sf

    from core.tts import synthesize

    speech = synthesize(script, voice=args.voice, rate=1.0 if args.rate is None else args.rate)
    for w in speech.warnings:
        print(f"warning: {w}")
    if args.out is None:
        args.out = Path("out") / f"{args.portrait.stem}_script.mp4"
        args.out.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="avatar-script-") as tmp:
        wav = Path(tmp) / "speech.wav"
        sf.write(wav, speech.samples, speech.sample_rate, subtype="PCM_16")
        args.audio = wav
        args.transcript = " ".join(s.text for s in speech.sentences)
        args.script = args.script_file = None
        return run(args)
