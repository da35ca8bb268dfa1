"""What `render --project P` does with the one-shot flags: each is honoured on the
project (and says so) or refused with one line; none is silently ignored.

- timeline settings: --size, --seed, --engine and the diffusion options --weights,
  --steps, --guidance, --text-scale, --guides change the timeline (its stale segments re-render);
- --fps: a timeline's frame rate is fixed when it is made (its frames index the audio):
  refused unless it equals the timeline's (`export --fps` changes an export's rate);
- expression flags and --prompt/--negative-prompt: without --segment they become the
  timeline's preset (a new preset derived from its current one: presets store smile,
  brows, head motion and blink rate, so --emotion/--intensity/--expressiveness/--gaze
  are refused there); with --segment every expression flag becomes that segment's
  override (prompts, which only presets carry, are refused there);
- --transcript/--transcript-file set the audio's transcript, --landmarks the portrait's
  landmarks (both re-render the segments they change);
- --device applies to this run's engines only (it changes no frame);
- --out exports the timeline after rendering, --crf is that export's quality (refused
  without --out).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import InputError
from core.types import EXPRESSION_RANGES, check_expression_value
from studio.records import TimelineInfo

PRESET_FIELDS = ("smile", "brows", "head_motion", "blink_rate")
SEGMENT_ONLY_FIELDS = ("emotion", "intensity", "expressiveness", "gaze")
ENGINE_SETTING_FLAGS = {"weights": "weights", "steps": "steps", "guidance": "guidance",
                        "text_scale": "text_scale", "guides": "guides"}


@dataclass
class RenderFlags:
    """The outcome: the (maybe updated) timeline, engine options for this run, and the
    export to make afterwards."""

    timeline: TimelineInfo
    engine_options: dict = field(default_factory=dict)
    out: Path | None = None
    crf: int | None = None

    def export(self, project, quiet: bool) -> int:
        if self.out is None:
            return 0
        from studio.cli.progress import progress_bar

        kw = {} if self.crf is None else {"crf": self.crf}
        with progress_bar("export", enabled=not quiet) as progress:
            path = project.export_video(self.timeline.id, self.out, progress=progress, **kw)
        print(f"exported {path}")
        return 0


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _given(args, name: str):
    return getattr(args, name, None)


def apply_render_flags(project, tl: TimelineInfo, args) -> RenderFlags:
    """Apply or refuse every one-shot flag given with `render --project` (see module
    docstring). Refusals come before any change, so a refused command changes nothing."""
    seg_arg = _given(args, "segment")
    expr = {k: _given(args, k) for k in (*PRESET_FIELDS, *SEGMENT_ONLY_FIELDS)}
    expr = {k: v for k, v in expr.items() if v is not None}
    prompts = {k: _given(args, k) for k in ("prompt", "negative_prompt")}
    prompts = {k: v for k, v in prompts.items() if v is not None}

    # ---- refusals first (nothing changed yet)
    fps = _given(args, "fps")
    if fps is not None and float(fps) != float(tl.fps):
        raise InputError(None, f"--fps: timeline {tl.id} has {tl.fps} fps, fixed when it was "
                         "made (its frames index the audio); make a timeline with "
                         "'timeline new --fps N' or export at another rate with "
                         "'export --fps N'")
    if _given(args, "crf") is not None and _given(args, "out") is None:
        raise InputError(None, "--crf sets the quality of an export: give --out too (segment "
                         "renders always use crf 18)")
    if seg_arg is None:
        for k in SEGMENT_ONLY_FIELDS:
            if k in expr:
                raise InputError(None, f"{_flag(k)}: presets keep smile, brows, head motion "
                                 f"and blink rate only; set {_flag(k)} on one segment with "
                                 "--segment S")
    elif prompts:
        raise InputError(None, f"{_flag(next(iter(prompts)))}: prompts come from presets; "
                         "render without --segment to apply it to the timeline, or give the "
                         "segment a preset with 'segment set --preset'")
    for k, v in expr.items():
        try:
            check_expression_value(k, v)
        except ValueError as err:
            raise InputError(None, f"{_flag(k)}: {err}") from None

    # ---- assets
    said: list[str] = []
    transcript = None
    if _given(args, "transcript") is not None or _given(args, "transcript_file") is not None:
        from studio.cli.common import read_transcript

        transcript = read_transcript(args.transcript, args.transcript_file)
    landmarks = _given(args, "landmarks")
    if landmarks is not None:
        from studio import pipeline

        points = pipeline.load_landmarks(landmarks)
        project.set_portrait_landmarks(tl.portrait_id, points)
        said.append(f"portrait {tl.portrait_id}: landmarks set from {landmarks}")
    if transcript is not None:
        project.set_transcript(tl.audio_id, transcript)
        said.append(f"audio {tl.audio_id}: transcript set ({len(transcript.split())} words)")

    # ---- timeline settings
    changes: dict = {}
    engine = _given(args, "engine")
    if engine and engine != tl.engine:
        changes["engine"] = engine
    size = _given(args, "size")
    if size is not None and size != tl.size:
        changes["size"] = size
    seed = _given(args, "seed")
    if seed is not None and seed != tl.seed:
        changes["seed"] = seed
    settings = dict(tl.settings)
    for flag, key in ENGINE_SETTING_FLAGS.items():
        v = _given(args, flag)
        if v is not None:
            settings[key] = str(v) if isinstance(v, Path) else v
    if settings != tl.settings:
        changes["settings"] = settings
    if expr and seg_arg is None or prompts:
        changes["preset_id"] = _derived_preset(project, tl, expr, prompts).id
    if changes:
        tl = project.update_timeline(tl.id, **changes)
        for k, v in changes.items():
            what = f"preset '{project.preset(v).name}'" if k == "preset_id" else f"{k} {v}"
            said.append(f"timeline {tl.id}: {what} set")

    # ---- one segment's expression override
    if expr and seg_arg is not None:
        seg = project.segment(int(seg_arg))
        base = seg.overrides.expression or project.planner.base_expression(tl)
        new = replace(base, **{k: (v if k == "emotion" else float(v)) for k, v in expr.items()})
        project.set_segment_overrides(seg.id, expression=new)
        said.append(f"segment {seg.id}: expression override set "
                    f"({', '.join(f'{k} {v}' for k, v in expr.items())})")

    options = {}
    if _given(args, "device"):
        options["device"] = args.device
        said.append(f"engines of this run use device {args.device}")
    for line in said:
        print(line)
    out = _given(args, "out")
    return RenderFlags(tl, options, None if out is None else Path(out), _given(args, "crf"))


def _derived_preset(project, tl: TimelineInfo, expr: dict, prompts: dict):
    """A preset = the timeline's current one (or the defaults) with the flags on top; named
    after the timeline, re-used (updated) by the next `render --project` with flags."""
    base = project.preset(tl.preset_id) if tl.preset_id is not None else None
    name = f"render flags: timeline {tl.id}"
    values = {k: float(expr[k]) if k in expr else (
        getattr(base.expression, k) if base else EXPRESSION_RANGES[k].default)
        for k in PRESET_FIELDS}
    fields = {
        "prompt": prompts.get("prompt", base.prompt if base else ""),
        "negative_prompt": prompts.get("negative_prompt", base.negative_prompt if base else ""),
        "strength": base.strength if base else 1.0,
        **values,
    }
    existing = next((p for p in project.presets() if p.name == name), None)
    if existing is not None:
        return project.update_preset(existing.id, **fields)
    from core.types import Expression

    return project.add_preset(name, fields["prompt"], fields["negative_prompt"],
                              fields["strength"], Expression(**values))
