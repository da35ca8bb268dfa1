"""A disk cache of analysis results inside the project (cache/), keyed by content hash +
parameters, so reopening a project does not re-run face analysis, audio analysis or the
motion planner. An in-memory layer keeps the last few objects of this process.

Entries are data only (`core.serial`: an .npz of arrays + a JSON manifest, read with
allow_pickle=False, classes built from an allow-list, SHA-256 checked), never pickles:
project folders are shared, and a pickle in cache/ would run code at the next render.
Old `.pkl` entries are never opened (they are deleted at the first write).

The cache is disposable: a missing, damaged, altered or unknown entry is a miss (the value
is recomputed), and an entry that cannot be written (disk full, read-only folder) is
skipped with a logged warning; neither ever fails the caller. A `Compaction` lets a kind of
entry store less than the full object (FaceRig: no pixels; see core.face.compact).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from core import serial
from core.errors import InputError
from core.fsutil import atomic_path

T = TypeVar("T")
CACHE_VERSION = 3  # 2: core.serial .npz entries instead of pickles; 3: AudioFeatures carry prosody
SUFFIX = ".npz"
log = logging.getLogger(__name__)


def key_of(kind: str, **params: Any) -> str:
    """A stable file-name-safe key for `kind` + params (JSON-serialisable values)."""
    blob = json.dumps({"v": CACHE_VERSION, **params}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:32]}"


@dataclass(frozen=True)
class Compaction:
    """How one kind of entry is stored: `strip(value)` is written, `restore(stored)` gives
    the value back after reading (an exception there counts as a miss)."""

    strip: Callable[[Any], Any]
    restore: Callable[[Any], Any]


class DiskCache:
    def __init__(self, folder: Path, memory_items: int = 16):
        self.folder = folder
        self._mem: OrderedDict[str, Any] = OrderedDict()
        self._max = memory_items
        self._lock = threading.Lock()
        self._warned = False
        self._purged = False

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def get(self, key: str, compaction: Compaction | None = None) -> Any | None:
        """The value of `key`, or None on a miss (absent, damaged, altered, unknown)."""
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return self._mem[key]
        path = self._file(key)
        try:
            value = serial.load(path, label=key)
            if compaction is not None:
                value = compaction.restore(value)
        except FileNotFoundError:
            return None
        except Exception as exc:  # any damaged or unrestorable entry is only a miss
            log.info("ignoring cache entry %s: %s", path.name, exc)
            return None
        self._remember(key, value)
        return value

    def put(self, key: str, value: Any, compaction: Compaction | None = None) -> bool:
        """Keep `value` in memory and try to write it; False (and a warning logged once per
        cache) when it could not be written."""
        self._remember(key, value)
        path = self._file(key)
        try:
            stored = compaction.strip(value) if compaction is not None else value
            self.folder.mkdir(parents=True, exist_ok=True)
            self._purge_pickles()
            with atomic_path(path, suffix=SUFFIX) as tmp, open(tmp, "wb") as f:
                serial.dump(stored, f, label=key)
        except (OSError, InputError, serial.SerialError, ValueError) as exc:
            # InputError: atomic_path reports a failed write (disk full, read-only) as one
            # line for the user; for a disposable cache it is only a warning.
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if not self._warned:
                self._warned = True
                log.warning("could not write the analysis cache %s (%s); continuing "
                            "without it (results are recomputed next time)", path, why)
            else:
                log.debug("cache write skipped for %s: %s", path.name, why)
            return False
        return True

    def get_or_compute(self, key: str, compute: Callable[[], T], disk: bool = True,
                       compaction: Compaction | None = None) -> T:
        """The cached value of `key`, computing (and storing) it on a miss. disk=False keeps
        cheap-to-recompute values in memory only."""
        if not disk:
            with self._lock:
                if key in self._mem:
                    self._mem.move_to_end(key)
                    return self._mem[key]
            value = compute()
            self._remember(key, value)
            return value
        value = self.get(key, compaction)
        if value is None:
            value = compute()
            self.put(key, value, compaction)
        return value

    def _purge_pickles(self) -> None:
        """Delete entries of the pickle era (never read: they could run code)."""
        if self._purged:
            return
        self._purged = True
        with contextlib.suppress(OSError):
            for p in self.folder.glob("*.pkl"):
                with contextlib.suppress(OSError):
                    p.unlink()

    def _remember(self, key: str, value: Any) -> None:
        with self._lock:
            self._mem[key] = value
            self._mem.move_to_end(key)
            while len(self._mem) > self._max:
                self._mem.popitem(last=False)
