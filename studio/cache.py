"""A disk cache of analysis results inside the project (cache/), keyed by content hash +
parameters, so reopening a project does not re-run face analysis, audio analysis or the
motion planner. Entries are pickles written atomically; a corrupt or unreadable entry is
treated as a miss (the cache is disposable: deleting cache/ only costs recomputation).
An in-memory layer keeps the last few objects of this process.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from core.fsutil import atomic_path

T = TypeVar("T")
CACHE_VERSION = 2  # 2: AudioFeatures carry prosody


def key_of(kind: str, **params: Any) -> str:
    """A stable file-name-safe key for `kind` + params (JSON-serialisable values)."""
    blob = json.dumps({"v": CACHE_VERSION, **params}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:32]}"


class DiskCache:
    def __init__(self, folder: Path, memory_items: int = 16):
        self.folder = folder
        self._mem: OrderedDict[str, Any] = OrderedDict()
        self._max = memory_items
        self._lock = threading.Lock()

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.pkl"

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return self._mem[key]
        try:
            with open(self._file(key), "rb") as f:
                value = pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError,
                ValueError, TypeError):
            return None
        self._remember(key, value)
        return value

    def put(self, key: str, value: Any) -> None:
        self._remember(key, value)
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._file(key)) as tmp, open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)

    def get_or_compute(self, key: str, compute: Callable[[], T], disk: bool = True) -> T:
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
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def _remember(self, key: str, value: Any) -> None:
        with self._lock:
            self._mem[key] = value
            self._mem.move_to_end(key)
            while len(self._mem) > self._max:
                self._mem.popitem(last=False)
