"""The Help menu: keyboard shortcuts, about (with the versions a bug report needs), and
where the README is."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.settings import DEFAULT_SHORTCUTS, AppSettings

EXTRA_KEYS = (("Deselect the segment (timeline settings)", "Esc"),)
ROOT = Path(__file__).resolve().parents[1]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    import PySide6

    out = {"Avatar Studio": _version("avatar-studio"), "Python": platform.python_version(),
           "Qt / PySide6": PySide6.__version__}
    for dist in ("numpy", "pyqtgraph", "av", "torch", "diffusers"):
        out[dist] = _version(dist)
    out["system"] = f"{platform.system()} {platform.release()} ({sys.platform})"
    return out


def about_text() -> str:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
    return ("<b>Avatar Studio</b><br>One portrait and a speech recording become a talking-"
            "head video: edit it on a timeline, re-render only what you change, export an "
            f"MP4.<br><br><table>{rows}</table>")


def readme_path() -> Path | None:
    path = ROOT / "README.md"
    return path if path.is_file() else None


class ShortcutsDialog(QDialog):
    """The current keyboard shortcuts (Settings changes them)."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [(label, settings.shortcut(aid) or "—")
                for aid, (label, _d) in DEFAULT_SHORTCUTS.items()]
        rows += list(EXTRA_KEYS)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Key"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        for r, (label, key) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(label))
            self.table.setItem(r, 1, QTableWidgetItem(key))
        self.table.setColumnWidth(0, 260)
        note = QLabel("Change them in File ▸ Settings.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)
        self.resize(440, 520)
