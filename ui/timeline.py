"""The timeline: waveform, words/phonemes, segments coloured by render state, playhead.

Built on pyqtgraph: three stacked plots share one x axis (seconds), so zoom and scroll
(mouse wheel / drag, or the zoom buttons) move all tracks together; y is fixed. The
waveform is the raw signal with pyqtgraph's peak downsampling + clip-to-view, so it stays
exact at any zoom without precomputing envelopes. Segments are plain rect items in data
coordinates; internal boundaries are draggable lines that snap to frames.

The widget knows no Project: it shows plain data (`set_audio`, `set_segments`) and emits
intent signals (seek, select, move a boundary); the main window turns those into
undoable edits.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.theme import ACCENT, BASE, DIM, STATE_COLORS, STATE_LABELS, TEXT

LANE_LABEL_WIDTH = 64


def format_time(seconds: float, digits: int = 1) -> str:
    """m:ss.s — one format everywhere (axis, playhead, undo texts): minutes, seconds and
    tenths (`digits` decimals), never seconds:frames, never negative."""
    seconds = max(0.0, float(seconds))
    scale = 10 ** digits
    total = int(round(seconds * scale))
    m, rest = divmod(total, 60 * scale)
    whole, frac = divmod(rest, scale)
    return f"{m}:{whole:02d}.{frac:0{digits}d}" if digits else f"{m}:{whole:02d}"


def _hide_overlaps(items, sec_per_px: float, allowed: bool) -> None:
    """Show only labels whose text does not run into a neighbour's. Where two collide the
    longer word wins (a "talking" matters more than the "a" before it); every label is
    drawn at the same offset from its position, so the text's advance is what counts."""
    shown: list[tuple[float, float, object]] = []
    if allowed:
        for item in items:
            start = item.pos().x()
            advance = QFontMetricsF(item.textItem.font()).horizontalAdvance(
                item.textItem.toPlainText())
            span = (start, start + (advance + 2) * sec_per_px, item)
            if not shown or start >= shown[-1][1]:
                shown.append(span)
                continue
            prev = shown[-1]
            before_end = shown[-2][1] if len(shown) > 1 else -np.inf
            if span[1] - span[0] > prev[1] - prev[0] and start >= before_end:
                shown[-1] = span
    keep = {id(x[2]) for x in shown}
    for item in items:
        item.setVisible(id(item) in keep)


