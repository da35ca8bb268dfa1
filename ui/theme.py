"""The dark editor look: Fusion style + a dark palette + a few stylesheet touches.

Why a palette rather than a big stylesheet: Fusion draws every stock widget from the
palette, so dialogs, menus and pyqtgraph's Qt parts all follow without per-widget rules;
the stylesheet only adds what the palette cannot (panel headers, splitter handles).
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Colours used by several widgets (timeline segment states, meters...).
BG = "#1e1f22"
PANEL = "#26282c"
BASE = "#191a1d"
TEXT = "#d8dade"
DIM = "#8b9098"
ACCENT = "#3d8bfd"

STATE_COLORS = {
    "missing": "#4a4e57",
    "queued": "#8a6d1f",
    "rendering": "#2f6fc4",
    "rendered": "#2e8b57",
    "failed": "#b03a3a",
    "stale": "#8a5a2b",
}
"""Segment fill per SegmentInfo.state (also used by the queue panel and the legend)."""

STATE_LABELS = {
    "missing": "not rendered",
    "queued": "queued",
    "rendering": "rendering",
    "rendered": "rendered",
    "failed": "failed",
    "stale": "stale",
}

STYLESHEET = f"""
QToolTip {{ color: {TEXT}; background: {PANEL}; border: 1px solid #444; }}
QSplitter::handle {{ background: #111214; }}
QSplitter::handle:horizontal {{ width: 3px; }}
QSplitter::handle:vertical {{ height: 3px; }}
QLabel#PanelTitle {{
    color: {DIM}; font-weight: bold; text-transform: uppercase;
    padding: 4px 6px; background: {PANEL}; border-bottom: 1px solid #111214;
}}
QLabel#ErrorBanner {{
    color: white; background: #8e2f2f; padding: 6px 10px; border-radius: 3px;
}}
QToolBar {{ border: none; spacing: 4px; padding: 2px; }}
QStatusBar {{ color: {DIM}; }}
QListWidget, QTreeWidget, QTableWidget {{ border: none; }}
QTabWidget::pane {{ border: none; }}
QCheckBox::indicator, QGroupBox::indicator {{
    width: 14px; height: 14px; border: 1px solid #9aa0a8; border-radius: 3px;
    background: {BASE};
}}
QCheckBox::indicator:hover {{ border-color: {ACCENT}; }}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}
QCheckBox::indicator:disabled {{ border-color: #4a4e57; background: {PANEL}; }}
QCheckBox::indicator:checked:disabled {{ background: #2c4a75; }}
QToolButton#Transport {{
    background: #33363d; border: 1px solid #4a4e57; border-radius: 4px; padding: 3px;
}}
QToolButton#Transport:hover {{ background: #3d414a; border-color: {ACCENT}; }}
QToolButton#Transport:pressed {{ background: {ACCENT}; }}
QToolButton#Transport:disabled {{ background: {PANEL}; border-color: #33363d; }}
QPushButton#BackToTimeline {{ color: {ACCENT}; text-align: left; padding: 2px 0; }}
"""


def transport_icon(kind: str, color: str = TEXT, size: int = 20):
    """Play / pause / step / skip (and undo / redo arrow) icons drawn in the text colour.
    The style's stock icons are dark grey on this dark theme and looked disabled."""
    from PySide6.QtCore import QPointF, QRectF
    from PySide6.QtGui import QIcon, QPainter, QPixmap, QPolygonF

    def draw(fill: str) -> QPixmap:
        pm = QPixmap(size, size)
        pm.fill(QColor(0, 0, 0, 0))
        p = QPainter(pm)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QColor(0, 0, 0, 0))
        p.setBrush(QColor(fill))
        m, s2 = size * 0.2, size * 0.6

        def tri(x0, x1):  # a triangle pointing from x0 towards x1
            p.drawPolygon(QPolygonF([QPointF(x0, m), QPointF(x1, size / 2),
                                     QPointF(x0, m + s2)]))

        bar = size * 0.12
        if kind == "play":
            tri(size * 0.28, size * 0.78)
        elif kind == "pause":
            p.drawRect(QRectF(size * 0.28, m, size * 0.15, s2))
            p.drawRect(QRectF(size * 0.57, m, size * 0.15, s2))
        elif kind == "step_fwd":
            tri(size * 0.25, size * 0.65)
            p.drawRect(QRectF(size * 0.66, m, bar, s2))
        elif kind == "step_back":
            tri(size * 0.75, size * 0.35)
            p.drawRect(QRectF(size * 0.22, m, bar, s2))
        elif kind == "end":
            tri(size * 0.15, size * 0.45)
            tri(size * 0.45, size * 0.75)
            p.drawRect(QRectF(size * 0.75, m, bar, s2))
        elif kind in ("undo", "redo"):  # an arrow: head + shaft
            head, tail = (size * 0.15, size * 0.85) if kind == "undo" else \
                (size * 0.85, size * 0.15)
            neck = size * 0.5
            p.drawPolygon(QPolygonF([QPointF(head, size / 2), QPointF(neck, size * 0.2),
                                     QPointF(neck, size * 0.8)]))
            p.drawRect(QRectF(min(neck, tail), size * 0.4, abs(tail - neck), size * 0.2))
        elif kind == "start":
            tri(size * 0.85, size * 0.55)
            tri(size * 0.55, size * 0.25)
            p.drawRect(QRectF(size * 0.13, m, bar, s2))
        p.end()
        return pm

    icon = QIcon()
    icon.addPixmap(draw(color), QIcon.Normal)
    icon.addPixmap(draw("#5a5e66"), QIcon.Disabled)
    return icon


def apply_dark_theme(app: QApplication) -> None:
    """Fusion + dark palette + stylesheet, applied app-wide."""
    app.setStyle("Fusion")
    pal = QPalette()
    c = QColor
    pal.setColor(QPalette.Window, c(BG))
    pal.setColor(QPalette.WindowText, c(TEXT))
    pal.setColor(QPalette.Base, c(BASE))
    pal.setColor(QPalette.AlternateBase, c(PANEL))
    pal.setColor(QPalette.ToolTipBase, c(PANEL))
    pal.setColor(QPalette.ToolTipText, c(TEXT))
    pal.setColor(QPalette.Text, c(TEXT))
    pal.setColor(QPalette.Button, c(PANEL))
    pal.setColor(QPalette.ButtonText, c(TEXT))
    pal.setColor(QPalette.BrightText, c("#ff5555"))
    pal.setColor(QPalette.Link, c(ACCENT))
    pal.setColor(QPalette.Highlight, c(ACCENT))
    pal.setColor(QPalette.HighlightedText, c("#ffffff"))
    pal.setColor(QPalette.PlaceholderText, c(DIM))
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        pal.setColor(QPalette.Disabled, role, c("#666a72"))
    app.setPalette(pal)
    app.setStyleSheet(STYLESHEET)
