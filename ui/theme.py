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
"""


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
