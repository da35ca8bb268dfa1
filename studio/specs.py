"""Render specs: everything that determines a segment's frames, and its hash.

A segment's render is reused while its spec hash is unchanged. What goes in:
- the timeline base: portrait content hash (+ user landmarks), audio content hash,
  transcript, engine + settings, size, fps, frame count, base preset values, base seed;
- the segment: its frame range and its own overrides (effective preset VALUES, not ids,
  so editing a preset re-renders exactly the segments that use it);
- neighbour context only for engines that need it (`context_frames` > 0, e.g. diffusion
  with overlapping windows): the context frame ranges denoised with the segment.
The motion planner guarantees frames outside a segment do not depend on that segment's
overrides, and the base plan covers the whole track, so a neighbour's edit never changes
this segment's hash. For diffusion, the initial noise depends on seed and frame only, so
segments rendered under the same settings meet without a seam; a segment re-rendered
under other settings is inpainted around its neighbours' current frames
(`studio.planning.neighbour_anchors`), which are not part of the hash.

Everything here is a PURE function of plain data (no database, no files): the timeline
store reads the rows once and hands them over, so specs are testable without a project
and built the same way for the segment list, a render plan and the queue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from core.types import EXPRESSION_RANGES, Expression, TextEdit
from studio.records import PresetInfo, SegmentInfo, SegmentOverrides, TimelineInfo

SPEC_VERSION = 3
"""Bump when the meaning of a spec changes (e.g. the planner or renders change), so old
renders become stale instead of being reused wrongly. 2: prosody-planned head, viseme-led
mouth, emotions. 3: brows/eyes on emphasis, livelier head within soft limits, blinks at
~23/min with doubles."""

_LEGACY_EXPRESSION = ("smile", "brows", "head_motion", "blink_rate")


def expression_dict(e: Expression | None) -> dict | None:
    """The expression as spec data. Controls added after the first four (emotion,
    intensity, expressiveness, gaze) appear only when they differ from their defaults, so
    the spec hashes of existing renders stay valid."""
    if e is None:
        return None
    default = asdict(Expression())
    out: dict = {}
    for k, v in asdict(e).items():
        if k not in _LEGACY_EXPRESSION and v == default[k]:
            continue
        out[k] = v if isinstance(v, str) else round(float(v), 6)
    return out


def expr_from_json(text: str | None) -> Expression | None:
    """A segment's stored expression override (None = no override)."""
    if not text:
        return None
    d = json.loads(text)
    kw: dict = {k: float(d[k]) for k in EXPRESSION_RANGES if k in d}
    if isinstance(d.get("emotion"), str):
        kw["emotion"] = d["emotion"]
    return Expression(**kw)


def expr_to_json(e: Expression | None) -> str | None:
    return None if e is None else json.dumps(expression_dict(e), sort_keys=True)


def render_expression(p: PresetInfo) -> Expression:
    """The expression a preset renders with: its controls plus the emotion words of its
    prompt ("smiling", "very sad"...) where the controls are left at their defaults, so
    the CPU engine honours the words too (core.motion.emotion_words)."""
    from core.motion.emotion_words import apply_prompt

    return apply_prompt(p.expression, p.prompt)


def spec_hash(spec: dict) -> str:
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _text_list(t: TextEdit) -> list:
    return [t.prompt, t.negative_prompt, round(t.strength, 6)]


class SegmentRow(NamedTuple):
    """A segment as stored: its range and its own overrides."""

    id: int
    start: int
    end: int
    preset_id: int | None
    seed: int | None
    expr_json: str | None

    @property
    def overrides_expression(self) -> Expression | None:
        return expr_from_json(self.expr_json)


@dataclass(frozen=True)
class SpecBase:
    """What every segment of a timeline shares (built by `spec_base`)."""

    spec: dict  # the hashed "base" part
    presets: Mapping[int, PresetInfo]
    context_frames: int
    uses_text: bool
    expression: Expression
    text: TextEdit
    seed: int
    n_frames: int


@dataclass(frozen=True)
class Effective:
    """A segment's overrides that actually differ from its timeline (None = as base)."""

    expression: Expression | None
    text: TextEdit | None
    seed: int | None


@dataclass(frozen=True)
class RenderPlan:
    """Everything needed to render one segment (built by the timeline store)."""

    timeline: TimelineInfo
    segment: SegmentInfo
    spec: dict
    spec_hash: str
    out_path: Path
    portrait_id: int
    audio_id: int
    base_expression: Expression
    base_text: TextEdit
    expression: Expression  # effective for this segment
    text: TextEdit  # effective for this segment
    seed: int  # effective for this segment
    # planner overrides (start, end, expression|None, seed|None): this segment's own
    controls: tuple[tuple[int, int, Expression | None, int | None], ...] = ()

    @property
    def settings_alike_key(self) -> tuple:
        """What decides whether two segments render under the same settings."""
        return (self.seed, self.text, self.expression)


