"""The render queue panel: one row per job with its timeline, progress, cancel/retry and
its message.

Rows are keyed by job id; progress updates touch one progress bar (cheap, called up to
~20 times a second), a full refresh rebuilds the table from `Project.jobs()`. Long messages
are elided in the cell; the whole text is in the tooltip and, for the selected row, in the
details line under the table (selectable, so an error can be copied).
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
from ui.wording import friendly

JOB_COLORS = {
    "queued": "#c9a227",
    "running": "#3d8bfd",
    "done": "#3cb371",
    "failed": "#e05555",
    "cancelled": "#8b9098",
    "interrupted": "#d98b3a",
}
MAX_ROWS = 60
JOB, TIMELINE, STATE, PROGRESS, MESSAGE, ACTION = range(6)


class QueuePanel(QWidget):
    cancelRequested = Signal(int)
    retryRequested = Signal(int)
    clearRequested = Signal()
    renderAllRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Job", "Timeline", "State", "Progress",
                                              "Message", ""])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QTableWidget.SingleSelection)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.ElideRight)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(36)
        for col, mode in ((JOB, QHeaderView.ResizeToContents),
                          (TIMELINE, QHeaderView.Interactive),
                          (STATE, QHeaderView.ResizeToContents),
                          (PROGRESS, QHeaderView.Fixed),
                          (MESSAGE, QHeaderView.Stretch),
                          (ACTION, QHeaderView.ResizeToContents)):
            header.setSectionResizeMode(col, mode)
        self.table.setColumnWidth(TIMELINE, 96)
        self.table.setColumnWidth(PROGRESS, 58)
        self.table.currentCellChanged.connect(lambda row, *_: self._show_details(row))
        self.details = QLabel("")
        self.details.setObjectName("JobDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.details.setStyleSheet(f"color: {DIM}; padding: 2px 4px;")
        self.details.hide()
        self.texts: dict[int, str] = {}
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
        top.addSpacing(8)
        top.addWidget(render_all)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)

    def set_jobs(self, jobs, names: dict[int, tuple[str, str]] | None = None,
                 current_timeline: int | None = None) -> None:
        """Show jobs (JobInfo, newest first). `names` maps job id -> (timeline name,
        'segment N'); jobs of the timeline on screen are listed in normal text, others dim."""
        names = names or {}
        jobs = list(jobs)[:MAX_ROWS]
        self.table.setRowCount(len(jobs))
        self.bars.clear()
        self.messages.clear()
        self.rows.clear()
        self.texts.clear()
        for row, job in enumerate(jobs):
            self.rows[job.id] = row
            tname, what = names.get(job.id, ("", ""))
            item = QTableWidgetItem(f"#{job.id} {what}".strip())
            item.setToolTip(f"job {job.id}: {what or 'render'} of {tname or 'a timeline'}")
            self.table.setItem(row, JOB, item)
            tl = QTableWidgetItem(tname)
            tl.setToolTip(tname)
            if current_timeline is not None and job.timeline_id != current_timeline:
                tl.setForeground(_color("cancelled"))
            self.table.setItem(row, TIMELINE, tl)
            state = QTableWidgetItem(job.state)
            state.setData(Qt.ForegroundRole, _color(job.state))
            self.table.setItem(row, STATE, state)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(round((1.0 if job.state == "done" else job.progress) * 1000)))
            bar.setFormat("%p%")
            bar.setTextVisible(True)
            self.table.setCellWidget(row, PROGRESS, bar)
            self.bars[job.id] = bar
            if job.error:
                text = friendly(job.error)
            elif job.state == "done" and getattr(job, "reused", False):
                text = "reused an existing render"
            else:
                text = job.message or ""
            msg = QTableWidgetItem(text)
            msg.setToolTip(_wrap(text))
            if job.error:
                msg.setForeground(_color("failed"))
            self.table.setItem(row, MESSAGE, msg)
            self.messages[job.id] = msg
            self.texts[job.id] = text
            self.table.setCellWidget(row, ACTION, self._action(job))
        self._show_details(self.table.currentRow())
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
            item.setToolTip(_wrap(message))
        row = self.rows.get(job_id)
        if row is not None:
            state = self.table.item(row, STATE)
            if state is not None and state.text() == "queued":
                state.setText("running")
                state.setData(Qt.ForegroundRole, _color("running"))

    def button(self, job_id: int) -> QPushButton | None:
        row = self.rows.get(job_id)
        if row is None:
            return None
        w = self.table.cellWidget(row, ACTION)
        return w if isinstance(w, QPushButton) else None


    def _show_details(self, row: int) -> None:
        """The selected job's whole message under the table (errors can be long)."""
        job_id = next((j for j, r in self.rows.items() if r == row), None)
        text = self.texts.get(job_id, "") if job_id is not None else ""
        self.details.setText(f"Job {job_id}: {text}" if text else "")
        self.details.setVisible(bool(text))


def _wrap(text: str, width: int = 70) -> str:
    """Tooltips wrap only rich text: long messages become wrapped HTML."""
    import html
    import textwrap

    if len(text) <= width:
        return text
    return "<p style='white-space:pre-wrap'>" + html.escape("\n".join(
        textwrap.wrap(text, width))) + "</p>"


def _color(state: str):
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(JOB_COLORS.get(state, DIM)))
