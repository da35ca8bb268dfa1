"""The asset library: portraits, audio tracks and edit presets, with drag and drop.

It shows plain records (PortraitInfo, AudioInfo, PresetInfo) and emits intents; the main
window does the work (imports run off the GUI thread). Thumbnails and waveform strips
arrive later from pool tasks and are set by id, so a big library opens instantly.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.theme import DIM

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
AUDIO_EXTS = {".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus", ".mp4", ".mov"}


def classify(path: str | Path) -> str:
    """'portrait', 'audio' or 'unknown' by file extension."""
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTS:
        return "portrait"
    if ext in AUDIO_EXTS:
        return "audio"
    return "unknown"


def _placeholder(size: QSize, color: str = "#333") -> QIcon:
    pm = QPixmap(size)
    pm.fill(QColor(color))
    return QIcon(pm)


class AssetList(QListWidget):
    """A list of assets keyed by id (item data role UserRole)."""

    def __init__(self, icon_size: QSize):
        super().__init__()
        self.setIconSize(icon_size)
        self.setSpacing(2)
        self.setUniformItemSizes(True)
        self.setContextMenuPolicy(Qt.CustomContextMenu)
        self.setDragDropMode(QListWidget.NoDragDrop)
        self.setAcceptDrops(False)  # drops are handled by the panel

    def item_for(self, asset_id: int) -> QListWidgetItem | None:
        for i in range(self.count()):
            item = self.item(i)
            if item.data(Qt.UserRole) == asset_id:
                return item
        return None

    def current_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else int(item.data(Qt.UserRole))

    def select_id(self, asset_id: int | None) -> None:
        item = None if asset_id is None else self.item_for(asset_id)
        if item is not None:
            self.setCurrentItem(item)


class LibraryPanel(QWidget):
    filesDropped = Signal(list)  # [str paths]
    importRequested = Signal()
    recordRequested = Signal()
    newTimelineRequested = Signal()
    newPresetRequested = Signal()
    portraitSelected = Signal(int)
    audioSelected = Signal(int)
    presetSelected = Signal(int)
    landmarksRequested = Signal(int)  # portrait id
    transcriptRequested = Signal(int)  # audio id
    newScriptRequested = Signal()
    removeRequested = Signal(str, int)  # kind, id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.portrait_list = AssetList(QSize(56, 56))
        self.audio_list = AssetList(QSize(120, 30))
        self.preset_list = AssetList(QSize(16, 16))
        self.thumbs: dict[int, QImage] = {}
        self.waves: dict[int, QImage] = {}

        self.tabs = QTabWidget()
        self.tabs.addTab(self._with_buttons(self.portrait_list, [
            ("Import…", self.importRequested.emit),
            ("Key points…", self._request_landmarks),
        ]), "Portraits")
        self.tabs.addTab(self._with_buttons(self.audio_list, [
            ("Import…", self.importRequested.emit),
            ("Record…", self.recordRequested.emit),
            ("From script…", self.newScriptRequested.emit),
            ("Transcript…", self._request_transcript),
        ]), "Audio")
        self.tabs.addTab(self._with_buttons(self.preset_list, [
            ("New preset", self.newPresetRequested.emit),
        ]), "Presets")

        self.drop_hint = QLabel("Drop portrait images or audio files here")
        self.drop_hint.setAlignment(Qt.AlignCenter)
        self.drop_hint.setStyleSheet(f"color: {DIM}; padding: 6px; border: 1px dashed #444;")
        self.new_timeline_btn = QPushButton("New timeline from selection")
        self.new_timeline_btn.clicked.connect(self.newTimelineRequested.emit)

        title = QLabel("Library")
        title.setObjectName("PanelTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.drop_hint)
        layout.addWidget(self.new_timeline_btn)

        self.tabs.currentChanged.connect(self._on_tab)
        self._on_tab(self.tabs.currentIndex())
        self.portrait_list.currentItemChanged.connect(
            lambda item, _prev: item and self.portraitSelected.emit(int(item.data(Qt.UserRole))))
        self.audio_list.currentItemChanged.connect(
            lambda item, _prev: item and self.audioSelected.emit(int(item.data(Qt.UserRole))))
        self.preset_list.currentItemChanged.connect(
            lambda item, _prev: item and self.presetSelected.emit(int(item.data(Qt.UserRole))))
        self.preset_list.itemClicked.connect(
            lambda item: self.presetSelected.emit(int(item.data(Qt.UserRole))))
        self.portrait_list.customContextMenuRequested.connect(
            lambda pos: self._menu("portrait", self.portrait_list, pos))
        self.audio_list.customContextMenuRequested.connect(
            lambda pos: self._menu("audio", self.audio_list, pos))
        self.preset_list.customContextMenuRequested.connect(
            lambda pos: self._menu("preset", self.preset_list, pos))

    def _on_tab(self, index: int) -> None:
        """Files can be dropped on the Portraits and Audio tabs only (not on Presets)."""
        accepts = index in (0, 1)
        self.drop_hint.setVisible(accepts)
        self.setAcceptDrops(accepts)

    def _with_buttons(self, widget: QWidget, buttons) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(2)
        v.addWidget(widget, 1)
        row = QHBoxLayout()
        row.setContentsMargins(4, 0, 4, 4)
        for text, slot in buttons:
            b = QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
        v.addLayout(row)
        return box

    def _request_landmarks(self) -> None:
        pid = self.portrait_list.current_id()
        if pid is not None:
            self.landmarksRequested.emit(pid)

    def _request_transcript(self) -> None:
        aid = self.audio_list.current_id()
        if aid is not None:
            self.transcriptRequested.emit(aid)

    def _menu(self, kind: str, widget: AssetList, pos) -> None:
        item = widget.itemAt(pos)
        if item is None:
            return
        asset_id = int(item.data(Qt.UserRole))
        menu = QMenu(self)
        if kind == "portrait":
            menu.addAction("Place key points…", lambda: self.landmarksRequested.emit(asset_id))
        if kind == "audio":
            menu.addAction("Edit transcript…", lambda: self.transcriptRequested.emit(asset_id))
        menu.addAction("Remove", lambda: self.removeRequested.emit(kind, asset_id))
        menu.popup(widget.viewport().mapToGlobal(pos))

    # ------------------------------------------------------------ content
    def set_portraits(self, portraits) -> None:
        keep = self.portrait_list.current_id()
        self.portrait_list.clear()
        for p in portraits:
            status = "key points set by hand" if p.has_landmarks else "face detected"
            item = QListWidgetItem(f"{p.name}\n{p.width}×{p.height} · {status}")
            item.setData(Qt.UserRole, p.id)
            item.setToolTip(str(p.path))
            thumb = self.thumbs.get(p.id)
            item.setIcon(QIcon(QPixmap.fromImage(thumb)) if thumb is not None
                         else _placeholder(self.portrait_list.iconSize()))
            self.portrait_list.addItem(item)
        self.portrait_list.select_id(keep)
        if self.portrait_list.currentItem() is None and self.portrait_list.count():
            self.portrait_list.setCurrentRow(0)

    def set_audio(self, tracks) -> None:
        keep = self.audio_list.current_id()
        self.audio_list.clear()
        for a in tracks:
            words = len((a.transcript or "").split())
            tx = f"transcript: {words} words" if a.transcript else "no transcript"
            item = QListWidgetItem(f"{a.name}\n{a.duration:.1f} s · {tx}")
            item.setData(Qt.UserRole, a.id)
            item.setToolTip(a.transcript or str(a.path))
            wave = self.waves.get(a.id)
            item.setIcon(QIcon(QPixmap.fromImage(wave)) if wave is not None
                         else _placeholder(self.audio_list.iconSize(), "#222"))
            self.audio_list.addItem(item)
        self.audio_list.select_id(keep)
        if self.audio_list.currentItem() is None and self.audio_list.count():
            self.audio_list.setCurrentRow(0)

    def set_presets(self, presets) -> None:
        keep = self.preset_list.current_id()
        self.preset_list.blockSignals(True)
        self.preset_list.clear()
        for p in presets:
            e = p.expression
            item = QListWidgetItem(
                f"{p.name}\nsmile {e.smile:+.1f} · brows {e.brows:+.1f} · "
                f"head {e.head_motion:.1f} · blink {e.blink_rate:.1f}"
                + (f"\n{e.emotion} {e.intensity:.1f}" if e.emotion != "neutral" else "")
            )
            item.setData(Qt.UserRole, p.id)
            item.setToolTip(p.prompt or "(no prompt)")
            self.preset_list.addItem(item)
        self.preset_list.select_id(keep)
        self.preset_list.blockSignals(False)

    def set_thumbnail(self, portrait_id: int, image: QImage) -> None:
        self.thumbs[portrait_id] = image
        item = self.portrait_list.item_for(portrait_id)
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def set_waveform(self, audio_id: int, image: QImage) -> None:
        self.waves[audio_id] = image
        item = self.audio_list.item_for(audio_id)
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    # ------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls() and self.acceptDrops():
            event.acceptProposedAction()
            self.drop_hint.setStyleSheet("color: white; padding: 6px; border: 1px dashed white;")

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self.drop_hint.setStyleSheet(f"color: {DIM}; padding: 6px; border: 1px dashed #444;")

    def dropEvent(self, event) -> None:  # noqa: N802
        self.dragLeaveEvent(event)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths)
