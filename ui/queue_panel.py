"""The render queue panel: one row per job with progress, cancel/retry and its error.

Rows are keyed by job id; progress updates touch one progress bar (cheap, called up to
~20 times a second), a full refresh rebuilds the table from `Project.jobs()`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.theme import DIM

JOB_COLORS = {
    "queued": "#c9a227",
    "running": "#3d8bfd",
    "done": "#3cb371",
    "failed": "#e05555",
    "cancelled": "#8b9098",
    "interrupted": "#d98b3a",
}
MAX_ROWS = 60


class QueuePanel(QWidget):
    cancelRequested = Signal(int)
    retryRequested = Signal(int)
    clearRequested = Signal()
    renderAllRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Job", "State", "Progress", "Message", ""])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QTableWidget.NoSelection)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(3, QHeaderView.Stretch)
        self.table.setColumnWidth(0, 112)
        self.table.setColumnWidth(1, 64)
        self.table.setColumnWidth(2, 84)
        self.table.setColumnWidth(4, 64)
        self.bars: dict[int, QProgressBar] = {}
        self.messages: dict[int, QTableWidgetItem] = {}
        self.rows: dict[int, int] = {}

        title = QLabel("Render queue")
        title.setObjectName("PanelTitle")
        self.summary = QLabel("")
        self.summary.setStyleSheet(f"color: {DIM};")
        render_all = QPushButton("Render all")
        render_all.clicked.connect(self.renderAllRequested.emit)
        clear = QPushButton("Clear finished")
        clear.clicked.connect(self.clearRequested.emit)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 4, 0)
        top.addWidget(title, 1)
        top.addWidget(self.summary)
        top.addWidget(render_all)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def set_jobs(self, jobs, segment_index: dict[int, int] | None = None) -> None:
        """Show jobs (JobInfo, newest first); `segment_index` maps segment id -> index."""
        segment_index = segment_index or {}
        jobs = list(jobs)[:MAX_ROWS]
        self.table.setRowCount(len(jobs))
        self.bars.clear()
        self.messages.clear()
        self.rows.clear()
        for row, job in enumerate(jobs):
            self.rows[job.id] = row
            seg = segment_index.get(job.segment_id)
            what = f"#{job.id}  segment {seg + 1}" if seg is not None else f"#{job.id}"
            self.table.setItem(row, 0, QTableWidgetItem(what))
            state = QTableWidgetItem(job.state)
            state.setData(Qt.ForegroundRole, _color(job.state))
            self.table.setItem(row, 1, state)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(round((1.0 if job.state == "done" else job.progress) * 1000)))
            bar.setFormat("%p%")
            bar.setTextVisible(True)
            self.table.setCellWidget(row, 2, bar)
            self.bars[job.id] = bar
            if job.error:
                text = job.error
            elif job.state == "done" and getattr(job, "reused", False):
                text = "reused an existing render"
            else:
                text = job.message or ""
            msg = QTableWidgetItem(text)
            msg.setToolTip(text)
            if job.error:
                msg.setForeground(_color("failed"))
            self.table.setItem(row, 3, msg)
            self.messages[job.id] = msg
            self.table.setCellWidget(row, 4, self._action(job))
        states = [j.state for j in jobs]
        running, queued = states.count("running"), states.count("queued")
        failed = states.count("failed")
        parts = []
        if running:
            parts.append(f"{running} running")
        if queued:
            parts.append(f"{queued} queued")
        if failed:
            parts.append(f"{failed} failed")
        self.summary.setText(" · ".join(parts) or "idle")

    def _action(self, job) -> QWidget:
        if job.state in ("queued", "running"):
            b = QPushButton("Cancel")
            b.clicked.connect(lambda _=False, i=job.id: self.cancelRequested.emit(i))
        elif job.state in ("failed", "cancelled", "interrupted"):
            b = QPushButton("Retry")
            b.clicked.connect(lambda _=False, i=job.id: self.retryRequested.emit(i))
        else:
            return QWidget()
        b.setObjectName(f"job-{job.id}-{b.text().lower()}")
        return b

    def update_progress(self, job_id: int, fraction: float, message: str) -> None:
        bar = self.bars.get(job_id)
        if bar is not None:
            bar.setValue(int(round(fraction * 1000)))
        item = self.messages.get(job_id)
        if item is not None and message:
            item.setText(message)
        row = self.rows.get(job_id)
        if row is not None:
            state = self.table.item(row, 1)
            if state is not None and state.text() == "queued":
                state.setText("running")
                state.setData(Qt.ForegroundRole, _color("running"))

    def button(self, job_id: int) -> QPushButton | None:
        row = self.rows.get(job_id)
        if row is None:
            return None
        w = self.table.cellWidget(row, 4)
        return w if isinstance(w, QPushButton) else None


def _color(state: str):
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(JOB_COLORS.get(state, DIM)))