def spec_base(tl: TimelineInfo, portrait_sha: str, landmarks_json: str | None,
              audio_sha: str, transcript: str | None, presets: Mapping[int, PresetInfo],
              traits: tuple[int, bool]) -> SpecBase:
    """The timeline part of every segment's spec. `traits` = the engine's
    (context_frames, uses_text) with the timeline's settings (studio.engines)."""
    ctx, uses_text = traits
    base_preset = presets.get(tl.preset_id) if tl.preset_id is not None else None
    base_expr = render_expression(base_preset) if base_preset else Expression()
    base_text = TextEdit(base_preset.prompt, base_preset.negative_prompt,
                         base_preset.strength) if base_preset else TextEdit()
    spec = {
        "v": SPEC_VERSION,
        "portrait": portrait_sha,
        "landmarks": landmarks_json,
        "audio": audio_sha,
        "transcript": transcript,
        "engine": tl.engine,
        "settings": dict(tl.settings),
        "size": tl.size,
        "fps": tl.fps,
        "n_frames": tl.n_frames,
        "expression": expression_dict(base_expr),
        "text": _text_list(base_text) if uses_text else None,
        "seed": tl.seed,
    }
    return SpecBase(spec=spec, presets=dict(presets), context_frames=ctx, uses_text=uses_text,
                    expression=base_expr, text=base_text, seed=int(tl.seed),
                    n_frames=int(tl.n_frames))


def effective(base: SpecBase, row: SegmentRow) -> Effective:
    """The segment's overrides that actually differ from the timeline base."""
    p = base.presets.get(row.preset_id) if row.preset_id is not None else None
    expr = expr_from_json(row.expr_json)
    if expr is None and p is not None:
        expr = render_expression(p)
    if expr is not None and expression_dict(expr) == expression_dict(base.expression):
        expr = None
    text = None
    if p is not None and base.uses_text:
        t = TextEdit(p.prompt, p.negative_prompt, p.strength)
        text = None if t == base.text else t
    sd = None if row.seed is None or int(row.seed) == base.seed else int(row.seed)
    return Effective(expr, text, sd)


def segment_spec(base: SpecBase, row: SegmentRow) -> tuple[dict, str]:
    """(spec, hash) of one segment."""
    eff = effective(base, row)
    part = {
        "range": [int(row.start), int(row.end)],
        "expression": expression_dict(eff.expression),
        "text": None if eff.text is None else _text_list(eff.text),
        "seed": eff.seed,
    }
    spec: dict = {"base": base.spec, "segment": part}
    ctx = base.context_frames
    if ctx > 0:
        # the frames the engine denoises together with the segment (diffusion's window
        # overlap); they are not yielded, and the neighbours' overrides stay out: a
        # neighbour's edit re-renders only the neighbour, which then meets this render
        # seamlessly (noise depends on seed and frame only)
        s0, e0 = part["range"]
        spec["context"] = {"before": [max(0, s0 - ctx), s0],
                           "after": [e0, min(base.n_frames, e0 + ctx)]}
    return spec, spec_hash(spec)


def segment_specs(base: SpecBase, rows: Sequence[SegmentRow]) -> list[tuple[dict, str]]:
    """(spec, hash) per segment row, rows in timeline order."""
    return [segment_spec(base, r) for r in rows]


def render_plan(base: SpecBase, tl: TimelineInfo, rows: Sequence[SegmentRow], segment_id: int,
                out_path_of) -> RenderPlan:
    """The plan of segment `segment_id` (one of `rows`); `out_path_of(hash)` names the
    render file (checked by the caller's safe-path rules)."""
    i = next(k for k, r in enumerate(rows) if r.id == segment_id)
    r = rows[i]
    spec, h = segment_spec(base, r)
    eff = effective(base, r)
    # the planner keeps frames outside a segment independent of its overrides, so the
    # segment's own override is all its frames depend on
    controls = () if eff.expression is None and eff.seed is None else (
        (r.start, r.end, eff.expression, eff.seed),)
    seg = SegmentInfo(id=r.id, timeline_id=tl.id, index=i, start=r.start, end=r.end,
                      overrides=SegmentOverrides(r.preset_id, r.seed, expr_from_json(r.expr_json)),
                      state="missing", spec_hash=h, render_path=None)
    return RenderPlan(
        timeline=tl, segment=seg, spec=spec, spec_hash=h, out_path=out_path_of(h),
        portrait_id=tl.portrait_id, audio_id=tl.audio_id, base_expression=base.expression,
        base_text=base.text, expression=eff.expression or base.expression,
        text=eff.text or base.text, seed=base.seed if eff.seed is None else eff.seed,
        controls=controls,
    )


def motion_key_parts(plan_or_none: RenderPlan | None, base_expr: Expression) -> dict:
    """The expression/controls part of a motion plan's cache key."""
    controls = plan_or_none.controls if plan_or_none else ()
    return {"expr": expression_dict(base_expr),
            "controls": [[c[0], c[1], expression_dict(c[2]), c[3]] for c in controls]}
