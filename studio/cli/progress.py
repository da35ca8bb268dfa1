"""A tqdm progress bar driven by core's `progress(fraction, message)` callbacks.

The bar is created on the first callback and erased if the work fails, so a user error
still reads as exactly one line on stderr.
"""

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

    state: dict = {"bar": None, "n": 0}

    def update(fraction: float, message: str) -> None:
        bar = state["bar"]
        if bar is None:
            bar = state["bar"] = tqdm(
                total=1000, desc=desc, file=sys.stderr, leave=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}",
            )
        target = int(max(0.0, min(1.0, fraction)) * 1000)
        if target > state["n"]:
            bar.update(target - state["n"])
            state["n"] = target
        if message:
            bar.set_postfix_str(message, refresh=False)

    try:
        yield update
    except BaseException:
        if state["bar"] is not None:
            state["bar"].leave = False
            state["bar"].close()
        raise
    else:
        if state["bar"] is not None:
            update(1.0, "")
            state["bar"].close()
