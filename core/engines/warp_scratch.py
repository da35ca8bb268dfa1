"""Per-thread scratch arrays of the warp renderer (core.engines.warp_mesh.MeshWarp.maps,
core.engines.warp): a frame's full-size intermediates (index image, coefficient planes,
maps, fixed-point maps) live here and are reused from frame to frame.

Why: fresh multi-MB arrays per frame were, in some heap states, handed back to the OS by
the allocator and faulted in again every frame (measured ~2,300-3,000 page faults and
~4 ms per 512 px frame, more than the warp itself)."""

from __future__ import annotations

import threading

import numpy as np


class Scratch:
    """Reusable full-size per-frame arrays of one thread at one output size.

    One set per (thread, size), shared by every mesh and request that thread renders at
    that size: a frame uses them only inside its own render call, and one engine serves a
    render and a preview thread at once, so each thread has its own (thread-local)."""

    _local = threading.local()

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.areas: np.ndarray | None = None  # the last maps() call's triangle areas
        # the last full maps() call's eased frame-edge bands: (axis, start, stop) rows
        # (axis 0) or columns (axis 1) that warp_edges.ease_edges rewrote
        self.eased: list[tuple[int, int, int]] = []

    @classmethod
    def of(cls, size: int) -> Scratch:
        pools = cls._local.__dict__.setdefault("pools", {})
        pool = pools.get(size)
        if pool is None:
            pool = pools[size] = cls()
        return pool

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """The array `name`, (re)allocated when its shape or dtype differs."""
        a = self.arrays.get(name)
        if a is None or a.shape != tuple(shape) or a.dtype != np.dtype(dtype):
            a = self.arrays[name] = np.empty(shape, dtype)
        return a
