"""Edit presets of a project: named prompts + expression controls (the preset store).

Value limits come from core.types (EXPRESSION_RANGES, STRENGTH_RANGE): one table for the
CLI, the studio and the GUI.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InputError
from core.types import EMOTIONS, EXPRESSION_RANGES, STRENGTH_RANGE, Expression
from studio.db.models import EditPreset
from studio.records import PresetInfo
from studio.rows import get_row

if TYPE_CHECKING:
    from studio.project import Project

NUMERIC_FIELDS = ("smile", "brows", "head_motion", "blink_rate", "intensity",
                  "expressiveness", "gaze")
EXPRESSION_FIELDS = NUMERIC_FIELDS + ("emotion",)
"""The expression controls a preset row stores (columns of EditPreset; the last four since
migration 0004).

Precedence of what a segment renders with (studio.specs): a segment's own expression
override > the preset's fields > the emotion words of the preset's prompt, which fill in
only the controls the preset leaves at their defaults (core.motion.emotion_words.apply_prompt);
so a preset whose emotion is "neutral" still takes "very sad" from its prompt, and a preset
set to "happy" ignores a "sad" in its prompt."""


def preset_info(r) -> PresetInfo:
    emotion = r.emotion if getattr(r, "emotion", None) in EMOTIONS else "neutral"
    return PresetInfo(
        id=r.id, name=r.name, prompt=r.prompt, negative_prompt=r.negative_prompt,
        strength=float(r.strength),
        expression=Expression(
            **{k: float(getattr(r, k)) for k in NUMERIC_FIELDS}, emotion=emotion),
    )


def check_preset_fields(fields: dict) -> dict:
    """The column values of `fields` (validated; InputError names the bad one)."""
    out: dict = {}
    expr = fields.pop("expression", None)
    if expr is not None:
        if not isinstance(expr, Expression):
            raise InputError(None, "expression must be an Expression")
        for k in NUMERIC_FIELDS:
            out[k] = float(getattr(expr, k))
        out["emotion"] = expr.emotion
    for k in NUMERIC_FIELDS:
        if k in fields:
            try:
                out[k] = float(fields.pop(k))
            except (TypeError, ValueError):
                raise InputError(None, f"preset {k} must be a number") from None
    if "emotion" in fields:
        out["emotion"] = fields.pop("emotion")
    if "emotion" in out and out["emotion"] not in EMOTIONS:
        raise InputError(None, f"preset emotion must be one of {', '.join(EMOTIONS)}, "
                         f"got '{out['emotion']}'")
    for k in ("prompt", "negative_prompt"):
        if k in fields:
            out[k] = str(fields.pop(k) or "")
    if "strength" in fields:
        out["strength"] = float(fields.pop("strength"))
    if "name" in fields:
        name = str(fields.pop("name") or "").strip()
        if not name:
            raise InputError(None, "a preset needs a name")
        out["name"] = name[:200]
    if fields:
        raise InputError(None, f"unknown preset field(s): {', '.join(sorted(fields))}")
    lim = {k: EXPRESSION_RANGES[k] for k in NUMERIC_FIELDS}
    lim["strength"] = STRENGTH_RANGE
    for k, r in lim.items():
        if k in out and not (r.min <= out[k] <= r.max and np.isfinite(out[k])):
            raise InputError(None, f"preset {k} must be between {r.min:g} and {r.max:g}, "
                             f"got {out[k]}")
    return out


class PresetStore:
    """The project's presets (`project.presets`-style calls go through the facade)."""

    def __init__(self, col: Project):
        self.col = col

    def _get(self, ident):
        return get_row(self.col.db, EditPreset, ident, "preset", self.col.path.name)

    def _insert(self, row: EditPreset) -> EditPreset:
        def insert(s: Session) -> EditPreset:
            s.add(row)
            s.flush()
            return row

        return self.col.db.run_write(insert)

    def add(self, name: str, prompt: str = "", negative_prompt: str = "",
            strength: float = 1.0, expression: Expression = Expression()) -> PresetInfo:
        """Create a named edit preset (names are unique)."""
        name = (name or "").strip()
        if not name:
            raise InputError(None, "a preset needs a name")
        fields = check_preset_fields(
            {"prompt": prompt, "negative_prompt": negative_prompt, "strength": strength,
             "expression": expression})
        try:
            row = self._insert(EditPreset(name=name[:200], created=time.time(), **fields))
        except IntegrityError:
            raise InputError(None, f"a preset named '{name}' already exists") from None
        return preset_info(row)

    def update(self, preset_id: int, **fields) -> PresetInfo:
        """Change any of name, prompt, negative_prompt, strength, expression (an Expression)
        or any expression field (EXPRESSION_FIELDS: smile ... gaze, emotion) directly."""
        row = self._get(preset_id)
        values = check_preset_fields(dict(fields))

        def upd(s: Session) -> EditPreset:
            r = s.get(EditPreset, row.id)
            for k, v in values.items():
                setattr(r, k, v)
            s.flush()
            return r

        try:
            return preset_info(self.col.db.run_write(upd))
        except IntegrityError:
            raise InputError(None, f"a preset named '{values.get('name')}' already "
                             "exists") from None

    def all(self) -> list[PresetInfo]:
        rows = self.col.db.run_read(
            lambda s: s.execute(select(EditPreset).order_by(EditPreset.id)).scalars().all())
        return [preset_info(r) for r in rows]

    def get(self, preset_id: int) -> PresetInfo:
        return preset_info(self._get(preset_id))

    def find(self, name_or_id: str | int) -> PresetInfo:
        text = str(name_or_id)
        for p in self.all():
            if p.name == text or str(p.id) == text:
                return p
        raise InputError(None, f"no preset named or numbered '{text}'")

    def remove(self, preset_id: int) -> None:
        """Delete a preset; timelines/segments that used it fall back to no preset."""
        row = self._get(preset_id)
        self.col.db.run_write(
            lambda s: s.execute(delete(EditPreset).where(EditPreset.id == row.id)))

    def restore(self, info: PresetInfo) -> PresetInfo:
        """Re-create a removed preset with its old id (undo of remove). References that
        were cleared by the removal are not restored (use restore_segments for that)."""
        row = EditPreset(id=info.id, name=info.name, created=time.time(), **check_preset_fields(
            {"prompt": info.prompt, "negative_prompt": info.negative_prompt,
             "strength": info.strength, "expression": info.expression}))
        try:
            return preset_info(self._insert(row))
        except IntegrityError:
            raise InputError(None, f"preset {info.id} or name '{info.name}' exists") from None
