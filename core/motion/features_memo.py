"""Remember a pure function of the audio features across plans of the same speech.

Why: the studio re-plans the whole timeline's motion whenever a segment's overrides change
(expression, seed: the motion stays continuous across segments), and the audio does not
change with them. Without a transcript the mouth plan scores ~200 candidate blends with
the evaluator's own lip-sync measures (core.motion.mouth_blend): ~1.1 s of a 60 s
timeline's re-plan, which made re-rendering one changed segment take twice as long as
rendering it (`bench studio`: rerender_ratio 2.0 against its 1.3 target).

The key is a digest of the features' content, not their identity: the studio loads them
from its cache anew for each plan. Results are handed out as copies, so a caller that
edits its arrays in place cannot change what the next caller gets.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from core.types import AudioFeatures

T = TypeVar("T")
SIZE = 8  # results kept per function (a project holds a few audio tracks)


def digest(features: AudioFeatures) -> bytes:
    """A digest of everything in `features`: arrays by dtype, shape and bytes, dataclasses
    (phones, words, prosody) and sequences field by field, the rest by repr (a numpy
    repr elides long arrays, so arrays are never left to it). Any change to the speech
    or its analysis is a different key."""
    h = hashlib.blake2b(digest_size=20)
    _feed(h, features)
    return h.digest()


def _feed(h, value) -> None:
    if isinstance(value, np.ndarray):
        h.update(f"<{value.dtype}{value.shape}>".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(f"<{type(value).__name__}>".encode())
        for f in dataclasses.fields(value):
            h.update(f.name.encode())
            _feed(h, getattr(value, f.name))
    elif isinstance(value, list | tuple):
        h.update(f"<{len(value)}>".encode())
        for v in value:
            _feed(h, v)
    else:
        h.update(f"<{value!r}>".encode())


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def by_features(fn: Callable[[AudioFeatures], T]) -> Callable[[AudioFeatures], T]:
    """`fn(features)`, computed once per distinct content of `features` (the last SIZE)."""
    memo: OrderedDict[bytes, T] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(fn)
    def wrapper(features: AudioFeatures) -> T:
        key = digest(features)
        with lock:
            if key in memo:
                memo.move_to_end(key)
                return _copy(memo[key])
        out = fn(features)
        with lock:
            memo[key] = _copy(out)
            while len(memo) > SIZE:
                memo.popitem(last=False)
        return out

    wrapper.cache_clear = memo.clear  # type: ignore[attr-defined]
    return wrapper
