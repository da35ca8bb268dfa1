"""The timeline controller: which timeline is shown, its segments, the selection, and the
segment and timeline edits (all undoable), plus the inspector pages that show them.

Selection rule: a selected segment shows its overrides in the inspector; nothing selected
shows the timeline's own settings (engine, size, default preset). Esc, a click on an empty
part of the lanes or a second click on the selected segment deselects.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QDialog

from ui import undo
from ui.changes import Changes
from ui.inspector import InspectorPanel
from ui.preview import PreviewPanel
from ui.session import Session
from ui.timeline import TimelineWidget, format_time

FIELD_WORDS = {"preset_id": "preset", "seed": "seed", "expression": "expression",
               "engine": "engine", "size": "size"}


class TimelineController(QObject):
    def __init__(self, session: Session, timeline: TimelineWidget, inspector: InspectorPanel,
                 preview: PreviewPanel, combo: QComboBox, library, parent=None):
        super().__init__(parent)
        self.s = session
        self.timeline = timeline
        self.inspector = inspector
        self.preview = preview
        self.combo = combo
        self.library = library
        self._pending_state: dict | None = None

        timeline.seekRequested.connect(preview.player.seek)
        timeline.segmentSelected.connect(self.select_segment)
        timeline.boundaryMoved.connect(self.move_boundary)
        seg = inspector.segment_page
        seg.overridesChanged.connect(self.set_overrides)
        seg.splitRequested.connect(self.split_at_playhead)
        seg.mergeRequested.connect(lambda _sid: self.merge_selected())
        seg.deselectRequested.connect(lambda: self.select_segment(None))
        inspector.timeline_page.timelineChanged.connect(self.edit_timeline)
        combo.activated.connect(lambda i: self.select_timeline(combo.itemData(i)))
        session.hub.subscribe(self.on_changes)

    # ------------------------------------------------------------ changes
    def on_changes(self, c: Changes) -> None:
        s = self.s
        if s.project is None:
            return
        if c.timeline:
            self.refresh_timelines()
            if s.timeline_id is not None:
                s.timeline_info = s.guard(s.project.timeline, s.timeline_id)
                info = s.timeline_info
                if info is not None and info.n_frames != self.timeline.n_frames:
                    # its audio changed length (a script edit): rescale the timeline
                    self.timeline.set_timeline(info.fps, info.n_frames)
        if c.presets:
            presets = s.guard(s.project.presets) or []
            self.timeline.preset_names = {p.id: p.name for p in presets}
            self.inspector.set_presets(presets)
        if c.segments or c.presets or c.timeline or c.jobs or c.renders:
            self.refresh_segments()
            if self.selected_segment() is None and self.inspector.current_page() in (
                    "segment", "timeline"):
                self.show_timeline_or_segment()
        if c.audio_id is not None and s.timeline_info is not None \
                and s.timeline_info.audio_id == c.audio_id:
            self.load_timeline_audio()  # re-aligned words

    # ------------------------------------------------------------ timelines
    def refresh_timelines(self) -> None:
        self.combo.clear()
        s = self.s
        if s.project is None:
            return
        for t in s.guard(s.project.timelines) or []:
            self.combo.addItem(t.name, t.id)
        if s.timeline_id is not None:
            self.combo.setCurrentIndex(self.combo.findData(s.timeline_id))

    def new_timeline_dialog(self, parent=None) -> None:
        s = self.s
        if s.project is None:
            return
        portraits, tracks = s.project.portraits(), s.project.audio_tracks()
        if not portraits or not tracks:
            s.show_error("A timeline needs a portrait and an audio track: import both "
                         "first (drop them on the library).")
            return
        from ui.dialogs import NewTimelineDialog

        dlg = NewTimelineDialog(portraits, tracks, s.project.presets(),
                                s.settings.default_engine,
                                self.library.portrait_list.current_id(),
                                self.library.audio_list.current_id(), parent,
                                engine_status=s.engine_status)
        if dlg.exec() == QDialog.Accepted:
            self.create_timeline(**dlg.values())

    def create_timeline(self, portrait_id: int, audio_id: int, **options) -> None:
        """Create a timeline off the GUI thread (it analyses the audio to place segments)."""
        settings = dict(options.pop("settings", None) or {})

        def work(p, _pr, _c):
            return p.new_timeline(portrait_id, audio_id, settings=settings or None, **options)

        def done(info):
            self.refresh_timelines()
            self.select_timeline(info.id)
            self.s.status(f"Created timeline {info.name}")

        self.s.start(work, done, name="timeline",
                     status="Analysing the audio and creating the timeline…")

    def select_timeline(self, timeline_id: int | None, state: dict | None = None) -> None:
        s = self.s
        if s.project is None or timeline_id is None:
            return
        info = s.guard(s.project.timeline, timeline_id)
        if info is None:
            return
        self.preview.player.pause()
        s.timeline_id = info.id
        s.timeline_info = info
        self.combo.setCurrentIndex(self.combo.findData(info.id))
        self.timeline.set_timeline(info.fps, info.n_frames)
        self.preview.set_source(info.fps, info.n_frames)
        self.refresh_segments()
        state = state or {}
        frame = int(state.get("frame") or 0)
        if state.get("segment") is not None:
            self.select_segment(state["segment"])
        else:
            self.select_segment(None)
        self.preview.player.seek(min(frame, max(info.n_frames - 1, 0)))
        s.timelineSelected.emit(info)
        self.load_timeline_audio()

    def load_timeline_audio(self) -> None:
        """Waveform + aligned words of the current timeline, computed off the GUI thread."""
        info = self.s.timeline_info
        audio_id, fps, tid = info.audio_id, info.fps, info.id

        def work(p, _pr, _c):
            wave = p.waveform(audio_id)
            feats = p.audio_features(audio_id, fps)
            return tid, np.asarray(wave.samples, np.float32), int(wave.sample_rate), \
                list(feats.words), list(feats.phones)

        self.s.start(work, self._on_timeline_audio, name="timeline-audio",
                     status="Loading the timeline's audio…")

    def _on_timeline_audio(self, result) -> None:
        tid, samples, rate, words, phones = result
        s = self.s
        if tid != s.timeline_id:
            return
        self.timeline.set_audio(samples, rate)
        self.timeline.set_words(words, phones)
        frame = self.preview.player.frame
        self.preview.set_source(s.timeline_info.fps, s.timeline_info.n_frames, samples, rate)
        self.preview.player.seek(frame)
        s.timelineLoaded.emit(tid)

    def edit_timeline(self, timeline_id: int, fields: dict) -> None:
        s = self.s
        info = s.guard(s.project.timeline, timeline_id)
        if info is None:
            return
        old = {k: getattr(info, k) for k in fields}
        words = []
        for k, v in fields.items():
            if k == "preset_id":
                name = next((p.name for p in s.project.presets() if p.id == v), "none")
                words.append(f"default preset {name}")
            elif k == "size":
                words.append(f"size {v} px")
            else:
                words.append(f"{FIELD_WORDS.get(k, k)} {v}")
        s.push(undo.TimelineEdit(s.project, timeline_id, old, dict(fields), s.notify,
                                 f"Set timeline {info.name}: {', '.join(words)}"))

    # ------------------------------------------------------------ segments
    def refresh_segments(self) -> None:
        s = self.s
        if s.project is None or s.timeline_id is None:
            return
        segs = s.guard(s.project.segments, s.timeline_id)
        if segs is None:
            return
        s.segments = segs
        self.timeline.set_segments(segs)
        sel = self.selected_segment()
        if sel is not None and self.inspector.current_page() == "segment":
            self.inspector.segment_page.set_segment(sel, s.timeline_info.fps)

    def selected_segment(self):
        sid = self.timeline.selected_id
        return next((x for x in self.s.segments if x.id == sid), None)

    def select_segment(self, segment_id: int | None) -> None:
        """Select a segment (its overrides in the inspector) or none (the timeline's
        settings). -1 / None / an unknown id deselect."""
        if segment_id is not None and segment_id < 0:
            segment_id = None
        if segment_id is not None and not any(x.id == segment_id for x in self.s.segments):
            segment_id = None
        self.timeline.select(segment_id)
        self.show_timeline_or_segment()

    def show_timeline_or_segment(self) -> None:
        s = self.s
        seg = self.selected_segment()
        if seg is not None:
            self.inspector.segment_page.set_segment(seg, s.timeline_info.fps)
            self.inspector.show_page("segment")
        elif s.timeline_info is not None:
            p = s.guard(s.project.portrait, s.timeline_info.portrait_id)
            a = s.guard(s.project.audio, s.timeline_info.audio_id)
            self.inspector.timeline_page.set_timeline(s.timeline_info, p.name if p else "",
                                                      a.name if a else "")
            self.inspector.show_page("timeline")

    def _segments_edit(self, text: str, action):
        s = self.s
        if s.project is None or s.timeline_id is None:
            return None
        cmd = undo.SegmentsEdit(s.project, s.timeline_id, text, action, s.notify)
        if s.push(cmd) is None:
            return None
        return cmd.result

    def _at(self, frame: int) -> str:
        fps = self.s.timeline_info.fps if self.s.timeline_info else 25
        return format_time(frame / fps)

    def split_at_playhead(self) -> None:
        frame = self.preview.player.frame
        seg = self.timeline.segment_at(frame)
        if seg is None:
            return
        if frame <= seg.start:
            self.s.show_error(f"The playhead is on the first frame of segment {seg.index + 1}; "
                              "move it inside the segment to split there.")
            return
        result = self._segments_edit(f"Split segment {seg.index + 1} at {self._at(frame)}",
                                     lambda p: p.split_segment(seg.id, frame))
        if result is not None:
            self.select_segment(result[1].id)

    def merge_selected(self) -> None:
        seg = self.selected_segment() or self.timeline.segment_at(self.preview.player.frame)
        if seg is None:
            return
        nxt = next((x for x in self.s.segments if x.index == seg.index + 1), None)
        if nxt is None:
            self.s.show_error(f"Segment {seg.index + 1} is the last one: nothing to merge with.")
            return
        if self._segments_edit(f"Merge segments {seg.index + 1} and {nxt.index + 1}",
                               lambda p: p.merge_segments(seg.id, nxt.id)) is not None:
            self.select_segment(seg.id)

    def move_boundary(self, segment_id: int, new_end: int) -> None:
        seg = next((x for x in self.s.segments if x.id == segment_id), None)
        if seg is None:
            return
        done = self._segments_edit(
            f"Move the end of segment {seg.index + 1} to {self._at(new_end)}",
            lambda p: p.move_boundary(segment_id, new_end))
        if done is None:
            self.refresh_segments()  # snap the dragged line back

    def set_overrides(self, segment_id: int, fields: dict) -> None:
        seg = next((x for x in self.s.segments if x.id == segment_id), None)
        if seg is None:
            return
        words = []
        for k, v in fields.items():
            if k == "preset_id":
                name = next((p.name for p in self.s.project.presets() if p.id == v), None)
                words.append(f"preset {name}" if name else "timeline's preset")
            elif k == "seed":
                words.append(f"seed {v}" if v is not None else "timeline's seed")
            else:
                words.append("own expression" if v is not None else "preset's expression")
        self._segments_edit(f"Segment {seg.index + 1}: {', '.join(words)}",
                            lambda p: p.set_segment_overrides(segment_id, **fields))

    def clear(self) -> None:
        self.s.timeline_id = None
        self.s.timeline_info = None
        self.s.segments = []
        self.timeline.clear()
        self.combo.clear()
