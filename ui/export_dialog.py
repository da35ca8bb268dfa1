"""Export dialog: size, fps, quality, output path; progress, cancel, "open folder".

The export runs as a pool task with its own Project instance. It renders nothing itself:
segments that are not rendered are queued as jobs and the app's render lane runs them
(`export_video(..., run_jobs=False)`: no second runner, no second model load); the export
waits for those jobs, then concatenates the segment renders, muxes the audio and writes
atomically, so a cancelled export leaves no file behind (queued renders stay in the render
queue: they are the timeline's own segments). While it waits, the render lane's progress
for its jobs shows here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.types import CRF_RANGE, FPS_RANGE, SIZE_RANGE
from ui.tasks import Worker, create_worker, run
from ui.theme import DIM

QUALITIES = (("High (CRF 18)", 18), ("Good (CRF 23)", 23), ("Small file (CRF 28)", 28))


class ExportDialog(QDialog):
    finished_export = Signal(str)  # output path
    queued = Signal(int)  # number of render jobs the export queued for the render lane
    failed_export = Signal(str)  # message

    open_url = staticmethod(QDesktopServices.openUrl)  # tests replace it

    def __init__(self, project_path, timeline, parent: QWidget | None = None,
                 background=None):
        """`background`: the open project's `ui.background.Background`, whose render lane
        renders the missing segments and whose engine host the export uses. Without one
        (a dialog on its own) the export renders inline, like the CLI."""
        super().__init__(parent)
        self.background = background
        self.job_ids: set[int] = set()
        self.setWindowTitle(f"Export {timeline.name}")
        self.setObjectName("ExportDialog")
        self.project_path = Path(project_path)
        self.timeline = timeline
        self.task: Worker | None = None
        self.out_path: Path | None = None

        self.size = QComboBox()
        sizes = sorted(s for s in {timeline.size, 256, 384, 512, 768, 1024}
                       if SIZE_RANGE.min <= s <= SIZE_RANGE.max)
        for s in sizes:
            label = f"{s} × {s}" + ("  (timeline)" if s == timeline.size else "")
            self.size.addItem(label, s)
        self.size.setCurrentIndex(self.size.findData(timeline.size))
        self.fps = QSpinBox()
        self.fps.setRange(int(FPS_RANGE.min), int(FPS_RANGE.max))
        self.fps.setToolTip(FPS_RANGE.label)
        self.fps.setValue(int(timeline.fps))
        self.fps.setSuffix(" fps")
        self.quality = QComboBox()
        self.quality.setToolTip(CRF_RANGE.label)
        for label, crf in QUALITIES:
            if CRF_RANGE.min <= crf <= CRF_RANGE.max:
                self.quality.addItem(label, crf)
        default = self.project_path / "exports" / f"{_safe(timeline.name)}.mp4"
        self.path_edit = QLineEdit(str(default))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        form = QFormLayout()
        form.addRow("Size", self.size)
        form.addRow("Frame rate", self.fps)
        form.addRow("Quality", self.quality)
        form.addRow("Output", path_row)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = QLabel("Segments that are not rendered yet are rendered first.")
        self.status.setStyleSheet(f"color: {DIM};")
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(420)

        self.export_btn = QPushButton("Export")
        self.export_btn.setDefault(True)
        self.cancel_btn = QPushButton("Cancel")
        self.open_btn = QPushButton("Open folder")
        self.open_btn.setVisible(False)
        self.close_btn = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.open_btn, self.export_btn, self.cancel_btn, self.close_btn):
            buttons.addWidget(b)
        self.cancel_btn.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.setMinimumWidth(540)
        self.resize(600, 280)

        self.export_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.close_btn.clicked.connect(self.close)
        self.open_btn.clicked.connect(self.open_folder)
        if background is not None:
            background.jobProgress.connect(self._on_job_progress)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export video", self.path_edit.text(),
                                              "MP4 video (*.mp4)")
        if path:
            self.path_edit.setText(path if path.lower().endswith(".mp4") else path + ".mp4")

    @property
    def running(self) -> bool:
        return self.task is not None

    def start(self) -> None:
        if self.running:
            return
        out = Path(self.path_edit.text().strip()).expanduser()
        size = int(self.size.currentData())
        fps = int(self.fps.value())
        crf = int(self.quality.currentData())
        timeline_id = self.timeline.id
        self.job_ids = set()
        if out.parent == self.project_path / "exports":
            out.parent.mkdir(parents=True, exist_ok=True)

        background = self.background
        host = background.engine_host if background is not None else None

        def work(worker: Worker):
            from studio.project import Project

            project = Project.open(self.project_path)
            try:
                if host is not None:
                    project.use_engine_host(host)  # the window's one engine host
                    # queue what is missing, then hand the ids to the GUI, which wakes the
                    # render lane; export_video finds these same jobs (enqueue returns a
                    # segment's active job instead of a duplicate) and waits for them
                    project.verify_renders(timeline_id)
                    jobs = project.enqueue(timeline_id)
                    worker.send(("queued", [j.id for j in jobs]))
                return project.export_video(timeline_id, out, size=size, fps=fps, crf=crf,
                                            progress=worker.progress,
                                            cancel=worker.is_cancelled,
                                            run_jobs=host is None)
            finally:
                project.close()

        self.task = create_worker(work, pass_worker=True, name="export")
        self.progress.setValue(0)
        self.status.setText("Exporting…")
        self.export_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.open_btn.setVisible(False)
        self.task.connect(returned=self._done, errored=self._failed, progress=self._progress,
                          yielded=self._on_event)
        run(self.task)

    def _on_event(self, event) -> None:
        kind, ids = event
        if kind == "queued" and self.background is not None:
            self.job_ids = set(ids)
            if ids:
                self.queued.emit(len(ids))
                self.status.setText(f"Rendering {len(ids)} segment(s) in the render queue "
                                    "first…")
                self.background.wake_queue()

    def _on_job_progress(self, job_id: int, fraction: float, message: str) -> None:
        """The render lane's progress on one of this export's jobs."""
        if self.running and job_id in self.job_ids:
            self.status.setText(f"Rendering for the export: {message}")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("Cancelling…")

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(round(fraction * 1000)))
        # while the render lane works for it, its job messages are the more precise ones
        if message and not (self.job_ids and message.startswith("waiting")):
            self.status.setText(message)

    def _done(self, path) -> None:
        self.task = None
        self.out_path = Path(path)
        self.progress.setValue(1000)
        self.status.setText(f"Exported {self.out_path}")
        self.export_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        self.open_btn.setVisible(True)
        self.finished_export.emit(str(self.out_path))

    def _failed(self, message: str) -> None:
        self.task = None
        self.status.setText(f"Export stopped: {message}")
        self.status.setStyleSheet("color: #e05555;")
        self.export_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        self.failed_export.emit(message)

    def open_folder(self) -> None:
        if self.out_path is not None:
            self.open_url(QUrl.fromLocalFile(str(self.out_path.parent)))

    def closeEvent(self, event) -> None:  # noqa: N802
        self.cancel()
        super().closeEvent(event)


def _safe(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name).strip()
    return keep.replace(" ", "_") or "export"
