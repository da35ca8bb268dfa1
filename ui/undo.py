"""Undo/redo for timeline, segment and preset edits (QUndoStack commands).

Segment edits (split, merge, move a boundary, overrides) are undone by *snapshots*: the
studio gives a plain copy of a timeline's segment list and can restore it exactly (ids
included). That makes every segment command the same small class, and undo can never
drift from what the edit really did, whatever the studio's split/merge rules are. Renders
are keyed by spec hash, so an undone edit finds its old renders again (no re-render).

Preset and timeline edits store the fields before and after. Consecutive slider moves on
one preset merge into one undo step (`mergeWith`), as in any editor.

Every command hands a `Changes` value (ui/changes.py) to `notify` after it ran; the
controllers subscribed to the session's hub refresh what they show. Command texts name the
edit in the user's words ("Split segment 2 at 0:03.4"), because the Edit menu shows them
("Undo Split segment 2 at 0:03.4").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from PySide6.QtGui import QUndoCommand

from ui.changes import PRESETS, SEGMENTS, TIMELINE, Changes

ChangedFn = Callable[[Changes], None]


class Command(QUndoCommand):
    """Base: `apply()` does the edit, `revert()` undoes it.

    Qt calls redo() inside QUndoStack.push and swallows Python exceptions raised there, so
    edits are pushed with `push(stack, cmd)`, which applies the command *first* (letting an
    InputError reach the caller, with nothing pushed), then pushes it with its first
    redo() skipped.
    """

    def __init__(self, text: str):
        super().__init__(text)
        self._skip_redo = False

    def apply(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self.apply()

    def undo(self) -> None:
        self.revert()


def push(stack, cmd: Command):
    """Apply `cmd` now (errors propagate, nothing is pushed), then put it on `stack`."""
    cmd.apply()
    cmd._skip_redo = True
    stack.push(cmd)
    return cmd


class SegmentsEdit(Command):
    """Any edit of a timeline's segments, undone by restoring a snapshot."""

    def __init__(
        self,
        project,
        timeline_id: int,
        text: str,
        action: Callable[[Any], Any],
        changed: ChangedFn,
    ):
        super().__init__(text)
        self.project = project
        self.timeline_id = timeline_id
        self.action = action
        self.changed = changed
        self.before = None
        self.after = None
        self.result = None

    def apply(self) -> None:
        if self.after is None:
            before = self.project.snapshot_segments(self.timeline_id)
            self.result = self.action(self.project)  # may raise InputError: nothing changed
            self.before = before
            self.after = self.project.snapshot_segments(self.timeline_id)
        else:
            self.project.restore_segments(self.timeline_id, self.after)
        self.changed(SEGMENTS)

    def revert(self) -> None:
        self.project.restore_segments(self.timeline_id, self.before)
        self.changed(SEGMENTS)


PRESET_FIELDS = ("name", "prompt", "negative_prompt", "strength", "expression")
_PRESET_EDIT_ID = 1001


def preset_fields(info) -> dict:
    return {k: getattr(info, k) for k in PRESET_FIELDS}


class PresetEdit(Command):
    """Change fields of one preset; successive edits of the same field(s) merge."""

    def __init__(self, project, preset_id: int, old: dict, new: dict, changed: ChangedFn,
                 text: str = "Edit preset"):
        super().__init__(text)
        self.project = project
        self.preset_id = preset_id
        self.old = old
        self.new = new
        self.changed = changed

    def id(self) -> int:  # noqa: A003 - Qt's name
        return _PRESET_EDIT_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, PresetEdit) or other.preset_id != self.preset_id:
            return False
        if set(other.new) != set(self.new):
            return False
        self.new = other.new
        return True

    def apply(self) -> None:
        self.project.update_preset(self.preset_id, **self.new)
        self.changed(PRESETS)

    def revert(self) -> None:
        self.project.update_preset(self.preset_id, **self.old)
        self.changed(PRESETS)


class AddPreset(Command):
    def __init__(self, project, fields: dict, changed: ChangedFn):
        super().__init__(f"Add preset {fields.get('name', '')}")
        self.project = project
        self.fields = fields
        self.changed = changed
        self.info = None

    def apply(self) -> None:
        if self.info is None:
            self.info = self.project.add_preset(**self.fields)
        else:
            self.info = self.project.restore_preset(self.info)
        self.changed(PRESETS)

    def revert(self) -> None:
        self.project.remove_preset(self.info.id)
        self.changed(PRESETS)


