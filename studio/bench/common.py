"""Shared bits for the benchmarks: sample inputs, timing, memory."""

from __future__ import annotations

import os
import resource
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _find_shared() -> Path:
    """`shared/` beside the checkout, or beside a folder above it (a git worktree of the
    project sits one level deeper than the main checkout)."""
    for up in ROOT.parents:
        if (up / "shared").is_dir():
            return up / "shared"
    return ROOT.parent / "shared"


SHARED = _find_shared()
SAMPLES = SHARED / "samples"
PEERS = SHARED / "peers"


def sample(*parts: str) -> Path | None:
    path = SAMPLES.joinpath(*parts)
    return path if path.is_file() else None


def demo_inputs(folder: Path) -> tuple[Path, Path, str]:
    """The demo portrait + speech (always available after set-up) and its transcript."""
    from studio.cli.commands.demo import DEMO_TRANSCRIPT, demo_portrait, ensure_demo_speech

    return demo_portrait(folder), ensure_demo_speech(), DEMO_TRANSCRIPT.read_text().strip()


def children_peak_rss_mb() -> float:
    """Peak RSS of the largest finished child process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def self_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one_thread() -> None:
    """Pin numeric libraries to one thread so per-thread numbers mean what they say."""
    import cv2

    cv2.setNumThreads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def tmpdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="avatar-bench-")
