"""The preview controller: the playhead drives the timeline and asks the preview lane for
frames; frames come back by timeline id and frame. When segments change or a render
finishes, the frame under the playhead is fetched again (a finished render shows at once)."""

from __future__ import annotations

from PySide6.QtCore import QObject

from ui.changes import Changes
from ui.preview import PreviewPanel
from ui.session import Session
from ui.timeline import TimelineWidget

AUDIO_CLOCK = "audio clock"
WALL_CLOCK = "wall clock"


class PreviewController(QObject):
    def __init__(self, session: Session, preview: PreviewPanel, timeline: TimelineWidget,
                 clock_label, parent=None):
        super().__init__(parent)
        self.s = session
        self.preview = preview
        self.timeline = timeline
        self.clock_label = clock_label
        player = preview.player
        player.frameChanged.connect(self.on_frame)
        player.clockMessage.connect(self._on_clock_message)
        player.playingChanged.connect(self._on_playing)
        session.hub.subscribe(self.on_changes)

    def attach(self, background) -> None:
        background.frameReady.connect(self._on_frame_ready)
        background.previewFailed.connect(lambda m: self.s.status(f"preview: {m}", 8000))

    def on_changes(self, c: Changes) -> None:
        if c.segments or c.renders or c.timeline or c.presets or c.assets:
            if self.s.background is not None:
                self.s.background.invalidate_preview()
            self.on_frame(self.preview.player.frame)

    def on_frame(self, frame: int) -> None:
        self.timeline.set_playhead(frame)
        s = self.s
        if s.background is not None and s.timeline_id is not None:
            s.background.request_frame(s.timeline_id, frame)

    def _on_frame_ready(self, timeline_id: int, frame: int, image) -> None:
        if timeline_id != self.s.timeline_id:
            return
        seg = self.timeline.segment_at(frame)
        badge = "rendered" if seg is not None and seg.state == "rendered" else \
            "instant preview (warp)"
        self.preview.view.set_frame(image, f"{badge} · frame {frame}")

    def _on_clock_message(self, message: str) -> None:
        self.clock_label.setText(WALL_CLOCK)
        self.clock_label.setToolTip(message)
        self.s.status(message, 10000)

    def _on_playing(self, playing: bool) -> None:
        if playing:
            kind = self.preview.player.clock_kind
            self.clock_label.setText(AUDIO_CLOCK if kind == "audio" else WALL_CLOCK)