class RemovePreset(Command):
    def __init__(self, project, info, changed: ChangedFn):
        super().__init__(f"Remove preset {info.name}")
        self.project = project
        self.info = info
        self.changed = changed
        # segments that used it lose the override; remember them to put it back on undo
        self.users: list[tuple[int, list]] = []

    def apply(self) -> None:
        self.users = [
            (t.id, self.project.snapshot_segments(t.id)) for t in self.project.timelines()
        ]
        self.timeline_presets = {
            t.id: t.preset_id for t in self.project.timelines() if t.preset_id == self.info.id
        }
        self.project.remove_preset(self.info.id)
        self.changed(PRESETS | TIMELINE)

    def revert(self) -> None:
        self.project.restore_preset(self.info)
        for tid, preset_id in self.timeline_presets.items():
            self.project.update_timeline(tid, preset_id=preset_id)
        for tid, snapshot in self.users:
            self.project.restore_segments(tid, snapshot)
        self.changed(PRESETS | TIMELINE)


class TimelineEdit(Command):
    """Change timeline fields (engine, default preset, seed, size...)."""

    def __init__(self, project, timeline_id: int, old: dict, new: dict, changed: ChangedFn,
                 text: str = "Edit timeline"):
        super().__init__(text)
        self.project = project
        self.timeline_id = timeline_id
        self.old = old
        self.new = new
        self.changed = changed

    def apply(self) -> None:
        self.project.update_timeline(self.timeline_id, **self.new)
        self.changed(TIMELINE)

    def revert(self) -> None:
        self.project.update_timeline(self.timeline_id, **self.old)
        self.changed(TIMELINE)


class TranscriptEdit(Command):
    def __init__(self, project, audio_id: int, old: str | None, new: str | None,
                 changed: ChangedFn, name: str = ""):
        super().__init__(f"Edit transcript of {name}" if name else "Edit transcript")
        self.project = project
        self.audio_id = audio_id
        self.old = old
        self.new = new
        self.changed = changed

    def apply(self) -> None:
        self.project.set_transcript(self.audio_id, self.new)
        self.changed(Changes(assets=True, segments=True, audio_id=self.audio_id))

    def revert(self) -> None:
        self.project.set_transcript(self.audio_id, self.old)
        self.changed(Changes(assets=True, segments=True, audio_id=self.audio_id))


SCRIPT_CHANGES = Changes(assets=True, timeline=True, segments=True)


class ScriptEditCmd(Command):
    """An edit of a script track's text. The first apply ran in a Worker (synthesis takes
    seconds), so the command is pushed already applied (`push_applied`); undo restores the
    previous script and audio (`undo_script`), redo re-synthesises the edited text."""

    def __init__(self, project, audio_id: int, text: str, changed: ChangedFn, name: str = "",
                 failed: Callable[[str], None] | None = None):
        super().__init__(f"Edit script of '{name}'" if name else "Edit script")
        self.project = project
        self.audio_id = audio_id
        self.new_text = text
        self.changed = changed
        self.failed = failed  # Qt swallows exceptions in undo()/redo(): say them instead

    def _safely(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - synthesis can fail (a voice removed)
            if self.failed is None:
                raise
            from ui.tasks import user_message

            self.failed(f"{self.text()}: {user_message(exc)}")

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self._safely(self.apply)

    def undo(self) -> None:
        self._safely(self.revert)

    def apply(self) -> None:
        self.project.edit_script(self.audio_id, self.new_text)
        self.changed(SCRIPT_CHANGES.but(audio_id=self.audio_id))

    def revert(self) -> None:
        self.project.undo_script(self.audio_id)
        self.changed(SCRIPT_CHANGES.but(audio_id=self.audio_id))


def push_applied(stack, cmd: Command):
    """Put a command whose edit already happened (in a worker) on `stack` without
    running it again."""
    cmd._skip_redo = True
    stack.push(cmd)
    return cmd


def describe(info) -> dict:
    """A plain dict of a dataclass (for logs and tests)."""
    return asdict(info)
