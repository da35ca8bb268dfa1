"""A tqdm progress bar driven by core's `progress(fraction, message)` callbacks."""

from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def progress_bar(desc: str, enabled: bool = True):
    """Yield a `progress(fraction, message)` callback that drives one tqdm bar (0..100%)."""
    if not enabled:
        yield lambda fraction, message: None
        return
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, unit="‰", file=sys.stderr, leave=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}")
    state = {"n": 0}

    def update(fraction: float, message: str) -> None:
        target = int(max(0.0, min(1.0, fraction)) * 1000)
        if target > state["n"]:
            bar.update(target - state["n"])
            state["n"] = target
        if message:
            bar.set_postfix_str(message, refresh=False)

    try:
        yield update
        update(1.0, "")
    finally:
        bar.close()
