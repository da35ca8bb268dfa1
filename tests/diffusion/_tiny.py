"""Shared helpers for the diffusion pipeline/engine tests (tiny model, synthetic inputs)."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def one_thread():
    """Single-threaded torch: on a loaded 2-core machine this is both faster and steadier
    for tiny models than oversubscribed intra-op threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