class TimeAxis(pg.AxisItem):
    """Ticks in m:ss.s (hundredths when zoomed in far); none before 0."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        digits = 2 if spacing < 0.1 else 1
        return [format_time(v, digits) if v >= -1e-9 else "" for v in values]


def _cosmetic(color: str, width: float = 1.0) -> QPen:
    pen = QPen(QColor(color))
    pen.setWidthF(width)
    pen.setCosmetic(True)
    return pen


class SegmentItem(QGraphicsRectItem):
    """One segment: a rect filled by state, plus a progress bar while rendering."""

    def __init__(self, info, fps: float):
        super().__init__()
        self.info = info
        self.fps = fps
        self.progress_item = QGraphicsRectItem(self)
        self.progress_item.setPen(QPen(Qt.NoPen))
        self.progress_item.setBrush(QBrush(QColor(STATE_COLORS["rendered"]).lighter(120)))
        self.selected = False
        self.update_info(info)

    def update_info(self, info) -> None:
        self.info = info
        x0, x1 = info.start / self.fps, info.end / self.fps
        self.setRect(QRectF(x0, 0.05, x1 - x0, 0.9))
        color = QColor(STATE_COLORS.get(info.state, STATE_COLORS["missing"]))
        self.setBrush(QBrush(color))
        self.setPen(_cosmetic("#ffffff", 2.5) if self.selected else _cosmetic("#101114", 1))
        self.set_progress(info.progress if info.state == "rendering" else 0.0)
        self.setToolTip(
            f"segment {info.index + 1}: frames {info.start}–{info.end - 1} "
            f"({(info.end - info.start) / self.fps:.2f} s), {STATE_LABELS.get(info.state, '')}"
        )

    def set_progress(self, fraction: float) -> None:
        r = self.rect()
        fraction = float(np.clip(fraction, 0.0, 1.0))
        self.progress_item.setRect(QRectF(r.x(), r.y() + r.height() * 0.7,
                                          r.width() * fraction, r.height() * 0.3))
        self.progress_item.setVisible(fraction > 0)

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self.update_info(self.info)
        self.setZValue(2 if selected else 1)


class TimelineWidget(QWidget):
    """Intent signals carry frames and segment ids (ints)."""

    seekRequested = Signal(int)  # frame
    segmentSelected = Signal(int)  # segment id, -1 = none
    boundaryMoved = Signal(int, int)  # segment id, new end frame
    segmentActivated = Signal(int)  # double click: segment id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.fps = 25.0
        self.n_frames = 0
        self.segments: list = []
        self.items: dict[int, SegmentItem] = {}
        self.labels: list = []
        self.boundaries: list[pg.InfiniteLine] = []
        self.selected_id: int | None = None
        self.preset_names: dict[int, str] = {}
        self.words: list = []
        self.phone_items: list = []
        self.word_items: list = []
        self.playhead_frame = 0
        self._syncing = False

        pg.setConfigOptions(antialias=True)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(BASE)
        self.view.ci.layout.setSpacing(0)
        self.view.ci.setContentsMargins(4, 4, 8, 2)

        # lane names are horizontal labels in their own column: rotated axis labels ran
        # into each other when the lanes got short
        self.lane_labels = []
        for row, name in enumerate(("audio", "words", "segments")):
            label = self.view.addLabel(name, row=row, col=0, color=DIM, size="9pt")
            label.setFixedWidth(LANE_LABEL_WIDTH)
            self.lane_labels.append(label)
        self.wave_plot = self.view.addPlot(row=0, col=1)
        self.text_plot = self.view.addPlot(row=1, col=1)
        self.seg_plot = self.view.addPlot(row=2, col=1, axisItems={"bottom": TimeAxis("bottom")})
        self.plots = (self.wave_plot, self.text_plot, self.seg_plot)
        for i, (plot, factor, min_h) in enumerate(zip(self.plots, (4, 3, 3), (36, 34, 56),
                                                     strict=True)):
            self.view.ci.layout.setRowStretchFactor(i, factor)
            self.view.ci.layout.setRowMinimumHeight(i, min_h)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            plot.hideAxis("left")
            if plot is not self.seg_plot:
                plot.hideAxis("bottom")
            plot.vb.setMouseEnabled(x=True, y=False)
            if plot is not self.wave_plot:
                plot.setXLink(self.wave_plot)
        self.seg_plot.getAxis("bottom").setTextPen(_cosmetic(TEXT))
        self.wave_plot.setYRange(-1.05, 1.05, padding=0)
        self.text_plot.setYRange(0, 1, padding=0)
        self.seg_plot.setYRange(0, 1, padding=0)

        self.wave_curve = pg.PlotDataItem(pen=_cosmetic(ACCENT))
        self.wave_curve.setDownsampling(auto=True, method="peak")
        self.wave_curve.setClipToView(True)
        self.wave_plot.addItem(self.wave_curve)
        self.text_items: list = []

        self.playheads = []
        for plot in self.plots:
            line = pg.InfiniteLine(pos=0, angle=90, movable=plot is self.wave_plot,
                                   pen=_cosmetic("#ff4d4d", 1.5),
                                   hoverPen=_cosmetic("#ff8080", 3))
            line.setZValue(10)
            plot.addItem(line)
            self.playheads.append(line)
        self.playheads[0].sigPositionChanged.connect(self._on_playhead_dragged)

        self.empty_label = pg.TextItem("Import a portrait and an audio track, then create a "
                                       "timeline", color=DIM, anchor=(0.5, 0.5))
        self.seg_plot.addItem(self.empty_label)

        self.view.scene().sigMouseClicked.connect(self._on_click)
        self.wave_plot.vb.sigXRangeChanged.connect(self._update_detail)
        self.text_plot.vb.sigResized.connect(self._update_detail)

        # header: zoom buttons, legend, time
        header = QHBoxLayout()
        header.setContentsMargins(6, 2, 6, 2)
        title = QLabel("Timeline")
        title.setObjectName("PanelTitle")
        header.addWidget(title)
        for text, tip, slot in (
            ("−", "Zoom out", lambda: self.zoom(2.0)),
            ("+", "Zoom in", lambda: self.zoom(0.5)),
            ("Fit", "Show the whole timeline", self.fit),
        ):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            header.addWidget(b)
        header.addSpacing(12)
        # the colour legend gives way (clips) when the panel is narrow, never the lanes
        chips = "&nbsp;&nbsp;".join(
            f"<span style='color:{STATE_COLORS[st]}; font-weight:bold'>■ {STATE_LABELS[st]}"
            "</span>" for st in ("missing", "queued", "rendering", "rendered", "stale", "failed"))
        self.legend = QLabel(chips)
        self.legend.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.legend.setToolTip("Segment colours: render state")
        header.addWidget(self.legend, 1)
        self.time_label = QLabel("0:00.0")
        self.time_label.setStyleSheet(f"color: {TEXT}; font-family: monospace;")
        header.addWidget(self.time_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        self.setMinimumHeight(190)
        self._show_empty()

    # ------------------------------------------------------------ data
    @property
    def duration(self) -> float:
        return self.n_frames / self.fps if self.fps else 0.0

    def clear(self) -> None:
        self.wave_curve.setData([], [])
        self._clear_text()
        self.set_segments([])
        self.n_frames = 0
        self._show_empty()

    def _show_empty(self) -> None:
        """No timeline: an empty 10 s axis from 0, the hint in its middle."""
        for plot in self.plots:
            plot.vb.setLimits(xMin=0.0, xMax=10.0, minXRange=0.1)
        self.wave_plot.setXRange(0, 10, padding=0)
        self.empty_label.setPos(5.0, 0.5)
        self.empty_label.setVisible(True)
        self.set_playhead(0)

    def set_timeline(self, fps: float, n_frames: int) -> None:
        self.fps = float(fps)
        self.n_frames = int(n_frames)
        d = max(self.duration, 0.1)
        for plot in self.plots:
            plot.vb.setLimits(xMin=0.0, xMax=d * 1.02, minXRange=min(5 / self.fps, d))
        self.empty_label.setVisible(False)
        self.fit()

    def set_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        peak = float(np.abs(samples).max()) if samples.size else 0.0
        y = samples / peak if peak > 1e-6 else samples
        x = np.arange(len(y), dtype=np.float64) / float(sample_rate)
        self.wave_curve.setData(x, y)

    def set_words(self, words, phones=()) -> None:
        """Words (text, start, end seconds) on the upper row, phones on the lower row."""
        self._clear_text()
        self.words = list(words)
        font = QFont()
        font.setPointSizeF(8.5)
        small = QFont()
        small.setPointSizeF(7)
        for w in words:
            rect = QGraphicsRectItem(QRectF(w.start, 0.5, max(w.end - w.start, 1e-3), 0.45))
            rect.setBrush(QBrush(QColor(61, 139, 253, 50)))
            rect.setPen(_cosmetic("#3d8bfd", 1))
            self.text_plot.addItem(rect)
            label = pg.TextItem(w.text, color=TEXT, anchor=(0, 0.5))
            label.setFont(font)
            label.setPos(w.start, 0.73)
            self.text_plot.addItem(label)
            self.text_items += [rect, label]
            self.word_items.append(label)
        for p in phones:
            if p.label in ("SIL", "sil", ""):
                continue
            label = pg.TextItem(p.label, color=DIM, anchor=(0, 0.5))
            label.setFont(small)
            label.setPos(p.start, 0.22)
            self.text_plot.addItem(label)
            self.text_items.append(label)
            self.phone_items.append(label)
        self._update_detail()

    def _clear_text(self) -> None:
        for item in self.text_items:
            self.text_plot.removeItem(item)
        self.text_items = []
        self.phone_items = []
        self.word_items = []

    def _update_detail(self, *_args) -> None:
        """Word and phone labels that fit before the next shown one (labels never
        overlap; zoom in to see them all); phones only when < ~4 s are visible."""
        x0, x1 = self.wave_plot.vb.viewRange()[0]
        sec_per_px = (x1 - x0) / max(self.text_plot.vb.width(), 1.0)
        _hide_overlaps(self.word_items, sec_per_px, True)
        _hide_overlaps(self.phone_items, sec_per_px, (x1 - x0) < 4.0)

    def set_segments(self, segments) -> None:
        """Show segments (SegmentInfo-like: id, index, start, end, state, progress)."""
        self.segments = list(segments)
        ids = {s.id for s in self.segments}
        for sid in list(self.items):
            if sid not in ids:
                self.seg_plot.removeItem(self.items.pop(sid))
        for s in self.segments:
            item = self.items.get(s.id)
            if item is None:
                item = SegmentItem(s, self.fps)
                self.items[s.id] = item
                self.seg_plot.addItem(item)
            item.fps = self.fps
            item.selected = s.id == self.selected_id
            item.update_info(s)
        for label in self.labels:
            self.seg_plot.removeItem(label)
        self.labels = []
        for s in self.segments:
            text = f"{s.index + 1}"
            name = self.preset_names.get(s.overrides.preset_id) if s.overrides else None
            if name:
                text += f" · {name}"
            elif s.overrides and (s.overrides.seed is not None or s.overrides.expression):
                text += " · edited"
            label = pg.TextItem(text, color="#f4f4f4", anchor=(0, 0))
            label.setPos(s.start / self.fps, 0.95)
            label.setZValue(6)
            self.seg_plot.addItem(label)
            self.labels.append(label)
        self._rebuild_boundaries()
        if self.selected_id is not None and self.selected_id not in ids:
            self.select(None)

    def _rebuild_boundaries(self) -> None:
        for line in self.boundaries:
            self.seg_plot.removeItem(line)
        self.boundaries = []
        for prev, nxt in zip(self.segments, self.segments[1:], strict=False):
            line = pg.InfiniteLine(
                pos=prev.end / self.fps, angle=90, movable=True,
                pen=_cosmetic("#e8e8e8", 2), hoverPen=_cosmetic(ACCENT, 4),
            )
            line.setBounds(((prev.start + 1) / self.fps, (nxt.end - 1) / self.fps))
            line.setZValue(5)
            line.setToolTip("Drag to move the boundary between two segments")
            line.segment_id = prev.id
            line.sigPositionChangeFinished.connect(self._on_boundary_dragged)
            self.seg_plot.addItem(line)
            self.boundaries.append(line)

    def update_segment(self, info) -> None:
        """Refresh one segment (state / progress) without rebuilding the track."""
        for i, s in enumerate(self.segments):
            if s.id == info.id:
                self.segments[i] = info
        item = self.items.get(info.id)
        if item is not None:
            item.update_info(info)

    def set_progress(self, segment_id: int, fraction: float) -> None:
        item = self.items.get(segment_id)
        if item is not None:
            item.set_progress(fraction)

    # ------------------------------------------------------------ selection / playhead
    def select(self, segment_id: int | None, emit: bool = False) -> None:
        self.selected_id = segment_id
        for sid, item in self.items.items():
            item.set_selected(sid == segment_id)
        if emit:
            self.segmentSelected.emit(-1 if segment_id is None else int(segment_id))

    def segment_at(self, frame: int):
        return next((s for s in self.segments if s.start <= frame < s.end), None)

    def set_playhead(self, frame: int) -> None:
        self.playhead_frame = int(frame)
        t = frame / self.fps
        self._syncing = True
        try:
            for line in self.playheads:
                line.setValue(t)
        finally:
            self._syncing = False
        self.time_label.setText(f"{format_time(t)}  ·  frame {frame}")
        self._keep_visible(t)

    def _keep_visible(self, t: float) -> None:
        (x0, x1) = self.wave_plot.vb.viewRange()[0]
        if t < x0 or t > x1:
            width = x1 - x0
            start = max(0.0, t - width * 0.1)
            self.wave_plot.setXRange(start, start + width, padding=0)

    # ------------------------------------------------------------ zoom
    def fit(self) -> None:
        self.wave_plot.setXRange(0, max(self.duration, 0.1) * 1.01, padding=0)

    def zoom(self, factor: float) -> None:
        (x0, x1) = self.wave_plot.vb.viewRange()[0]
        center = self.playhead_frame / self.fps if x0 <= self.playhead_frame / self.fps <= x1 \
            else (x0 + x1) / 2
        half = (x1 - x0) * factor / 2
        start = max(0.0, center - half)
        self.wave_plot.setXRange(start, start + 2 * half, padding=0)

    def visible_range(self) -> tuple[float, float]:
        return tuple(self.wave_plot.vb.viewRange()[0])

    # ------------------------------------------------------------ events
    def frame_at_scene(self, scene_pos) -> int:
        x = self.wave_plot.vb.mapSceneToView(scene_pos).x()
        return int(np.clip(np.floor(x * self.fps), 0, max(self.n_frames - 1, 0)))

    def _on_click(self, event) -> None:
        if self.n_frames <= 0 or event.button() != Qt.LeftButton:
            return
        pos = event.scenePos()
        frame = self.frame_at_scene(pos)
        x = self.wave_plot.vb.mapSceneToView(pos).x()
        if self.seg_plot.vb.sceneBoundingRect().contains(pos):
            seg = self.segment_at(frame) if 0 <= x < self.duration else None
            if event.double():
                if seg is not None:
                    self.segmentActivated.emit(seg.id)
                return
            # a click on the selected segment again, or past the segments, deselects
            if seg is not None and seg.id == self.selected_id:
                seg = None
            self.select(seg.id if seg else None, emit=True)
        elif self.selected_id is not None and any(
                p.vb.sceneBoundingRect().contains(pos) for p in (self.wave_plot, self.text_plot)):
            self.select(None, emit=True)  # the audio and words lanes hold no segment
        self.seekRequested.emit(frame)

    def _on_playhead_dragged(self, line) -> None:
        if self._syncing or self.n_frames <= 0:
            return
        frame = int(np.clip(round(line.value() * self.fps), 0, self.n_frames - 1))
        self.seekRequested.emit(frame)

    def _on_boundary_dragged(self, line) -> None:
        new_end = int(round(line.value() * self.fps))
        prev = next((s for s in self.segments if s.id == line.segment_id), None)
        if prev is None or new_end == prev.end:
            return
        self.boundaryMoved.emit(int(line.segment_id), new_end)
