"""Atomic file output: the one way this project writes a file that must never be seen half
written (videos, renders, exports, media, caches, bundles, PNGs).

`atomic_path(dest)` hands out a temporary path in dest's own folder (so the final rename
stays on one file system and is atomic); when the block finishes the temp file gets
ordinary permissions and replaces `dest`; if the block raises (an error, Cancelled,
Ctrl-C) the temp file is removed and `dest` is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _default_mode() -> int:
    # The permissions a plain open() would give: mkstemp's temp files are owner-only (0600),
    # which would make every finished video unreadable to other users and apps.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


DEFAULT_MODE = _default_mode()


@contextmanager
def atomic_path(dest: str | Path, suffix: str = ".tmp", mode: int | None = None) -> Iterator[Path]:
    """Yield a temp path beside `dest`; on success it becomes `dest` (with `mode`, default
    the umask's), on any exception it is deleted. `suffix` lets writers that pick a format
    from the extension (FFmpeg, PIL) see the right one."""
    dest = Path(dest)
    fd, name = tempfile.mkstemp(prefix=f".{dest.stem}.tmp-", suffix=suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, DEFAULT_MODE if mode is None else mode)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
