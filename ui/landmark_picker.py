"""Place the 5 key points on a portrait whose face the detector did not find.

The points are in the image's own pixels (EXIF-rotated, as the analyser sees it), in the
order core expects (core.face.keypoints): image-left eye, image-right eye, nose tip,
image-left mouth corner, image-right mouth corner. Clicking places the next point;
right-click removes the last one; a point can be dragged to refine it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.preview import to_qimage

KEY_POINTS = (
    "centre of the left eye (as seen in the image)",
    "centre of the right eye (as seen in the image)",
    "tip of the nose",
    "left corner of the mouth (as seen in the image)",
    "right corner of the mouth (as seen in the image)",
)
COLORS = ("#ff5a5a", "#ffb020", "#42d67a", "#3d8bfd", "#c06bff")


class PointCanvas(QWidget):
    """Shows the image scaled to fit; clicks become image-pixel points."""

    pointsChanged = Signal()

    def __init__(self, image: QImage):
        super().__init__()
        self.image = image
        self.points: list[tuple[float, float]] = []
        self._drag: int | None = None
        self.setMinimumSize(420, 420)
        self.setMouseTracking(True)

    def _target(self) -> QRectF:
        w, h = self.width(), self.height()
        iw, ih = self.image.width(), self.image.height()
        s = min(w / iw, h / ih)
        return QRectF((w - iw * s) / 2, (h - ih * s) / 2, iw * s, ih * s)

    def to_image(self, pos: QPointF) -> tuple[float, float] | None:
        t = self._target()
        if not t.contains(pos):
            return None
        s = t.width() / self.image.width()
        return ((pos.x() - t.left()) / s, (pos.y() - t.top()) / s)

    def to_widget(self, pt: tuple[float, float]) -> QPointF:
        t = self._target()
        s = t.width() / self.image.width()
        return QPointF(t.left() + pt[0] * s, t.top() + pt[1] * s)

    def add_point(self, x: float, y: float) -> None:
        if len(self.points) < len(KEY_POINTS):
            self.points.append((float(x), float(y)))
            self.update()
            self.pointsChanged.emit()

    def remove_last(self) -> None:
        if self.points:
            self.points.pop()
            self.update()
            self.pointsChanged.emit()

    def _hit(self, pos: QPointF) -> int | None:
        for i, pt in enumerate(self.points):
            q = self.to_widget(pt)
            if (q - pos).manhattanLength() < 12:
                return i
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if event.button() == Qt.RightButton:
            self.remove_last()
            return
        hit = self._hit(pos)
        if hit is not None:
            self._drag = hit
            return
        pt = self.to_image(pos)
        if pt is not None:
            self.add_point(*pt)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._drag is not None:
            pt = self.to_image(event.position())
            if pt is not None:
                self.points[self._drag] = pt
                self.update()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._drag is not None:
            self._drag = None
            self.pointsChanged.emit()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#0d0e10"))
        p.setRenderHint(QPainter.Antialiasing)
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.drawImage(self._target(), self.image)
        font = QFont()
        font.setBold(True)
        p.setFont(font)
        for i, pt in enumerate(self.points):
            q = self.to_widget(pt)
            color = QColor(COLORS[i])
            p.setPen(QPen(QColor("black"), 3))
            p.drawEllipse(q, 6, 6)
            p.setPen(QPen(color, 2))
            p.drawEllipse(q, 6, 6)
            p.drawLine(q + QPointF(-10, 0), q + QPointF(10, 0))
            p.drawLine(q + QPointF(0, -10), q + QPointF(0, 10))
            p.drawText(q + QPointF(9, -9), str(i + 1))


class LandmarkPicker(QDialog):
    """`points()` -> [5, 2] float array in image pixels once all five are placed."""

    def __init__(self, image: np.ndarray, name: str = "", reason: str = "",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Place key points — {name}" if name else "Place key points")
        self.setObjectName("LandmarkPicker")
        self.canvas = PointCanvas(to_qimage(image))
        self.reason = QLabel(reason)
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #e0a040;")
        self.reason.setVisible(bool(reason))
        self.prompt = QLabel()
        self.prompt.setStyleSheet("font-size: 14px; font-weight: bold;")
        undo = QPushButton("Remove last point")
        undo.clicked.connect(self.canvas.remove_last)
        clear = QPushButton("Clear")
        clear.clicked.connect(self._clear)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(undo)
        row.addWidget(clear)
        row.addStretch(1)
        row.addWidget(self.buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.reason)
        layout.addWidget(self.prompt)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(row)
        self.canvas.pointsChanged.connect(self._update)
        self.resize(640, 720)
        self._update()

    def _clear(self) -> None:
        self.canvas.points.clear()
        self.canvas.update()
        self._update()

    def _update(self) -> None:
        n = len(self.canvas.points)
        if n < len(KEY_POINTS):
            self.prompt.setText(f"Click point {n + 1} of 5: the {KEY_POINTS[n]}")
        else:
            self.prompt.setText("All 5 points placed — drag to refine, then OK")
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(n == len(KEY_POINTS))

    def points(self) -> np.ndarray | None:
        if len(self.canvas.points) != len(KEY_POINTS):
            return None
        return np.asarray(self.canvas.points, dtype=np.float32)
