"""What an edit changed, and who hears about it (in the spirit of Anki's `OpChanges`).

Every edit (an undo command, an import, a finished job) says what it touched with a small
`Changes` value, and the session broadcasts it; each controller subscribes and refreshes only
its own panel for the parts it shows. Nothing refreshes "every panel by hand" after an
edit, and a new panel only has to subscribe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class Changes:
    assets: bool = False  # portraits / audio tracks (incl. transcripts)
    presets: bool = False
    timeline: bool = False  # the list of timelines or a timeline's settings
    segments: bool = False  # boundaries, overrides or render states of segments
    renders: bool = False  # a render file became current (the preview must reload it)
    jobs: bool = False
    audio_id: int | None = None  # the audio track whose transcript changed, if any

    def __or__(self, other: Changes) -> Changes:
        merged = {f.name: getattr(self, f.name) or getattr(other, f.name)
                  for f in fields(self) if f.name != "audio_id"}
        return Changes(**merged, audio_id=self.audio_id if self.audio_id is not None
                       else other.audio_id)

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) not in (False, None) for f in fields(self))

    def but(self, **kw) -> Changes:
        return replace(self, **kw)


SEGMENTS = Changes(segments=True)
PRESETS = Changes(presets=True, segments=True)  # segment labels and specs use presets
TIMELINE = Changes(timeline=True, segments=True)
JOBS = Changes(jobs=True, segments=True)


class ChangeHub(QObject):
    """The broadcaster: `emit(changes)`; subscribers get `on_changes(changes)`."""

    changed = Signal(object)

    def emit(self, changes: Changes) -> None:
        if changes:
            self.changed.emit(changes)

    def subscribe(self, slot: Callable[[Changes], None]) -> None:
        self.changed.connect(slot)
