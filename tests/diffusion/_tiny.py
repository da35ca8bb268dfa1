"""Shared helpers for the diffusion pipeline/engine tests (tiny model, synthetic inputs)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


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


def main_cli(*args: str) -> subprocess.CompletedProcess:
    """`python main.py ARGS` in the checkout, output captured (the training tests drive
    render, data prepare and train through the CLI a user runs)."""
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
