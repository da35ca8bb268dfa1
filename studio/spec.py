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
(`Project.neighbour_anchors`), which are not part of the hash.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import asdict
from functools import lru_cache

from core.types import Expression

SPEC_VERSION = 2
"""Bump when the meaning of a spec changes (e.g. the planner or renders change), so old
renders become stale instead of being reused wrongly. 2: prosody-planned head, viseme-led
mouth, emotions."""

_ENGINE_CLASSES = {
    "warp": "core.engines.warp:WarpEngine",
    "diffusion": "core.diffusion.engine:DiffusionEngine",
}


@lru_cache(maxsize=64)
def engine_traits(name: str, settings_json: str = "{}") -> tuple[int, bool]:
    """(context_frames, uses_text) of engine `name` with the timeline's settings (JSON).

    context_frames: frames of neighbour context its render of a range depends on (0 = none);
    read from the class, or, when it is a per-instance property (the diffusion engine's
    window overlap), from an instance built with the settings (engines load no weights in
    their constructor). uses_text: whether prompts affect its frames (warp ignores them).
    """
    default_text = name != "warp"
    target = _ENGINE_CLASSES.get(name)
    if target is None:
        return 0, default_text
    mod, cls_name = target.split(":")
    try:
        cls = getattr(importlib.import_module(mod), cls_name)
    except Exception:  # engine not importable here: it cannot render either
        return 0, default_text
    ctx = getattr(cls, "context_frames", 0)
    if not isinstance(ctx, int | float):
        try:
            ctx = getattr(cls(**json.loads(settings_json or "{}")), "context_frames", 0)
        except Exception:
            try:
                ctx = getattr(cls(), "context_frames", 0)
            except Exception:
                ctx = 0
    ctx = int(ctx) if isinstance(ctx, int | float) else 0
    return max(0, ctx), bool(getattr(cls, "uses_text", default_text))


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


def preset_values(p) -> dict | None:
    """The parts of a preset (PresetInfo or None) that affect frames."""
    if p is None:
        return None
    return {
        "prompt": p.prompt,
        "negative_prompt": p.negative_prompt,
        "strength": round(float(p.strength), 6),
        "expression": expression_dict(p.expression),
    }


def strip_text(values: dict | None) -> dict | None:
    if values is None:
        return None
    return {"expression": values["expression"]}


def spec_hash(spec: dict) -> str:
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
