"""Work-around for a reference-count bug in PySide6 6.12.0's `SignalInstance.emit()`.

`emit()` returns `True` without taking a new reference, so every emit from Python (ours
and pyqtgraph's, on any thread) steals one reference to the `True` singleton. After
enough emits CPython deallocates `True` and aborts ("Fatal Python error: bool_dealloc"),
at exit or, in a long session, in the middle of work. Measured here: a window playing and
rendering for a few seconds is enough to abort at interpreter exit.

The fix is detected, not assumed: a private signal is emitted a few times and the
refcount of `True` checked. Only when it drops (the bug is present) are `True`/`False`
given a huge reference surplus (2**40, what CPython 3.12 does for all immortal objects),
so they can never reach zero. On fixed PySide versions or CPython >= 3.12 (immortal
bools) nothing is changed.
"""

from __future__ import annotations

import sys

_APPLIED: bool | None = None


def emit_leaks_true() -> bool:
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        sig = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(16):
        probe.sig.emit()
    return sys.getrefcount(True) < before


def protect_bool_singletons() -> bool:
    """Apply the work-around once if this PySide6 needs it; True when applied."""
    global _APPLIED
    if _APPLIED is not None:
        return _APPLIED
    _APPLIED = False
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if emit_leaks_true():
        import ctypes

        for singleton in (True, False):
            ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40
        _APPLIED = True
    return _APPLIED
