"""The initial noise of a frame, a function of (seed, frame) only.

Why its own module: a re-rendered segment must start every frame from the noise the whole
render gave it, and the anchors a segment is inpainted around must be noised with that
same per-frame noise; both the pipeline and core.diffusion.anchors draw it here.
"""

from __future__ import annotations

import hashlib

import torch


def _noise(key: str, shape: tuple[int, ...]) -> torch.Tensor:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    g = torch.Generator().manual_seed(int.from_bytes(digest, "little") & ((1 << 63) - 1))
    return torch.randn(shape, generator=g, dtype=torch.float32)


def frame_noise(
    seed: int, frame: int, shape: tuple[int, ...], shared: float = 0.0
) -> torch.Tensor:
    """The initial noise of one frame, a function of (seed, frame) only.

    `shared` in [0, 1] mixes in one clip-wide noise field (variance-preserving:
    √s·common + √(1−s)·own). 0 = independent frames (Hallo); larger values start all frames
    from more similar noise, which makes consecutive frames more alike.
    """
    own = _noise(f"{int(seed)}:{int(frame)}", shape)
    s = float(shared)
    if s <= 0.0:
        return own
    common = _noise(f"{int(seed)}:shared", shape)
    return common * s**0.5 + own * (1.0 - s) ** 0.5
